"""The demo notices of dev mode (`make run`): one to everyone ten days ago whose deliveries
went every way a push can go (客服, template, 订阅通知; WeChat's receipts delivered and
blocked; failed; undeliverable with the reason), one a group leader sent to the demo group,
and one scheduled for tomorrow morning. Made once each (found by title)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dev.demo import DEMO_ADMIN, DEMO_LEADER
from bot.push.channels import REASON_NO_CHANNEL, REASON_UNFOLLOWED
from bot.settings import Settings
from models import notice as notices
from models.base import SHANGHAI
from models.group import PartyGroup
from models.notice import Notice
from models.outbox import Push

DAY, MINUTE = timedelta(days=1), timedelta(minutes=1)
WEATHER = "演示：暴雨天气出行提醒"
GROUP = "演示：本月党小组会请按时参加"
SCHOOL = "演示：小哥党校新课上线"
# How the everyone-notice's deliveries went, in turn: status, channel, receipt, reason, errcode.
FATES = (
    ("sent", "kefu", None, None, None),
    ("sent", "template", "delivered", None, None),
    ("sent", "kefu", None, None, None),
    ("sent", "subscribe", "delivered", None, None),
    ("sent", "template", "blocked", None, None),
    ("sent", "kefu", None, None, None),
    ("failed", "template", None, "系统繁忙（演示）", -1),
    ("undeliverable", None, None, REASON_NO_CHANNEL, None),
    ("sent", "template", "delivered", None, None),
    ("undeliverable", None, None, REASON_UNFOLLOWED, None),
)


async def _titled(session: AsyncSession, title: str) -> Notice | None:
    return (await session.exec(select(Notice).where(Notice.title == title))).first()


async def seed(session: AsyncSession, settings: Settings, now: datetime) -> str | None:
    if settings.dev.demo_data != "full":
        return None
    if await _titled(session, WEATHER) is None:
        sent = now - 10 * DAY
        weather = await notices.create(
            session, WEATHER, "今天下午有暴雨和大风，骑行请减速慢行，可就近到红色驿站避雨、"
            "充电、喝口热水。（演示通知）", "all", sent, created_by=f"console:{DEMO_ADMIN}")
        await _fates(session, weather.subject, sent)
    if await _titled(session, GROUP) is None:
        group = (await session.exec(select(PartyGroup).where(
            col(PartyGroup.leader_id).is_not(None), col(PartyGroup.name).startswith("演示"))
        )).first()
        if group is not None:
            await notices.create(
                session, GROUP, "本月党小组会在湖塘红色驿站召开，请大家提前安排好接单时间。"
                "（演示通知）", f"group:{group.code}", now - 8 * DAY,
                created_by=f"leader:{DEMO_LEADER}")
    if await _titled(session, SCHOOL) is None:
        morning = datetime.combine(now.astimezone(SHANGHAI).date() + DAY, time(9),
                                   tzinfo=SHANGHAI)
        await notices.create(
            session, SCHOOL, "小哥党校本周新开《骑手交通安全与应急救护》，在公众号发送“课程”"
            "即可报名。（演示通知）", "industry:外卖送餐", now - 2 * MINUTE, send_at=morning,
            created_by=f"console:{DEMO_ADMIN}")
    return "3 条通知（含各种送达结果）"


async def _fates(session: AsyncSession, subject: str, sent: datetime) -> None:
    """The notice's deliveries, each as FATES says, minutes after it went."""
    ids = (await session.exec(select(Push.id).where(Push.subject == subject)
                              .order_by(col(Push.id)))).all()
    for k, push_id in enumerate(ids):
        status, channel, receipt, reason, errcode = FATES[k % len(FATES)]
        at = sent + (1 + k % 5) * MINUTE
        await session.exec(update(Push).where(col(Push.id) == push_id).values(
            status=status, channel=channel, attempts=1, reason=reason, errcode=errcode,
            sent_at=at if status == "sent" else None, receipt=receipt,
            receipt_status={"delivered": "success", "blocked": "failed:user block"}.get(
                receipt or ""), receipt_at=at + MINUTE if receipt else None))
