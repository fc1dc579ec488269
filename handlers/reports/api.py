"""/api/v1/reports: 随手拍 reports for the district's own systems, behind the API token.

List and read reports (never the reporter's name, phone, openid or member id), move one
along its lifecycle as "api" (the reporter and backers are told, as when an officer does
it), and read the numbers (办结率, 满意率, …) per grid and overall, with the exact
definitions in the response.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.clock import SHANGHAI
from bot.web.api import TokenApi, json_error
from models import report as reports
from models.report import Report, ReportError
from models.views import reports as views

STATUSES = (*reports.OPEN, reports.RESOLVED, reports.CLOSED)
MOVABLE = (reports.DISPATCHED, reports.IN_PROGRESS, reports.RESOLVED, reports.CLOSED)
TICKET = re.compile(r"R\d{8}-\d{4}")
DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET = 50, 200, 1_000_000
NOTE_MAX = reports.NOTE_MAX
DEFAULT_DAYS, MAX_DAYS = 30, 366
DEFAULT_QUEUE = "none"  # ?grid=none: the default queue (grid codes are upper case)
DEFAULT_QUEUE_NAME = "区级待分派"

DEFINITIONS = {
    "range": "统计区间内（Asia/Shanghai，from 当日 00:00 起，至 to 次日 00:00 前）新建的上报"
             "（按上报时间 created_at）；以下各项都只统计这些上报，状态取请求时的当前状态。",
    "reports": "区间内新建的上报数（任何状态）。",
    "by_status": "这些上报按当前状态计数：已受理、已派单、处理中、已办结、已关闭。",
    "resolution_rate": "办结率 = 当前状态为「已办结」的上报数 ÷（区间内全部上报数 − 以「重复」为由"
                       "「已关闭」的上报数）。以「非职责范围」「无法处理」关闭的留在分母中、不计入分子；"
                       "被反馈「未解决」退回「处理中」的不计入分子。分母为 0 时为 null。",
    "satisfaction_rate": "满意率 = 评分为 4 或 5 星的上报数 ÷ 有评分的上报数（评分 1–5，"
                         "由上报人在「已办结」后给出；退回「处理中」会清除原评分）。"
                         "没有评分时为 null。",
    "ratings": "有评分的上报数（满意率的分母）。",
    "median_hours_to_resolve": "当前状态为「已办结」的上报，从上报（created_at）到最近一次办结"
                               "（resolved_at）所用小时数的中位数。没有已办结的上报时为 null。",
    "overdue": "当前仍未结（已受理、已派单、处理中）且已超过办结期限（due_at）的上报数，"
               "按请求时刻计算；已办结、已关闭的不算逾期。",
}

_dumps = functools.partial(json.dumps, ensure_ascii=False)


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(SHANGHAI).isoformat() if when else None


def _clean(value: str, name: str, max_len: int = 32) -> str:
    """A query value as text the database can take (no control characters)."""
    if len(value) > max_len or any(ord(c) < 32 for c in value):
        raise json_error(web.HTTPBadRequest, f"{name} is not valid")
    return value


def _int(query: Any, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name, "").strip()
    if raw == "":
        return default
    if not re.fullmatch(r"\d{1,9}", raw) or not low <= int(raw) <= high:
        raise json_error(web.HTTPBadRequest, f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def _day(query: Any, name: str) -> date | None:
    raw = query.get(name, "").strip()
    if raw == "":
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError
        day = date.fromisoformat(raw)
        if not 2000 <= day.year <= 2100:  # and no date arithmetic at the calendar's edges
            raise ValueError
        return day
    except ValueError:
        raise json_error(web.HTTPBadRequest,
                     f"{name} must be a date as YYYY-MM-DD between 2000 and 2100") from None


class ReportApi(TokenApi):
    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/reports", self.list_reports)
        app.router.add_get("/api/v1/reports/stats", self.stats)  # before /{ticket}
        app.router.add_get("/api/v1/reports/{ticket}", self.read)
        app.router.add_post("/api/v1/reports/{ticket}/status", self.move)

    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        return web.json_response(data, status=status, dumps=_dumps)

    # --- list and detail -------------------------------------------------------------------

    async def list_reports(self, request: web.Request) -> web.Response:
        """?status=&grid=&overdue=1&limit=&offset= — newest first. grid=none: the default
        queue; status may list several, comma separated."""
        await self._authorize(request)
        q = request.query
        limit = _int(q, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _int(q, "offset", 0, 0, MAX_OFFSET)
        now = self._clock.now()
        wanted: list[str] | None = None
        if status := q.get("status", "").strip():
            wanted = [s.strip() for s in status.split(",") if s.strip()]
            if not wanted or any(s not in STATUSES for s in wanted):
                raise json_error(web.HTTPBadRequest, f"status must be one of {', '.join(STATUSES)}")
        grid_code: str | None = views.ANY
        if grid := _clean(q.get("grid", "").strip(), "grid"):
            grid_code = None if grid == DEFAULT_QUEUE else grid.upper()
        overdue = q.get("overdue", "").strip().lower()
        if overdue and overdue not in ("1", "true", "yes", "0", "false", "no"):
            raise json_error(web.HTTPBadRequest, "overdue must be 1 or 0")
        late = None if not overdue else overdue in ("1", "true", "yes")
        async with self._sessions() as session:
            rows, total = await views.api_reports(session, statuses=wanted, grid=grid_code,
                                                  overdue=late, now=now, offset=offset,
                                                  limit=limit)
            backers = await views.backer_counts(session,
                                                [r.id for r in rows if r.id is not None])
        return self._json({"total": total, "limit": limit, "offset": offset,
                           "reports": [_summary(r, backers.get(r.id or 0, 0), now)
                                       for r in rows]})

    async def read(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        async with self._sessions() as session:
            report = await self._report(session, request.match_info["ticket"])
            return self._json(await self._describe(session, report))

    async def _report(self, session: AsyncSession, ticket: str, lock: bool = False) -> Report:
        ticket = ticket.strip().upper()
        if not TICKET.fullmatch(ticket):
            raise json_error(web.HTTPNotFound, "no such report")
        report = await reports.by_ticket(session, ticket, lock=lock)
        if report is None:
            raise json_error(web.HTTPNotFound, "no such report")
        return report

    async def _describe(self, session: AsyncSession, report: Report) -> dict[str, Any]:
        assert report.id is not None
        now = self._clock.now()
        grid = await views.grid_name(session, report.grid_code) if report.grid_code else None
        events = await reports.history(session, report.id)
        return {
            **_summary(report, await reports.backer_count(session, report.id), now),
            "grid_name": (grid or report.grid_code) if report.grid_code else DEFAULT_QUEUE_NAME,
            "address": report.address,
            "lat": report.lat,
            "lng": report.lng,
            "datum": "gcj02",
            "photo_status": report.photo_status,
            "close_reason": report.close_reason,
            "reopened": report.reopened,
            "rated_at": _iso(report.rated_at),
            "resolved_at": _iso(report.resolved_at),
            "closed_at": _iso(report.closed_at),
            "updated_at": _iso(report.updated_at),
            "history": [{"at": _iso(e.at), "actor": e.actor, "from": e.from_status,
                         "to": e.to_status, "note": e.note} for e in events],
        }

    # --- moving ----------------------------------------------------------------------------

    async def move(self, request: web.Request) -> web.Response:
        """{"status": 已派单|处理中|已办结|已关闭, "note": "…",
        "reason": 重复|非职责范围|无法处理 (only for 已关闭)}"""
        await self._authorize(request)
        data = await self._json_object(request, lines=("status", "reason"),
                                       bodies=("note",))
        to = data.get("status")
        if to not in MOVABLE:
            raise json_error(web.HTTPBadRequest, f"status must be one of {', '.join(MOVABLE)}")
        note = data.get("note", "")
        if note is None:
            note = ""
        if not isinstance(note, str) or len(note) > NOTE_MAX or "\x00" in note:
            raise json_error(web.HTTPBadRequest, f"note must be a string of at most {NOTE_MAX}"
                                             " characters")
        reason = data.get("reason")
        if to == reports.CLOSED and reason not in reports.CLOSE_REASONS:
            raise json_error(web.HTTPBadRequest, "reason is required to close: "
                                             + ", ".join(reports.CLOSE_REASONS))
        if to != reports.CLOSED and reason is not None:
            raise json_error(web.HTTPBadRequest, "reason is only for 已关闭")
        push = T.REPORT_PUSH_RESOLVED if to == reports.RESOLVED else T.REPORT_PUSH_STATUS
        async with self._sessions() as session, session.begin():
            report = await self._report(session, request.match_info["ticket"], lock=True)
            was = report.status
            try:
                await reports.move(session, report, to, "api", note.strip(),
                                   self._clock.now(), push, reason,
                                   rate_hint=T.REPORT_RATE_HINT)
            except ReportError as err:
                if err.reason == "close_reason":
                    raise json_error(web.HTTPBadRequest,
                                 T.CLOSE_REASON.format(ticket=report.ticket)) from None
                raise json_error(web.HTTPConflict, T.CANNOT_MOVE.format(
                    ticket=report.ticket, status=was, to=to)) from None
            result = await self._describe(session, report)
        self._wake_worker()
        return self._json(result)

    # --- numbers ---------------------------------------------------------------------------

    async def stats(self, request: web.Request) -> web.Response:
        """?from=YYYY-MM-DD&to=YYYY-MM-DD&grid=CODE — both days included, Asia/Shanghai;
        the last 30 days by default. Without grid: overall, and every grid (and the default
        queue, grid_code null) one by one."""
        await self._authorize(request)
        q = request.query
        now = self._clock.now()
        last = _day(q, "to") or now.astimezone(SHANGHAI).date()
        first = _day(q, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            raise json_error(web.HTTPBadRequest, "from must not be after to")
        if (last - first).days + 1 > MAX_DAYS:
            raise json_error(web.HTTPBadRequest, f"the range may span at most {MAX_DAYS} days")
        start = datetime.combine(first, time(0), SHANGHAI)
        end = datetime.combine(last + timedelta(days=1), time(0), SHANGHAI)
        grid = _clean(q.get("grid", "").strip(), "grid")
        result: dict[str, Any] = {"from": first.isoformat(), "to": last.isoformat(),
                                  "timezone": "Asia/Shanghai", "start": start.isoformat(),
                                  "end": end.isoformat(), "as_of": _iso(now)}
        async with self._sessions() as session:
            names = await views.grid_names(session)
            if grid:
                code = None if grid == DEFAULT_QUEUE else grid.upper()
                if code is not None and code not in names:
                    raise json_error(web.HTTPNotFound, "no such grid")
                result["grid"] = code
                result["grid_name"] = names[code] if code else DEFAULT_QUEUE_NAME
                result["numbers"] = await reports.numbers(session, start, end, now, code or "")
            else:
                result["grid"] = None
                result["numbers"] = await reports.numbers(session, start, end, now)
                used = await views.used_grid_codes(session)
                per_grid = []
                for code in sorted(set(names) | {c for c in used if c}):
                    per_grid.append({"grid_code": code, "grid_name": names.get(code, code),
                                     **await reports.numbers(session, start, end, now, code)})
                per_grid.append({"grid_code": None, "grid_name": DEFAULT_QUEUE_NAME,
                                 **await reports.numbers(session, start, end, now, "")})
                result["grids"] = per_grid
        result["definitions"] = DEFINITIONS
        return self._json(result)


def _summary(report: Report, backers: int, now: datetime) -> dict[str, Any]:
    return {
        "ticket": report.ticket,
        "status": report.status,
        "category": report.category,
        "description": report.description,
        "grid_code": report.grid_code,
        "created_at": _iso(report.created_at),
        "due_at": _iso(report.due_at),
        "overdue": report.overdue(now),
        "backers": backers,
        "rating": report.rating,
    }
