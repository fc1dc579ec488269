"""A console list as an Excel workbook (.xlsx, openpyxl), beside pages.csv_response's CSV.

`export(request, filename, header, rows)` answers `?format=csv` or `?format=xlsx` alike, so
every list offers both with one call. A workbook is built off the event loop (openpyxl is
plain Python and a district's list may hold thousands of rows). Text a spreadsheet would run
as a formula is kept as text, the same guard as the CSV's."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.web.pages import csv_response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")
# Excel's column width is in characters; a 汉字 takes about two.
WIDTH_MAX = 60


def wants_export(request: web.Request) -> str | None:
    """The export format the list was asked for (csv, xlsx), or None for the page."""
    fmt = request.query.get("format")
    return fmt if fmt in FORMATS else None


def _value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # shown as the local time it already is
    if isinstance(value, date):
        return value
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _width(value: Any) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(value))


def workbook(sheets: Sequence[tuple[str, list[str], Iterable[Iterable[Any]]]]) -> bytes:
    """An .xlsx with one sheet per (title, header, rows): the header bold and frozen, the
    columns as wide as their text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    for first in book.worksheets:  # the empty sheet a new workbook starts with
        book.remove(first)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title=title[:31])
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        widths = [_width(h) for h in header]
        for row in rows:
            values = [_value(v) for v in row]
            sheet.append(values)
            widths = [max(w, _width(v)) for w, v in zip(widths, values, strict=False)]
        for i, w in enumerate(widths, start=1):
            sheet.column_dimensions[sheet.cell(row=1, column=i).column_letter].width = \
                min(WIDTH_MAX, w + 2)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def xlsx_response(filename: str, sheets: Sequence[tuple[str, list[str],
                                                               Iterable[Iterable[Any]]]]
                        ) -> web.Response:
    """The sheets as one .xlsx download (built in a thread)."""
    materialised = [(t, h, [list(r) for r in rows]) for t, h, rows in sheets]
    body = await asyncio.to_thread(workbook, materialised)
    return web.Response(body=body, headers={
        "Content-Type": XLSX,
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


async def export(request: web.Request, filename: str, header: list[str],
                 rows: Iterable[Iterable[Any]], title: str = "列表") -> web.Response:
    """The list as the format asked for (`?format=csv|xlsx`); `filename` without suffix."""
    if wants_export(request) == "xlsx":
        return await xlsx_response(f"{filename}.xlsx", [(title, header, rows)])
    return csv_response(f"{filename}.csv", header, rows)
