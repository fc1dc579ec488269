"""The demo courses of 小哥党校 in dev mode (`make run`), taught by demo-teacher: one starting
within the hour (enrolled: its 1-hour reminder goes out), one full with a waitlist, one held
five days ago with its attendance taken (study hours and points credited). Made once each,
by code. At a later start the "within the hour" course, once started, is moved to within
the hour again (its enrollees are told, as a real move would)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.dev.demo import DEMO_TEACHER, demo_members
from bot.settings import Settings
from models import course_attendance as attendance
from models import course_enrolment as enrolment
from models import course_lifecycle as lifecycle
from models.base import SHANGHAI
from models.course import Course, CourseData, by_code
from models.geo import Point
from models.member import Member
from models.station import Station

SOON, FULL, PAST = "DEMO-SOON", "DEMO-FULL", "DEMO-PAST"
DAY, MINUTE = timedelta(days=1), timedelta(minutes=1)
SOON_IN = 40 * MINUTE


def _soon(now: datetime) -> datetime:
    """About 40 minutes from now, on a 5-minute mark."""
    at = now + SOON_IN
    return at.replace(minute=at.minute - at.minute % 5, second=0, microsecond=0)


def _evening(now: datetime, days: int) -> datetime:
    day = now.astimezone(SHANGHAI).date() + timedelta(days=days)
    return datetime.combine(day, time(19, 30), tzinfo=SHANGHAI)


async def seed(session: AsyncSession, settings: Settings, now: datetime) -> str | None:
    if settings.dev.demo_data != "full":
        return None
    riders = await demo_members(session)
    offsets = settings.school.reminder_offsets
    station = (await session.exec(select(Station).where(Station.code == "HT01"))).first()
    where: dict[str, object] = {"place": "湖塘红色驿站（演示）"}
    if station is not None:
        where = {"place": station.name, "point": Point(station.lat, station.lng)}
    if len(riders) >= 16:
        await _soon_course(session, riders, now, offsets, where)
        await _full_course(session, riders, now, offsets)
        await _past_course(session, riders, now, where)
    return "3 门课程（即将开课、已满候补、已结课）"


def _data(code: str, title: str, start: datetime, end: datetime, capacity: int,
          hours: float, **where: object) -> CourseData:
    return CourseData(code=code, title=title, start=start, end=end, instructor=DEMO_TEACHER,
                      description=f"{title}。本课程为演示数据。", capacity=capacity,
                      hours=hours, **where)  # type: ignore[arg-type]


async def _enrol(session: AsyncSession, c: Course, members: list[Member],
                 first: datetime) -> None:
    for k, member in enumerate(members):
        await enrolment.enrol(session, c, member, first + k * 37 * MINUTE)


async def _soon_course(session: AsyncSession, riders: list[Member], now: datetime,
                       offsets: list[timedelta], where: dict[str, object]) -> None:
    c = await by_code(session, SOON)
    start = _soon(now)
    if c is None:
        made = now - 5 * DAY
        c = await lifecycle.create(session, _data(
            SOON, "演示：骑手交通安全与应急救护", start, start + timedelta(hours=1), 30, 1.0,
            **where), made, f"console:{DEMO_TEACHER}", offsets=offsets)
        await _enrol(session, c, riders[:8], made + DAY)
    elif c.start_at <= now and c.status == "published":
        await lifecycle.move(session, c, start, start + timedelta(hours=1), now,
                             T.COURSE_MOVED, offsets=offsets)


async def _full_course(session: AsyncSession, riders: list[Member], now: datetime,
                       offsets: list[timedelta]) -> None:
    if await by_code(session, FULL) is not None:
        return
    made, start = now - 4 * DAY, _evening(now, 3)
    c = await lifecycle.create(session, _data(
        FULL, "演示：网约车与货运司机法律法规讲座", start, start + timedelta(minutes=90), 6,
        1.5, online_url="https://example.com/demo-live"), made, f"console:{DEMO_TEACHER}",
        offsets=offsets)
    await _enrol(session, c, riders[4:13], made + DAY)  # 6 seats, 3 on the waitlist


async def _past_course(session: AsyncSession, riders: list[Member], now: datetime,
                       where: dict[str, object]) -> None:
    if await by_code(session, PAST) is not None:
        return
    start = _evening(now, -5)
    made = start - 7 * DAY
    c = await lifecycle.create(session, _data(
        PAST, "演示：学习党的二十大精神专题党课", start, start + timedelta(minutes=90), 40, 1.5,
        **where), made, f"console:{DEMO_TEACHER}", offsets=())
    members = riders[6:16]
    await _enrol(session, c, members, made + DAY)
    for k, member in enumerate(members[:7]):  # three stayed away
        await attendance.attend(session, c, member, "qr" if k % 2 else "code",
                                start + (2 + 3 * k) * MINUTE)
