"""The intent matcher: a rider's free text → intents ranked with a confidence.

Pure and offline (jieba, pypinyin and rapidfuzz ship their data). Scores, each in 0..1,
the best one counting:

- exact: the message (canonical, see normalise.py) is the word, a synonym or an example;
- pinyin: it sounds the same ("上抱", "qiandao", "qian dao");
- coverage: keys of the intent (its word, synonyms, keywords) found inside the message,
  by characters or by sound, and how much of what is left once filler words are set
  aside (jieba segments the message over our own vocabulary) they cover;
- one edit: one character typed wrong, missing or extra ("注删", "附近驿占");
- fuzzy: rapidfuzz's ratio on characters and on pinyin against every phrasing;
- spotting: a thing and what is wrong with it ("路灯坏了") for an intent with `spot`.

HIGH (>= 0.85) does it, MEDIUM (>= 0.6) asks, below that the caller shows a short menu.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import jieba

# The matcher reads one character's pinyin at a time, which pypinyin takes from its
# single-character table; its phrase table (about 55 MB once loaded) and the copies it
# makes of both are never needed. Its documented switches, set before its first import
# (the readings of all 20,902 CJK characters U+4E00–U+9FA5 are the same either way).
os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
os.environ.setdefault("PYPINYIN_NO_DICT_COPY", "1")
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.language.intents import Intent, load
from bot.language.normalise import canonical

HIGH = 0.85
MEDIUM = 0.6
MAX_OFFERS = 3
MAX_READ = 120  # characters scored; a longer message is still handed on whole (a problem)

# Words that carry no intent of their own: "我想", "一下", "吗"…
FILLERS = frozenset((
    "我", "我要", "我想", "想", "想要", "要", "请", "请问", "帮", "帮我", "帮忙", "麻烦",
    "一下", "下", "吗", "呢", "啊", "吧", "呀", "了", "的", "么", "嘛", "哦", "喔", "噢",
    "怎么", "怎样", "如何", "咋", "咋样", "可以", "能", "能不能", "可不可以", "哪里",
    "哪儿", "哪", "在哪", "在哪里", "在哪儿", "有没有", "有", "是", "去", "个", "一个",
    "这个", "那个", "看看", "看", "查", "查查", "查一下", "给", "我们", "咱们", "你们",
    "你", "现在", "今天", "刚才", "还", "再", "就", "都", "也", "师傅", "老师", "同志",
    "小哥", "您", "那", "这", "么样", "啥", "什么", "怎么办", "办", "弄", "搞", "一",
    "下子", "呗", "嗯", "额", "呃", "好", "好的",
))

# One character off a key of this length: short keys are only asked about ("我饿了" is not
# "我到了"), longer ones are sure enough.
_ONE_EDIT = {2: 0.78, 3: 0.8}
_ASCII = re.compile(r"[a-z0-9 '\-]+")
_LETTERS = re.compile(r"[^a-z]")


@lru_cache(maxsize=8192)
def _sound(ch: str) -> str:
    """A Han character's usual pinyin (without tone), any other character itself."""
    return lazy_pinyin(ch)[0] if "\u3400" <= ch <= "\u9fff" else ch


def _syllables(text: str) -> list[str]:
    """One unit per character. A character's usual reading, the same for a rider's text
    and for the declared phrases, so they compare (and a per-character cache is cheap)."""
    return [_sound(ch) for ch in text]


def _compact(text: str) -> str:
    return _LETTERS.sub("", "".join(_syllables(text)).lower())


@dataclass(frozen=True)
class _Key:
    text: str
    sounds: tuple[str, ...]
    owner: int  # the intent's index


def _key(text: str, owner: int) -> _Key:
    return _Key(text, tuple(_syllables(text)), owner)


@dataclass(frozen=True)
class Match:
    intent: Intent
    score: float
    arg: str | None = None

    @property
    def said(self) -> str:
        """The message as the contract has it: the word, and its argument when captured."""
        return f"{self.intent.word} {self.arg}" if self.arg else self.intent.word


@dataclass(frozen=True)
class Ranking:
    text: str  # the canonical message
    matches: tuple[Match, ...] = field(default_factory=tuple)

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None

    @property
    def sure(self) -> Match | None:
        """The intent to act on, when the best is HIGH."""
        return self.best if self.best and self.best.score >= HIGH else None

    @property
    def offers(self) -> list[Match]:
        """When unsure: the one to three likeliest (MEDIUM, close to the best)."""
        if self.sure or not self.best or self.best.score < MEDIUM:
            return []
        top = self.best.score
        return [m for m in self.matches if m.score >= max(MEDIUM, top - 0.15)][:MAX_OFFERS]


Scores = dict[int, float]


def _raise(scores: Scores, owner: int, score: float) -> None:
    if score > scores.get(owner, 0.0):
        scores[owner] = score


class Matcher:
    """Built once at start-up from every feature's intents; `rank` is cheap and pure."""

    def __init__(self, intents: Sequence[Intent], forbidden_words: Iterable[str] = ()):
        forbidden = {canonical(w) for w in forbidden_words}
        if clash := sorted(i.source for i in intents if i.word in forbidden):
            raise ValueError(f"an intent may not lead to a staff word: {clash}")
        self.intents = list(intents)
        self.menu = [i for i in sorted(intents, key=lambda i: i.menu or 0) if i.menu][:4]
        self._exact: dict[str, list[int]] = {}
        self._sounds: dict[str, list[int]] = {}  # a phrase's pinyin, letters only
        self._phrases: list[tuple[str, str, int]] = []  # (phrase, its pinyin, intent)
        self._keys: list[_Key] = []
        self._by_first: dict[str, list[_Key]] = {}  # keys by their first syllable
        for n, intent in enumerate(intents):
            self._add(n, intent)
        self._keys_by_len: dict[int, list[_Key]] = {}
        for k in self._keys:
            self._keys_by_len.setdefault(len(k.text), []).append(k)
        # Phrasings by length, characters and pinyin apart: a ratio of 70 or more needs
        # lengths within 0.54 of each other, so a short message scans a few, not all.
        self._by_len: tuple[dict[int, list[tuple[str, int]]], ...] = ({}, {})
        self._near_cache: dict[tuple[int, int], tuple[list[str], list[int]]] = {}
        for phrase, sound, n in self._phrases:
            self._by_len[0].setdefault(len(phrase), []).append((phrase, n))
            if sound:
                self._by_len[1].setdefault(len(sound), []).append((sound, n))
        vocab = {k.text for k in self._keys if " " not in k.text} | FILLERS
        vocab |= {w for i in intents for w in (*i.things, *i.cues)}
        self._tokenizer = jieba.Tokenizer()
        data = "\n".join(f"{w} {500 if w in FILLERS else 1000}" for w in sorted(vocab))
        self._tokenizer.FREQ, self._tokenizer.total = self._tokenizer.gen_pfdict(
            io.BytesIO(data.encode()))
        self._tokenizer.initialized = True  # our vocabulary only: no dictionary file to load

    def _add(self, n: int, intent: Intent) -> None:
        for phrase in intent.phrases:
            self._exact.setdefault(phrase, []).append(n)
            sound = _compact(phrase)
            if sound:
                self._sounds.setdefault(sound, []).append(n)
            self._phrases.append((phrase, sound, n))
        for text in intent.keys:
            if len(text) >= 2:
                k = _key(text, n)
                if len(k.sounds) == len(text):
                    self._keys.append(k)
                    self._by_first.setdefault(k.sounds[0], []).append(k)

    # --- ranking --------------------------------------------------------------------------

    def rank(self, text: str) -> Ranking:
        said = canonical(text)
        t = said.lower()[:MAX_READ]
        if not t:
            return Ranking(said)
        scores = self._scores(t)
        matches = []
        for n, intent in enumerate(self.intents):
            score, arg = scores.get(n, 0.0), None
            if intent.spots:
                score = max(score, _spot(intent, t))
                arg = said if score >= MEDIUM else None
            elif intent.capture and t not in self._exact:  # a phrasing is never cut
                score, arg = self._captured(n, intent, said, score)
            if score >= 0.3:
                matches.append(Match(intent, round(score, 3), arg))
        matches.sort(key=lambda m: (-m.score, m.intent.order))
        return Ranking(said, tuple(matches))

    def _captured(self, n: int, intent: Intent, said: str, score: float
                  ) -> tuple[float, str | None]:
        """The argument whose removal leaves the message meaning the intent best (the first
        pattern on a tie), when that is at least as much as the whole message and the
        argument says something ("报名了吗" has none)."""
        best: tuple[float, str | None] = (score, None)
        for rx in intent.capture:
            m = rx.search(said)
            if m is None or not self.says_something(m.group("arg")):
                continue
            rest = (said[: m.start("arg")] + " " + said[m.end("arg"):]).strip().lower()
            with_arg = self._scores(rest).get(n, 0.0) if rest else 0.0
            if with_arg >= MEDIUM and with_arg >= score and (
                    best[1] is None or with_arg > best[0]):
                best = (with_arg, m.group("arg").strip())
        return best

    def knows(self, text: str) -> bool:
        """The message (spaces aside) is a declared phrasing of some intent: "报名上课" is the
        word 报名 itself, "报名记录" is 我的课程, neither names a course."""
        return canonical(text).lower().replace(" ", "") in self._exact

    def says_something(self, text: str) -> bool:
        """Some of it is more than filler words ("了吗", "一下" are not)."""
        return any(self._content(canonical(text).lower()))

    def _scores(self, t: str) -> Scores:
        """The best score of every intent that scored at all, by its index."""
        scores: Scores = {}
        for n in self._exact.get(t, ()):
            scores[n] = 1.0
        compact = _compact(t)
        for n in self._sounds.get(compact, ()):
            _raise(scores, n, 0.92)
        if _ASCII.fullmatch(t):
            self._letters(scores, compact)
        else:
            self._coverage(scores, t)
            self._one_edit(scores, t)
        self._fuzzy(scores, t, compact)
        return scores

    def _content(self, t: str) -> list[bool]:
        """Per character: does it belong to a word that means something (not a filler)?"""
        marks: list[bool] = []
        for token in self._tokenizer.cut(t, HMM=False):
            meaningful = token not in FILLERS and not token.isspace()
            marks.extend([meaningful] * len(token))
        return marks

    def _coverage(self, scores: Scores, t: str) -> None:
        """Keys found inside the message, by characters (or by sound: x0.95), scored by how
        much of the message's meaningful part they cover."""
        sounds = _syllables(t)
        if len(sounds) != len(t):
            return
        covered: dict[int, set[int]] = {}
        by_sound: set[int] = set()
        for start, first in enumerate(sounds):
            for k in self._by_first.get(first, ()):
                end = start + len(k.sounds)
                if end <= len(t) and tuple(sounds[start:end]) == k.sounds:
                    covered.setdefault(k.owner, set()).update(range(start, end))
                    if t[start:end] != k.text:
                        by_sound.add(k.owner)
        if not covered:
            return
        content = self._content(t)
        meaningful = {i for i, c in enumerate(content) if c}
        for n, where in covered.items():
            share = len(where & meaningful) / max(1, len(meaningful | where))
            _raise(scores, n, (0.7 + 0.25 * share) * (0.95 if n in by_sound else 1.0))

    def _near(self, kind: int, size: int) -> tuple[list[str], list[int]]:
        """The texts (and their intents) worth comparing with a message of `size`: keys one
        character off (kind 0), phrasings whose ratio could reach 70 (1: characters,
        2: pinyin; lengths within 0.53 of each other). Made once per size."""
        if (kind, size) not in self._near_cache:
            if kind == 0:
                found = [(k.text, k.owner) for n in (size - 1, size, size + 1) if n >= 2
                         for k in self._keys_by_len.get(n, ())]
            else:
                low, high = max(1, int(size * 0.53)), int(size / 0.53) + 1
                found = [c for n in range(low, high + 1) for c in self._by_len[kind - 1]
                         .get(n, ())]
            self._near_cache[(kind, size)] = ([f[0] for f in found], [f[1] for f in found])
        return self._near_cache[(kind, size)]

    def _one_edit(self, scores: Scores, t: str) -> None:
        """One character typed wrong, missing or extra."""
        texts, owners = self._near(0, len(t))
        for text, _, i in process.extract(t, texts, scorer=Levenshtein.distance,
                                          score_cutoff=1, limit=None):
            _raise(scores, owners[i], _ONE_EDIT.get(len(text), 0.86))

    def _fuzzy(self, scores: Scores, t: str, compact: str) -> None:
        """rapidfuzz's ratio on characters and on pinyin against every phrasing of a
        length that could reach 70."""
        for query, kind in ((t, 1), (compact, 2)):
            if not query:
                continue
            texts, owners = self._near(kind, len(query))
            for _, ratio, i in process.extract(query, texts, scorer=fuzz.ratio,
                                               score_cutoff=70, limit=None):
                _raise(scores, owners[i], 0.8 * ratio / 100)

    def _letters(self, scores: Scores, compact: str) -> None:
        """Pinyin typed in letters ("qiandao", "wo yao qian dao")."""
        if not compact:
            return
        for phrase, sound, n in self._phrases:
            if len(sound) >= 5 and not phrase.isascii() and sound in compact:
                _raise(scores, n, 0.7 + 0.25 * len(sound) / len(compact))


def _spot(intent: Intent, t: str) -> float:
    """A described problem: a thing and what is wrong with it."""
    if len(t) < 3:
        return 0.0
    thing = any(k in t for k in intent.things)
    cue = any(k in t for k in intent.cues if len(k) >= 2)
    if thing and cue:
        return 0.9
    return 0.7 if thing or cue else 0.0


@lru_cache(maxsize=8)
def _built(paths: tuple[Path, ...], forbidden: frozenset[str],
           things: tuple[str, ...]) -> Matcher:
    intents = load(paths)
    if things:  # every spotting intent also knows these (config: the report categories)
        intents = [replace(i, things=tuple(dict.fromkeys((*i.things, *things))))
                   if i.spots else i for i in intents]
    matcher = Matcher(intents, forbidden)
    matcher.rank("签到一下")  # pypinyin's and rapidfuzz's lazy parts load now, not on a message
    return matcher


def build(paths: Iterable[Path], forbidden_words: Iterable[str] = (),
          things: Iterable[str] = ()) -> Matcher:
    """The matcher of these intent files (read and prepared once per process, ~0.3 s).
    `things`: more words naming what a described problem is about (two characters or more:
    a single one, like 火, says too little on its own)."""
    extra = tuple(sorted({canonical(t).lower() for t in things if len(t.strip()) >= 2}))
    return _built(tuple(paths), frozenset(forbidden_words), extra)


# The matcher of the running app (bot/app.py installs it at start-up).
_current: Matcher | None = None


def install(matcher: Matcher) -> None:
    global _current
    _current = matcher


def current() -> Matcher:
    global _current
    if _current is None:
        _current = Matcher([])
    return _current
