"""小哥党校: 课程, 报名 CODE or title, 取消报名 CODE, 我的课程, attendance (crs: QR, 签到 CODE, a
location inside the place), and the instructor's 名单 CODE."""

from __future__ import annotations

import re
from datetime import datetime

from rapidfuzz import fuzz
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.clock import SHANGHAI
from bot.language import canonical, current
from bot.router import Context, Router, regex
from bot.settings import Settings
from models import arrival
from models import course as courses
from models import course_attendance as attendance
from models import course_enrolment as enrolment
from models import course_reminders as reminders
from models.course import CourseError
from models.course_enrolment import Seat
from models.member import Member

router = Router("school", help=[T.HELP_SCHOOL])
instructors = Router("instructors", help=[T.HELP_INSTRUCTOR], help_roles={"instructor"})

CODE = r"(?P<code>[A-Za-z0-9-]{1,16})"
A_CODE = re.compile(r"[A-Za-z0-9-]{1,16}")
CODE_INSIDE = re.compile(r"(?<![A-Za-z0-9-])[A-Za-z0-9][A-Za-z0-9-]{1,15}(?![A-Za-z0-9-])")
ENROL = r"报名\s*(?P<arg>\S.*)"
NEAR = 75  # rapidfuzz partial ratio on characters for a title typed roughly
CLEAR = 10  # the best near title leads the next by this much: it is the one
PICK_MAX = 5


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


def _names_a_course(ctx: Context) -> bool:
    """After 报名: a code, or words that may be a title. Not a phrasing the matcher knows
    ("报名上课" is 报名 itself, "报名记录" is 我的课程), nor only filler ("报名了吗")."""
    arg = ctx.msg.text.removeprefix("报名").strip()
    if A_CODE.fullmatch(arg):
        return True
    matcher = current()
    return len(arg) >= 2 and matcher.says_something(arg) and not matcher.knows(ctx.msg.text)


def _plain(text: str) -> str:
    """A title as compared: canonical, lower case, letters and digits only."""
    return re.sub(r"[\W_]+", "", canonical(text).lower())


def _by_title(seats: list[Seat], text: str) -> list[Seat]:
    """The open courses this text names: its exact title, else titles containing it (or it
    containing them), else titles near it (the nearest alone when it clearly leads)."""
    q = _plain(text)
    if len(q) < 2:
        return []
    titled = [(s, _plain(s.course.title)) for s in seats]
    if exact := [s for s, t in titled if t == q]:
        return exact
    if inside := [s for s, t in titled if q in t or (len(t) >= 2 and t in q)]:
        return inside
    near = sorted(((fuzz.partial_ratio(q, t), s) for s, t in titled),
                  key=lambda rs: -rs[0])
    near = [(r, s) for r, s in near if r >= NEAR]
    if len(near) > 1 and near[0][0] - near[1][0] >= CLEAR:
        return [near[0][1]]
    return [s for _, s in near]


def _pick_lines(seats: list[Seat]) -> list[str]:
    lines = [T.ENROL_PICK_LINE.format(code=s.course.code, what=courses.describe(s.course),
                                      mine=T.COURSE_MINE.get(s.mine or "", ""))
             for s in seats[:PICK_MAX]]
    if len(seats) > PICK_MAX:
        lines.append(T.ENROL_MORE.format(n=len(seats) - PICK_MAX))
    return lines


async def _enrol_in(course: courses.Course, member: Member, session: AsyncSession,
                    now: datetime) -> str:
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


@router.on(regex(ENROL), _names_a_course, needs_profile=True)
async def enrol(arg: str, member: Member, session: AsyncSession, now: datetime) -> str:
    """报名 CODE, or 报名 and (part of) an open course's title ("报名 党课一")."""
    arg = arg.strip()
    is_code = bool(A_CODE.fullmatch(arg))
    if is_code and (course := await _open_by_code(session, arg)) is not None:
        return await _enrol_in(course, member, session, now)
    found = _by_title(await enrolment.listing(session, member, now), arg)
    if len(found) == 1 and (course := await _open_by_code(session, found[0].course.code)):
        return await _enrol_in(course, member, session, now)
    if found:
        return "\n".join([T.ENROL_PICK.format(n=len(found), text=_short(arg)),
                          *_pick_lines(found)])
    if is_code:
        return T.COURSE_UNKNOWN.format(code=arg.upper())
    # A code with words around it ("报名DX2612A谢谢"): that course.
    if (m := CODE_INSIDE.search(arg)) and (course := await _open_by_code(session, m[0])):
        return await _enrol_in(course, member, session, now)
    return T.ENROL_NO_MATCH.format(text=_short(arg))


async def _open_by_code(session: AsyncSession, code: str) -> courses.Course | None:
    """The course of this code, locked for its seats, unless it is only a draft."""
    course = await courses.by_code(session, code, lock=True)
    return course if course is not None and course.status != "draft" else None


def _short(text: str, n: int = 20) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


@router.words("报名", "课程报名", needs_profile=True)
async def enrol_usage(member: Member, session: AsyncSession, now: datetime) -> str:
    """报名 alone: the open courses, each as the line to send."""
    seats = await enrolment.listing(session, member, now)
    if not seats:
        return T.COURSE_LIST_EMPTY
    example = _short(seats[0].course.title, 8).rstrip("…")
    return "\n".join([T.ENROL_OPEN.format(title=example), *_pick_lines(seats)])


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
