"""One rule for text that people and systems give us: no control or invisible characters,
anywhere in the value, checked before any trimming.

Refused everywhere: C0 controls (U+0000–U+001F; a multi-line body may hold tab, line feed
and carriage return), DEL and the C1 controls (U+007F–U+009F), the soft hyphen, the line and
paragraph separators (U+2028/9), and the format characters of the Basic Multilingual Plane
that draw nothing: zero-width space and joiners, direction marks and embeddings
(U+200B–U+200F, U+202A–U+202E, U+2060–U+206F, U+061C, U+180E, U+FEFF, U+FFF9–U+FFFB, …),
the Hangul fillers and the noncharacters U+FFFE/U+FFFF. (Lone surrogates are not text at
all: a JSON body holding one is refused whole (bot/web/api.py), and a regex range of them
is not a valid pattern for the OpenAPI document's validators.)

The refused set is one table of ranges: `check_text` and the regular expressions the OpenAPI
document publishes (`LINE_PATTERN`, `TEXT_PATTERN`) are both built from it, so the server
and its document cannot disagree. Characters beyond the BMP are not refused (the tag
characters belong to flag emoji).

A rider's free text (the WeChat callback) is not refused: `strip_invisible` drops the
invisible characters a keyboard may add, and keeps line breaks and tabs.
"""

from __future__ import annotations

import re

# (first, last) code points refused in every kind of text.
INVISIBLE: tuple[tuple[int, int], ...] = (
    (0x007F, 0x009F),  # DEL, C1 controls
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x0600, 0x0605),  # Arabic number signs (format)
    (0x061C, 0x061C),  # Arabic letter mark
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160),  # Hangul fillers
    (0x17B4, 0x17B5),  # Khmer invisible vowels
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x200B, 0x200F),  # zero-width space, ZWNJ, ZWJ, LRM, RLM
    (0x2028, 0x202E),  # line/paragraph separators, bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates, deprecated formats
    (0x3164, 0x3164),  # Hangul filler
    (0xFEFF, 0xFEFF),  # BOM / zero-width no-break space
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF9, 0xFFFB),  # interlinear annotation
    (0xFFFE, 0xFFFF),  # noncharacters
)
# C0 controls: all of them in a single line; a multi-line body keeps tab, LF and CR.
_C0_LINE: tuple[tuple[int, int], ...] = ((0x0000, 0x001F),)
_C0_TEXT: tuple[tuple[int, int], ...] = ((0x0000, 0x0008), (0x000B, 0x000C), (0x000E, 0x001F))


def _class(ranges: tuple[tuple[int, int], ...]) -> str:
    """A regex character class body with \\uXXXX escapes (JSON Schema and Python alike)."""
    return "".join(f"\\u{lo:04x}" if lo == hi else f"\\u{lo:04x}-\\u{hi:04x}"
                   for lo, hi in ranges)


_LINE_CLASS = _class(_C0_LINE + INVISIBLE)
_TEXT_CLASS = _class(_C0_TEXT + INVISIBLE)
LINE_PATTERN = f"^[^{_LINE_CLASS}]*$"  # a single-line value (names, codes, query values)
TEXT_PATTERN = f"^[^{_TEXT_CLASS}]*$"  # a multi-line body (descriptions, notes, notices)
_LINE_BAD = re.compile(f"[{_LINE_CLASS}]")
_TEXT_BAD = re.compile(f"[{_TEXT_CLASS}]")
_INVISIBLE = re.compile(f"[{_class(INVISIBLE)}]")


class BadText(ValueError):
    """Text holding a control or invisible character. `reason` names the kind ("control",
    "invisible") and `position` where the first one stands (0-based)."""

    def __init__(self, reason: str, position: int, char: str):
        super().__init__(f"{reason} character U+{ord(char):04X} at position {position}")
        self.reason = reason
        self.position = position
        self.char = char


def check_text(value: str, *, multiline: bool = False) -> str:
    """`value` unchanged when it holds no control or invisible character (a multi-line
    body may hold tab, LF and CR); else BadText. Call it before trimming."""
    found = (_TEXT_BAD if multiline else _LINE_BAD).search(value)
    if found is None:
        return value
    char = found.group()
    kind = "control" if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F else "invisible"
    raise BadText(kind, found.start(), char)


def is_clean(value: str, *, multiline: bool = False) -> bool:
    return (_TEXT_BAD if multiline else _LINE_BAD).search(value) is None


def strip_invisible(value: str) -> str:
    """A rider's free text without the invisible characters (and C1 controls) a keyboard or
    a paste may add; C0 controls other than tab, LF and CR are dropped too."""
    return _TEXT_BAD.sub("", value)


# For the OpenAPI document's own patterns: one character a single-line value may hold, and
# the white space str.strip() trims that is not refused (`\s` would admit controls).
LINE_CHAR = f"[^{_LINE_CLASS}]"
SPACE = "[ \\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000]"
