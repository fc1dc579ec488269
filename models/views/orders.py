"""Reads for the console's work orders (工单): where in the cycle an open report stands
(the queue's filters and their counts), the grids a report may be dispatched to with their
officers, the reports a duplicate may be merged into, and the merges of a report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import report as reports
from models.grid import Grid
from models.report import Report
from models.staff import ConsoleUser

PENDING = "pending"  # models/work_order.py PENDING (the views import no domain module)

# stage → whether a report stands there (the console's 待派单, 待签收 … filters).
STAGES: dict[str, Callable[[Report], bool]] = {
    "queue": lambda r: r.is_open and r.grid_code is None,
    "unacked": lambda r: r.status == reports.DISPATCHED and r.acked_at is None,
    "working": lambda r: r.status == reports.IN_PROGRESS,
    "extension": lambda r: r.is_open and r.extension_state == PENDING,
    "escalated": lambda r: r.is_open and r.escalated_at is not None,
    "returned": lambda r: r.is_open and r.returned,
    "priority": lambda r: r.is_open and (r.priority or r.reopened > 0),  # 重办
}


def flagged_first(found: list[Report], at: datetime) -> list[Report]:
    """The queue's order: returned (退单, 签收超时) first, then 督办, 优先, overdue, and
    the oldest."""
    return sorted(found, key=lambda r: (
        not STAGES["returned"](r), not STAGES["escalated"](r), not STAGES["priority"](r),
        not r.overdue(at), r.created_at, r.id or 0))


async def stage_counts(db: AsyncSession, scope: set[str] | None, nowhere: str
                       ) -> dict[str, int]:
    """How many open reports in `scope` (grid codes; None: all) stand at each stage."""
    stmt = select(Report).where(col(Report.status).in_(reports.OPEN))
    if scope is not None:
        stmt = stmt.where(col(Report.grid_code).in_(scope or {nowhere}))
    found = (await db.exec(stmt)).all()
    return {stage: sum(1 for r in found if test(r)) for stage, test in STAGES.items()}


async def grid_officers(db: AsyncSession) -> list[tuple[str, str, list[str]]]:
    """(code, name, the logins of its active officers) of every grid, by code."""
    grids = (await db.exec(select(Grid).order_by(col(Grid.code)))).all()
    officers = (await db.exec(select(ConsoleUser).where(
        ConsoleUser.active, ConsoleUser.role == "officer")
        .order_by(col(ConsoleUser.username)))).all()
    return [(g.code, g.name, [u.username for u in officers
                              if u.username in g.officers or u.grid_code == g.code])
            for g in grids]


async def merge_candidates(db: AsyncSession, report: Report, scope: set[str] | None,
                           limit: int = 20) -> list[Report]:
    """Reports `report` may be merged into: of its category, not 已关闭 nor merged, in
    `scope` (None: anywhere), the newest first."""
    stmt = select(Report).where(Report.category == report.category, Report.id != report.id,
                                Report.status != reports.CLOSED,
                                col(Report.merged_into_id).is_(None))
    if scope is not None:
        stmt = stmt.where(col(Report.grid_code).in_(scope or {"-"}))
    return list((await db.exec(stmt.order_by(col(Report.id).desc()).limit(limit))).all())


async def merged_from(db: AsyncSession, report_id: int) -> list[str]:
    """The tickets of the duplicates merged into this report."""
    return list((await db.exec(select(Report.ticket).where(
        Report.merged_into_id == report_id).order_by(col(Report.id)))).all())


async def ticket_of(db: AsyncSession, report_id: int | None) -> str | None:
    if report_id is None:
        return None
    return (await db.exec(select(Report.ticket).where(Report.id == report_id))).first()


async def grid_names(db: AsyncSession) -> dict[str, str]:
    return {code: name for code, name in (await db.exec(select(Grid.code, Grid.name))).all()}
