"""What WeChat tells us about our pushes, as callbacks: template receipts
(TEMPLATESENDJOBFINISH), 订阅通知 grants (subscribe_msg_popup_event,
subscribe_msg_change_event) and 订阅通知 receipts (subscribe_msg_sent_event).

Each is answered with "success" (nothing is shown to the member) and written in the
callback's own transaction, so WeChat's retries of one event change nothing twice (the
pipeline's claim). Which push kinds a template serves comes from config
(`wechat.templates`, `wechat.subscribe`); the rows are models/subscribe.py and
models/receipts.py.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.router import Router
from bot.settings import Settings
from bot.wechat.message import Inbound
from models import receipts, subscribe
from models.member import Member

log = logging.getLogger(__name__)

router = Router("push receipts")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _subscribe_kinds(settings: Settings, template_id: str) -> list[str]:
    return [kind for kind, m in settings.wechat.subscribe.items() if m.id == template_id]


@router.event("templatesendjobfinish")
async def template_finished(msg: Inbound, member: Member, session: AsyncSession,
                            now: datetime) -> None:
    msgid = _int(msg.extra.get("MsgID"))
    if msgid is None:
        return None
    receipt = await receipts.template_finished(session, member, msgid,
                                               msg.extra.get("Status", ""), now)
    if receipt is None:
        log.info("template receipt for a msgid we have no record of")
    return None


@router.event("subscribe_msg_popup_event")
async def popup_answered(msg: Inbound, member: Member, session: AsyncSession, now: datetime,
                         settings: Settings) -> None:
    if member.id is None or member.erased_at is not None:
        return None
    long_term = {m.id for m in settings.wechat.subscribe.values() if m.long_term}
    choices = [subscribe.Choice(t, item.get("SubscribeStatusString", "").lower() == "accept")
               for item in msg.items if (t := item.get("TemplateId"))]
    await subscribe.popup(session, member.id, choices, long_term, now)
    return None


@router.event("subscribe_msg_change_event")
async def settings_changed(msg: Inbound, member: Member, session: AsyncSession,
                           now: datetime, settings: Settings) -> None:
    if member.id is None:
        return None
    long_term = {m.id for m in settings.wechat.subscribe.values() if m.long_term}
    rejected = [t for item in msg.items if (t := item.get("TemplateId"))
                and item.get("SubscribeStatusString", "").lower() != "accept"]
    await subscribe.withdraw(session, member.id, rejected, now)
    accepted = [subscribe.Choice(t, True) for item in msg.items
                if (t := item.get("TemplateId")) in long_term
                and item.get("SubscribeStatusString", "").lower() == "accept"]
    await subscribe.popup(session, member.id, accepted, long_term, now)
    return None


@router.event("subscribe_msg_sent_event")
async def subscribe_sent(msg: Inbound, member: Member, session: AsyncSession, now: datetime,
                         settings: Settings) -> None:
    for item in msg.items:
        template_id = item.get("TemplateId", "")
        sent = receipts.SentItem(template_id, _int(item.get("MsgID")),
                                 _int(item.get("ErrorCode")), item.get("ErrorStatus", ""))
        receipt = await receipts.subscribe_sent(session, member, sent,
                                                _subscribe_kinds(settings, template_id), now)
        if receipts.classify(sent.status, sent.errcode) == "blocked" and member.id is not None:
            await subscribe.withdraw(session, member.id, [template_id], now)
        if receipt is None:
            log.info("订阅通知 receipt with no delivery record of ours to go on")
    return None
