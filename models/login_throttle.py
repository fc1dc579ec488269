"""Console logins and 绑定 codes: the throttle that slows password and code guessing, kept in
the database so every instance counts the same failures."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import case
from sqlmodel import Field, SQLModel, col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import staff
from models.base import UTCDateTime, insert_for
from models.staff import BindOutcome, ConsoleUser


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


async def count_try(session: AsyncSession, key: str, now: datetime, window: timedelta
                    ) -> tuple[int, datetime]:
    """One more try for `key` in one statement (an upsert, atomic on either database; on
    PostgreSQL a concurrent try for the same key waits for this transaction): the tries
    within the window so far, this one included, and when the window began."""
    stale = col(LoginFailure.first_at) <= now - window
    stmt = insert_for(session, LoginFailure).values(key=key, failures=1, first_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
        "failures": case((stale, 1), else_=col(LoginFailure.failures) + 1),
        "first_at": case((stale, stmt.excluded.first_at), else_=col(LoginFailure.first_at)),
    }).returning(col(LoginFailure.failures), col(LoginFailure.first_at))
    tries, first_at = (await session.exec(stmt)).one()
    return tries, first_at


async def bind(session: AsyncSession, code: str, openid: str, now: datetime
               ) -> tuple[BindOutcome, ConsoleUser | None]:
    """绑定 CODE from a WeChat account, throttled: every try is counted first (so racing
    tries cannot slip past the count), the sixth within staff.BIND_LOCKOUT is refused —
    right code or not — with StaffError("bind_locked", minutes=until the window ends), and a
    right code clears the count."""
    key = f"bind:{openid}"
    tries, first_at = await count_try(session, key, now, staff.BIND_LOCKOUT)
    if tries > staff.BIND_MAX_TRIES:
        left = first_at + staff.BIND_LOCKOUT - now
        raise staff.StaffError("bind_locked", minutes=max(1, -(-left // timedelta(minutes=1))))
    outcome, user = await staff.bind(session, code, openid, now)
    if outcome is BindOutcome.BOUND:
        await forget(session, [key])
    return outcome, user
