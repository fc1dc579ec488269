"""The one access token all instances share: a row per app id, refreshed under its lock."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime, insert_for


class AccessToken(SQLModel, table=True):
    __tablename__ = "access_token"

    app_id: str = Field(primary_key=True, max_length=64)
    token: str | None = Field(default=None, max_length=512)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    refreshed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    refreshes: int = 0
    # Set while one process fetches a new token, so the others wait instead of fetching too.
    refreshing_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


async def read(session: AsyncSession, app_id: str) -> AccessToken | None:
    return await session.get(AccessToken, app_id)


async def lock(session: AsyncSession, app_id: str) -> AccessToken:
    """The row, locked until the transaction ends (made first if missing)."""
    await session.exec(
        insert_for(session, AccessToken).values(app_id=app_id)
        .on_conflict_do_nothing(index_elements=["app_id"])
    )
    stmt = select(AccessToken).where(AccessToken.app_id == app_id).with_for_update()
    row = (await session.exec(stmt.execution_options(populate_existing=True))).one()
    return row


def store(row: AccessToken, token: str, expires_at: datetime, now: datetime) -> None:
    row.token, row.expires_at, row.refreshed_at = token, expires_at, now
    row.refreshes += 1
    row.refreshing_until = None
