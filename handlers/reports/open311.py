"""Open311 GeoReport v2, read-only, JSON: so a district platform can pull 随手拍 reports.

    GET /open311/v2/services.json            one service per report category
    GET /open311/v2/requests.json            service requests (filters below)
    GET /open311/v2/requests/{id}.json       one request, as a one-element list

Public and without a key, so nothing personal goes out: never the reporter's name, phone,
openid or member id, no photo paths, and phone, ID-card and landline numbers typed into
the free text are masked in any spelling (models/redact.py). Errors are Open311's: a JSON
list [{"code": 400, "description": "…"}].

Coordinates: every point is stored in GCJ-02 (the datum of WeChat's Tencent maps), but
GeoReport v2 defines lat/long as WGS-84, which is what an Open311 consumer plots on its
own maps; so lat/long here are converted back with models.geo.gcj02_to_wgs84 (the two
differ by a few hundred metres around Changzhou).

service_code is "rc" + the first 8 hex digits of the category name's SHA-1: ASCII,
and stable when categories are reordered or added in config.yaml.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import SHANGHAI, Clock
from bot.settings import Settings
from models import geo
from models import report as reports
from models.redact import redact
from models.report import Report
from models.views import reports as views

GROUP = "随手拍"
DEFAULT_QUEUE_NAME = "区级待分派"
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_PAGE = 50, 200, 10_000
MAX_SPAN = timedelta(days=90)  # the spec's default window and the longest range it allows
MAX_IDS = 200
TICKET = re.compile(r"R\d{8}-\d{4}")
STATUSES = {"open": reports.OPEN, "closed": (reports.RESOLVED, reports.CLOSED)}

_dumps = functools.partial(json.dumps, ensure_ascii=False)


def service_code(category: str) -> str:
    return "rc" + hashlib.sha1(category.encode()).hexdigest()[:8]


def _errors(status: type[web.HTTPException], code: int, description: str
            ) -> web.HTTPException:
    return status(text=_dumps([{"code": code, "description": description}]),
                  content_type="application/json")


def _bad(description: str) -> web.HTTPException:
    return _errors(web.HTTPBadRequest, 400, description)


def _json(data: Any) -> web.Response:
    return web.json_response(data, dumps=_dumps)


def _w3c(when: datetime | None) -> str | None:
    return when.astimezone(SHANGHAI).isoformat(timespec="seconds") if when else None


def parse_w3c(name: str, raw: str) -> datetime:
    """A W3C datetime (2026-11-28T10:00:00+08:00, …Z); with no offset, Asia/Shanghai.
    A '+' left unescaped in a query string arrives as a space, and is taken back."""
    value = raw.strip()
    value = re.sub(r"(T[0-9:.]+) (\d{2}:?\d{2})$", r"\1+\2", value)
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][0-9:.]+)?(Z|[+-]\d{2}:?\d{2})?", value):
            raise ValueError
        when = datetime.fromisoformat(value)
        when = when if when.tzinfo else when.replace(tzinfo=SHANGHAI)
        when.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _bad(f"{name} must be a W3C datetime such as 2026-11-28T00:00:00+08:00") from None
    return when


def _page(query: Any, name: str, default: int, high: int) -> int:
    raw = query.get(name, "").strip()
    if raw == "":
        return default
    if not re.fullmatch(r"\d{1,6}", raw) or not 1 <= int(raw) <= high:
        raise _bad(f"{name} must be a whole number from 1 to {high}")
    return int(raw)


class Open311:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings,
                 clock: Clock):
        self._sessions = sessions
        self._settings = settings
        self._clock = clock

    def services(self) -> list[dict[str, Any]]:
        return [{"service_code": service_code(c.name), "service_name": c.name,
                 "description": f"{GROUP}：{c.name}（办结期限 {_duration(c.deadline)}）",
                 "metadata": False, "type": "realtime", "keywords": ",".join(c.keywords),
                 "group": GROUP}
                for c in self._settings.reports.categories]

    async def list_services(self, request: web.Request) -> web.Response:
        return _json(self.services())

    async def list_requests(self, request: web.Request) -> web.Response:
        q = request.query
        page_size = _page(q, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        page = _page(q, "page", 1, MAX_PAGE)
        async with self._sessions() as session:
            if ids := q.get("service_request_id", "").strip():
                # The spec: a list of ids overrides every other argument.
                wanted = [i.strip().upper() for i in ids.split(",") if i.strip()]
                if len(wanted) > MAX_IDS:
                    raise _bad(f"at most {MAX_IDS} service_request_id values at once")
                rows = await views.open311_requests(
                    session, tickets=[i for i in wanted if TICKET.fullmatch(i)])
            else:
                rows = await views.open311_requests(
                    session, **await self._conditions(session, q),
                    offset=(page - 1) * page_size, limit=page_size)
            return _json(await self._describe(session, rows))

    async def read_request(self, request: web.Request) -> web.Response:
        ticket = request.match_info["id"].strip().upper()
        async with self._sessions() as session:
            report = await reports.by_ticket(session, ticket) if TICKET.fullmatch(
                ticket) else None
            if report is None:
                raise _errors(web.HTTPNotFound, 404,
                              f"service_request_id {ticket[:20]} was not found")
            return _json(await self._describe(session, [report]))

    async def _conditions(self, session: AsyncSession, q: Any) -> dict[str, Any]:
        conditions: dict[str, Any] = {}
        if codes := q.get("service_code", "").strip():
            names = await self._category_names(session)
            wanted = [c.strip() for c in codes.split(",") if c.strip()]
            unknown = [c for c in wanted if c not in names]
            if unknown:
                raise _bad(f"service_code {unknown[0][:20]} is not a service; "
                           "see services.json")
            conditions["categories"] = [names[c] for c in wanted]
        if status := q.get("status", "").strip():
            wanted = [s.strip().lower() for s in status.split(",") if s.strip()]
            if not wanted or any(s not in STATUSES for s in wanted):
                raise _bad("status must be open or closed (or both, comma delimited)")
            conditions["statuses"] = [x for s in set(wanted) for x in STATUSES[s]]
        start_raw, end_raw = q.get("start_date", ""), q.get("end_date", "")
        end = parse_w3c("end_date", end_raw) if end_raw.strip() else None
        start = parse_w3c("start_date", start_raw) if start_raw.strip() else None
        try:
            if start is None and end is None:
                end = self._clock.now()
            if start is None:
                assert end is not None
                start = end - MAX_SPAN
            elif end is None:
                end = start + MAX_SPAN
        except OverflowError:
            raise _bad("start_date or end_date is out of range") from None
        if start > end:
            raise _bad("start_date must not be after end_date")
        if end - start > MAX_SPAN:
            raise _bad("start_date and end_date may not span more than 90 days")
        conditions.update(start=start, end=end)
        return conditions

    async def _category_names(self, session: AsyncSession) -> dict[str, str]:
        """service_code → category, for the configured categories and any a report
        still carries after its category left the configuration."""
        used = await views.used_categories(session)
        names = [c.name for c in self._settings.reports.categories] + list(used)
        return {service_code(n): n for n in names}

    async def _describe(self, session: AsyncSession, rows: Sequence[Report]
                        ) -> list[dict[str, Any]]:
        grids = await views.grid_names(session, {r.grid_code for r in rows if r.grid_code})
        notes = await views.last_notes(session, [r.id for r in rows if r.id is not None])
        return [_request(r, grids, notes.get(r.id or 0, "")) for r in rows]


def _request(r: Report, grids: dict[str, str], note: str) -> dict[str, Any]:
    closed = r.status in STATUSES["closed"]
    if r.status == reports.CLOSED:
        notes = r.close_reason or ""
        updated = r.closed_at or r.updated_at
    else:
        notes = note
        updated = (r.resolved_at if r.status == reports.RESOLVED else None) or r.updated_at
    point = (geo.gcj02_to_wgs84(geo.Point(r.lat, r.lng))
             if r.lat is not None and r.lng is not None else None)
    return {
        "service_request_id": r.ticket,
        "status": "closed" if closed else "open",
        "status_notes": redact(notes),
        "service_name": r.category,
        "service_code": service_code(r.category),
        "description": redact(r.description),
        "agency_responsible": (grids.get(r.grid_code, r.grid_code) if r.grid_code
                               else DEFAULT_QUEUE_NAME),
        "service_notice": "",
        "requested_datetime": _w3c(r.created_at),
        "updated_datetime": _w3c(updated),
        "expected_datetime": _w3c(r.due_at),
        "address": redact(r.address),
        "address_id": "",
        "zipcode": "",
        "lat": round(point.lat, 6) if point else None,
        "long": round(point.lng, 6) if point else None,
        "media_url": "",
    }


def _duration(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours % 24 == 0:
        return f"{int(hours // 24)}天"
    return f"{hours:g}小时"


def add_open311_routes(app: web.Application, sessions: async_sessionmaker[AsyncSession],
                       settings: Settings, clock: Clock) -> None:
    """Public, read-only; no token."""
    api = Open311(sessions, settings, clock)
    app.router.add_get("/open311/v2/services.json", api.list_services)
    app.router.add_get("/open311/v2/requests.json", api.list_requests)
    app.router.add_get("/open311/v2/requests/{id}.json", api.read_request)
