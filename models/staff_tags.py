"""Which WeChat user tag a staff member's account should carry, and which it carries.

A console role is shown in WeChat as a user tag, so the role's conditional menu reaches the
account (`menu.conditional` in config.yaml). The tag follows the binding: 绑定 asks for the
role's tag; unbinding, disabling, deleting an account, a new role, erasure ask for it to
change or go. The wish is one row per openid, written in the same transaction as the
change (so never an API call inside the WeChat callback, and a retried callback or a
repeated change writes the same row again: nothing is queued twice). The scheduler's job
(handlers/staff/jobs.py) applies what is due with WeChat's batch tagging calls, records
what WeChat now has, and on an error tries again later with a growing delay. A row whose
account carries no tag and should carry none is deleted.

`wechat_tag` caches WeChat's tag ids by name (tags/get, else tags/create).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime

NONE = ""  # no staff tag
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)
ERROR_MAX = 200


class StaffTag(SQLModel, table=True):
    __tablename__ = "staff_tag"

    openid: str = Field(primary_key=True, max_length=64)
    wanted: str = Field(default=NONE, max_length=16)  # a role, or "" for none
    applied: str = Field(default=NONE, max_length=16)  # what WeChat has (as far as we know)
    changed_at: datetime = Field(sa_type=UTCDateTime)
    attempts: int = 0
    next_try_at: datetime = Field(sa_type=UTCDateTime, index=True)
    last_error: str | None = Field(default=None, max_length=ERROR_MAX)


class WechatTag(SQLModel, table=True):
    """WeChat's id of a user tag, by its name."""

    __tablename__ = "wechat_tag"

    name: str = Field(primary_key=True, max_length=64)
    tag_id: int
    fetched_at: datetime = Field(sa_type=UTCDateTime)


async def want(session: AsyncSession, openid: str, role: str | None, now: datetime) -> None:
    """This account should carry `role`'s tag (None: no staff tag). Asking again for what
    is already asked changes nothing."""
    wanted = role or NONE
    row = await session.get(StaffTag, openid)
    if row is None:
        if not wanted:
            return  # no tag of ours was ever asked for
        try:
            async with session.begin_nested():
                session.add(StaffTag(openid=openid, wanted=wanted, changed_at=now,
                                     next_try_at=now))
            return
        except IntegrityError:  # written meanwhile by another transaction
            row = await session.get(StaffTag, openid, populate_existing=True)
            assert row is not None
    if row.wanted == wanted:
        return
    await session.exec(update(StaffTag).where(col(StaffTag.openid) == openid).values(
        wanted=wanted, changed_at=now, attempts=0, next_try_at=now, last_error=None))


async def due(session: AsyncSession, now: datetime, limit: int = 500) -> Sequence[StaffTag]:
    """The accounts whose tag should change and whose next try is due, oldest first."""
    return (await session.exec(
        select(StaffTag).where(col(StaffTag.wanted) != col(StaffTag.applied),
                               col(StaffTag.next_try_at) <= now)
        .order_by(col(StaffTag.changed_at), col(StaffTag.openid)).limit(limit))).all()


async def applied(session: AsyncSession, openids: Sequence[str], was: str, now_has: str
                  ) -> None:
    """WeChat took the change: these accounts, which carried `was`, now carry `now_has`."""
    await session.exec(update(StaffTag).where(
        col(StaffTag.openid).in_(list(openids)), col(StaffTag.applied) == was
    ).values(applied=now_has, attempts=0, last_error=None))
    await session.exec(delete(StaffTag).where(
        col(StaffTag.openid).in_(list(openids)), col(StaffTag.wanted) == NONE,
        col(StaffTag.applied) == NONE))


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … at most an hour."""
    return min(RETRY_FIRST * (2 ** min(attempts, 16)), RETRY_MAX)


async def failed(session: AsyncSession, openids: Sequence[str], error: str, now: datetime
                 ) -> None:
    """WeChat refused or did not answer: try these again later, each a little later than
    the last time."""
    rows = (await session.exec(select(StaffTag).where(
        col(StaffTag.openid).in_(list(openids))))).all()
    for row in rows:
        row.next_try_at = now + retry_delay(row.attempts)
        row.attempts += 1
        row.last_error = error[:ERROR_MAX]
        session.add(row)
    await session.flush()


async def pending(session: AsyncSession, openid: str) -> StaffTag | None:
    return await session.get(StaffTag, openid)


async def cached_tag_ids(session: AsyncSession) -> dict[str, int]:
    return {t.name: t.tag_id for t in (await session.exec(select(WechatTag))).all()}


async def remember_tag_ids(session: AsyncSession, ids: dict[str, int], now: datetime) -> None:
    for name, tag_id in ids.items():
        row = await session.get(WechatTag, name)
        if row is None:
            session.add(WechatTag(name=name, tag_id=tag_id, fetched_at=now))
        else:
            row.tag_id, row.fetched_at = tag_id, now
            session.add(row)
    await session.flush()


async def forget_tag_id(session: AsyncSession, name: str) -> None:
    """WeChat no longer knows the cached id (the tag was deleted): look it up again."""
    await session.exec(delete(WechatTag).where(col(WechatTag.name) == name))
