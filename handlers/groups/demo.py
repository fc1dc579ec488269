"""The demo party groups of dev mode (`make run`): one led by demo-leader with members, a
past 党小组会 with its roll (present, on leave, absent) and an upcoming 党课; one more
without a leader. Made once (found by name). At a later start the upcoming activity, once
over, is moved ahead again (its members are told, as a real move would)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.dev.demo import DEMO_LEADER, demo_members
from bot.settings import Settings
from models import activity as activities
from models import group as groups
from models.base import SHANGHAI
from models.geo import Point
from models.group import PartyGroup
from models.member import Member
from models.station import Station

LED = "演示·湖塘外卖骑手云上党小组"
OTHER = "演示·快递小哥云上党小组"
UPCOMING_TOPIC = "演示：新就业群体党员的责任与担当（党课）"
PAST_TOPIC = "演示：学习交流与安全骑行经验分享"
DAY, HOUR = timedelta(days=1), timedelta(hours=1)


def _evening(now: datetime, days: int) -> datetime:
    """19:30 local, `days` days from now's date."""
    day = now.astimezone(SHANGHAI).date() + timedelta(days=days)
    return datetime.combine(day, time(19, 30), tzinfo=SHANGHAI)


async def seed(session: AsyncSession, settings: Settings, now: datetime) -> str | None:
    if settings.dev.demo_data != "full":
        return None
    riders = await demo_members(session)
    offsets = settings.school.reminder_offsets
    led = (await session.exec(select(PartyGroup).where(PartyGroup.name == LED))).first()
    if led is None and len(riders) >= 12:
        led = await _made(session, riders, now, offsets)
    if led is not None:
        await _keep_upcoming(session, led, now, offsets)
    if (await session.exec(select(PartyGroup).where(PartyGroup.name == OTHER))).first() is None:
        other = await groups.create(session, OTHER, "快递物流", now - 30 * DAY,
                                    description="快递物流行业党员的线上小组（演示）")
        for k, member in enumerate(m for m in riders if m.industry == "快递物流"):
            await groups.join(session, member, other,
                              max(now - (28 - k) * DAY, member.registered_at or now))
    return "2 个党小组（含活动与点名）"


async def _made(session: AsyncSession, riders: list[Member], now: datetime,
                offsets: list[timedelta]) -> PartyGroup:
    group = await groups.create(session, LED, "外卖送餐", now - 45 * DAY, leader=DEMO_LEADER,
                                description="湖塘片区外卖骑手党员，每月一次党小组会（演示）")
    members = [m for m in riders if m.industry in ("外卖送餐", "网约车")][:9]
    for k, member in enumerate(members):
        await groups.join(session, member, group, now - (40 - 3 * k) * DAY)
    station = (await session.exec(select(Station).where(Station.code == "HT01"))).first()
    point = Point(station.lat, station.lng) if station else None
    place = station.name if station else "湖塘红色驿站（演示）"
    start = _evening(now, -7)
    past = await activities.schedule(
        session, group, "党小组会", PAST_TOPIC, start, start + timedelta(minutes=90),
        start - 3 * DAY, place=place, point=point, by=f"console:{DEMO_LEADER}",
        text=T.ACTIVITY_NEW)
    await activities.ask_leave(session, past, members[1], "当晚有夜班配送，请假一次",
                               start - DAY)
    for k, member in enumerate(members[:6]):
        if k != 1:
            await activities.attend(session, past, member, "code",
                                    start + timedelta(minutes=3 + 4 * k))
    start = _evening(now, 2)
    upcoming = await activities.schedule(
        session, group, "党课", UPCOMING_TOPIC, start, start + timedelta(hours=1), now - DAY,
        place=place, point=point, by=f"console:{DEMO_LEADER}", text=T.ACTIVITY_NEW,
        offsets=offsets)
    await activities.ask_leave(session, upcoming, members[2], "那天要回老家，请假",
                               now - 6 * HOUR)
    return group


async def _keep_upcoming(session: AsyncSession, group: PartyGroup, now: datetime,
                         offsets: list[timedelta]) -> None:
    """The demo 党课 is over: move it ahead again, two evenings on."""
    a = (await session.exec(select(activities.Activity).where(
        activities.Activity.group_id == group.id,
        activities.Activity.topic == UPCOMING_TOPIC,
        activities.Activity.status == "scheduled"))).first()
    if a is None or a.end_at > now:
        return
    start = _evening(now, 2)
    await activities.move(session, a, start, start + timedelta(hours=1), now,
                          T.ACTIVITY_MOVED, offsets)
