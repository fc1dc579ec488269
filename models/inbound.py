"""Inbound message claims: WeChat retries a message it got no answer for, so every
message key is claimed before any effect, and a retry gets the stored reply."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from models.base import UTCDateTime, insert_for


class InboundClaim(SQLModel, table=True):
    __tablename__ = "inbound_claim"

    key: str = Field(primary_key=True, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    # The passive reply given (None: "success", nothing to show).
    reply: str | None = Field(default=None, sa_type=Text)
    # The reply went out later through the push path, not passively.
    deferred: bool = False


async def claim(session: AsyncSession, key: str, now: datetime) -> bool:
    """Claim a message key inside the caller's transaction. False: someone has it already.

    On PostgreSQL an INSERT that meets an uncommitted claim waits for that
    transaction: if it commits, this returns False; if it rolls back, this claims.
    """
    stmt = insert_for(session, InboundClaim).values(key=key, created_at=now)
    stmt = stmt.on_conflict_do_nothing(index_elements=["key"]).returning(InboundClaim.key)
    result = await session.exec(stmt)
    return result.first() is not None


async def get(session: AsyncSession, key: str) -> InboundClaim | None:
    return await session.get(InboundClaim, key)


async def record_reply(
    session: AsyncSession, key: str, reply: str | None, deferred: bool
) -> None:
    await session.exec(update(InboundClaim).where(col(InboundClaim.key) == key)
                       .values(reply=reply, deferred=deferred))


async def purge(session: AsyncSession, before: datetime) -> int:
    """Forget claims older than WeChat's retry horizon."""
    result = await session.exec(delete(InboundClaim).where(InboundClaim.created_at < before))
    return result.rowcount or 0
