"""Reads for the console's grid page: every grid with its officers and its open reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import names
from models.grid import Grid, officers_of
from models.report import OPEN, Report


@dataclass
class GridRow:
    code: str
    name: str
    officers: list[str]  # display names (the login when the account has none)
    open_reports: int
    updated_at: datetime


async def grid_rows(db: AsyncSession) -> tuple[list[GridRow], int]:
    """Every grid by code, and the open reports outside every grid (the district queue)."""
    grids = (await db.exec(select(Grid).order_by(col(Grid.code)))).all()
    counts = dict((await db.exec(
        select(Report.grid_code, func.count()).where(col(Report.status).in_(OPEN))
        .group_by(col(Report.grid_code)))).all())
    officers = {g.code: [u.username for u in await officers_of(db, g.code)] for g in grids}
    shown = await names.staff_names(db, [u for us in officers.values() for u in us])
    rows = [GridRow(g.code, g.name, [shown.get(u, u) for u in officers[g.code]],
                    int(counts.get(g.code, 0)), g.updated_at) for g in grids]
    return rows, int(counts.get(None, 0))
