"""WeChat's delivery receipts, written onto the delivery record they are about.

- TEMPLATESENDJOBFINISH: a template message's fate, by the msgid the send returned.
  Status `success`, `failed:user block` (the member refused this account's template
  messages) or `failed: system failed`.
- subscribe_msg_sent_event: a 订阅通知's fate, per template, with its MsgID, ErrorCode
  and ErrorStatus. The send itself (bizsend) returns no msgid, so the receipt goes to the
  member's oldest 订阅通知 of that template still without one.

A member who blocked template messages is marked (`Member.template_blocked_at`); the
channel policy (bot/push/channels.py) sends them no more templates until they follow the
account again (bot/wechat/pipeline.py clears the mark; another "user block" receipt sets it
again).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.member import Member
from models.outbox import Push
from models.text import fit

Receipt = Literal["delivered", "blocked", "failed"]
STATUS_MAX = 64


def classify(status: str, errcode: int | None = None) -> Receipt:
    """WeChat's words for a delivery, as one of ours."""
    words = status.strip().lower()
    if words == "success" or (errcode == 0 and not words.startswith("fail")):
        return "delivered"
    if "block" in words or "reject" in words:
        return "blocked"
    return "failed"


@dataclass(frozen=True, slots=True)
class SentItem:
    """One template's part of a subscribe_msg_sent_event."""

    template_id: str
    msgid: int | None
    errcode: int | None
    status: str


def _note(push: Push, receipt: Receipt, status: str, now: datetime) -> None:
    push.receipt, push.receipt_status, push.receipt_at = receipt, fit(status, STATUS_MAX), now


async def _block(session: AsyncSession, member: Member, now: datetime) -> None:
    if member.template_blocked_at is None:
        member.template_blocked_at = now
        session.add(member)


async def template_finished(session: AsyncSession, member: Member, msgid: int, status: str,
                            now: datetime) -> Receipt | None:
    """A template message's receipt: the delivery record with that msgid gets it (None:
    no record of ours has it). A member who blocked templates is marked either way."""
    receipt = classify(status)
    if receipt == "blocked":
        await _block(session, member, now)
    push = (await session.exec(select(Push).where(
        col(Push.wx_msgid) == msgid, col(Push.openid) == member.openid,
        col(Push.channel) == "template"))).first()
    if push is None:
        return None
    _note(push, receipt, status, now)
    session.add(push)
    return receipt


async def subscribe_sent(session: AsyncSession, member: Member, item: SentItem,
                         kinds: Collection[str], now: datetime) -> Receipt | None:
    """A 订阅通知's receipt for one template (whose push kinds are `kinds`): onto the
    member's oldest 订阅通知 of those kinds still without a receipt (None: none is)."""
    receipt = classify(item.status, item.errcode)
    if item.msgid is not None:  # a receipt WeChat sent again
        again = (await session.exec(select(Push.id).where(
            col(Push.wx_msgid) == item.msgid, col(Push.openid) == member.openid))).first()
        if again is not None:
            return None
    if not kinds:
        return None
    push = (await session.exec(
        select(Push).where(col(Push.openid) == member.openid, col(Push.channel) == "subscribe",
                           col(Push.status) == "sent", col(Push.kind).in_(list(kinds)),
                           col(Push.receipt).is_(None))
        .order_by(col(Push.sent_at), col(Push.id)).limit(1))).first()
    if push is None:
        return None
    _note(push, receipt, item.status or str(item.errcode), now)
    push.wx_msgid = item.msgid
    session.add(push)
    return receipt
