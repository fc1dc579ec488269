"""The outbox: one row per push and recipient, written in the same transaction as the
change that caused it; a worker claims rows, picks the channel, sends, records.

A row's idempotency key (kind + subject + recipient) makes a second enqueue of the
same push a no-op.

Status: pending → claimed → sending → sent | failed | undeliverable. A worker claims a
batch (`claimed`, under a lease), then marks rows `sending` a few at a time just before
their calls — at most one wave (`push.concurrency` rows) is `sending` and not yet
recorded at once — each mark in the statement that records the outcomes before it. When
a worker dies, its `claimed` rows go back to pending after the lease; a row left in
`sending` may have reached WeChat, so it is closed as failed rather than sent again — a
push goes out at most once, and every push not yet under way goes out after a restart.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Column,
    Index,
    String,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal,
    text,
    true,
    update,
)
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime, insert_for
from models.member import Member
from models.text import check_row, fit, long_text

KINDS = ("notice", "reply", "course_reminder", "report_status", "group_activity", "work_order")

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
    # The push's values by name (models/push_values.py), filled into the kind's template at
    # send time; older rows hold WeChat field names (sent as they are).
    template_data: dict[str, str] = Field(default_factory=dict,
                                          sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)
    channel: str | None = Field(default=None, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    errcode: int | None = None
    reason: str | None = Field(default=None, max_length=200)
    wx_msgid: int | None = Field(default=None, sa_type=BigInteger, index=True)
    # WeChat's receipt (models/receipts.py): delivered | blocked | failed, and its words.
    receipt: str | None = Field(default=None, max_length=16)
    receipt_status: str | None = Field(default=None, max_length=64)
    receipt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
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
    """Add pushes; one already there (same kind, subject, recipient) is left alone.

    The recipients of one text (a notice's thousands) go in with one INSERT … SELECT
    over the list of openids; a push with a text of its own with one executemany."""
    if kind not in KINDS:
        raise ValueError(f"unknown push kind {kind}")
    groups: dict[tuple[str, str | None, str], list[Outgoing]] = {}
    for it in items:
        key = (it.text, it.url, json.dumps(it.template_data, sort_keys=True))
        groups.setdefault(key, []).append(it)
    conn = await session.connection()
    few: list[Outgoing] = []
    for group in groups.values():
        if len(group) < SHARED_TEXT_MIN:
            few.extend(group)
            continue
        first = group[0]
        text_ = fit(first.text, TEXT_MAX)
        check_row(_T, {"kind": kind, "subject": subject, "text": text_, "url": first.url})
        openids = [it.openid for it in group]
        check_row(_T, {"openid": max(openids, key=len)})
        await conn.execute(_insert_shared(conn.dialect.name), {
            "b_kind": kind, "b_subject": subject, "b_prefix": idem_key(kind, subject, ""),
            "b_text": text_, "b_url": first.url, "b_data": first.template_data,
            "b_now": now,
            "b_openids": openids if conn.dialect.name == "postgresql" else json.dumps(openids),
        })
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
        for it in few
    ]
    if not rows:
        return
    # One cached statement, executed for many rows (cheaper than a fresh VALUES list).
    stmt = insert_for(session, Push).on_conflict_do_nothing(index_elements=["idem_key"])
    for start in range(0, len(rows), 5000):
        await conn.execute(stmt, rows[start : start + 5000])


# Recipients of one text from this many on go in with one INSERT … SELECT.
SHARED_TEXT_MIN = 20


@cache
def _insert_shared(dialect: str) -> Any:
    """INSERT … SELECT over a list of openids (PostgreSQL: an array; SQLite: JSON)."""
    if dialect == "postgresql":
        openids = func.unnest(bindparam("b_openids", type_=ARRAY(String()))
                              ).table_valued("value").render_derived()
        ins: Any = postgresql.insert(_T)
    else:
        openids = func.json_each(bindparam("b_openids", type_=String())
                                 ).table_valued("value")
        ins = sqlite.insert(_T)
    openid = cast(openids.c.value, String())
    rows = core_select(
        bindparam("b_prefix", type_=String()) + openid,
        bindparam("b_kind", type_=String()), bindparam("b_subject", type_=String()), openid,
        bindparam("b_text", type_=Text()), bindparam("b_url", type_=String()),
        bindparam("b_data", type_=JSON()), literal("pending"), literal(0),
        bindparam("b_now", type_=UTCDateTime()), bindparam("b_now", type_=UTCDateTime()),
    ).where(true())  # SQLite: INSERT … SELECT … ON CONFLICT needs a WHERE to parse
    cols = ["idem_key", "kind", "subject", "openid", "text", "url", "template_data", "status",
            "attempts", "next_attempt_at", "created_at"]
    return ins.from_select(cols, rows).on_conflict_do_nothing(index_elements=["idem_key"])


# --- claiming ----------------------------------------------------------------------------
# The hot path is SQLAlchemy Core on the table: set-based statements, no ORM objects.

_T = Push.__table__  # type: ignore[attr-defined]
_M = Member.__table__  # type: ignore[attr-defined]


def _inline(status: str) -> BindParameter[str]:
    """The status written into the SQL, not sent as a parameter: PostgreSQL's generic plan
    for a prepared statement can use a partial index only when it sees the value."""
    return bindparam(None, status, literal_execute=True)


@dataclass(slots=True)
class Taken:
    """A push a worker claimed: what it needs to send it (plain values, no ORM object)."""

    id: int
    kind: str
    openid: str
    text: str
    url: str | None
    template_data: dict[str, str]
    attempts: int
    lease_until: datetime  # the claim's token: mark_sending checks it
    channel: str | None = None
    # Set with the channel: the 订阅通知 template whose grant the send uses, and whether the
    # member blocked templates (no template fallback then).
    grant: str | None = None
    grant_spent: bool = False  # a one-time grant (given back when the send never happened)
    template_blocked: bool = False


@dataclass(slots=True)
class Window:
    """A member's 客服 window (and whether they blocked templates) as the channel policy
    reads it (bot/push/channels.WindowView); the counts are spent here first and written
    back as increments."""

    openid: str
    followed: bool
    last_inbound_at: datetime | None
    kefu_used: int
    last_event_at: datetime | None
    kefu_used_event: int
    template_blocked_at: datetime | None


_SWEEP = (
    update(_T)
    .where(_T.c.status.in_([_inline("claimed"), _inline("sending")]),
           _T.c.lease_until < bindparam("now", type_=UTCDateTime()))
    .values(status=case((_T.c.status == "claimed", "pending"), else_="failed"),
            reason=case((_T.c.status == "claimed", _T.c.reason), else_=REASON_CRASHED),
            lease_until=None)
    .returning(_T.c.status)
)


async def close_abandoned(conn: AsyncConnection, now: datetime) -> int:
    """Rows a dead worker left behind, once their lease is over: those it had only taken
    (`claimed`) go back to pending; those it was sending (`sending`) may have reached
    WeChat, so they are closed as unknown, never sent again. One statement; how many were
    closed as unknown."""
    result = await conn.execute(_SWEEP, {"now": now})
    return sum(1 for (status,) in result if status == "failed")


def _claim_stmt(limit: int, by_subject: bool) -> Any:
    pick = (
        core_select(_T.c.id)
        .where(_T.c.status == _inline("pending"),
               _T.c.next_attempt_at <= bindparam("b_now", type_=UTCDateTime()))
        .order_by(_T.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if by_subject:
        pick = pick.where(_T.c.subject == bindparam("b_subject"))
    # MATERIALIZED: the LIMIT and the row locks are taken once, never re-run by the plan.
    chosen = pick.cte("chosen").prefix_with("MATERIALIZED")
    return (
        update(_T)
        .where(_T.c.id == chosen.c.id)
        .values(status="claimed", lease_until=bindparam("b_lease", type_=UTCDateTime()))
        .returning(_T.c.id, _T.c.kind, _T.c.openid, _T.c.text, _T.c.url, _T.c.template_data,
                   _T.c.attempts)
    )


async def claim(conn: AsyncConnection, now: datetime, limit: int, lease_until: datetime,
                subject: str | None = None) -> list[Taken]:
    """Take up to `limit` due rows for this worker in one UPDATE … RETURNING (other workers
    skip the rows locked here: FOR UPDATE SKIP LOCKED; SQLite's writer lock serialises)."""
    params: dict[str, Any] = {"b_now": now, "b_lease": lease_until}
    if subject is not None:
        params["b_subject"] = subject
    rows = await conn.execute(_claim_stmt(limit, subject is not None), params)
    taken = [Taken(i, kind, openid, txt, url, data or {}, attempts, lease_until)
             for i, kind, openid, txt, url, data, attempts in rows]
    taken.sort(key=lambda t: t.id)
    return taken


_WINDOW_COLS = (_M.c.openid, _M.c.followed, _M.c.last_inbound_at, _M.c.kefu_used,
                _M.c.last_event_at, _M.c.kefu_used_event, _M.c.template_blocked_at)


async def windows(conn: AsyncConnection, openids: Collection[str], lock: bool = False
                  ) -> dict[str, Window]:
    """The 客服 windows of these members, in one SELECT; `lock`: FOR UPDATE (PostgreSQL),
    for the ones whose allowance is about to be spent."""
    if not openids:
        return {}
    stmt = core_select(*_WINDOW_COLS).where(_M.c.openid.in_(bindparam("o", expanding=True)))
    if lock:
        stmt = stmt.with_for_update()
    rows = await conn.execute(stmt, {"o": list(openids)})
    return {r[0]: Window(*r) for r in rows}


_SPEND = (
    update(_M)
    .where(_M.c.openid == bindparam("b_openid"))
    .values(kefu_used=_M.c.kefu_used + bindparam("b_window"),
            kefu_used_event=_M.c.kefu_used_event + bindparam("b_event"))
)


async def spend(conn: AsyncConnection, spent: Mapping[str, tuple[int, int]]) -> None:
    """Count the 客服 messages taken: openid → (window, event) messages, one executemany."""
    if spent:
        await conn.execute(_SPEND, [{"b_openid": o, "b_window": w, "b_event": e}
                                    for o, (w, e) in spent.items()])


# --- recording outcomes ------------------------------------------------------------------


@dataclass(slots=True)
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


def _columns(outcomes: Sequence[Outcome], now: datetime) -> dict[str, list[Any]]:
    """The outcomes as one list per column."""
    cols: dict[str, list[Any]] = {k: [] for k in ("id", "status", "channel", "errcode",
                                                   "reason", "msgid", "sent_at", "nxt",
                                                   "undo")}
    for o in outcomes:
        cols["id"].append(o.push_id)
        cols["status"].append(o.status)
        cols["channel"].append(o.channel if o.status != "pending" else None)
        cols["errcode"].append(o.errcode)
        cols["reason"].append(o.reason)
        cols["msgid"].append(o.wx_msgid)
        cols["sent_at"].append(now if o.status == "sent" else None)
        cols["nxt"].append(now + timedelta(seconds=o.retry_in_s)
                            if o.retry_in_s is not None else None)
        cols["undo"].append(1 if o.not_tried else 0)  # a paused send was no attempt
    return cols


# PostgreSQL: the outcomes of a wave (arrays, one per column: the text never changes, so
# it is prepared once), the members who left, and the next wave marked sending — one
# statement, atomic on its own, so it runs without BEGIN/COMMIT.
_PG_WAVE = text("""
WITH done AS (
  UPDATE outbox SET status = v.status, channel = v.channel, errcode = v.errcode,
    reason = v.reason, wx_msgid = v.msgid, sent_at = v.sent_at,
    next_attempt_at = COALESCE(v.nxt, outbox.next_attempt_at),
    attempts = outbox.attempts - v.undo, lease_until = NULL
  FROM unnest(CAST(:id AS bigint[]), CAST(:status AS varchar[]), CAST(:channel AS varchar[]),
              CAST(:errcode AS integer[]), CAST(:reason AS varchar[]),
              CAST(:msgid AS bigint[]), CAST(:sent_at AS timestamptz[]),
              CAST(:nxt AS timestamptz[]), CAST(:undo AS integer[]))
       AS v(id, status, channel, errcode, reason, msgid, sent_at, nxt, undo)
  WHERE outbox.id = v.id
), gone AS (
  UPDATE member SET followed = false WHERE openid = ANY(CAST(:gone AS varchar[]))
), go AS (
  UPDATE outbox SET status = 'sending', attempts = attempts + 1
  WHERE id = ANY(CAST(:send AS bigint[])) AND status = 'claimed'
    AND lease_until = CAST(:lease AS timestamptz)
  RETURNING id
)
SELECT id FROM go
""")

_MARK = (
    update(_T)
    .where(_T.c.id.in_(bindparam("ids", expanding=True)), _T.c.status == "claimed",
           _T.c.lease_until == bindparam("lease", type_=UTCDateTime()))
    .values(status="sending", attempts=_T.c.attempts + 1)
    .returning(_T.c.id)
)
# SQLite: the wave's outcomes as one JSON array, one UPDATE … FROM json_each() (measured:
# about half the CPU of an executemany of the same rows).
_SQLITE_WAVE = text("""
UPDATE outbox SET status = json_extract(v.value, '$.status'),
  channel = json_extract(v.value, '$.channel'), errcode = json_extract(v.value, '$.errcode'),
  reason = json_extract(v.value, '$.reason'), wx_msgid = json_extract(v.value, '$.msgid'),
  sent_at = json_extract(v.value, '$.sent_at'),
  next_attempt_at = COALESCE(json_extract(v.value, '$.nxt'), outbox.next_attempt_at),
  attempts = outbox.attempts - json_extract(v.value, '$.undo'), lease_until = NULL
FROM json_each(:b_rows) AS v WHERE outbox.id = json_extract(v.value, '$.id')
""")


def _sqlite_time(t: datetime | None) -> str | None:  # as SQLAlchemy stores a UTCDateTime
    return None if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_rows(outcomes: Sequence[Outcome], now: datetime) -> str:
    cols = _columns(outcomes, now)
    longest = max((r for r in cols["reason"] if r), key=len, default=None)
    if longest is not None:
        check_row(_T, {"reason": longest})  # the text guard, which sees no JSON inside
    cols["sent_at"] = [_sqlite_time(t) for t in cols["sent_at"]]
    cols["nxt"] = [_sqlite_time(t) for t in cols["nxt"]]
    rows = [dict(zip(cols, row, strict=True)) for row in zip(*cols.values(), strict=True)]
    return json.dumps(rows, ensure_ascii=False)


_UNFOLLOW = update(_M).where(_M.c.openid == bindparam("b_openid")).values(followed=False)


async def record_and_mark(conn: AsyncConnection, outcomes: Sequence[Outcome], now: datetime,
                          send_ids: Sequence[int] = (), lease_until: datetime | None = None
                          ) -> set[int]:
    """Write a wave's outcomes and mark the next wave `sending` — just before its calls:
    from then on a crash leaves those rows' outcome unknown.

    Only rows this worker still holds are marked: claimed under its lease (`lease_until`
    is the claim's token). A worker slower than its lease may have lost rows to another
    one, which then sends them; the ids returned are the ones this worker may send.

    PostgreSQL: one statement (the caller may run it in autocommit). SQLite: an
    executemany for the outcomes and one UPDATE … RETURNING, in the caller's transaction."""
    gone = sorted({o.openid for o in outcomes if o.unfollowed})
    if conn.dialect.name == "postgresql":
        cols = _columns(outcomes, now)
        rows = await conn.execute(_PG_WAVE, {**cols, "gone": gone, "send": list(send_ids),
                                             "lease": lease_until})
        return {i for (i,) in rows}
    if outcomes:
        await conn.execute(_SQLITE_WAVE, {"b_rows": _sqlite_rows(outcomes, now)})
    if gone:
        await conn.execute(_UNFOLLOW, [{"b_openid": o} for o in gone])
    if not send_ids:
        return set()
    rows = await conn.execute(_MARK, {"ids": list(send_ids), "lease": lease_until})
    return {i for (i,) in rows}


# --- reading back ------------------------------------------------------------------------


async def has_due(session: AsyncSession, now: datetime, subject: str | None = None) -> bool:
    stmt = select(func.count()).select_from(Push).where(
        col(Push.status).in_(("pending", "claimed", "sending")))
    if subject is not None:
        stmt = stmt.where(col(Push.subject) == subject)
    return bool((await session.exec(stmt)).one())
