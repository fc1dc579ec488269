"""「数据」: the numbers the district is judged by (办结率, 满意率, 按时办结率, 签收 and 办结
time, reopened share, overdue, 督办) for a month, per grid, per category and over the last
12 months with trend charts, and the 督办 list; and the printable monthly report with its
workbook (/numbers/monthly.xlsx: 概览, 按网格, 按类别, 按月, 督办) and the per-grid table
(/numbers/monthly.csv), each for ?month=YYYY-MM (this month by default).

Admins see every report; an officer sees the reports of their grids; anyone else is refused
(403). The monthly report is the admins'. models/report_numbers.py reads, models/
report_rates.py counts (the definitions); the words are in bot/texts/numbers.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from bot import texts as T
from bot.clock import SHANGHAI
from bot.web import charts
from bot.web.exports import xlsx_response
from bot.web.pages import SETTINGS, csv_response, error_page, now, render, sessions, user_of
from models import grid as grids
from models import report_numbers
from models.report_numbers import Escalated, Numbers
from models.report_rates import BadMonth, Month, Spread, Tally
from models.staff import ConsoleUser

ROLES = frozenset({"admin", "officer"})


# --- reading the request -------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(status)
        self.status, self.title, self.message = status, title, message


def _allowed(request: web.Request, roles: frozenset[str], refusal: str) -> ConsoleUser:
    """The user, if their role may see the page (else the 403 page saying who may)."""
    user = user_of(request)
    if user.role not in roles:
        raise _Refused(403, T.ERROR_PAGES[403][0], refusal)
    return user


def _month(request: web.Request) -> Month:
    """The month asked for (?month=YYYY-MM), this month (Shanghai) by default."""
    text = request.query.get("month", "").strip()
    try:
        return Month.parse(text) if text else Month.of(now(request))
    except BadMonth:
        raise _Refused(400, "月份有误", T.NUMBERS_BAD_MONTH) from None


def _refusing(page: Any) -> Any:
    """The page, with a refusal (_Refused) answered as the console's error page."""
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            return await page(request)
        except _Refused as no:
            return await error_page(request, no.status, no.title, no.message)
    return handler


async def _numbers(request: web.Request, user: ConsoleUser, month: Month) -> Numbers:
    cal = request.app[SETTINGS].reports.calendar()
    async with sessions(request)() as db:
        scope = None if user.role == "admin" else await grids.codes_of_officer(db, user)
        return await report_numbers.month_numbers(db, month, now(request), cal, scope)


# --- words and cells -----------------------------------------------------------------------


def _rate(value: float | None) -> str:
    return T.NUMBERS_NO_DATA if value is None else charts.percent_text(value)


def _amount(value: float | None, unit: str = "") -> str:
    return T.NUMBERS_NO_DATA if value is None else f"{value:.1f}{unit}"


def _spread(spread: Spread) -> str:
    """median / 90th percentile, one decimal each."""
    if not spread.n:
        return T.NUMBERS_NO_DATA
    return f"{_amount(spread.median)} / {_amount(spread.p90)}"


DURATIONS = (7, 8)  # the columns of the durations, which the per-month table leaves out


def _cells(t: Tally) -> list[str]:
    """A table row's cells, in T.NUMBERS_COLUMNS' order."""
    return [str(t.reports), str(t.duplicates), str(t.resolved), _rate(t.resolution_rate),
            _rate(t.satisfaction_rate), str(t.rated), _rate(t.on_time_rate),
            _amount(t.ack.median), _amount(t.resolve.median), _rate(t.reopen_share),
            str(t.overdue_open), str(t.escalated)]


def _without_durations(cells: list[Any]) -> list[Any]:
    return [c for i, c in enumerate(cells) if i not in DURATIONS]


def _sheet_cells(t: Tally) -> list[Any]:
    """A workbook row: numbers as numbers (rates in %, one decimal), 暂无数据 as text."""
    def pct(v: float | None) -> Any:
        return T.NUMBERS_NO_DATA if v is None else round(v * 100, 1)

    def num(v: float | None) -> Any:
        return T.NUMBERS_NO_DATA if v is None else round(v, 1)

    return [t.reports, t.duplicates, t.resolved, pct(t.resolution_rate),
            pct(t.satisfaction_rate), t.rated, pct(t.on_time_rate), num(t.ack.median),
            num(t.resolve.median), pct(t.reopen_share), t.overdue_open, t.escalated]


def _sheet_header(first: str) -> list[str]:
    rates = {"办结率", "满意率", "按时办结率", "重新打开占比"}
    return [first, *(f"{c}（%）" if c in rates else c for c in T.NUMBERS_COLUMNS)]


def _local(at: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return at.astimezone(SHANGHAI).strftime(fmt)


def _definitions(request: web.Request) -> list[tuple[str, str, str]]:
    days = request.app[SETTINGS].reports.escalate_after_days
    return [(key, name, text.format(days=days)) for key, name, text in T.NUMBERS_DEFINITIONS]


def _time_rule(request: web.Request) -> str:
    cal = request.app[SETTINGS].reports.calendar()
    return T.NUMBERS_TIME_RULE.format(opens=cal.opens.strftime("%H:%M"),
                                      closes=cal.closes.strftime("%H:%M"),
                                      hours=cal.day_length.total_seconds() / 3600)


def _summary(request: web.Request, n: Numbers) -> list[dict[str, str]]:
    """The headline numbers: name, value, how it is graded (the two with a target), and
    its definition."""
    targets = request.app[SETTINGS].console.targets
    s = n.summary
    graded = {"resolution": (s.resolution_rate, targets.resolution_rate),
              "satisfaction": (s.satisfaction_rate, targets.satisfaction_rate)}
    values = {"resolution": _rate(s.resolution_rate), "satisfaction": _rate(s.satisfaction_rate),
              "on_time": _rate(s.on_time_rate), "ack": _spread(s.ack),
              "resolve": _spread(s.resolve), "reopen": _rate(s.reopen_share),
              "overdue": str(s.overdue_open), "escalated": str(s.escalated)}
    notes = {"resolution": f"{s.resolved} ÷ {s.counted} 件",
             "satisfaction": f"{s.satisfied} ÷ {s.rated} 条评价",
             "on_time": f"{s.on_time} ÷ {s.resolved} 件",
             "ack": f"中位数 / 第90百分位，工作小时（{s.ack.n} 件）",
             "resolve": f"中位数 / 第90百分位，工作日（{s.resolve.n} 件）",
             "reopen": f"{s.reopened} ÷ {s.ever_resolved} 件",
             "overdue": "件", "escalated": "件"}
    out = []
    for key, name, definition in _definitions(request):
        tone = word = target = ""
        if key in graded:
            g = charts.grade(*graded[key])
            tone, word = g.tone, g.word
            target = T.NUMBERS_TARGET.format(target=("" if g.target == "100%" else "≥ ")
                                             + g.target)
        elif key in ("overdue", "escalated") and values[key] != "0":
            tone = "bad"
        out.append({"key": key, "name": name, "value": values[key], "note": notes[key],
                    "tone": tone, "word": word, "target": target, "definition": definition})
    return out


def _grid_rows(n: Numbers) -> list[tuple[str, list[str]]]:
    return [(name or T.NUMBERS_NO_GRID, _cells(t)) for _, name, t in n.by_grid]


def _escalated_rows(items: list[Escalated]) -> list[dict[str, Any]]:
    return [{"ticket": e.ticket, "grid": e.grid or T.NUMBERS_NO_GRID, "category": e.category,
             "status": e.status, "due": _local(e.due_at), "days": e.days_overdue,
             "officers": "、".join(e.officers) or "—"} for e in items]


def _trends(request: web.Request, n: Numbers) -> list[dict[str, Any]]:
    """The three trend charts (办结率, 满意率, 上报量), each drawn for a laptop and a phone."""
    targets = request.app[SETTINGS].console.targets
    months = n.by_month
    first, last = months[0][0].label, months[-1][0].label
    out = []
    for key, title, values, percent, target in (
            ("resolution", "办结率", [t.resolution_rate for _, t in months], True,
             targets.resolution_rate),
            ("satisfaction", "满意率", [t.satisfaction_rate for _, t in months], True,
             targets.satisfaction_rate),
            ("volume", "上报量（件）", [float(t.reports) for _, t in months], False, None)):
        series = [(m.short, v) for (m, _), v in zip(months, values, strict=True)]
        shown = "，".join(f"{m.label} {charts.percent_text(v) if percent else int(v or 0)}"
                         for (m, _), v in zip(months, values, strict=True)
                         if v is not None)
        out.append({"key": key, "title": f"{title} · {first}—{last}",
                    "desc": shown or T.NUMBERS_NO_DATA,
                    "wide": charts.columns(series, percent, target),
                    "tall": charts.rows(series, percent, target),
                    "target": charts.percent_text(target) if target is not None else ""})
    return out


def _context(request: web.Request, user: ConsoleUser, n: Numbers) -> dict[str, Any]:
    return {
        "n": n, "month": n.month, "summary": _summary(request, n),
        "scope": T.NUMBERS_SCOPE.format(label=n.month.label, now=_local(n.now)),
        "officer": user.role != "admin", "time_rule": _time_rule(request),
        "officer_note": T.NUMBERS_SCOPE_OFFICER if user.role != "admin" else "",
        "columns": T.NUMBERS_COLUMNS, "escalated_columns": T.NUMBERS_ESCALATED_COLUMNS,
        "grid_rows": _grid_rows(n),
        "category_rows": [(c, _cells(t)) for c, t in n.by_category],
        "month_columns": _without_durations(list(T.NUMBERS_COLUMNS)),
        "month_rows": [(m.label, _without_durations(_cells(t))) for m, t in reversed(n.by_month)],
        "escalated": _escalated_rows(n.escalated), "no_data": T.NUMBERS_NO_DATA,
        "generated": _local(n.now, "%Y-%m-%d %H:%M:%S"),
        "report_title": T.NUMBERS_REPORT_TITLE.format(label=n.month.label),
    }


# --- the pages -----------------------------------------------------------------------------


async def numbers_page(request: web.Request) -> web.StreamResponse:
    user = _allowed(request, ROLES, T.NUMBERS_REFUSED)
    n = await _numbers(request, user, _month(request))
    return await render(request, "numbers_page.html", {
        **_context(request, user, n), "trends": _trends(request, n)})


async def monthly(request: web.Request) -> web.StreamResponse:
    """The month's report, for print."""
    user = _allowed(request, frozenset({"admin"}), T.NUMBERS_MONTHLY_REFUSED)
    n = await _numbers(request, user, _month(request))
    return await render(request, "numbers_monthly.html", _context(request, user, n))


async def monthly_xlsx(request: web.Request) -> web.StreamResponse:
    """The month's report as a workbook: 概览, 按网格, 按类别, 按月, 督办."""
    user = _allowed(request, frozenset({"admin"}), T.NUMBERS_MONTHLY_REFUSED)
    month = _month(request)
    n = await _numbers(request, user, month)
    return await xlsx_response(f"随手拍月度报告-{month.key}.xlsx", _workbook(request, n))


async def monthly_csv(request: web.Request) -> web.StreamResponse:
    """The month's per-grid table as CSV."""
    user = _allowed(request, frozenset({"admin"}), T.NUMBERS_MONTHLY_REFUSED)
    month = _month(request)
    n = await _numbers(request, user, month)
    return csv_response(f"随手拍按网格-{month.key}.csv", _sheet_header("网格"),
                        [[name or T.NUMBERS_NO_GRID, *_sheet_cells(t)]
                         for _, name, t in n.by_grid])


def _workbook(request: web.Request, n: Numbers) -> list[tuple[str, list[str], list[Any]]]:
    overview: list[list[Any]] = [
        ["报告", T.NUMBERS_REPORT_TITLE.format(label=n.month.label), ""],
        ["统计口径", T.NUMBERS_SCOPE.format(label=n.month.label, now=_local(n.now)), ""],
        ["时长口径", _time_rule(request), ""],
        ["全部上报", n.summary.reports, "件"],
        *([item["name"], item["value"], item["definition"]]
          for item in _summary(request, n)),
        ["生成时间", _local(n.now, "%Y-%m-%d %H:%M:%S"), ""],
    ]
    sheets = T.NUMBERS_SHEETS
    return [
        (sheets[0], list(T.NUMBERS_OVERVIEW_COLUMNS), overview),
        (sheets[1], _sheet_header("网格"),
         [[name or T.NUMBERS_NO_GRID, *_sheet_cells(t)] for _, name, t in n.by_grid]),
        (sheets[2], _sheet_header("类别"), [[c, *_sheet_cells(t)] for c, t in n.by_category]),
        (sheets[3], [_sheet_header("月份")[0], *_without_durations(_sheet_header("月份")[1:])],
         [[m.key, *_without_durations(_sheet_cells(t))] for m, t in n.by_month]),
        (sheets[4], list(T.NUMBERS_ESCALATED_COLUMNS),
         [[e["ticket"], e["grid"], e["category"], e["status"], e["due"], e["days"],
           e["officers"]] for e in _escalated_rows(n.escalated)]),
    ]


def add_routes(console: web.Application) -> None:
    console.router.add_get("/numbers", _refusing(numbers_page))
    console.router.add_get("/numbers/monthly", _refusing(monthly))
    console.router.add_get("/numbers/monthly.xlsx", _refusing(monthly_xlsx))
    console.router.add_get("/numbers/monthly.csv", _refusing(monthly_csv))
