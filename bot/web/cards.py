"""Tables that turn into cards on a phone: every `<table class="list">` with a `<thead>` in a
rendered page gets the class `cards`, and each of its body cells a `data-label` holding its
column's header, which console.css shows beside the cell under 600 px (one card a row).

It works on the page's HTML after Jinja has rendered it, so no template has to repeat its
headers. Only the templates write tags there: what users typed is escaped (`<` is `&lt;`),
so the patterns below never meet a tag that came from data. A table that should stay a
table says so with the class `keep`.
"""

from __future__ import annotations

import html
import re

_TABLE = re.compile(r'<table\b[^>]*\bclass="list\b[^"]*"[^>]*>.*?</table>', re.S)
_OPEN = re.compile(r'<table\b[^>]*>')
_CLASS = re.compile(r'\bclass="([^"]*)"')
_HEAD = re.compile(r'<thead\b[^>]*>(.*?)</thead>', re.S)
_TH = re.compile(r'<th\b([^>]*)>(.*?)</th>', re.S)
_BODY = re.compile(r'(<tbody\b[^>]*>)(.*?)(</tbody>)', re.S)
_ROW = re.compile(r'(<tr\b[^>]*>)(.*?)(</tr>)', re.S)
_CELL = re.compile(r'<(t[dh])\b([^>]*)>')
_SPAN = re.compile(r'\bcolspan="(\d+)"')
_TAGS = re.compile(r'<[^>]+>')


def _text(fragment: str) -> str:
    """A header's words: its tags dropped, entities read, spaces collapsed."""
    return " ".join(html.unescape(_TAGS.sub(" ", fragment)).split())


def _headers(head: str) -> list[str]:
    names: list[str] = []
    for attrs, inner in _TH.findall(head):
        span = _SPAN.search(attrs)
        names += [_text(inner)] * (int(span.group(1)) if span else 1)
    return names


def _label_row(row: str, names: list[str]) -> str:
    column = 0
    out: list[str] = []
    last = 0
    for cell in _CELL.finditer(row):
        tag, attrs = cell.group(1), cell.group(2)
        name = names[column] if column < len(names) else ""
        span = _SPAN.search(attrs)
        column += int(span.group(1)) if span else 1
        out.append(row[last:cell.start()])
        if name and "data-label=" not in attrs:
            attrs = f' data-label="{html.escape(name, quote=True)}"{attrs}'
        out.append(f"<{tag}{attrs}>")
        last = cell.end()
    out.append(row[last:])
    return "".join(out)


def _card_table(match: re.Match[str]) -> str:
    table = match.group(0)
    opening = _OPEN.match(table)
    head = _HEAD.search(table)
    assert opening is not None
    classes = _CLASS.search(opening.group(0))
    if head is None or classes is None or "keep" in classes.group(1).split():
        return table
    names = _headers(head.group(1))
    if not any(names):
        return table
    tag = opening.group(0).replace(f'class="{classes.group(1)}"',
                                   f'class="{classes.group(1)} cards"', 1)

    def body(found: re.Match[str]) -> str:
        rows = _ROW.sub(lambda r: r.group(1) + _label_row(r.group(2), names) + r.group(3),
                        found.group(2))
        return found.group(1) + rows + found.group(3)

    return tag + _BODY.sub(body, table[opening.end():])


def label_tables(page: str) -> str:
    """The page with its list tables labelled for the phone's card layout."""
    if "<thead" not in page:
        return page
    return _TABLE.sub(_card_table, page)
