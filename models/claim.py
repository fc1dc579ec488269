"""Inbound message claims: WeChat retries a message it got no answer for, so every
message's key is stored with its reply in the transaction that made its effects, and a
retry gets the stored reply instead of a second effect.

The caller holds the sender's lock (PostgreSQL: an advisory lock; SQLite: BEGIN
IMMEDIATE), and a retry always comes from the same sender, so a retry waits for the
first attempt's transaction and then finds its key; the key's primary key is the last
word if anything ever slipped past that."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, and_, bindparam, delete, insert
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime
from models.dialog_store import DialogRow
from models.member import Member
from models.staff import ConsoleUser
from models.text import fit, long_text

# A stored reply's maximum (WeChat shows about 2,048 bytes of a passive reply anyway).
REPLY_MAX = 8000


class InboundClaim(SQLModel, table=True):
    __tablename__ = "inbound_claim"

    key: str = Field(primary_key=True, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    # The passive reply given (None: "success", nothing to show).
    reply: str | None = Field(default=None, sa_type=Text, sa_column_kwargs=long_text(REPLY_MAX))
    # The reply went out later through the push path, not passively.
    deferred: bool = False


@dataclass
class Sender:
    """What handling one message needs to know first, read in one query."""

    member: Member | None  # None: first contact
    dialog: DialogRow | None
    staff: ConsoleUser | None
    claim: InboundClaim | None  # set: this message was handled already (a retry)


# Built once: constructing a statement costs more than running it (its cache key is
# memoised on the object, so SQLAlchemy's compiled-SQL cache is hit directly).
_SENDER = (
    select(Member, DialogRow, ConsoleUser, InboundClaim)
    .select_from(Member)
    .outerjoin(DialogRow, col(DialogRow.openid) == col(Member.openid))
    .outerjoin(ConsoleUser, and_(col(ConsoleUser.openid) == col(Member.openid),
                                 col(ConsoleUser.active)))
    .outerjoin(InboundClaim, col(InboundClaim.key) == bindparam("key"))
    .where(col(Member.openid) == bindparam("openid"))
)
_RECORD = insert(InboundClaim.__table__)  # type: ignore[attr-defined]


async def sender(session: AsyncSession, openid: str, key: str) -> Sender:
    """The member, their dialog and console account, and the message key's claim, in one
    round trip (most messages need nothing more before their handler runs)."""
    result = await session.exec(_SENDER, params={"openid": openid, "key": key})
    row = result.first()
    if row is not None:
        return Sender(*row)
    return Sender(None, None, None, await session.get(InboundClaim, key))


async def record(session: AsyncSession, key: str, now: datetime, reply: str | None,
                 deferred: bool) -> None:
    """Store the message's key and reply (a primary key: a second insert fails and rolls
    its transaction back). A Core insert: the ORM's bulk path costs more than the SQL."""
    conn = await session.connection()
    await conn.execute(_RECORD, {"key": key, "created_at": now,
                                 "reply": None if reply is None else fit(reply, REPLY_MAX),
                                 "deferred": deferred})


async def get(session: AsyncSession, key: str) -> InboundClaim | None:
    return await session.get(InboundClaim, key)


async def purge(session: AsyncSession, before: datetime) -> int:
    """Forget claims older than WeChat's retry horizon."""
    result = await session.exec(delete(InboundClaim).where(col(InboundClaim.created_at) < before))
    return result.rowcount or 0
