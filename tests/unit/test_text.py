"""models/text.py: the one rule for text — no control or invisible character anywhere,
before trimming; the OpenAPI patterns are built from the same table."""

from __future__ import annotations

import re
import unicodedata

import pytest

from models.text import (
    LINE_PATTERN,
    TEXT_PATTERN,
    BadText,
    check_text,
    is_clean,
    strip_invisible,
)

REFUSED = {
    "NUL": "\x00", "CR": "\r", "LF": "\n", "TAB": "\t", "RS": "\x1e", "US": "\x1f",
    "DEL": "\x7f", "NEL": "\x85", "CSI": "\x9b", "soft hyphen": "\xad",
    "ZWSP": "\u200b", "ZWNJ": "\u200c", "ZWJ": "\u200d", "LRM": "\u200e", "RLM": "\u200f",
    "LS": "\u2028", "PS": "\u2029", "LRE": "\u202a", "RLO": "\u202e", "WJ": "\u2060",
    "invisible plus": "\u2064", "LRI": "\u2066", "BOM": "\ufeff", "ALM": "\u061c",
    "MVS": "\u180e", "Hangul filler": "\u3164", "annotation": "\ufff9",
}
ALLOWED = ["湖塘 HT", "R20261128-0007", "Zoë", "a\u00a0b", "\u3000全角空格", "emoji 🚚",
           "narrow\u202fspace", "", "  spaces  "]


@pytest.mark.parametrize("where", ["start", "middle", "end"])
@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_anywhere_in_a_line(name: str, where: str) -> None:
    char = REFUSED[name]
    value = {"start": char + "HT", "middle": "H" + char + "T", "end": "HT" + char}[where]
    with pytest.raises(BadText) as err:
        check_text(value)
    assert err.value.position == {"start": 0, "middle": 1, "end": 2}[where]
    assert err.value.reason in ("control", "invisible")
    assert not re.fullmatch(LINE_PATTERN, value)


@pytest.mark.parametrize("value", ALLOWED)
def test_allowed(value: str) -> None:
    assert check_text(value) == value  # unchanged: checking never trims
    assert re.fullmatch(LINE_PATTERN, value) and re.fullmatch(TEXT_PATTERN, value)


def test_a_body_keeps_tab_and_line_breaks_only() -> None:
    assert check_text("一\n二\r\n\t三", multiline=True) == "一\n二\r\n\t三"
    for name, char in REFUSED.items():
        if char in "\t\n\r":
            continue
        assert not is_clean("a" + char, multiline=True), name
        assert not re.fullmatch(TEXT_PATTERN, "a" + char), name
    assert re.fullmatch(TEXT_PATTERN, "一\n二\r\n\t三")


def test_kinds() -> None:
    with pytest.raises(BadText, match="control character U\\+001E at position 1"):
        check_text("a\x1e")
    with pytest.raises(BadText, match="invisible character U\\+200B"):
        check_text("a\u200b")


def test_every_bmp_format_or_control_character_is_covered() -> None:
    """The table holds every Cc, Cf, Zl and Zp of the BMP (what Unicode calls controls,
    formats and separators that draw nothing)."""
    missing = [f"U+{c:04X}" for c in range(0x10000)
               if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zl", "Zp")
               and is_clean(chr(c))]
    assert missing == []


def test_pattern_and_function_agree_on_the_bmp() -> None:
    line = re.compile(LINE_PATTERN)
    for c in range(0x10000):
        assert bool(line.fullmatch(chr(c))) == is_clean(chr(c)), f"U+{c:04X}"


def test_a_riders_text_loses_only_the_invisible() -> None:
    assert strip_invisible("\u200b签到\u200d\ufeff") == "签到"
    assert strip_invisible("第一行\n第二行\t") == "第一行\n第二行\t"
    assert strip_invisible("a\x00b\x1ec\x85") == "abc"
