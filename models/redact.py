"""Redaction of free text: mobile numbers, ID-card numbers and landlines, however they are
spelled, and named people. One function for everything that publishes or shows text typed
by residents to someone who may not see it (Open311, the console for roles other than
admin, the logs) and for what 注销 leaves behind.

A number is found in any spelling a person types: separators (spaces of any width, line
breaks, . - _ · — / , 、 : *) and brackets between digits, full-width digits (１３９),
Chinese numerals (一三九〇〇〇〇…, 幺, 零, 壹贰叁…), a +86 / 0086 prefix. What it is not: a
report ticket (R20261201-0007), a date or a time, an amount, a longer run of digits (an
order number) — a match must stand alone, not glued to other ASCII digits.

The text is first mapped character for character (so a match's span in the mapped text is
its span in the original): digits of any script to ASCII, Chinese numerals to private-use
characters (so ordinary Chinese around a number, 一直、一下, never glues onto it), separators
to one space.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MOBILE_MASK = "*" * 11
_CN = {"〇": 0, "零": 0, "洞": 0, "一": 1, "幺": 1, "壹": 1, "二": 2, "两": 2, "贰": 2,
       "三": 3, "叁": 3, "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7,
       "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9}
_PUA = 0xE000  # a Chinese numeral of value v becomes chr(_PUA + v)
_SEPARATORS = set(" \t\n\r\u00a0\u3000.-_·—–‐/\\．－＿／～~()（）[]【】，,、:：*＊"
                  + "".join(chr(c) for c in range(0x2000, 0x200B)))  # en, em, thin… spaces
_OPEN = "(（[【"


_TABLE = {**{ord(c): chr(_PUA + v) for c, v in _CN.items()},
          **{ord(c): " " for c in _SEPARATORS if c not in _OPEN},
          **{ord(c): "X" for c in "xｘ\uff38"},
          **{0xFF10 + v: str(v) for v in range(10)}}
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")  # a decimal digit of another script
_DIGITISH = re.compile(f"[0-9{chr(_PUA)}-{chr(_PUA + 9)}]")
_FEWEST = 7  # no number looked for has fewer digits


def _map(text: str) -> str:
    """The text, character for character: digits of any script to ASCII, Chinese numerals
    to private-use characters, separators (but opening brackets) to a space, x to X."""
    mapped = text.translate(_TABLE)
    if not mapped.isascii():
        mapped = _OTHER_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group())), mapped)
    return mapped


def _d(lo: int, hi: int | None = None) -> str:
    """A digit lo..hi in any spelling (ASCII or Chinese numeral)."""
    hi = lo if hi is None else hi
    return f"[{lo}-{hi}{chr(_PUA + lo)}-{chr(_PUA + hi)}]"


_S = r"[ (（\[【]{0,3}"  # between two digits: up to three separators or brackets
_ANY = _d(0, 9)


def _digits(*parts: str) -> str:
    return _S.join(parts)


def _run(n: int) -> list[str]:
    return [_ANY] * n


_START = r"(?<![0-9])[(（\[【]?"
_END = r"(?![0-9])"
_MOBILE = re.compile(
    _START + rf"(?:(?:\+|00)?{_digits(_d(8), _d(6))}{_S})?"
    + _digits(_d(1), _d(3, 9), *_run(9)) + _END)
_ID_CARD = re.compile(
    _START + _digits(_d(1, 8), *_run(5),                        # region
                     f"(?:{_d(1)}{_S}{_d(9)}|{_d(2)}{_S}{_d(0)})", *_run(2),  # year
                     f"(?:{_d(0)}{_S}{_d(1, 9)}|{_d(1)}{_S}{_d(0, 2)})",      # month
                     f"(?:{_d(0)}{_S}{_d(1, 9)}|{_d(1, 2)}{_S}{_ANY}|{_d(3)}{_S}{_d(0, 1)})",
                     *_run(3), f"(?:{_ANY}|X)") + r"(?![0-9A-Za-z])")
# An area code (0 and 2–3 digits, never 00) and a 7–8 digit number.
_LANDLINE = re.compile(
    r"(?<![0-9]{4} )"  # not the month of a date (2026-01-23 2026-02-24)
    + _START + _digits(_d(0), _d(1, 9), _ANY) + f"(?:{_S}{_ANY})?" + _S
    + _digits(_d(2, 9), *_run(6)) + f"(?:{_S}{_ANY})?" + _END)
# A bare 7–8 digit local number, only where a word says it is a phone number.
_LOCAL = re.compile(
    r"(?:电话|座机|固话|手机|联系|[Tt][Ee][Ll])[^0-9\ue000-\ue009\n]{0,4}?"
    # …but not a date (联系时间 2026-12-01, 20261201)
    r"(?!(?:19|20)[0-9]{2}(?: ?[0-9]{1,2} [0-9]{1,2}|(?:0[1-9]|1[0-2])[0-3][0-9])(?![0-9]))"
    + "(" + _digits(_d(2, 9), *_run(6)) + f"(?:{_S}{_ANY})?" + ")" + _END)


def _spans(mapped: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for pattern, kind in ((_ID_CARD, "id"), (_MOBILE, "mobile"), (_LANDLINE, "landline")):
        for m in pattern.finditer(mapped):
            found.append((m.start(), m.end(), kind))
    for m in _LOCAL.finditer(mapped):
        found.append((m.start(1), m.end(1), "landline"))
    found.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    kept: list[tuple[int, int, str]] = []
    for span in found:  # the first, longest match wins where two overlap
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


def _mask(original: str, kind: str, partial: bool) -> str:
    if kind != "mobile":
        return "*" * sum(1 for ch in _map(original) if ch not in " (（[【")
    if not partial:
        return MOBILE_MASK
    plain = digits_of(original)[-11:]
    return f"{plain[:3]}****{plain[-4:]}"


def redact(text: str | None, names: Iterable[str] = (), *, name_mask: str = "**",
           partial: bool = False) -> str:
    """The text with every phone, ID-card and landline number masked with stars (a mobile
    as 11 stars, or 139****2222 when `partial`, as the logs show it) and each of `names`
    (two characters or more) replaced by `name_mask`."""
    if not text:
        return ""
    for name in sorted({n for n in names if n and len(n) >= 2}, key=len, reverse=True):
        text = text.replace(name, name_mask)
    mapped = _map(text)
    if len(_DIGITISH.findall(mapped)) < _FEWEST:
        return text
    spans = _spans(mapped)
    if not spans:
        return text
    out, last = [], 0
    for start, end, kind in spans:
        out.append(text[last:start])
        out.append(_mask(text[start:end], kind, partial))
        last = end
    out.append(text[last:])
    return "".join(out)


def digits_of(text: str | None) -> str:
    """Every digit the text spells, in order, as ASCII (for telling whether a number is
    in a text however it is written)."""
    return "".join(d if d <= "9" else str(ord(d) - _PUA)
                   for d in _DIGITISH.findall(_map(text or "")))
