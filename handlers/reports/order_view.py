"""What a report's console page shows of its work order (工单): badges, deadlines, the
extension, merges, and which steps the viewer may take (each step's rule is the domain's,
models/work_order.py; this only decides which forms to offer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.clock import SHANGHAI
from models import report as reports
from models import work_order as orders
from models.grid import codes_of_officer
from models.names import staff_names
from models.report import Report
from models.staff import ConsoleUser
from models.views import orders as views

WORKING = (reports.DISPATCHED, reports.IN_PROGRESS)  # where 退单 and 延期 apply


def _time(value: datetime | None) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else ""


def badges(report: Report, at: datetime) -> list[tuple[str, str]]:
    """(label, css class) of each flag the report carries."""
    found: list[tuple[str, str]] = []
    if views.STAGES["priority"](report):
        found.append((T.BADGE_PRIORITY, "red"))
    if views.STAGES["escalated"](report):
        found.append((T.BADGE_ESCALATED, "red"))
    if views.STAGES["returned"](report):
        late = report.return_reason == orders.ACK_OVERDUE_REASON
        found.append((T.BADGE_ACK_LATE if late else T.BADGE_RETURNED, "red"))
    if views.STAGES["unacked"](report):
        found.append((T.BADGE_UNACKED, ""))
    if views.STAGES["extension"](report):
        found.append((T.BADGE_EXTENSION, ""))
    if report.overdue(at):
        found.append((T.BADGE_OVERDUE, "red"))
    return found


def steps(report: Report, user: ConsoleUser) -> dict[str, bool]:
    """The work-order forms the page offers this user (an officer sees only reports of
    their grids, so an officer here works the report's grid)."""
    admin, officer = user.role == "admin", user.role == "officer"
    working = report.status in WORKING
    return {
        "dispatch": admin and report.is_open,
        "ack": officer and report.status == reports.DISPATCHED and report.acked_at is None,
        "return": officer and working,
        "extend": officer and working and report.extension_state != orders.PENDING,
        "decide": admin and report.is_open and report.extension_state == orders.PENDING,
        "merge": (admin or officer) and report.is_open,
    }


async def dispatch_choices(db: AsyncSession, report: Report) -> list[tuple[str, str]]:
    """(code, "name（its officers' display names）") of every grid but the report's own."""
    grids = await views.grid_officers(db)
    shown = await staff_names(db, [u for _, _, users in grids for u in users])
    return [(code, f"{name}（{'、'.join(shown.get(u, u) for u in users) or '暂无网格员'}）")
            for code, name, users in grids if code != report.grid_code]


async def context(db: AsyncSession, report: Report, user: ConsoleUser, at: datetime
                  ) -> dict[str, Any]:
    """The work order's part of the report page."""
    assert report.id is not None
    can = steps(report, user)
    scope = None if user.role == "admin" else await codes_of_officer(db, user)
    candidates = await views.merge_candidates(db, report, scope) if can["merge"] else []
    ext_by = report.extension_by or ""
    shown = await staff_names(db, [ext_by])
    return {
        "badges": badges(report, at), "can": can,
        "dispatch_choices": await dispatch_choices(db, report) if can["dispatch"] else [],
        "merge_candidates": [(r.ticket, f"{r.ticket} · {r.status} · {r.description[:20]}")
                             for r in candidates],
        "merged_into": await views.ticket_of(db, report.merged_into_id),
        "merged_from": await views.merged_from(db, report.id),
        "deadlines": {
            "dispatched": _time(report.dispatched_at), "ack_due": _time(report.ack_due_at),
            "acked": _time(report.acked_at), "due": _time(report.due_at),
            "ack_late": bool(report.ack_due_at and report.acked_at is None
                             and report.status == reports.DISPATCHED
                             and report.ack_due_at < at),
        },
        "extension": {
            "state": T.EXTENSION_STATES.get(report.extension_state or "", ""),
            "days": report.extension_days, "reason": report.extension_reason or "",
            "by": shown.get(ext_by, ext_by),
        } if report.extension_state else None,
        "returned": report.return_reason if report.returned and report.is_open else "",
        "days_range": orders.EXTENSION_DAYS, "reason_min": orders.REASON_MIN,
        "reason_max": reports.REASON_MAX,
    }


async def done_message(db: AsyncSession, report: Report, step: str) -> str:
    """What the page says after a step (the report as it is now)."""
    names = await views.grid_names(db)
    return T.ORDER_DONE[step].format(
        ticket=report.ticket, grid=names.get(report.grid_code or "", T.DISTRICT_QUEUE),
        due=_time(report.due_at), days=report.extension_days or 0,
        original=await views.ticket_of(db, report.merged_into_id) or "")
