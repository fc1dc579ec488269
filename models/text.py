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
from collections.abc import Mapping
from typing import Any

from sqlalchemy import String, Table, event
from sqlalchemy.engine import Engine
from sqlalchemy.sql.dml import Insert, Update, ValuesBase
from sqlalchemy.sql.elements import BindParameter

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


# --- one maximum per stored text field ------------------------------------------------------
#
# A VARCHAR column's maximum is its Field's max_length (PostgreSQL enforces it, SQLite would
# not); a TEXT column's is `info={"max_length": N}` on its Column (`long_text(N)`). `guard`
# below refuses an over-long value for either, on either database, before the statement is
# sent (TooLong), so SQLite behaves as PostgreSQL. The entry points decide first: text a
# person typed is cut with `fit`, an identifier or an API field is refused with the limit.

ELLIPSIS = "…"
# An openid as WeChat gives it (28 characters in practice): letters, digits, - and _.
OPENID_MAX = 64
OPENID = re.compile(f"[A-Za-z0-9_-]{{1,{OPENID_MAX}}}")


def fit(value: str, limit: int) -> str:
    """`value` when it has at most `limit` characters; else cut so that it, with "…" at its
    end, has `limit` characters."""
    if len(value) <= limit:
        return value
    return value[: limit - 1] + ELLIPSIS if limit > 0 else ""


def long_text(limit: int) -> dict[str, Any]:
    """The Column keyword arguments that give a TEXT column its maximum:
    ``Field(sa_type=Text, sa_column_kwargs=long_text(N))``."""
    return {"info": {"max_length": limit}}


def limit_of(column: Any) -> int | None:
    """The maximum number of characters a text column holds (None: not a text column, or
    one without a maximum, which tests/unit/test_text_bounds.py does not allow)."""
    kind = column.type
    if not isinstance(kind, String) and not isinstance(getattr(kind, "impl", None), String):
        return None
    length = getattr(kind, "length", None)
    return length if length else column.info.get("max_length")


class TooLong(ValueError):
    """A value longer than its column's maximum, refused before the database sees it."""

    def __init__(self, table: str, column: str, limit: int, length: int):
        super().__init__(f"{table}.{column} holds at most {limit} characters ({length} given)")
        self.table, self.column, self.limit, self.length = table, column, limit, length


def check_row(table: Table, values: Mapping[str, Any]) -> None:
    """TooLong for the first text value of `values` (column key → value) over its
    column's maximum; keys that are no column of `table` are ignored."""
    for key, value in values.items():
        if not isinstance(value, str):
            continue
        column = table.c.get(key)
        if column is None:
            continue
        limit = limit_of(column)
        if limit is not None and len(value) > limit:
            raise TooLong(table.name, column.name, limit, len(value))


def _statement_values(statement: ValuesBase) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The values written into an INSERT/UPDATE statement itself (`.values(...)`), and the
    names of the parameters it leaves to execution time (bindparam("b_x") → column key)."""
    rows: list[Any] = [getattr(statement, "_values", None) or {}]
    for multi in getattr(statement, "_multi_values", ()) or ():
        rows.extend(multi)
    found: list[dict[str, Any]] = []
    aliases: dict[str, str] = {}
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        plain: dict[str, Any] = {}
        for key, value in row.items():
            name = key if isinstance(key, str) else getattr(key, "key", None)
            if not isinstance(name, str):
                continue
            if isinstance(value, BindParameter):
                aliases[str(value.key)] = name
                value = value.value
            plain[name] = value
        found.append(plain)
    return found, aliases


def _before_execute(conn: Any, statement: Any, multiparams: Any, params: Any,
                    execution_options: Any) -> None:
    """Every INSERT and UPDATE on every engine (the ORM's flushes, Core statements,
    executemany): over-long text is TooLong here, on SQLite as on PostgreSQL."""
    if not isinstance(statement, Insert | Update) or not isinstance(statement.table, Table):
        return
    rows, aliases = _statement_values(statement)
    given: list[Any] = [*(multiparams or ()), params]
    while given:
        item = given.pop()
        if isinstance(item, Mapping):
            rows.append({aliases.get(str(k), str(k)): v for k, v in item.items()})
        elif isinstance(item, list | tuple):
            given.extend(item)
    for row in rows:
        check_row(statement.table, row)


def guard() -> None:
    """Install the check on every engine (idempotent; models/__init__.py calls it)."""
    if not event.contains(Engine, "before_execute", _before_execute):
        event.listen(Engine, "before_execute", _before_execute)
