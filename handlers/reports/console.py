"""随手拍 in the console: the grid officers' queue, a report's detail, moving it on.

Officers see the reports of their grids; admins see all, the default queue (no grid) too.
A report the user may not see and an unknown ticket are the same 404. A move goes through
`models.report.move` exactly as the officers' WeChat words do, so the reporter and the
backers get the same pushes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.clock import SHANGHAI
from bot.web.exports import export
from bot.web.listing import ListArgs, list_args, paging, search_text
from bot.web.pages import (
    SERVICES,
    SETTINGS,
    not_found,
    now,
    render,
    require,
    sessions,
    text_errors,
    text_for,
    user_of,
)
from handlers.reports import order_view
from models import grid as grids
from models import report as reports
from models.names import staff_names
from models.report import Report, ReportError
from models.staff import ConsoleUser
from models.views import orders as order_views
from models.views import reports as views

log = logging.getLogger(__name__)

ROLES = frozenset({"admin", "officer"})
STATUSES = (*reports.OPEN, reports.RESOLVED, reports.CLOSED)
STATUS_CHOICES = (("open", "待办（未办结）"), ("all", "全部"), *((s, s) for s in STATUSES))
DEFAULT_QUEUE = "-"  # the grid filter's value for reports outside every grid
DEFAULT_QUEUE_NAME = "默认队列（未划网格）"
TICKET_RE = re.compile(r"^[Rr]\d{8}-\d{4}$")
NOTE_MAX = reports.NOTE_MAX
IMAGE_TYPES = ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"),
               (b"GIF8", "image/gif"), (b"RIFF", "image/webp"))
ACTORS = {"member": "上报人", "system": "系统", "api": "接口", "officer": "网格员",
          "admin": "管理员", "console": "工作人员"}


@dataclass
class Filters:
    status: str = "open"
    grid: str = ""
    category: str = ""
    overdue: bool = False
    stage: str = ""  # a work-order stage (models/views/orders.py STAGES), "" for any
    q: str = ""  # words of the ticket or the description

    def items(self) -> dict[str, str]:
        return {"q": self.q, "status": self.status, "grid": self.grid,
                "category": self.category, "overdue": "1" if self.overdue else "",
                "stage": self.stage}

    def query(self, **extra: str) -> str:
        items = {**self.items(), **extra}
        return urlencode({k: v for k, v in items.items() if v})


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(SHANGHAI).strftime(fmt) if value else ""


# --- who may see what ----------------------------------------------------------------------


async def _scope(db: AsyncSession, user: ConsoleUser) -> set[str] | None:
    """The grids whose reports the user sees; None: every report (admins)."""
    return None if user.role == "admin" else await grids.codes_of_officer(db, user)


async def _visible(request: web.Request, db: AsyncSession, user: ConsoleUser,
                   lock: bool = False) -> Report:
    """The report of the URL's ticket, if the user may see it; otherwise the same 404 as
    for a ticket that does not exist."""
    ticket = request.match_info["ticket"]
    if not TICKET_RE.match(ticket):
        raise not_found(request)
    report = await reports.by_ticket(db, ticket, lock=lock)
    if report is None:
        raise not_found(request)
    scope = await _scope(db, user)
    if scope is not None and report.grid_code not in scope:
        raise not_found(request)
    return report


async def _grid_names(db: AsyncSession) -> dict[str | None, str]:
    names: dict[str | None, str] = {
        code: name for code, name in (await views.grid_names(db)).items()}
    names[None] = DEFAULT_QUEUE_NAME
    return names


def _grid_name(names: dict[str | None, str], code: str | None) -> str:
    return names.get(code) or (code or DEFAULT_QUEUE_NAME)


# --- the queue -----------------------------------------------------------------------------


def _filters(request: web.Request, categories: list[str]) -> Filters:
    """What the query asks for; a value that is not offered is ignored (no error page for
    a hand-edited URL)."""
    q = request.query
    status = q.get("status", "open")
    category = q.get("category", "")
    stage = q.get("stage", "")
    return Filters(status=status if status in dict(STATUS_CHOICES) else "open",
                   grid=q.get("grid", "")[:32],
                   category=category if category in categories else "",
                   overdue=q.get("overdue") in ("1", "on", "true"),
                   stage=stage if stage in order_views.STAGES else "",
                   q=search_text(request))


async def _queue(db: AsyncSession, scope: set[str] | None, f: Filters, at: datetime,
                 args: ListArgs, in_description: bool) -> tuple[list[Report], int]:
    """The filtered reports, flagged ones first (退单 and 签收超时, 督办, 优先), then the
    overdue, then the oldest; and how many there are."""
    grid = None if f.grid == DEFAULT_QUEUE else (f.grid or views.ANY)
    found, _ = await views.report_queue(db, scope, status=f.status, grid=grid,
                                        category=f.category, overdue=f.overdue, at=at,
                                        limit=None, nowhere=DEFAULT_QUEUE, text=f.q,
                                        in_description=in_description)
    if f.stage:
        found = [r for r in found if order_views.STAGES[f.stage](r)]
    ordered = order_views.flagged_first(found, at)
    shown = ordered if args.export else ordered[args.offset:args.offset + args.size]
    return shown, len(ordered)


async def queue(request: web.Request) -> web.StreamResponse:
    user = require(request, ROLES)
    categories = [c.name for c in request.app[SETTINGS].reports.categories]
    f = _filters(request, categories)
    at = now(request)
    args = list_args(request)
    # A resident's phone in a description stays unfound for who sees it masked.
    in_description = user.role == "admin" or not any(ch.isdigit() for ch in f.q)
    async with sessions(request)() as db:
        scope = await _scope(db, user)
        names = await _grid_names(db)
        found, total = await _queue(db, scope, f, at, args, in_description)
        backers = await views.backer_counts(db, [r.id for r in found if r.id is not None])
        counts = await order_views.stage_counts(db, scope, DEFAULT_QUEUE)
    if args.export:
        return await export(
            request, f"上报-{local_time(at, '%Y%m%d')}",
            ["单号", "类别", "状态", "网格", "上报时间", "办理期限", "逾期", "附议人数",
             "地址", "纬度", "经度", "描述", "关闭原因", "评价"],
            ([r.ticket, r.category, r.status, _grid_name(names, r.grid_code),
              local_time(r.created_at), local_time(r.due_at), "是" if r.overdue(at) else "",
              backers.get(r.id or 0, 0), text_for(user, r.address),
              r.lat if r.lat is not None else "", r.lng if r.lng is not None else "",
              text_for(user, r.description), r.close_reason or "",
              r.rating or ""] for r in found), "上报")
    if scope is None:
        grid_choices = [(c, n) for c, n in sorted(names.items(), key=lambda x: x[0] or "")
                        if c is not None] + [(DEFAULT_QUEUE, DEFAULT_QUEUE_NAME)]
    else:
        grid_choices = [(c, _grid_name(names, c)) for c in sorted(scope)]
    rows = [{"report": r, "overdue": r.overdue(at), "grid": _grid_name(names, r.grid_code),
             "backers": backers.get(r.id or 0, 0), "badges": order_view.badges(r, at),
             "returned": text_for(user, r.return_reason) if order_views.STAGES["returned"](r)
             else "", "description": text_for(user, r.description)} for r in found]
    return await render(request, "reports_list.html", {
        "rows": rows, "total": total, "f": f, "counts": counts,
        "p": paging("/console/reports", f.items(), args, total),
        "stages": T.ORDER_STAGES, "done": _returned_message(request),
        "stage_url": lambda stage: "/console/reports?" + Filters(
            f.status, f.grid, f.category, f.overdue, stage, f.q).query(),
        "overdue_count": sum(1 for r in rows if r["overdue"]),
        "status_choices": STATUS_CHOICES, "grid_choices": grid_choices,
        "categories": categories,
        "no_grids": scope is not None and not scope})


def _returned_message(request: web.Request) -> str:
    """After an officer's 退单 the report has left their queue: the list says it went."""
    ticket = request.query.get("returned", "")
    return T.ORDER_DONE["return"].format(ticket=ticket) if TICKET_RE.match(ticket) else ""


# --- one report ----------------------------------------------------------------------------


def _next_statuses(report: Report) -> list[str]:
    """Where an officer may move it (a resolved report goes back only by its reporter's
    未解决, as `reports.move` enforces)."""
    if report.status == reports.RESOLVED:
        return []
    return [s for s in STATUSES if s in reports.ALLOWED[report.status]]


def _actor(actor: str, shown: dict[str, str]) -> str:
    """Who did it: 上报人, 系统, 网格员 <display name> (the login without one)."""
    kind, _, name = actor.partition(":")
    label = ACTORS.get(kind, T.SOURCE_OTHER)
    return f"{label} {shown.get(name, name)}" if name else label


async def _detail(request: web.Request, db: AsyncSession, report: Report,
                  form: dict[str, str], errors: dict[str, str], status: int = 200,
                  done: str = "", info: str = "", preview: dict[str, Any] | None = None
                  ) -> web.Response:
    assert report.id is not None
    at = now(request)
    names = await _grid_names(db)
    user = user_of(request)
    history = await reports.history(db, report.id)
    shown = await staff_names(db, [e.actor.partition(":")[2] for e in history])
    events = [{"event": e, "actor": _actor(e.actor, shown), "note": text_for(user, e.note)}
              for e in history]
    return await render(request, "reports_detail.html", {
        **await order_view.context(db, report, user, at), "info": info, "preview": preview,
        "r": report, "grid": _grid_name(names, report.grid_code), "events": events,
        "backers": await reports.backer_count(db, report.id), "overdue": report.overdue(at),
        "has_photo": report.photo_status == "saved" and bool(report.photo_path),
        "description": text_for(user, report.description),
        "address": text_for(user, report.address),
        "next_statuses": _next_statuses(report), "close_reasons": reports.CLOSE_REASONS,
        "closed": reports.CLOSED, "form": form, "errors": errors, "done": done,
        "note_max": NOTE_MAX}, status)


async def detail(request: web.Request) -> web.Response:
    user = require(request, ROLES)
    async with sessions(request)() as db:
        report = await _visible(request, db, user)
        done = ""
        step = request.query.get("done", "")
        if step in T.ORDER_DONE:
            done = await order_view.done_message(db, report, step)
        elif step:
            n = await reports.backer_count(db, report.id or 0)
            done = T.MOVED.format(ticket=report.ticket, status=report.status,
                                  backers=T.MOVED_BACKERS.format(n=n) if n else "")
        return await _detail(request, db, report, {}, {}, done=done)


def _check(form: dict[str, str], allowed: list[str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    to, note, reason = form["status"], form["note"], form["reason"]
    if not allowed:
        errors["status"] = "这件上报现在不能再改状态。"
    elif not to:
        errors["status"] = "请选择新的状态。"
    elif to not in allowed:
        errors["status"] = f"只能改为：{'、'.join(allowed)}。"
    if to == reports.CLOSED and reason not in reports.CLOSE_REASONS:
        errors["reason"] = "关闭须选择原因：" + "、".join(reports.CLOSE_REASONS) + "。"
    if len(note) > NOTE_MAX:
        errors["note"] = f"说明最多 {NOTE_MAX} 字（现在 {len(note)} 字）。"
    elif "\x00" in note:
        errors["note"] = "说明里有无法保存的字符。"
    elif not note and to != reports.CLOSED:
        errors["note"] = "请写处理说明，上报人会收到这段话。"
    return errors


async def change(request: web.Request) -> web.Response:
    user = require(request, ROLES)
    data = await request.post()
    form = {k: str(data.get(k, "")).strip() for k in ("status", "note", "reason")}
    at = now(request)
    async with sessions(request)() as db, db.begin():
        report = await _visible(request, db, user, lock=True)
        if form["status"] and form["status"] == report.status:  # a second submit
            return await _detail(request, db, report, {}, {}, info=T.ALREADY_MOVED.format(
                ticket=report.ticket, status=report.status))
        errors = text_errors(data, bodies=("note",)) or _check(form, _next_statuses(report))
        if errors:
            return await _detail(request, db, report, form, errors, 400)
        to, reason = form["status"], form["reason"] if form["status"] == reports.CLOSED else None
        # As the WeChat word 「关闭 TICKET 重复 …」 does: the reason leads the note.
        note = f"{reason} {form['note']}".strip() if reason else form["note"]
        push = T.REPORT_PUSH_RESOLVED if to == reports.RESOLVED else T.REPORT_PUSH_STATUS
        was = report.status
        try:
            await reports.move(db, report, to, f"{user.role}:{user.username}", note, at, push,
                               reason, rate_hint=T.REPORT_RATE_HINT)
        except ReportError:  # changed by someone else since the page was shown
            return await _detail(request, db, report, form, {
                "status": T.CANNOT_MOVE.format(ticket=report.ticket, status=was, to=to)}, 409)
        ticket = report.ticket
    log.info("console: user %s moved report %s to %s", user.id, ticket, to)
    worker = getattr(request.app[SERVICES], "worker", None)
    if worker is not None:
        worker.wake()
    raise web.HTTPSeeOther(f"/console/reports/{ticket}?done=1")


def _sniff(data: bytes) -> str | None:
    for magic, kind in IMAGE_TYPES:
        if data.startswith(magic):
            return kind
    return None


def _read_photo(stored: str, folder: str) -> bytes | None:
    """The photo's bytes, only from inside the configured photo folder (never a path that
    leads elsewhere)."""
    base = Path(folder).resolve()
    path = Path(stored).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path.read_bytes()


async def photo(request: web.Request) -> web.Response:
    user = require(request, ROLES)
    async with sessions(request)() as db:
        report = await _visible(request, db, user)
    if report.photo_status != "saved" or not report.photo_path:
        raise not_found(request)
    folder = request.app[SETTINGS].reports.photo_dir
    try:
        data = await asyncio.to_thread(_read_photo, report.photo_path, folder)
    except OSError:
        log.warning("console: the photo of report %s could not be read", report.ticket)
        data = None
    kind = _sniff(data) if data else None
    if data is None or kind is None:
        raise not_found(request)
    return web.Response(body=data, content_type=kind, headers={
        "X-Content-Type-Options": "nosniff", "Content-Disposition": "inline"})


def add_routes(console: web.Application) -> None:
    console.router.add_get("/reports", queue, name="reports")
    console.router.add_get("/reports/{ticket}", detail, name="report")
    console.router.add_post("/reports/{ticket}", change)
    console.router.add_get("/reports/{ticket}/photo", photo, name="report_photo")

