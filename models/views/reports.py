"""Reads for 随手拍 reports: the console's queue, /api/v1/reports and Open311 lists, grid
names, backer counts, the latest status notes, and the photos waiting to be fetched."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import report as reports
from models.grid import Grid
from models.outbox import Push
from models.report import Report, ReportBacker, ReportEvent
from models.staff import ConsoleUser

ANY = ""  # a grid filter that keeps every report (None keeps those outside every grid)


async def grid_names(db: AsyncSession, codes: Collection[str] | None = None) -> dict[str, str]:
    """code → name of every grid, or of those among `codes`."""
    stmt = select(Grid.code, Grid.name)
    if codes is not None:
        stmt = stmt.where(col(Grid.code).in_(codes or {"-"}))
    return {code: name for code, name in (await db.exec(stmt)).all()}


async def grid_name(db: AsyncSession, code: str) -> str | None:
    return (await db.exec(select(Grid.name).where(Grid.code == code))).first()


async def used_grid_codes(db: AsyncSession) -> list[str]:
    """The grid codes reports carry (a grid may have left the map since)."""
    return [c for c in (await db.exec(select(Report.grid_code).distinct()
                                      .where(col(Report.grid_code).is_not(None)))).all() if c]


async def used_categories(db: AsyncSession) -> list[str]:
    return list((await db.exec(select(Report.category).distinct())).all())


async def backer_counts(db: AsyncSession, ids: list[int]) -> dict[int, int]:
    """Report id → how many members backed it (500 ids a query)."""
    counts: dict[int, int] = {}
    for i in range(0, len(ids), 500):
        rows = (await db.exec(select(ReportBacker.report_id, func.count())
                              .where(col(ReportBacker.report_id).in_(ids[i:i + 500]))
                              .group_by(col(ReportBacker.report_id)))).all()
        counts.update({rid: n for rid, n in rows})
    return counts


async def report_queue(db: AsyncSession, scope: set[str] | None, *, status: str,
                       grid: str | None, category: str, overdue: bool, at: datetime,
                       limit: int | None, nowhere: str, text: str = "",
                       in_description: bool = True) -> tuple[list[Report], int]:
    """The console's queue: reports in `scope` (grid codes, None: all; an empty scope only
    sees `nowhere`), by status ("open", "all" or one), grid (ANY, None: outside every grid,
    or a code), category, overdue and `text` in the ticket (or, if `in_description`, the
    description); overdue first, then the oldest; and how many."""
    stmt = select(Report)
    if text:
        match = col(Report.ticket).contains(text.upper(), autoescape=True)
        if in_description:
            match = match | col(Report.description).contains(text, autoescape=True)
        stmt = stmt.where(match)
    if scope is not None:
        stmt = stmt.where(col(Report.grid_code).in_(scope or {nowhere}))
    if status == "open":
        stmt = stmt.where(col(Report.status).in_(reports.OPEN))
    elif status != "all":
        stmt = stmt.where(Report.status == status)
    if grid is None:
        stmt = stmt.where(col(Report.grid_code).is_(None))
    elif grid:
        stmt = stmt.where(Report.grid_code == grid)
    if category:
        stmt = stmt.where(Report.category == category)
    if overdue:
        stmt = stmt.where(col(Report.status).in_(reports.OPEN), col(Report.due_at) < at)
    found = (await db.exec(stmt.order_by(col(Report.created_at), col(Report.id)))).all()
    ordered = sorted(found, key=lambda r: (not r.overdue(at), r.created_at, r.id or 0))
    return (ordered[:limit] if limit is not None else ordered), len(ordered)


async def api_reports(db: AsyncSession, *, statuses: Sequence[str] | None, grid: str | None,
                      overdue: bool | None, now: datetime, offset: int, limit: int
                      ) -> tuple[list[Report], int]:
    """/api/v1/reports: newest first, by statuses, grid (ANY, None: outside every grid, or a
    code) and overdue (None: either); a page of them, and how many in all."""
    conditions: list[Any] = []
    if statuses:
        conditions.append(col(Report.status).in_(statuses))
    if grid is None:
        conditions.append(col(Report.grid_code).is_(None))
    elif grid:
        conditions.append(Report.grid_code == grid)
    if overdue is True:
        conditions += [col(Report.status).in_(reports.OPEN), col(Report.due_at) < now]
    elif overdue is False:
        conditions.append(col(Report.status).not_in(reports.OPEN)
                          | (col(Report.due_at) >= now))
    total = (await db.exec(select(func.count()).select_from(Report).where(*conditions))).one()
    rows = (await db.exec(
        select(Report).where(*conditions)
        .order_by(col(Report.created_at).desc(), col(Report.id).desc())
        .offset(offset).limit(limit))).all()
    return list(rows), total


async def open311_requests(db: AsyncSession, *, tickets: Sequence[str] | None = None,
                           categories: Sequence[str] | None = None,
                           statuses: Sequence[str] | None = None,
                           start: datetime | None = None, end: datetime | None = None,
                           offset: int = 0, limit: int | None = None) -> list[Report]:
    """Open311 requests, newest first: those tickets (which override every other argument),
    or by categories, statuses and a created_at range, a page of them."""
    if tickets is not None:
        stmt = select(Report).where(col(Report.ticket).in_(tickets or ["-"]))
    else:
        conditions: list[Any] = []
        if categories is not None:
            conditions.append(col(Report.category).in_(categories))
        if statuses is not None:
            conditions.append(col(Report.status).in_(statuses))
        if start is not None:
            conditions.append(col(Report.created_at) >= start)
        if end is not None:
            conditions.append(col(Report.created_at) <= end)
        stmt = select(Report).where(*conditions).offset(offset).limit(limit)
    return list((await db.exec(stmt.order_by(col(Report.created_at).desc(),
                                            col(Report.id).desc()))).all())


async def last_notes(db: AsyncSession, ids: list[int]) -> dict[int, str]:
    """Each report's latest status note (a rating is not a status change)."""
    if not ids:
        return {}
    not_rating = ~((col(ReportEvent.from_status) == reports.RESOLVED)
                   & (col(ReportEvent.to_status) == reports.RESOLVED))
    latest = (select(func.max(ReportEvent.id)).where(col(ReportEvent.report_id).in_(ids),
                                                     not_rating)
              .group_by(col(ReportEvent.report_id)))
    rows = (await db.exec(select(ReportEvent.report_id, ReportEvent.note)
                          .where(col(ReportEvent.id).in_(latest)))).all()
    return {report_id: note for report_id, note in rows}


async def photos_due(db: AsyncSession, now: datetime, limit: int) -> list[Report]:
    """Reports whose photo waits to be fetched and whose next try is due, oldest first."""
    return list((await db.exec(select(Report).where(
        Report.photo_status == "pending", col(Report.photo_next_at) <= now)
        .order_by(col(Report.id)).limit(limit))).all())


async def digest_recipients(db: AsyncSession, subject: str) -> list[ConsoleUser]:
    """The active officers and admins bound to WeChat who have no digest of `subject` yet."""
    sent = set((await db.exec(select(Push.openid).where(Push.subject == subject))).all())
    staff = (await db.exec(select(ConsoleUser).where(
        ConsoleUser.active, col(ConsoleUser.openid).is_not(None),
        col(ConsoleUser.role).in_(("officer", "admin"))))).all()
    return [u for u in staff if u.openid not in sent]

