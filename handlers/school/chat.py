"""小哥党校: 课程, 报名 CODE, 取消报名 CODE, 我的课程, attendance (crs: QR, 签到 CODE, a
location inside the place), and the instructor's 名单 CODE."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.clock import SHANGHAI
from bot.router import Router
from bot.settings import Settings
from models import arrival
from models import course as courses
from models import course_attendance as attendance
from models import course_enrolment as enrolment
from models import course_reminders as reminders
from models.course import CourseError
from models.member import Member

router = Router("school", help=[T.HELP_SCHOOL])
instructors = Router("instructors", help=[T.HELP_INSTRUCTOR], help_roles={"instructor"})

CODE = r"(?P<code>[A-Za-z0-9-]{1,16})"


def _error(err: CourseError) -> str:
    return T.COURSE_ERRORS.get(err.code, T.ERROR)


def _when(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).strftime("%m-%d %H:%M")


@router.words("课程", "小哥党校", "党校课程", "小哥党校课程", needs_profile=True)
async def course_list(member: Member, session: AsyncSession, now: datetime) -> str:
    seats = await enrolment.listing(session, member, now)
    if not seats:
        return T.COURSE_LIST_EMPTY
    lines = [T.COURSE_LIST_LINE.format(
        code=s.course.code, what=courses.describe(s.course),
        instructor=s.course.instructor or "—", hours=courses.hours_text(s.course.hours),
        seats=T.COURSE_SEATS.format(n=s.seats_left) if s.seats_left else T.COURSE_FULL,
        mine=T.COURSE_MINE.get(s.mine or "", "")) for s in seats[:8]]
    return "\n".join([T.COURSE_LIST_HEADER, *lines])


@router.regex(rf"报名\s*{CODE}", needs_profile=True)
async def enrol(code: str, member: Member, session: AsyncSession, now: datetime) -> str:
    course = await courses.by_code(session, code, lock=True)
    if course is None or course.status == "draft":
        return T.COURSE_UNKNOWN.format(code=code.upper())
    try:
        done = await enrolment.enrol(session, course, member, now)
    except CourseError as err:
        return _error(err)
    what = courses.describe(course)
    if done is enrolment.Enrolled.ENROLLED:
        link = f"\n{course.online_url}" if course.online_url else ""
        return T.COURSE_ENROLLED.format(code=course.code, what=what, link=link)
    pos = await enrolment.waitlist_position(session, course, member)
    if done is enrolment.Enrolled.WAITLIST:
        return T.COURSE_WAITLISTED.format(code=course.code, what=what, pos=pos)
    if done is enrolment.Enrolled.ALREADY_WAITING:
        return T.COURSE_ALREADY_WAITING.format(title=course.title, pos=pos)
    return T.COURSE_ALREADY.format(title=course.title)


@router.words("报名", "课程报名")
async def enrol_usage() -> str:
    return T.COURSE_ENROL_USAGE


@router.regex(rf"取消报名\s*{CODE}", needs_profile=True)
async def withdraw(code: str, member: Member, session: AsyncSession, now: datetime) -> str:
    course = await courses.by_code(session, code, lock=True)
    if course is None or course.status == "draft":
        return T.COURSE_UNKNOWN.format(code=code.upper())
    try:
        was = await enrolment.withdraw(session, course, member, now, T.COURSE_PROMOTED)
    except CourseError as err:
        return _error(err)
    text = T.COURSE_WITHDRAWN if was == "enrolled" else T.COURSE_LEFT_WAITLIST
    return text.format(code=course.code, what=courses.describe(course))


@router.words("取消报名")
async def withdraw_usage() -> str:
    return T.COURSE_WITHDRAW_USAGE


@router.words("我的课程", needs_profile=True)
async def my_courses(member: Member, session: AsyncSession, now: datetime,
                     settings: Settings) -> str:
    mine = await enrolment.of_member(session, member, now)
    hours = courses.hours_text(await attendance.study_hours(session, member))
    head = T.COURSE_MINE_HEADER.format(hours=hours)
    if not mine:
        return "\n".join([head, T.COURSE_MINE_EMPTY])
    lines = []
    for m in mine[:8]:
        state = "attended" if m.attended else m.status
        lines.append(T.COURSE_MINE_LINE.format(
            code=m.course.code, what=courses.describe(m.course),
            state=T.COURSE_MINE_STATE[state].format(pos=m.position)))
    if (when := reminders.next_reminder(mine, settings.school.reminder_offsets, now)) is not None:
        lines.append(T.COURSE_MINE_NEXT.format(when=_when(when)))
    return "\n".join([head, *lines])


# --- attendance ---------------------------------------------------------------------------


@router.scene("crs:", needs_profile=True)
async def attend_by_qr(scene_arg: str, member: Member, session: AsyncSession,
                       now: datetime) -> str:
    arrived = await arrival.course_by_code(session, member, scene_arg[:16], "qr", now)
    if arrived is None:
        return T.COURSE_UNKNOWN.format(code=scene_arg[:16].upper())
    return T.arrived(arrived)


# --- instructors ----------------------------------------------------------------------------


@instructors.regex(rf"名单\s*{CODE}", roles={"instructor", "admin"})
async def roll(code: str, session: AsyncSession) -> str:
    """Any instructor may see any course's roll: the course names its instructor by
    display name, not by console account (per-course rights are the console's: console.py)."""
    course = await courses.by_code(session, code)
    if course is None:
        return T.COURSE_UNKNOWN.format(code=code.upper())
    r = await attendance.roll(session, course)
    waiting = T.COURSE_ROLL_WAITING.format(nw=len(r.waitlist), waitlist="、".join(r.waitlist)
                                           ) if r.waitlist else ""
    return T.COURSE_ROLL.format(code=course.code, what=courses.describe(course),
                                np=len(r.present), present="、".join(r.present) or "—",
                                na=len(r.absent), absent="、".join(r.absent) or "—",
                                waiting=waiting)


@instructors.words("名单", roles={"instructor", "admin"})
async def roll_usage() -> str:
    return T.COURSE_ROLL_USAGE
