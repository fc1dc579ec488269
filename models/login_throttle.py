"""Console logins: the throttle that slows password guessing, kept in the database so every
instance counts the same failures."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from functools import cache

from sqlmodel import Field, SQLModel, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import staff
from models.base import UTCDateTime, insert_for
from models.staff import ConsoleUser


@cache
def _dummy_hash() -> str:
    """A real argon2 hash to check against when the account does not exist, so a wrong user
    name takes as long as a wrong password (no timing difference to probe names with)."""
    return staff.hash_password("not-a-real-password-at-all")


class LoginFailure(SQLModel, table=True):
    """Failed logins per key (an account name, or a client address) within a window."""

    __tablename__ = "login_failure"

    key: str = Field(primary_key=True, max_length=120)
    failures: int = 0
    first_at: datetime = Field(sa_type=UTCDateTime)


async def locked(session: AsyncSession, keys: list[str], now: datetime, max_failures: int,
                 window: timedelta) -> bool:
    rows = (await session.exec(select(LoginFailure).where(
        LoginFailure.key.in_(keys)))).all()  # type: ignore[attr-defined]
    return any(r.failures >= max_failures and now - r.first_at < window for r in rows)


async def note_failure(session: AsyncSession, keys: list[str], now: datetime,
                       window: timedelta) -> None:
    for key in keys:
        row = await session.get(LoginFailure, key, with_for_update=True)
        if row is None:
            stmt = insert_for(session, LoginFailure).values(
                key=key, failures=1, first_at=now).on_conflict_do_nothing(index_elements=["key"])
            await session.exec(stmt)
            continue
        if now - row.first_at >= window:
            row.failures, row.first_at = 1, now
        else:
            row.failures += 1
        session.add(row)


async def forget(session: AsyncSession, keys: list[str]) -> None:
    await session.exec(delete(LoginFailure).where(LoginFailure.key.in_(keys)))  # type: ignore[attr-defined]


async def authenticate(session: AsyncSession, username: str, password: str
                       ) -> ConsoleUser | None:
    """The active account with this name and password, else None — the same work either
    way. argon2 is slow on purpose: it runs in a thread, off the event loop."""
    user = (await session.exec(select(ConsoleUser).where(
        ConsoleUser.username == username.strip()))).first()
    hashed = user.password_hash if user else await asyncio.to_thread(_dummy_hash)
    ok = await asyncio.to_thread(staff.verify_password, hashed, password)
    if user is None or not ok or not user.active:
        return None
    return user
