"""Text normalisation, in one place: what every word filter compares (`basic`) and what the
intent matcher reads (`canonical`).

`basic` is lossless for a rider's answers (a name or an address stays as typed): NFKC
(full-width letters, digits and punctuation to half-width), the invisible characters a
keyboard or a paste adds dropped, runs of white space folded, a leading "/" dropped.

`canonical` goes further, for understanding words (never for storing answers): traditional
characters to simplified (OpenCC's tables, shipped in its package), the punctuation a voice
recognition or a hurried thumb adds at the end, emoji (an emoji-only message keeps them, one
of each, without skin tones; otherwise they are dropped), and Chinese numerals that stand
alone or count stars ("五星" → "5星", "三" → "3").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib.resources import files

import cn2an
import opencc
from opencc import OpenCC

from models.text import strip_invisible

_T2S = OpenCC("t2s")


def _traditional() -> frozenset[str]:
    """The characters OpenCC's t2s tables convert (its own TSCharacters data): a message
    without any is left alone, so long simplified text costs no conversion."""
    table = files(opencc).joinpath("dictionary", "TSCharacters.txt").read_text("utf-8")
    return frozenset(line.split("\t")[0] for line in table.splitlines() if "\t" in line)


_TRADITIONAL = _traditional()

# What speech recognition or a quick thumb leaves at the end (or start) of a message.
_EDGE_PUNCT = "。.!！?？~～…,，、;；:：\"'“”‘’「」『』()（）[]【】<>《》-—_ "
_NUMERAL = "零〇一二三四五六七八九十百千两"
_NUMERAL_RX = re.compile(rf"(?<![{_NUMERAL}])([{_NUMERAL}]{{1,6}})(?=星|颗星|分$)")
_ONLY_NUMERAL = re.compile(rf"[{_NUMERAL}]{{1,6}}")
_MODIFIERS = {0xFE0E, 0xFE0F, 0x200D, 0x20E3} | set(range(0x1F3FB, 0x1F400))


@lru_cache(maxsize=512)  # a message's text is read by every word filter the router tries
def basic(text: str) -> str:
    """Full-width to half-width, invisible characters, surrounding spaces and a leading '/'
    dropped, runs of white space folded to one space."""
    folded = unicodedata.normalize("NFKC", strip_invisible(text))
    folded = " ".join(folded.split())
    return folded.removeprefix("/").strip()


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return cp in _MODIFIERS or unicodedata.category(ch) == "So" or 0x1F000 <= cp <= 0x1FAFF


def _emoji(text: str) -> str:
    """An emoji-only message: its emoji once each, in order; otherwise the text without any."""
    kept = [ch for ch in text if not _is_emoji(ch)]
    if any(not ch.isspace() for ch in kept):
        return "".join(kept)
    seen: list[str] = []
    for ch in text:
        if _is_emoji(ch) and ord(ch) not in _MODIFIERS and ch not in seen:
            seen.append(ch)
    return "".join(seen)


def _numerals(text: str) -> str:
    def arabic(run: str) -> str:
        try:
            return str(cn2an.cn2an(run, "smart"))
        except (ValueError, KeyError, TypeError):
            return run

    if _ONLY_NUMERAL.fullmatch(text):
        return arabic(text)
    return _NUMERAL_RX.sub(lambda m: arabic(m.group(1)), text)


def _trim(text: str) -> str:
    """Punctuation at either end dropped, unless the message is nothing else ("?" is 帮助)."""
    trimmed = text.strip(_EDGE_PUNCT)
    return trimmed or text


@lru_cache(maxsize=4096)
def canonical(text: str) -> str:
    """The form the intent matcher reads (see the module's docstring)."""
    out = basic(text)
    if not _TRADITIONAL.isdisjoint(out):
        out = _T2S.convert(out)
    out = _emoji(out)
    out = _trim(" ".join(out.split()))
    return _numerals(out)


# What speech recognition (or a quick thumb) ends a sentence with. Never brackets or quotes:
# they may belong to the answer ("花园街(北)").
_SENTENCE_END = "。.!！?？~～…,，、;；:： \t\u3000"


def answer(text: str) -> str:
    """A dialog step's answer as the rider means it: the sentence punctuation at its end
    dropped ("陈七。" is the name 陈七, "确认。" is 确认), unless it is nothing else."""
    return text.rstrip(_SENTENCE_END) or text
