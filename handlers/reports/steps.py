"""The work-order steps in the console (POST /console/reports/{ticket}/{step}): 派单 and
改派, 批准/驳回延期 (admins); 签收, 退单, 延期申请 (the grid's officers); 合并 (both, an
officer within their grids). Each step is the domain's (models/work_order.py) on the
report's locked row, so a double submit takes it once: the second finds it done and the page
says so. A role that may not take a step gets the 403 page saying who may; bad input, the
form again with the reason beside the field and what was typed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.web.pages import (
    SERVICES,
    SETTINGS,
    error_page,
    not_found,
    now,
    require,
    sessions,
    text_errors,
    text_for,
)
from handlers.reports import console, orders
from models import grid as grids
from models import report as reports
from models import work_order as wo
from models.report import Report, ReportError
from models.staff import ConsoleUser

log = logging.getLogger(__name__)

MAY = {"dispatch": {"admin"}, "ack": {"officer"}, "return": {"officer"},
       "extend": {"officer"}, "decide": {"admin"}, "merge": {"admin", "officer"}}
# The field beside which a refused step's reason shows.
FIELD = {"dispatch": "grid", "ack": "ack", "return": "return_reason", "extend": "days",
         "decide": "decision", "merge": "original"}
FIELDS = ("grid", "return_reason", "days", "ext_reason", "decision", "decide_note",
          "original", "confirm", "status", "note", "reason")


class Preview(Exception):
    """The 合并 not yet confirmed: what it will do."""

    def __init__(self, shown: dict[str, Any]) -> None:
        self.shown = shown


Ctx = tuple[AsyncSession, Report, ConsoleUser, dict[str, str], datetime, wo.Policy]


# --- checking what was typed ---------------------------------------------------------------


def _reason(text: str, field: str) -> dict[str, str]:
    if len(text) < wo.REASON_MIN:
        return {field: T.FORM_REASON.format(n=wo.REASON_MIN)}
    if len(text) > reports.REASON_MAX:
        return {field: T.FORM_REASON_LONG.format(n=reports.REASON_MAX, length=len(text))}
    return {}


def _days(text: str) -> int | None:
    low, high = wo.EXTENSION_DAYS
    return int(text) if text.isascii() and text.isdigit() and low <= int(text) <= high else None


def check(step: str, form: dict[str, str]) -> dict[str, str]:
    """The step's form errors, {field: words}."""
    if step == "dispatch" and not form["grid"]:
        return {"grid": T.FORM_GRID}
    if step == "return":
        return _reason(form["return_reason"], "return_reason")
    if step == "extend":
        errors = _reason(form["ext_reason"], "ext_reason")
        if _days(form["days"]) is None:
            errors["days"] = T.FORM_DAYS.format(low=wo.EXTENSION_DAYS[0],
                                                high=wo.EXTENSION_DAYS[1])
        return errors
    if step == "decide":
        note = form["decide_note"]
        if form["decision"] not in ("approve", "refuse"):
            return {"decision": T.FORM_DECISION}
        if len(note) > reports.NOTE_MAX:
            return {"decide_note": T.FORM_NOTE_LONG.format(n=reports.NOTE_MAX,
                                                           length=len(note))}
        if form["decision"] == "refuse" and len(note) < wo.REASON_MIN:
            return {"decide_note": T.FORM_REFUSE_NOTE.format(n=wo.REASON_MIN)}
    if step == "merge" and not console.TICKET_RE.match(form["original"]):
        return {"original": T.FORM_ORIGINAL}
    return {}


# --- the steps -----------------------------------------------------------------------------


def _back(report: Report, step: str) -> str:
    """Where the browser goes after the step: the report's page, saying what was done."""
    return f"/console/reports/{report.ticket}?done={step}"


async def dispatch(c: Ctx) -> str:
    db, report, user, form, at, rules = c
    grid = await grids.by_code(db, form["grid"])
    if grid is None:
        raise ReportError("grid_unknown")
    await wo.dispatch(db, report, grid, user, at, rules)
    return _back(report, "dispatch")


async def ack(c: Ctx) -> str:
    db, report, user, _form, at, rules = c
    await wo.acknowledge(db, report, user, at, rules)
    return _back(report, "ack")


async def give_back(c: Ctx) -> str:
    db, report, user, form, at, rules = c
    await wo.give_back(db, report, user, form["return_reason"], at, rules)
    return f"/console/reports?returned={report.ticket}"  # it left the officer's queue


async def extend(c: Ctx) -> str:
    db, report, user, form, at, rules = c
    await wo.request_extension(db, report, user, _days(form["days"]) or 0,
                               form["ext_reason"], at, rules)
    return _back(report, "extend")


async def decide(c: Ctx) -> str:
    db, report, user, form, at, rules = c
    approve = form["decision"] == "approve"
    step = wo.approve_extension if approve else wo.refuse_extension
    await step(db, report, user, form["decide_note"], at, rules)
    return _back(report, "approve" if approve else "refuse")


async def _original(db: AsyncSession, user: ConsoleUser, ticket: str) -> Report:
    """The report to merge into, if this user may see it (an officer: within their grids)."""
    original = await reports.by_ticket(db, ticket)
    if original is not None and user.role != "admin" and \
            original.grid_code not in await grids.codes_of_officer(db, user):
        original = None
    if original is None:
        raise ReportError("original_unknown")
    return original


async def _preview(db: AsyncSession, report: Report, original: Report, user: ConsoleUser
                   ) -> Preview:
    """What a 合并 will do, after the domain's rules (models/work_order.py merge) checked
    early: it is refused now rather than after the confirmation."""
    if original.id == report.id:
        raise ReportError("merge_self")
    if not report.is_open:
        raise ReportError("merge_closed", status=report.status)
    if original.status == reports.CLOSED or original.merged_into_id is not None:
        raise ReportError("merge_target", status=original.status)
    people = 1 + await reports.backer_count(db, report.id or 0)
    return Preview({"original": original, "people": people,
                    "description": text_for(user, original.description),
                    "text": T.MERGE_PREVIEW.format(ticket=report.ticket,
                                                   original=original.ticket, people=people)})


async def merge(c: Ctx) -> str:
    db, report, user, form, at, rules = c
    original = await _original(db, user, form["original"])
    if form["confirm"] != "1":  # first say what will happen
        raise await _preview(db, report, original, user)
    await wo.merge(db, report, original, user, at, rules)
    return _back(report, "merge")


RUN: dict[str, Callable[[Ctx], Awaitable[str]]] = {
    "dispatch": dispatch, "ack": ack, "return": give_back, "extend": extend,
    "decide": decide, "merge": merge}


# --- a second submit, refusals -------------------------------------------------------------


async def already(step: str, err: ReportError, c: Ctx) -> str:
    """The friendly words when the refusal only says this step was taken already."""
    db, report, user, form, _at, _rules = c
    words = T.ORDER_ALREADY.get(step, "")
    if step == "dispatch" and err.code == "same_grid":
        return words.format(ticket=report.ticket, grid=err.details.get("grid", ""))
    if step == "ack" and err.code == "already_acked":
        return words.format(ticket=report.ticket, status=report.status)
    if step == "extend" and err.code == "extension_pending" and \
            report.extension_by == user.username:
        return words.format(ticket=report.ticket, days=report.extension_days or 0)
    if step == "decide" and err.code == "no_extension" and report.extension_state:
        return words.format(ticket=report.ticket,
                            state=T.EXTENSION_STATES.get(report.extension_state, ""))
    if step == "merge" and err.code == "merge_closed" and report.merged_into_id:
        original = await reports.by_ticket(db, form["original"])
        if original is not None and original.id == report.merged_into_id:
            return words.format(ticket=report.ticket, original=original.ticket)
    return ""


def _refusal(err: ReportError, report: Report, form: dict[str, str]) -> str:
    if err.code == "grid_unknown":
        return T.FORM_GRID_UNKNOWN
    if err.code == "original_unknown":
        return T.FORM_ORIGINAL_UNKNOWN.format(ticket=form["original"].upper())
    return orders.error_text(err, report)


async def _given_back(db: AsyncSession, ticket: str, user: ConsoleUser) -> bool:
    """Whether this officer gave the report back already (it has left their grids)."""
    report = await reports.by_ticket(db, ticket, lock=True)
    if report is None or report.grid_code is not None or not report.returned:
        return False
    history = await reports.history(db, report.id or 0)
    return bool(history) and history[-1].action == wo.GIVE_BACK and \
        history[-1].actor == wo.actor_of(user)


# --- the route -----------------------------------------------------------------------------


async def take(request: web.Request) -> web.StreamResponse:
    user = require(request, console.ROLES)
    step = request.match_info["step"]
    if step not in RUN:
        raise not_found(request)
    data = await request.post()
    form = {k: str(data.get(k, "")).strip() for k in FIELDS}
    rules = orders.policy(request.app[SETTINGS])
    ticket = request.match_info["ticket"]
    async with sessions(request)() as db, db.begin():
        if step == "return" and user.role == "officer" and console.TICKET_RE.match(ticket) \
                and await _given_back(db, ticket, user):
            raise web.HTTPSeeOther(f"/console/reports?returned={ticket.upper()}")
        report = await console._visible(request, db, user, lock=step != "merge")
        if user.role not in MAY[step]:
            return await error_page(request, 403, None, T.ORDER_REFUSED[step])
        errors = text_errors(data, lines=("grid", "days", "original"),
                             bodies=("return_reason", "ext_reason", "decide_note")) \
            or check(step, form)
        if errors:
            return await console._detail(request, db, report, form, errors, 400)
        ctx: Ctx = (db, report, user, form, now(request), rules)
        try:
            location = await RUN[step](ctx)
        except Preview as p:
            return await console._detail(request, db, report, form, {}, preview=p.shown)
        except ReportError as err:
            if words := await already(step, err, ctx):
                return await console._detail(request, db, report, {}, {}, info=words)
            return await console._detail(request, db, report, form,
                                         {FIELD[step]: _refusal(err, report, form)}, 409)
    log.info("console: user %s took step %s on report %s", user.id, step, report.id)
    worker = getattr(request.app[SERVICES], "worker", None)
    if worker is not None:
        worker.wake()
    raise web.HTTPSeeOther(location)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/reports/{ticket}/{step}", take)
