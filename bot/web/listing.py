"""What every console list shares: the page and page size asked for (`?page=`, `?size=`),
the export asked for (`?format=csv|xlsx`), and the links that keep the list's filters —
page links, 导出 CSV, 导出 Excel — which templates/listing.html draws the same on every list.

A value a list cannot take (page "abc", size 500, format "pdf") is a ListQueryError, which
the page answers with the console's 400 page (参数有误), never a 500."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from aiohttp import web

from bot.web.exports import FORMATS

PAGE_SIZE = 20  # rows a list page shows unless ?size= asks for another
SIZES = (20, 30, 50)
PAGE_MAX = 100_000
SEARCH_MAX = 40  # characters of a search box kept
WINDOW = 2  # page links either side of the current one


class ListQueryError(ValueError):
    """A list's query parameter holds a value the list cannot take; the message says which."""


@dataclass(frozen=True)
class ListArgs:
    page: int = 1
    size: int = PAGE_SIZE
    export: str | None = None  # "csv", "xlsx", or None for the page

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def _number(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise ListQueryError(f"参数 {name} 应为正整数。")
    return int(raw)


def list_args(request: web.Request) -> ListArgs:
    """The page, size and export of the request; ListQueryError for a value out of range."""
    page = _number(request, "page", 1)
    if not 1 <= page <= PAGE_MAX:
        raise ListQueryError("参数 page 应为 1 以上的页码。")
    size = _number(request, "size", PAGE_SIZE)
    if size not in SIZES:
        raise ListQueryError(f"参数 size 只能是 {'、'.join(map(str, SIZES))}。")
    fmt = request.query.get("format", "")
    if fmt and fmt not in FORMATS:
        raise ListQueryError("参数 format 只能是 csv 或 xlsx。")
    return ListArgs(page, size, fmt or None)


def search_text(request: web.Request, name: str = "q", limit: int = SEARCH_MAX) -> str:
    """The search box's words, trimmed."""
    return request.query.get(name, "").strip()[:limit]


@dataclass(frozen=True)
class Paging:
    """A list page's place: where the list lives, the filters in force (kept in every link),
    the page shown, its size and how many rows match."""

    path: str
    filters: Mapping[str, str]
    page: int
    size: int
    total: int
    sizes: tuple[int, ...] = field(default=SIZES)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        """The number of the first row shown (0 when none)."""
        return min(self.total, (self.page - 1) * self.size + 1)

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.size)

    def _query(self, **extra: str) -> str:
        items = {k: v for k, v in self.filters.items() if v}
        if self.size != PAGE_SIZE:
            items["size"] = str(self.size)
        items.update({k: v for k, v in extra.items() if v})
        return urlencode(items)

    def link(self, page: int) -> str:
        query = self._query(page=str(page) if page > 1 else "")
        return f"{self.path}?{query}" if query else self.path

    def export(self, fmt: str) -> str:
        """The link downloading every filtered row (not just this page) as csv or xlsx."""
        items = {k: v for k, v in self.filters.items() if v}
        items["format"] = fmt
        return f"{self.path}?{urlencode(items)}"

    @property
    def window(self) -> list[int | None]:
        """The page numbers linked: the first, the last and those near this one; None
        where numbers are skipped (drawn as …)."""
        near = range(max(1, self.page - WINDOW), min(self.pages, self.page + WINDOW) + 1)
        shown = sorted({1, self.pages, *near})
        out: list[int | None] = []
        for n in shown:
            if out and n - (out[-1] or 0) > 1:
                out.append(None)
            out.append(n)
        return out


def paging(path: str, filters: Mapping[str, str], args: ListArgs, total: int) -> Paging:
    return Paging(path, dict(filters), args.page, args.size, total)
