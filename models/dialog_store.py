"""Where each user's running dialog is kept, so it survives a restart."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, delete
from sqlmodel import Field, SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime


class DialogRow(SQLModel, table=True):
    __tablename__ = "dialog"

    openid: str = Field(primary_key=True, max_length=64)
    state: str = Field(max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_type=UTCDateTime)


async def live(
    session: AsyncSession, row: DialogRow | None, now: datetime, idle_timeout: timedelta
) -> tuple[DialogRow | None, bool]:
    """A loaded dialog row if still live, and whether it had just expired (then removed)."""
    if row is None:
        return None, False
    if now - row.updated_at > idle_timeout:
        await session.delete(row)
        return None, True
    return row, False


async def save(
    session: AsyncSession, openid: str, state: str, data: dict[str, Any], now: datetime,
    known_absent: bool = False,
) -> None:
    """Store the dialog's state. `known_absent`: the caller read in this transaction (under
    the user's lock) that there is no row, so none is looked up."""
    row = None if known_absent else await session.get(DialogRow, openid)
    if row is None:
        session.add(DialogRow(openid=openid, state=state, data=data, updated_at=now))
    else:
        row.state, row.data, row.updated_at = state, dict(data), now
        session.add(row)


async def clear(session: AsyncSession, openid: str) -> None:
    await session.exec(delete(DialogRow).where(col(DialogRow.openid) == openid))


async def purge_expired(session: AsyncSession, before: datetime) -> int:
    result = await session.exec(delete(DialogRow).where(col(DialogRow.updated_at) < before))
    return result.rowcount or 0
