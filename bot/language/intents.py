"""Intents: what a feature's words mean, declared as data next to the feature.

Each feature may keep an `intents.yaml` beside its chat module and register it in its
`setup(features)` with `features.intent_file(path)`. One entry per word that answers:

    - intent: checkin            # a name, unique across features
      word: 签到                 # the contract word the bot re-handles the message as
      menu: 1                    # optional: its rank among the four shown when unsure
      synonyms: [打卡, 签个到]    # whole messages that mean exactly the word
      keywords: [签到, 打卡]      # inside a longer message they point to it
      examples: [我要签到, 在哪签到]  # phrasings people type (scored fuzzily, and reviewed)
      capture: '(?P<arg>[A-Za-z0-9-]{4,16})'   # optional: a code found in the message
                                 #   is handed on after the word ("签到 AB12CD"); or a list
                                 #   of patterns, the first that finds one counts (what is
                                 #   left once the arg is taken out must still mean the word;
                                 #   a message that is itself a phrasing is never cut)
      spot:                      # optional: a problem described in free text —
        things: [路灯, 井盖]      #   what it is about
        cues: [坏了, 不亮]       #   what is wrong with it
                                 #   (with spot, the whole message is handed on after the word)

The data is read once at start-up; `load` checks it and names the file and entry of a mistake.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.language.normalise import canonical


class IntentFileError(ValueError):
    """An intents.yaml that cannot be used (raised at start-up, naming the file)."""


@dataclass(frozen=True)
class Intent:
    name: str
    word: str
    synonyms: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    menu: int | None = None
    capture: tuple[re.Pattern[str], ...] = ()
    things: tuple[str, ...] = ()
    cues: tuple[str, ...] = ()
    source: str = ""
    order: int = field(default=0, compare=False)

    @property
    def spots(self) -> bool:
        """It recognises a described problem and hands the whole text on."""
        return bool(self.things or self.cues)

    @property
    def phrases(self) -> tuple[str, ...]:
        """Everything that, said whole, means this intent."""
        own = () if self.spots else (self.word,)  # a spotting intent is not its word
        return (*own, *self.synonyms, *self.examples)

    @property
    def keys(self) -> tuple[str, ...]:
        """What, found inside a longer message, points to this intent."""
        own = () if self.spots else (self.word,)
        return (*own, *self.synonyms, *self.keywords)


_KEYS = {"intent", "word", "menu", "synonyms", "keywords", "examples", "capture", "spot"}


def _strings(entry: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise IntentFileError(f"{where}: {key} must be a list of strings")
    # Declared the way riders' messages are read, so a declared phrase matches itself.
    return tuple(dict.fromkeys(canonical(str(v)).lower() for v in value if str(v).strip()))


def _capture(entry: dict[str, Any], where: str) -> tuple[re.Pattern[str], ...]:
    raw = entry.get("capture")
    if raw is None:
        return ()
    found = []
    for pattern in raw if isinstance(raw, list) else [raw]:
        try:
            rx = re.compile(str(pattern))
        except re.error as err:
            raise IntentFileError(f"{where}: capture: {err}") from None
        if "arg" not in rx.groupindex:
            raise IntentFileError(f"{where}: capture needs a group (?P<arg>...)")
        found.append(rx)
    return tuple(found)


def _intent(entry: Any, where: str, order: int) -> Intent:
    if not isinstance(entry, dict):
        raise IntentFileError(f"{where}: each entry is a mapping")
    if unknown := set(entry) - _KEYS:
        raise IntentFileError(f"{where}: unknown keys {sorted(unknown)}")
    name, word = entry.get("intent"), entry.get("word")
    if not isinstance(name, str) or not isinstance(word, str) or not word.strip():
        raise IntentFileError(f"{where}: intent and word are required strings")
    spot = entry.get("spot") or {}
    if not isinstance(spot, dict):
        raise IntentFileError(f"{where}: spot is a mapping of things and cues")
    menu = entry.get("menu")
    if menu is not None and not isinstance(menu, int):
        raise IntentFileError(f"{where}: menu is a number")
    return Intent(
        name=name, word=canonical(word), synonyms=_strings(entry, "synonyms", where),
        keywords=_strings(entry, "keywords", where),
        examples=_strings(entry, "examples", where), menu=menu,
        capture=_capture(entry, where), things=_strings(spot, "things", where),
        cues=_strings(spot, "cues", where), source=where, order=order)


def load(paths: Iterable[Path]) -> list[Intent]:
    """Every intent of these files, in order; intent names are unique."""
    found: list[Intent] = []
    for path in paths:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except (OSError, yaml.YAMLError) as err:
            raise IntentFileError(f"{path}: {err}") from None
        if not isinstance(data, list):
            raise IntentFileError(f"{path}: a list of intents expected")
        for i, entry in enumerate(data):
            found.append(_intent(entry, f"{path.parent.name}/{path.name}#{i + 1}", len(found)))
    names = [i.name for i in found]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise IntentFileError(f"intent names used twice: {dupes}")
    return found
