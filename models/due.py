"""Pushes due later: one row per thing to push at a time (a course's reminder at an offset,
an activity's reminder or roll, a scheduled notice), written in the same transaction as
the change that plans it, and turned into outbox rows by the outbox worker when due.

A row is unique by (kind, subject, slot): planning again re-plans it (a moved course's
reminders), withdrawing drops the subject's pending rows (a cancelled course). The worker
claims due rows (FOR UPDATE SKIP LOCKED on PostgreSQL, so instances never take the same
row; SQLite's write lock serialises claims), drops those past `not_after` (a reminder is
late after downtime but never after the start), expands the others through the kind's
expander and marks them done, all in one transaction: a crash sends nothing twice and
loses nothing. Who receives a push is decided at expansion time, by the expander.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, bindparam, text, update
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Field, SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime, insert_for

STATUSES = ("pending", "done", "dropped", "failed")
MAX_ATTEMPTS = 12  # an expander failing this often gives the row up (about an hour)
RETRY_CAP_S = 600


NOT_YET_WAIT = timedelta(minutes=1)


class NotYet(Exception):
    """Raised by an expander whose row cannot go out yet (an activity's group has no
    leader to send the roll to): the row is asked again in NOT_YET_WAIT, until its
    `not_after`, without counting as a failure."""


class DuePush(SQLModel, table=True):
    __tablename__ = "due_push"
    __table_args__ = (
        UniqueConstraint("kind", "subject", "slot", name="uq_due_push_slot"),
        # Claims walk the pending rows by due time; done rows stay out of the index.
        Index("ix_due_push_pending", "due_at", postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)  # course_reminder, activity_reminder, activity_roll, …
    subject: str = Field(max_length=64)  # course:12, activity:3, notice:7
    slot: str = Field(default="", max_length=32)  # the offset in seconds, "roll", …
    due_at: datetime = Field(sa_type=UTCDateTime)
    not_after: datetime | None = Field(default=None, sa_type=UTCDateTime)
    payload: dict[str, Any] = Field(default_factory=dict,
                                    sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending, done, dropped, failed
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Failed expansions so far; each puts the row off a little longer.
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


def _inline(status: str) -> BindParameter[str]:
    """In the SQL itself, so the partial index is usable (see models/outbox.py)."""
    return bindparam(None, status, literal_execute=True)


async def plan(session: AsyncSession, kind: str, subject: str, slot: str, due_at: datetime,
               not_after: datetime | None = None, payload: dict[str, Any] | None = None
               ) -> None:
    """Push `kind` for `subject` at `due_at`: a new row, or the same slot re-planned (pending
    again, whatever it was: the caller plans only what must go out anew)."""
    values = {"kind": kind, "subject": subject, "slot": slot, "due_at": due_at,
              "not_after": not_after, "payload": payload or {}, "status": "pending",
              "done_at": None, "attempts": 0}
    stmt = insert_for(session, DuePush).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "subject", "slot"],
        set_={"due_at": stmt.excluded.due_at, "not_after": stmt.excluded.not_after,
              "payload": stmt.excluded.payload, "status": "pending", "done_at": None,
              "attempts": 0})
    await session.exec(stmt)


async def withdraw(session: AsyncSession, kind: str, subject: str) -> int:
    """Nothing more of `kind` for `subject`: its pending rows are dropped."""
    result = await session.exec(
        update(DuePush)
        .where(col(DuePush.kind) == kind, col(DuePush.subject) == subject,
               col(DuePush.status) == _inline("pending"))
        .values(status="dropped"))
    return result.rowcount or 0


async def claim_due(session: AsyncSession, now: datetime, limit: int,
                    kinds: Collection[str]) -> Sequence[DuePush]:
    """Up to `limit` pending rows of `kinds` (those the caller can expand) due by `now`,
    soonest first, held until the transaction ends; rows another instance holds are
    skipped (PostgreSQL). Rows of other kinds wait for a process that knows them."""
    if not kinds:
        return []
    stmt = (select(DuePush)
            .where(col(DuePush.status) == _inline("pending"), col(DuePush.due_at) <= now,
                   col(DuePush.kind).in_(sorted(kinds)))
            .order_by(col(DuePush.due_at), col(DuePush.id))
            .limit(limit)
            .with_for_update(skip_locked=True))
    return (await session.exec(stmt)).all()


async def depth(session: AsyncSession) -> dict[str, int]:
    """How many rows there are in each status (for /metrics)."""
    rows = await session.exec(select(col(DuePush.status), func.count())
                              .group_by(col(DuePush.status)))
    return {status: n for status, n in rows.all()}


async def oldest_pending(session: AsyncSession) -> datetime | None:
    """When the longest-waiting pending row fell (or falls) due."""
    return (await session.exec(select(col(DuePush.due_at))
                               .where(col(DuePush.status) == _inline("pending"))
                               .order_by(col(DuePush.due_at)).limit(1))).first()


def retry_in(attempts: int) -> timedelta:
    """How long a row waits after its `attempts`-th failed expansion: doubling from 2 s,
    at most 10 minutes."""
    return timedelta(seconds=min(RETRY_CAP_S, 2 ** attempts))


def postpone(session: AsyncSession, row: DuePush, now: datetime) -> bool:
    """After a failed expansion: try again later, or give up after MAX_ATTEMPTS (False)."""
    row.attempts += 1
    if row.attempts >= MAX_ATTEMPTS:
        row.status, row.done_at = "failed", now
    else:
        row.due_at = now + retry_in(row.attempts)
    session.add(row)
    return row.status == "pending"


def wait(session: AsyncSession, row: DuePush, now: datetime) -> None:
    """An expander said NotYet: the row is due again a little later."""
    row.due_at = now + NOT_YET_WAIT
    session.add(row)


def finish(session: AsyncSession, row: DuePush, now: datetime, status: str = "done") -> None:
    """Record what became of a claimed row (in the claiming transaction)."""
    assert status in STATUSES
    row.status, row.done_at = status, now
    session.add(row)


async def pending(session: AsyncSession, kind: str | None = None,
                  subject: str | None = None) -> Sequence[DuePush]:
    """The rows still to come, soonest first."""
    stmt = select(DuePush).where(col(DuePush.status) == _inline("pending"))
    if kind is not None:
        stmt = stmt.where(col(DuePush.kind) == kind)
    if subject is not None:
        stmt = stmt.where(col(DuePush.subject) == subject)
    return (await session.exec(stmt.order_by(col(DuePush.due_at), col(DuePush.id)))).all()
