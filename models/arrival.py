"""A member arrives: by a code, a QR scene or a location. One domain function for what
spans features: attendance at my group's activity or at an enrolled course, then the
check-in at the station whose circle holds the point. Results, not words: the handlers
say them (bot/texts: arrived, and the stations handler's check-in lines)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import activity as activities
from models import checkin as checkins
from models import course as courses
from models import course_attendance as attendance
from models import geo
from models import station as stations
from models.activity import Activity
from models.attendance import Attended
from models.checkin import CheckinResult
from models.course import Course
from models.member import Member
from models.station import Station

PRESENT, ALREADY, NOT_YET = "present", "already", "not_yet"


@dataclass(frozen=True)
class Arrival:
    """Attendance at an activity or a course: `outcome` is present, already, not_yet or the
    reason code of the refusal (ActivityError/CourseError)."""

    kind: str  # "activity" | "course"
    outcome: str
    what: str  # the activity's or course's one-line description
    title: str  # the activity's topic, the course's title
    code: str = ""  # the course's code
    hours: str = ""  # the course's study hours, as text
    opens: datetime | None = None  # when attendance opens (not_yet)
    points: int = 0  # the member's points afterwards


@dataclass
class Located:
    """What a location did: attendances (maybe none), and the station whose circle holds
    it with the check-in made there (None when the station is inactive)."""

    attended: list[Arrival] = field(default_factory=list)
    station: Station | None = None
    distance_m: float | None = None
    checkin: CheckinResult | None = None


async def attend_activity(session: AsyncSession, member: Member, activity: Activity,
                          method: str, now: datetime) -> Arrival:
    def result(outcome: str, opens: datetime | None = None) -> Arrival:
        return Arrival("activity", outcome, activities.describe(activity), activity.topic,
                       opens=opens, points=member.points)

    if activity.not_yet(now):
        return result(NOT_YET, activity.window()[0])
    try:
        done = await activities.attend(session, activity, member, method, now)
    except activities.ActivityError as err:
        return result(err.code)
    return result(ALREADY if done is Attended.ALREADY else PRESENT)


async def attend_course(session: AsyncSession, member: Member, course: Course, method: str,
                        now: datetime) -> Arrival:
    def result(outcome: str, opens: datetime | None = None) -> Arrival:
        return Arrival("course", outcome, courses.describe(course), course.title,
                       code=course.code, hours=courses.hours_text(course.hours), opens=opens,
                       points=member.points)

    try:
        done = await attendance.attend(session, course, member, method, now)
    except courses.CourseError as err:
        return result(err.code, course.window()[0] if err.code == NOT_YET else None)
    return result(ALREADY if done is Attended.ALREADY else PRESENT)


async def course_by_code(session: AsyncSession, member: Member, code: str, method: str,
                         now: datetime) -> Arrival | None:
    """签到 CODE and the crs: QR; None when no (published) course has that code."""
    course = await courses.by_code(session, code)
    if course is None or course.status == "draft":
        return None
    return await attend_course(session, member, course, method, now)


async def by_code(session: AsyncSession, member: Member, code: str, now: datetime
                  ) -> Arrival | None:
    """签到 CODE: a group activity's code, or else a course's; None when neither."""
    activity = await activities.by_code(session, code)
    if activity is None:
        return await course_by_code(session, member, code, "code", now)
    return await attend_activity(session, member, activity, "code", now)


async def attend_by_location(session: AsyncSession, member: Member, point: geo.Point,
                             now: datetime) -> list[Arrival]:
    """Attendance at my group's activity whose place holds the point, inside its window,
    then at the first enrolled offline course whose place holds it."""
    found: list[Arrival] = []
    # Most locations are no one's attendance: one query says whether either kind is there.
    has_activity, has_course = (await session.exec(select(
        activities.of_member_query(member, now).exists(),
        attendance.open_for_query(member, now).exists()))).one()
    activity = await activities.of_member(session, member, now) if has_activity else None
    if activity is not None and activity.is_open(now) and activity.holds(point):
        found.append(await attend_activity(session, member, activity, "location", now))
    for course in await attendance.open_for(session, member, now) if has_course else []:
        if course.is_open(now) and course.holds(point):
            found.append(await attend_course(session, member, course, "location", now))
            break
    return found


async def at_location(session: AsyncSession, member: Member, point: geo.Point,
                      now: datetime) -> Located:
    """A location sent: attendance first, then the check-in at the station holding it."""
    located = Located(await attend_by_location(session, member, point, now))
    hit = await stations.containing(session, point)
    if hit is not None:
        located.station, located.distance_m = hit.station, round(hit.distance_m, 1)
        if hit.station.active:
            located.checkin = await checkins.check_in(session, member, hit.station, now,
                                                      "location", point, located.distance_m)
    return located
