"""The 「数据」 page's reads: the numbers the district is judged by, for a month, per grid,
per category and per month over a year, and the 督办 list. The counting rules are in
models/report_rates.py (pure); here the rows are read.

Counts are summed in the database, grouped (grid, category) for the month and by month
for the trend: one query each, whatever the number of reports. The durations (签收, 办结)
are counted in working time in Python (models/workdays.py rules), from four time columns
of the month's acknowledged or resolved reports only. `scope`: the grid codes an officer
works (None: every report, the district queue's too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, false, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import report as R
from models.grid import Grid
from models.names import staff_names
from models.report import Report, ReportEvent
from models.report_rates import (
    Month,
    Tally,
    days_overdue,
    total,
    working_days_between,
    working_hours_between,
)
from models.staff import ConsoleUser
from models.workdays import Calendar

ESCALATE = "督办"  # ReportEvent.action of a 督办 (models/work_order.py: ESCALATE)
DUPLICATE = "重复"  # the close reason of a duplicate (and of a merged report)


@dataclass(frozen=True)
class Escalated:
    """A report under 督办 and still open."""

    ticket: str
    grid_code: str | None
    grid: str
    category: str
    status: str
    due_at: datetime
    escalated_at: datetime
    days_overdue: int  # whole working days past due_at
    officers: list[str]  # display names of the grid's officers


@dataclass
class Numbers:
    month: Month
    now: datetime
    summary: Tally
    by_grid: list[tuple[str | None, str, Tally]]  # code, name, tally
    by_category: list[tuple[str, Tally]]
    by_month: list[tuple[Month, Tally]]  # the last 12 months, oldest first
    escalated: list[Escalated] = field(default_factory=list)


def _scoped(scope: set[str] | None) -> list[ColumnElement[bool]]:
    if scope is None:
        return []
    if not scope:
        return [false()]
    return [col(Report.grid_code).in_(sorted(scope))]


def _made_in(start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [col(Report.created_at) >= start, col(Report.created_at) < end]


def _sum(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _counts(now: datetime) -> list[Any]:
    """The aggregate columns, in Tally's order (督办 follows them)."""
    status = col(Report.status)
    resolved = status == R.RESOLVED
    duplicate = and_(status == R.CLOSED, or_(col(Report.close_reason) == DUPLICATE,
                                             col(Report.merged_into_id).is_not(None)))
    return [
        func.count(),
        _sum(duplicate),
        _sum(resolved),
        _sum(and_(resolved, col(Report.resolved_at).is_not(None),
                  col(Report.resolved_at) <= col(Report.due_at))),
        _sum(and_(status == R.CLOSED, ~duplicate)),
        _sum(status.in_(R.OPEN)),
        _sum(and_(status.in_(R.OPEN), col(Report.due_at) < now)),
        _sum(col(Report.rating).is_not(None)),
        _sum(col(Report.rating) >= 4),
        _sum(col(Report.reopened) > 0),
        _sum(or_(resolved, col(Report.reopened) > 0)),
    ]


def _tally(row: Sequence[Any]) -> Tally:
    (reports, duplicates, resolved, on_time, closed, open_, overdue, rated, satisfied,
     reopened, ever, escalated) = (int(v or 0) for v in row)
    return Tally(reports=reports, duplicates=duplicates, resolved=resolved, on_time=on_time,
                 closed=closed, open=open_, overdue_open=overdue, rated=rated,
                 satisfied=satisfied, reopened=reopened, ever_resolved=ever,
                 escalated=escalated)


async def _grouped(session: AsyncSession, keys: list[Any], where: list[ColumnElement[bool]],
                   now: datetime) -> list[tuple[tuple[Any, ...], Tally]]:
    """(key values, tally) per group of `keys` among the reports `where` holds."""
    escalated = exists().where(col(ReportEvent.report_id) == col(Report.id),
                               col(ReportEvent.action) == ESCALATE)  # ix_report_event_report_id
    columns: list[Any] = [*keys, *_counts(now), _sum(escalated)]
    stmt = select(*columns).select_from(Report).where(*where)
    if keys:
        stmt = stmt.group_by(*keys)
    rows = (await session.exec(stmt)).all()
    return [(tuple(row[:len(keys)]), _tally(row[len(keys):])) for row in rows]


async def _durations(session: AsyncSession, where: list[ColumnElement[bool]], cal: Calendar
                     ) -> dict[tuple[str | None, str], tuple[list[float], list[float]]]:
    """(grid, category) → (签收 working hours, 办结 working days) of the reports `where`
    holds that were acknowledged after a 派单, or are 已办结."""
    acked = and_(col(Report.acked_at).is_not(None), col(Report.dispatched_at).is_not(None))
    done = and_(col(Report.status) == R.RESOLVED, col(Report.resolved_at).is_not(None))
    columns: list[Any] = [Report.grid_code, Report.category, Report.dispatched_at,
                          Report.acked_at, Report.created_at, Report.resolved_at]
    stmt = select(*columns).where(*where, or_(acked, done))
    out: dict[tuple[str | None, str], tuple[list[float], list[float]]] = {}
    for grid, category, dispatched, ack, created, resolved in (await session.exec(stmt)).all():
        acks, days = out.setdefault((grid, category), ([], []))
        if dispatched is not None and ack is not None and ack >= dispatched:
            acks.append(working_hours_between(cal, dispatched, ack))
        if resolved is not None:
            days.append(working_days_between(cal, created, resolved))
    return out


async def grid_names(session: AsyncSession) -> dict[str, str]:
    return {code: name for code, name in (await session.exec(select(Grid.code, Grid.name)))}


async def month_numbers(session: AsyncSession, month: Month, now: datetime, cal: Calendar,
                        scope: set[str] | None) -> Numbers:
    """The month's numbers (reports made in it, Shanghai time), per grid and category, the
    trend of the 12 months ending with it, and the 督办 list (open now)."""
    where = [*_made_in(month.start, month.end), *_scoped(scope)]
    cells = await _grouped(session, [col(Report.grid_code), col(Report.category)], where, now)
    times = await _durations(session, where, cal)
    by_grid: dict[str | None, Tally] = {}
    by_category: dict[str, Tally] = {}
    for (grid, category), tally in cells:
        acks, days = times.pop((grid, category), ([], []))
        tally.ack_hours, tally.resolve_days = acks, days
        by_grid.setdefault(grid, Tally()).add(tally)
        by_category.setdefault(category, Tally()).add(tally)
    names = await grid_names(session)
    grids = [(code, names.get(code, code) if code else "", t) for code, t in by_grid.items()]
    grids.sort(key=lambda g: (g[0] is None, g[1] or "", g[0] or ""))
    return Numbers(
        month=month, now=now, summary=total(by_grid.values()), by_grid=grids,
        by_category=sorted(by_category.items(), key=lambda c: (-c[1].reports, c[0])),
        by_month=await trend(session, month.last(), now, scope),
        escalated=await escalated(session, now, cal, scope, names))


async def trend(session: AsyncSession, months: list[Month], now: datetime,
                scope: set[str] | None) -> list[tuple[Month, Tally]]:
    """Each month's tally (reports made in it), oldest first; a month without reports has
    an empty tally. One query: the month is a CASE over created_at."""
    if not months:
        return []
    made = col(Report.created_at)
    which = case(*((and_(made >= m.start, made < m.end), m.key) for m in months),
                 else_=None).label("month")
    where = [*_made_in(months[0].start, months[-1].end), *_scoped(scope)]
    found = {key[0]: tally for key, tally in await _grouped(session, [which], where, now)}
    return [(m, found.get(m.key, Tally())) for m in months]


async def escalated(session: AsyncSession, now: datetime, cal: Calendar,
                    scope: set[str] | None, names: dict[str, str] | None = None
                    ) -> list[Escalated]:
    """Reports under 督办 (escalated_at set) and still open, the longest overdue first."""
    stmt = select(Report).where(col(Report.status).in_(R.OPEN),
                                col(Report.escalated_at).is_not(None), *_scoped(scope))
    found = (await session.exec(stmt.order_by(col(Report.due_at), col(Report.id)))).all()
    if not found:
        return []
    names = names if names is not None else await grid_names(session)
    officers = await officers_by_grid(session, {r.grid_code for r in found if r.grid_code})
    return [Escalated(
        ticket=r.ticket, grid_code=r.grid_code,
        grid=names.get(r.grid_code, r.grid_code) if r.grid_code else "",
        category=r.category, status=r.status, due_at=r.due_at,
        escalated_at=r.escalated_at or now, days_overdue=days_overdue(cal, r.due_at, now),
        officers=officers.get(r.grid_code or "", [])) for r in found]


async def officers_by_grid(session: AsyncSession, codes: set[str]) -> dict[str, list[str]]:
    """grid code → the display names (else logins) of its active officers: those named in
    the grid, and those whose account belongs to it (as models/grid.officers_of)."""
    if not codes:
        return {}
    grids = (await session.exec(select(Grid).where(col(Grid.code).in_(sorted(codes))))).all()
    users = (await session.exec(select(ConsoleUser).where(
        ConsoleUser.active, ConsoleUser.role == "officer"))).all()
    logins: dict[str, list[str]] = {code: [] for code in codes}
    for grid in grids:
        logins[grid.code] += [u.username for u in users if u.username in grid.officers]
    for u in users:
        if u.grid_code in logins and u.username not in logins[u.grid_code]:
            logins[u.grid_code].append(u.username)
    shown = await staff_names(session, [u for names in logins.values() for u in names])
    return {code: sorted(shown.get(u, u) for u in names) for code, names in logins.items()}
