"""Callback signatures already seen: a plaintext callback's signature covers only the token,
timestamp and nonce, never the body, so anyone who saw one signed URL could send another
body under it while the timestamp is fresh. Every (timestamp, nonce, signature) is stored
with a digest of its body in a table all instances share: the same triple with the same
body is WeChat retrying (let through to the message dedup), with another body it is a
replay (refused). A row is purged once its timestamp is outside the allowed clock skew,
when the gateway refuses the triple anyway."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Field, SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime, insert_for


class SeenCallback(SQLModel, table=True):
    __tablename__ = "seen_callback"

    # sha256 of timestamp, nonce and signature: any length of query value fits the key.
    key: str = Field(primary_key=True, max_length=64)
    body_hash: str = Field(max_length=64)
    # When the triple's timestamp leaves the allowed clock skew: refused anyway after that.
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


def digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


async def first_or_retry(session: AsyncSession, key: str, body_hash: str,
                         expires_at: datetime) -> bool:
    """Note this triple with its body's digest in one atomic upsert. True: the first
    arrival, or a retry with the same body; False: the triple came before with another
    body (a replay). Racing arrivals on several instances: the database's key decides
    which body came first."""
    stmt = insert_for(session, SeenCallback).values(
        key=key, body_hash=body_hash, expires_at=expires_at)
    # A no-op update on conflict, so RETURNING gives the body digest stored first.
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"], set_={"expires_at": col(SeenCallback.expires_at)},
    ).returning(col(SeenCallback.body_hash))
    first_hash = (await session.exec(stmt)).one()[0]
    return bool(first_hash == body_hash)


async def purge(session: AsyncSession, now: datetime) -> int:
    """Forget triples whose timestamp the clock-skew check refuses by now."""
    result = await session.exec(delete(SeenCallback).where(col(SeenCallback.expires_at) < now))
    return result.rowcount or 0
