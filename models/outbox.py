"""The outbox: one row per push and recipient, written in the same transaction as the
change that caused it; a worker claims rows, picks the channel, sends, records.

A row's idempotency key (kind + subject + recipient) makes a second enqueue of the
same push a no-op.

Status: pending → claimed → sending → sent | failed | undeliverable. A worker marks a
row `sending` only just before its call. When a worker dies, its `claimed` rows go
back to pending after the lease; a row left in `sending` may have reached WeChat, so
it is closed as failed rather than sent again — a push goes out at most once, and
every push not yet under way goes out after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, bindparam, func, text, update
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime, insert_for
from models.member import Member
from models.text import fit, long_text

KINDS = ("notice", "reply", "course_reminder", "report_status", "group_activity")

# WeChat cuts or refuses a 客服 text past about 2,048 bytes: checked where a push is written.
# The channel policy (window, allowance, template, reasons) is bot/push/channels.py.
KEFU_TEXT_MAX_BYTES = 2000
# A push's stored text at most (a 客服 text is checked against the bytes above first).
TEXT_MAX = 8000

# Written by the lease sweep below.
REASON_CRASHED = "发送中断（进程退出），结果未知，未重发"


class Push(SQLModel, table=True):
    __tablename__ = "outbox"
    # Claims walk the pending rows in id order. A partial index holds just those rows: with
    # (status, id) alone PostgreSQL chose the primary key and stepped over every row already
    # sent, so a fan-out's claims grew slower as it went (7 ms per claim at 10,000 sent;
    # by subject it sorted every pending row: 32 ms per claim with 20,000 queued).
    # The in-flight rows (claimed, sending) get one too, for the lease sweep.
    __table_args__ = (
        Index("ix_outbox_due", "status", "id"),
        Index("ix_outbox_pending", "id", postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        # `notify` drains its own notice: by subject, in id order.
        Index("ix_outbox_pending_subject", "subject", "id",
              postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
        Index("ix_outbox_inflight", "lease_until",
              postgresql_where=text("status IN ('claimed', 'sending')"),
              sqlite_where=text("status IN ('claimed', 'sending')")),
    )
    # status: pending → claimed (taken by a worker) → sending (its call is under way)
    #         → sent | failed | undeliverable

    id: int | None = Field(default=None, primary_key=True)
    idem_key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=32)
    subject: str = Field(max_length=64, index=True)
    openid: str = Field(max_length=64)
    text: str = Field(sa_type=Text, sa_column_kwargs=long_text(TEXT_MAX))
    url: str | None = Field(default=None, max_length=1024)
    template_data: dict[str, str] = Field(default_factory=dict,
                                          sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)
    channel: str | None = Field(default=None, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    errcode: int | None = None
    reason: str | None = Field(default=None, max_length=200)
    wx_msgid: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


@dataclass(frozen=True)
class Outgoing:
    """What a push says to one recipient."""

    openid: str
    text: str
    template_data: dict[str, str]
    url: str | None = None


def idem_key(kind: str, subject: str, openid: str) -> str:
    return f"{kind}:{subject}:{openid}"


async def enqueue(session: AsyncSession, kind: str, subject: str,
                  items: Iterable[Outgoing], now: datetime) -> None:
    """Add pushes; one already there (same kind, subject, recipient) is left alone."""
    if kind not in KINDS:
        raise ValueError(f"unknown push kind {kind}")
    rows = [
        {
            "idem_key": idem_key(kind, subject, it.openid),
            "kind": kind,
            "subject": subject,
            "openid": it.openid,
            "text": fit(it.text, TEXT_MAX),
            "url": it.url,
            "template_data": it.template_data,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for it in items
    ]
    if not rows:
        return
    # One cached statement, executed for many rows (cheaper than a fresh VALUES list).
    stmt = insert_for(session, Push).on_conflict_do_nothing(index_elements=["idem_key"])
    conn = await session.connection()
    for start in range(0, len(rows), 5000):
        await conn.execute(stmt, rows[start : start + 5000])


# --- claiming ----------------------------------------------------------------------------


def _inline(status: str) -> BindParameter[str]:
    """The status written into the SQL, not sent as a parameter: PostgreSQL's generic plan
    for a prepared statement can use a partial index only when it sees the value."""
    return bindparam(None, status, literal_execute=True)


async def close_abandoned(session: AsyncSession, now: datetime) -> int:
    """Rows a dead worker left behind, once their lease is over: those it had only taken
    (`claimed`) go back to pending; those it was sending (`sending`) may have reached
    WeChat, so they are closed as unknown, never sent again."""
    await session.exec(
        update(Push)
        .where(col(Push.status) == _inline("claimed"), col(Push.lease_until) < now)
        .values(status="pending", lease_until=None)
    )
    result = await session.exec(
        update(Push)
        .where(col(Push.status) == _inline("sending"), col(Push.lease_until) < now)
        .values(status="failed", reason=REASON_CRASHED, lease_until=None)
    )
    return result.rowcount or 0


async def mark_sending(session: AsyncSession, ids: Sequence[int], lease_until: datetime
                       ) -> set[int]:
    """Just before their calls: from here on a crash leaves these rows' outcome unknown.

    Only rows this worker still holds: claimed under its lease (`lease_until` is the
    claim's token). A worker slower than its lease may have lost rows to another one,
    which then sends them; the ids returned are the ones this worker may send."""
    result = await session.exec(
        update(Push)
        .where(col(Push.id).in_(ids), col(Push.status) == "claimed",
               col(Push.lease_until) == lease_until)
        .values(status="sending", attempts=Push.attempts + 1)
        .returning(col(Push.id))
    )
    return set(result.scalars().all())


async def claim(session: AsyncSession, now: datetime, limit: int, lease: timedelta,
                subject: str | None = None) -> Sequence[Push]:
    """Take up to `limit` due rows for this worker (other workers skip them)."""
    stmt = (
        select(Push)
        .where(col(Push.status) == _inline("pending"), col(Push.next_attempt_at) <= now)
        .order_by(col(Push.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if subject is not None:
        stmt = stmt.where(col(Push.subject) == subject)
    rows = (await session.exec(stmt)).all()
    for row in rows:
        row.status, row.lease_until = "claimed", now + lease
        session.add(row)
    return rows


async def members_by_openid(session: AsyncSession, openids: set[str]) -> dict[str, Member]:
    if not openids:
        return {}
    stmt = select(Member).where(col(Member.openid).in_(openids)).with_for_update()
    return {m.openid: m for m in (await session.exec(stmt)).all()}


# --- recording outcomes ------------------------------------------------------------------


@dataclass
class Outcome:
    """What became of one push this time round."""

    push_id: int
    openid: str
    status: str  # sent, pending (to try again), failed, undeliverable
    channel: str | None = None
    errcode: int | None = None
    reason: str | None = None
    wx_msgid: int | None = None
    retry_in_s: float | None = None
    unfollowed: bool = False  # WeChat said 43004: the member has left
    # Counts as no attempt: put back without a call (the worker was paused), or refused
    # for the account's quota (which says nothing about this push; it waits as long as
    # the quota does instead of running out of attempts).
    not_tried: bool = False


_T = Push.__table__  # type: ignore[attr-defined]
_RECORD = (
    update(_T)
    .where(_T.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        channel=bindparam("b_channel"),
        errcode=bindparam("b_errcode"),
        reason=bindparam("b_reason"),
        wx_msgid=bindparam("b_msgid"),
        sent_at=bindparam("b_sent_at", type_=UTCDateTime()),
        next_attempt_at=func.coalesce(bindparam("b_next", type_=UTCDateTime()),
                                      _T.c.next_attempt_at),
        attempts=_T.c.attempts - bindparam("b_undo"),  # a paused send was no attempt
        lease_until=None,
    )
)


async def record(session: AsyncSession, outcomes: Sequence[Outcome], now: datetime) -> None:
    """Write a batch of outcomes with one executemany UPDATE."""
    if not outcomes:
        return
    params = [
        {
            "b_id": o.push_id,
            "b_status": o.status,
            "b_channel": o.channel if o.status != "pending" else None,
            "b_errcode": o.errcode,
            "b_reason": o.reason,
            "b_msgid": o.wx_msgid,
            "b_sent_at": now if o.status == "sent" else None,
            "b_next": now + timedelta(seconds=o.retry_in_s) if o.retry_in_s is not None
            else None,
            "b_undo": 1 if o.not_tried else 0,
        }
        for o in outcomes
    ]
    conn = await session.connection()
    await conn.execute(_RECORD, params)
    for openid in {o.openid for o in outcomes if o.unfollowed}:
        await conn.execute(update(Member).where(col(Member.openid) == openid)
                           .values(followed=False))


# --- reading back ------------------------------------------------------------------------


async def has_due(session: AsyncSession, now: datetime, subject: str | None = None) -> bool:
    stmt = select(func.count()).select_from(Push).where(
        col(Push.status).in_(("pending", "claimed", "sending")))
    if subject is not None:
        stmt = stmt.where(col(Push.subject) == subject)
    return bool((await session.exec(stmt)).one())


async def counts(session: AsyncSession, subject: str) -> dict[str, Any]:
    """Delivery counts of one push subject: pending, sent by channel, failed by reason."""
    stmt = (
        select(Push.status, Push.channel, Push.reason, func.count())
        .where(col(Push.subject) == subject)
        .group_by(col(Push.status), col(Push.channel), col(Push.reason))
    )
    out: dict[str, Any] = {"total": 0, "pending": 0, "sent": {}, "failed": {},
                           "undeliverable": {}}
    for status, channel, reason, n in (await session.exec(stmt)).all():
        out["total"] += n
        if status in ("pending", "claimed", "sending"):
            out["pending"] += n
        elif status == "sent":
            out["sent"][channel or "?"] = out["sent"].get(channel or "?", 0) + n
        else:
            key = reason or "?"
            out[status][key] = out[status].get(key, 0) + n
    return out


async def depth(session: AsyncSession) -> dict[str, int]:
    """How many rows the outbox holds in each status (for /metrics)."""
    rows = await session.exec(select(col(Push.status), func.count()).group_by(col(Push.status)))
    return {status: n for status, n in rows.all()}
