"""订阅通知 (subscribe messages): what each member allowed us to send them, per template.

WeChat tells us with three events (read by bot/push/receipts.py):
- subscribe_msg_popup_event: the member answered a subscribe popup, accept or reject per
  template. An accepted one-time template allows one send; an accepted long-term template
  (public-service accounts, marked `long_term` in config) allows sends until withdrawn.
- subscribe_msg_change_event: the member changed their settings; WeChat pushes only
  rejections. Every grant for the template is gone.
- subscribe_msg_sent_event: the receipt of a send (models/receipts.py).

A one-time grant is spent where the outbox claims the push (bot/push/worker.py), in the
claiming transaction, so two workers never spend the same grant. When WeChat answers a send
with 43101 (no grant on its side) our view was off: the grant is dropped and the push falls
through to the next channel.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, update
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime, insert_for
from models.member import Member

# One-time grants pile up when a member accepts the same popup again and again; WeChat
# itself keeps a bounded count. More than this is never stored.
ONE_TIME_MAX = 50


class SubscribeGrant(SQLModel, table=True):
    __tablename__ = "subscribe_grant"

    member_id: int = Field(foreign_key="member.id", primary_key=True)
    template_id: str = Field(primary_key=True, max_length=128)
    one_time: int = 0  # one-time grants not yet spent
    long_term: bool = False  # a long-term grant, until the member withdraws it
    updated_at: datetime = Field(sa_type=UTCDateTime)


@dataclass(frozen=True, slots=True)
class Choice:
    """One template's answer in a popup or a settings change."""

    template_id: str
    accepted: bool


@dataclass(frozen=True, slots=True)
class Grant:
    """What the channel policy reads of one member's grant for one template."""

    one_time: int
    long_term: bool

    @property
    def usable(self) -> bool:
        return self.long_term or self.one_time > 0


_G = SubscribeGrant.__table__  # type: ignore[attr-defined]
_M = Member.__table__  # type: ignore[attr-defined]


async def _row(session: AsyncSession, member_id: int, template_id: str, now: datetime
               ) -> SubscribeGrant:
    await session.exec(
        insert_for(session, SubscribeGrant)
        .values(member_id=member_id, template_id=template_id, one_time=0, long_term=False,
                updated_at=now)
        .on_conflict_do_nothing(index_elements=["member_id", "template_id"]))
    row = await session.get(SubscribeGrant, (member_id, template_id), populate_existing=True)
    assert row is not None
    return row


async def popup(session: AsyncSession, member_id: int, choices: Iterable[Choice],
                long_term_ids: Collection[str], now: datetime) -> None:
    """The member answered a subscribe popup. Accepting a long-term template grants it
    until withdrawn; accepting a one-time template allows one more send. Rejecting in a
    popup withdraws a long-term grant; one-time grants already given stay."""
    for c in choices:
        row = await _row(session, member_id, c.template_id, now)
        if c.accepted and c.template_id in long_term_ids:
            row.long_term = True
        elif c.accepted:
            row.one_time = min(ONE_TIME_MAX, row.one_time + 1)
        else:
            row.long_term = False
        row.updated_at = now
        session.add(row)


async def withdraw(session: AsyncSession, member_id: int, template_ids: Iterable[str],
                   now: datetime) -> None:
    """The member turned the templates off in their settings (or WeChat said 43101): no
    grant of any kind is left for them."""
    ids = list(template_ids)
    if ids:
        await session.exec(
            update(SubscribeGrant)
            .where(_G.c.member_id == member_id, _G.c.template_id.in_(ids))
            .values(one_time=0, long_term=False, updated_at=now))


async def held(conn: AsyncConnection, openids: Collection[str], template_ids: Collection[str],
               lock: bool = False) -> dict[str, dict[str, Grant]]:
    """Usable grants of these members for these templates, in one SELECT:
    openid → template id → grant. `lock`: FOR UPDATE of the grant rows (PostgreSQL), for
    the ones about to be spent, so two workers never spend the same one."""
    if not openids or not template_ids:
        return {}
    stmt = (core_select(_M.c.openid, _G.c.template_id, _G.c.one_time, _G.c.long_term)
            .join(_M, _M.c.id == _G.c.member_id)
            .where(_M.c.openid.in_(bindparam("o", expanding=True)),
                   _G.c.template_id.in_(bindparam("t", expanding=True)),
                   (_G.c.one_time > 0) | _G.c.long_term))
    if lock:
        stmt = stmt.with_for_update(of=_G)
    out: dict[str, dict[str, Grant]] = {}
    for openid, template_id, one_time, long_term in await conn.execute(
            stmt, {"o": list(openids), "t": list(template_ids)}):
        out.setdefault(openid, {})[template_id] = Grant(one_time, bool(long_term))
    return out


_SPEND = (
    update(_G)
    .where(_G.c.template_id == bindparam("b_template"),
           _G.c.member_id == core_select(_M.c.id).where(_M.c.openid == bindparam("b_openid"))
           .scalar_subquery(),
           _G.c.one_time >= bindparam("b_n"))
    .values(one_time=_G.c.one_time - bindparam("b_n"))
)


async def spend(conn: AsyncConnection, spent: Mapping[tuple[str, str], int]) -> None:
    """Use up one-time grants: (openid, template id) → how many, one executemany."""
    if spent:
        await conn.execute(_SPEND, [{"b_openid": o, "b_template": t, "b_n": n}
                                    for (o, t), n in spent.items()])


_REFUND = (
    update(_G)
    .where(_G.c.template_id == bindparam("b_template"),
           _G.c.member_id == core_select(_M.c.id).where(_M.c.openid == bindparam("b_openid"))
           .scalar_subquery(),
           _G.c.one_time < ONE_TIME_MAX)
    .values(one_time=_G.c.one_time + 1)
)


async def refund(conn: AsyncConnection, openid: str, template_id: str) -> None:
    """Give back a one-time grant spent on a send that never went out (a quota pause, a
    network error: the push is retried, and may use the grant then)."""
    await conn.execute(_REFUND, {"b_openid": openid, "b_template": template_id})


_DROP = (
    update(_G)
    .where(_G.c.template_id == bindparam("b_template"),
           _G.c.member_id == core_select(_M.c.id).where(_M.c.openid == bindparam("b_openid"))
           .scalar_subquery())
    .values(one_time=0, long_term=False, updated_at=bindparam("b_now", type_=UTCDateTime()))
)


async def refused(conn: AsyncConnection, openid: str, template_id: str, now: datetime) -> None:
    """WeChat answered 43101: on its side the member holds no grant for the template."""
    await conn.execute(_DROP, {"b_openid": openid, "b_template": template_id, "b_now": now})


async def forget(session: AsyncSession, member_id: int) -> None:
    """Erasure: the member's grants go with them."""
    await session.exec(delete(SubscribeGrant).where(_G.c.member_id == member_id))
