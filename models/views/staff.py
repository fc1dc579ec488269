"""Reads for the console's accounts page."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.staff import ConsoleUser


async def console_users(db: AsyncSession) -> list[ConsoleUser]:
    """Every console account, by role then username."""
    return list((await db.exec(select(ConsoleUser).order_by(
        col(ConsoleUser.role), col(ConsoleUser.username)))).all())
