"""The one access token all instances share: a row per app id, refreshed under its lock.

The row also counts the stable endpoint's force refreshes (WeChat allows 20 a calendar day
and none within 30 s of the last), so all instances together stay within them: the day is
Asia/Shanghai's (WeChat's quotas are counted in Beijing time).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Date
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI, UTCDateTime, insert_for

FORCE_REFRESHES_A_DAY = 20
FORCE_REFRESH_SPACING = timedelta(seconds=30)


class AccessToken(SQLModel, table=True):
    __tablename__ = "access_token"

    app_id: str = Field(primary_key=True, max_length=64)
    token: str | None = Field(default=None, max_length=512)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    refreshed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    refreshes: int = 0
    # Set while one process fetches a new token, so the others wait instead of fetching too.
    refreshing_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Force refreshes of the stable token: the Asia/Shanghai day counted, how many that day,
    # and when the last one was asked for.
    force_refresh_day: date | None = Field(default=None, sa_type=Date)
    force_refreshes: int = 0
    force_refreshed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


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


def force_refusal(row: AccessToken, now: datetime, limit: int = FORCE_REFRESHES_A_DAY
                  ) -> str | None:
    """Why a force refresh may not be asked for now (None: it may)."""
    if row.force_refresh_day == now.astimezone(SHANGHAI).date() and row.force_refreshes >= limit:
        return "daily limit"
    if row.force_refreshed_at and now - row.force_refreshed_at < FORCE_REFRESH_SPACING:
        return "too soon"
    return None


def spend_force_refresh(row: AccessToken, now: datetime) -> None:
    """Count one force refresh, before it is asked for (one that fails still counts: WeChat
    may have counted it)."""
    day = now.astimezone(SHANGHAI).date()
    if row.force_refresh_day != day:
        row.force_refresh_day, row.force_refreshes = day, 0
    row.force_refreshes += 1
    row.force_refreshed_at = now
