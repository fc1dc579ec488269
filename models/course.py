"""小哥党校: courses, enrolment with a waitlist, reminders, attendance and study hours.

A course is published, moved or cancelled by an instructor; members enrol (or wait for a
seat), are reminded at the configured offsets, and attend once inside the window, which
credits the course's study hours and points. Every rule that must hold under retries and
double taps is held by the database: one enrolment row per member and course, seats counted
under a lock on the course row, attendance credited by a conditional update.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import ClassVar

from sqlalchemy import Text, UniqueConstraint, func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from models import geo, outbox
from models import group as groups
from models.attendance import OPENS_BEFORE, AttendanceWindow
from models.base import SHANGHAI, UTCDateTime
from models.member import INDUSTRIES, Member

STATUSES = ("draft", "published", "cancelled")
LIST_AHEAD = timedelta(days=14)  # 课程 lists courses starting within this
POINTS_ATTENDED = 5
CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9-]{1,15}")
MAX_LENGTH = timedelta(hours=12)
PUSH_KIND = "course_reminder"


class CourseError(ValueError):
    """A course rule broken; `reason` is a stable key (texts and the API map it)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Course(AttendanceWindow, SQLModel, table=True):
    __tablename__ = "course"
    OPEN_STATUS: ClassVar[str] = "published"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    title: str = Field(max_length=60)
    instructor: str = Field(default="", max_length=40)  # a name; a console user if one matches
    description: str = Field(default="", sa_type=Text)
    start_at: datetime = Field(sa_type=UTCDateTime, index=True)
    end_at: datetime = Field(sa_type=UTCDateTime)
    place: str = Field(default="", max_length=120)
    lat: float | None = None  # GCJ-02
    lng: float | None = None
    radius_m: int = 200
    online_url: str | None = Field(default=None, max_length=512)
    capacity: int = 50
    hours: float = 1.0  # study hours credited on attendance
    audience: str = Field(default="all", max_length=40)  # all, industry:NAME, group:CODE
    status: str = Field(default="published", max_length=16)  # draft, published, cancelled
    # When the current start time (or publication) was set: reminders whose moment lies
    # before it are not planned, so a course published 2 h ahead gets no "24 h" reminder.
    timed_at: datetime = Field(sa_type=UTCDateTime)
    # +1 whenever the reminders must be re-planned (publish, move, cancel); the scheduler
    # records the revision it has planned, so it re-plans exactly what changed.
    revision: int = 0
    planned_revision: int = -1
    created_by: str = Field(default="", max_length=80)
    created_at: datetime = Field(sa_type=UTCDateTime)


    @property
    def online(self) -> bool:
        return bool(self.online_url)


class Enrolment(SQLModel, table=True):
    __tablename__ = "course_enrolment"
    __table_args__ = (UniqueConstraint("course_id", "member_id", name="uq_enrol_once"),)

    id: int | None = Field(default=None, primary_key=True)
    course_id: int = Field(foreign_key="course.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    status: str = Field(max_length=16)  # enrolled, waitlist, cancelled
    queued_at: datetime = Field(sa_type=UTCDateTime)  # the waitlist's order
    enrolled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    method: str = Field(default="", max_length=16)  # qr, code, location
    hours: float = 0.0  # study hours credited


@dataclass(frozen=True)
class CourseData:
    """What an instructor gives for a course (API, import file)."""

    code: str
    title: str
    start: datetime
    end: datetime
    instructor: str = ""
    description: str | None = None  # None: keep what the course has (the file has no column)
    place: str = ""
    point: geo.Point | None = None
    radius_m: int = 200
    online_url: str | None = None
    capacity: int = 50
    hours: float = 1.0
    audience: str = "all"
    status: str = "published"


class Enrolled(Enum):
    ENROLLED = "enrolled"
    WAITLIST = "waitlist"
    ALREADY = "already"
    ALREADY_WAITING = "already_waiting"


class Attended(Enum):
    PRESENT = "present"
    ALREADY = "already"


@dataclass(frozen=True)
class Roll:
    present: list[str]
    absent: list[str]
    waitlist: list[str]


@dataclass(frozen=True)
class Seat:
    """A course as one member sees it in 课程."""

    course: Course
    seats_left: int
    mine: str | None  # enrolled, waitlist or None


# --- rules ---------------------------------------------------------------------------------


def normalize_code(code: str) -> str:
    return code.strip().upper()


def check_audience(audience: str) -> str:
    audience = audience.strip() or "all"
    kind, _, arg = audience.partition(":")
    if audience == "all":
        return audience
    if kind == "industry" and arg in INDUSTRIES:
        return audience
    if kind == "group" and re.fullmatch(r"[A-Za-z0-9]{1,16}", arg):
        return f"group:{arg.upper()}"
    raise CourseError("audience")


def validate(data: CourseData) -> None:
    """Every rule a course's fields must meet, whoever gives them."""
    if not CODE_RE.fullmatch(data.code):
        raise CourseError("code")
    if not 2 <= len(data.title.strip()) <= 60:
        raise CourseError("title")
    if len(data.instructor) > 40:
        raise CourseError("instructor")
    if data.end <= data.start:
        raise CourseError("end_before_start")
    if data.end - data.start > MAX_LENGTH:
        raise CourseError("too_long")
    if data.online_url:
        if not (data.online_url.startswith(("https://", "http://"))
                and len(data.online_url) <= 512):
            raise CourseError("online_url")
    elif data.point is None or not data.place.strip():
        raise CourseError("where")
    if len(data.place) > 120:
        raise CourseError("place")
    if not 10 <= data.radius_m <= 5000:
        raise CourseError("radius")
    if not 1 <= data.capacity <= 100_000:
        raise CourseError("capacity")
    if not 0 < data.hours <= 24:
        raise CourseError("hours")
    if data.status not in ("draft", "published"):
        raise CourseError("status")
    check_audience(data.audience)


def _when(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).strftime("%m-%d %H:%M")


def describe(c: Course) -> str:
    """One line for a phone: the link itself goes with the enrolment and the reminder."""
    where = "线上课" if c.online else c.place
    return f"「{c.title}」{_when(c.start_at)}-{c.end_at.astimezone(SHANGHAI):%H:%M} {where}"


def hours_text(h: float) -> str:
    return f"{h:g}"


# --- instructors: create, edit, publish, move, cancel ---------------------------------------


async def by_code(session: AsyncSession, code: str, *, lock: bool = False) -> Course | None:
    stmt = select(Course).where(Course.code == normalize_code(code))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.exec(stmt)).first()


def _apply(c: Course, data: CourseData) -> None:
    c.title, c.instructor = data.title.strip(), data.instructor.strip()
    if data.description is not None:
        c.description = data.description.strip()[:2000]
    c.place = data.place.strip()
    c.lat = data.point.lat if data.point else None
    c.lng = data.point.lng if data.point else None
    c.radius_m, c.online_url = data.radius_m, data.online_url or None
    c.capacity, c.hours = data.capacity, data.hours
    c.audience = check_audience(data.audience)


async def create(session: AsyncSession, data: CourseData, now: datetime, by: str = ""
                 ) -> Course:
    validate(data)
    if data.start <= now:
        raise CourseError("past")
    if await by_code(session, data.code) is not None:
        raise CourseError("code_taken")
    c = Course(code=data.code, title="", start_at=data.start, end_at=data.end,
               status=data.status, timed_at=now, created_by=by[:80], created_at=now,
               revision=1 if data.status == "published" else 0)
    _apply(c, data)
    session.add(c)
    await session.flush()
    return c


async def update_course(session: AsyncSession, c: Course, data: CourseData, now: datetime,
                        texts: CourseTexts) -> list[str]:
    """Change a course to `data` (same code): the fields, then publication and the time,
    each with its consequences (a new place or link and a new time are told to the
    enrollees and the waitlist). Returns what changed ('fields', 'place', 'moved',
    'published')."""
    validate(data)
    if c.status == "cancelled":
        raise CourseError("cancelled")
    if data.status == "draft" and c.status == "published":
        raise CourseError("unpublish")
    changed: list[str] = []
    where = (c.place, c.lat, c.lng, c.online_url)
    before = (c.title, c.instructor, c.description, c.place, c.lat, c.lng, c.radius_m,
              c.online_url, c.capacity, c.hours, c.audience)
    _apply(c, data)
    if before != (c.title, c.instructor, c.description, c.place, c.lat, c.lng, c.radius_m,
                  c.online_url, c.capacity, c.hours, c.audience):
        changed.append("fields")
    if where != (c.place, c.lat, c.lng, c.online_url) and c.status == "published":
        c.revision += 1
        await _tell(session, c, f"course:{c.id}:where:r{c.revision}",
                    texts.where.format(code=c.code, what=describe(c),
                                       where=c.online_url or c.place), "地点变更", now)
        changed.append("place")
    if (data.start, data.end) != (c.start_at, c.end_at):
        await move(session, c, data.start, data.end, now, texts.moved)
        changed.append("moved")
    if data.status == "published" and c.status == "draft":
        await publish(session, c, now)
        changed.append("published")
    session.add(c)
    await session.flush()
    if c.status == "published":
        await promote(session, c, now, texts.promoted)
    return changed


async def publish(session: AsyncSession, c: Course, now: datetime) -> None:
    if c.status == "cancelled":
        raise CourseError("cancelled")
    if c.status == "published":
        return
    if c.start_at <= now:
        raise CourseError("past")
    c.status, c.timed_at = "published", now
    c.revision += 1
    session.add(c)


async def _recipients(session: AsyncSession, c: Course, statuses: Sequence[str]
                      ) -> list[tuple[str, int]]:
    rows = (await session.exec(
        select(Member.openid, Enrolment.id)
        .join(Enrolment, col(Enrolment.member_id) == Member.id)
        .where(Enrolment.course_id == c.id, col(Enrolment.status).in_(statuses),
               col(Member.erased_at).is_(None))
        .order_by(col(Enrolment.id)))).all()
    return [(openid, eid) for openid, eid in rows]


def _template(c: Course, what: str) -> dict[str, str]:
    return {"thing1": c.title[:20], "time2": c.start_at.astimezone(SHANGHAI).strftime(
        "%Y-%m-%d %H:%M"), "thing3": ("线上" if c.online else c.place)[:20] or "—",
        "thing4": what[:20]}


async def _tell(session: AsyncSession, c: Course, subject: str, text: str, what: str,
                now: datetime, statuses: Sequence[str] = ("enrolled", "waitlist")) -> int:
    items = [outbox.Outgoing(o, text, _template(c, what), c.online_url)
             for o, _ in await _recipients(session, c, statuses)]
    if items:
        await outbox.enqueue(session, PUSH_KIND, subject, items, now)
    return len(items)


async def move(session: AsyncSession, c: Course, start: datetime, end: datetime,
               now: datetime, text: str) -> int:
    """A new time: enrollees and the waitlist are told; the reminders follow the start."""
    if c.status == "cancelled":
        raise CourseError("cancelled")
    if start <= now:
        raise CourseError("past")
    if end <= start:
        raise CourseError("end_before_start")
    if end - start > MAX_LENGTH:
        raise CourseError("too_long")
    if (start, end) == (c.start_at, c.end_at):
        return 0  # the same time again (a retried request): nothing to tell
    old = c.start_at
    c.start_at, c.end_at, c.timed_at = start, end, now
    c.revision += 1
    session.add(c)
    if c.status != "published":
        return 0
    return await _tell(session, c, f"course:{c.id}:moved:r{c.revision}",
                       text.format(what=describe(c), old=_when(old), code=c.code), "改期", now)


async def cancel(session: AsyncSession, c: Course, now: datetime, text: str) -> int:
    if c.status == "cancelled":
        raise CourseError("cancelled")
    if c.end_at <= now:
        raise CourseError("ended")
    was_published = c.status == "published"
    c.status = "cancelled"
    c.revision += 1
    session.add(c)
    if not was_published:
        return 0
    return await _tell(session, c, f"course:{c.id}:cancelled",
                       text.format(what=describe(c), code=c.code), "取消", now)


# --- members: list, enrol, cancel, waitlist --------------------------------------------------


async def may_join(session: AsyncSession, c: Course, member: Member) -> bool:
    kind, _, arg = c.audience.partition(":")
    if kind == "industry":
        return member.industry == arg
    if kind == "group":
        here = await groups.current(session, member)
        return here is not None and here.code == arg
    return True


async def enrolled_count(session: AsyncSession, c: Course) -> int:
    return (await session.exec(select(func.count()).select_from(Enrolment).where(
        Enrolment.course_id == c.id, Enrolment.status == "enrolled"))).one()


async def _lock(session: AsyncSession, c: Course) -> None:
    """Hold the course row (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises) while
    seats are counted and taken."""
    await session.exec(select(Course.id).where(Course.id == c.id).with_for_update())


async def listing(session: AsyncSession, member: Member, now: datetime) -> list[Seat]:
    """Published courses starting in the next 14 days that this member may join."""
    found = (await session.exec(select(Course).where(
        Course.status == "published", col(Course.start_at) > now,
        col(Course.start_at) <= now + LIST_AHEAD).order_by(col(Course.start_at)))).all()
    if not found:
        return []
    ids = [c.id for c in found]
    taken = dict((await session.exec(
        select(Enrolment.course_id, func.count()).where(
            col(Enrolment.course_id).in_(ids), Enrolment.status == "enrolled")
        .group_by(col(Enrolment.course_id)))).all())
    mine = dict((await session.exec(select(Enrolment.course_id, Enrolment.status).where(
        col(Enrolment.course_id).in_(ids), Enrolment.member_id == member.id,
        Enrolment.status != "cancelled"))).all())
    return [Seat(c, max(0, c.capacity - taken.get(c.id, 0)), mine.get(c.id))
            for c in found if await may_join(session, c, member)]


async def _mine(session: AsyncSession, c: Course, member: Member) -> Enrolment | None:
    return (await session.exec(select(Enrolment).where(
        Enrolment.course_id == c.id, Enrolment.member_id == member.id))).first()


async def enrol(session: AsyncSession, c: Course, member: Member, now: datetime) -> Enrolled:
    """A seat if one is left, else a place on the waitlist. The caller holds the course row
    locked (by_code(lock=True)), so two members never take the last seat both."""
    if c.status == "cancelled":
        raise CourseError("cancelled")
    if c.status != "published":
        raise CourseError("unknown")
    if c.start_at <= now:
        raise CourseError("started")
    if not await may_join(session, c, member):
        raise CourseError("audience_mismatch")
    row = await _mine(session, c, member)
    if row is not None and row.status == "enrolled":
        return Enrolled.ALREADY
    if row is not None and row.status == "waitlist":
        return Enrolled.ALREADY_WAITING
    seat = await enrolled_count(session, c) < c.capacity
    status = "enrolled" if seat else "waitlist"
    if row is None:
        row = Enrolment(course_id=c.id or 0, member_id=member.id or 0, status=status,
                        queued_at=now)
    row.status, row.queued_at = status, now
    row.enrolled_at = now if seat else None
    session.add(row)
    await session.flush()
    return Enrolled.ENROLLED if seat else Enrolled.WAITLIST


async def waitlist_position(session: AsyncSession, c: Course, member: Member) -> int:
    row = await _mine(session, c, member)
    if row is None or row.status != "waitlist":
        return 0
    ahead = (await session.exec(select(func.count()).select_from(Enrolment).where(
        Enrolment.course_id == c.id, Enrolment.status == "waitlist",
        (col(Enrolment.queued_at) < row.queued_at)
        | ((col(Enrolment.queued_at) == row.queued_at) & (col(Enrolment.id) < row.id))))).one()
    return ahead + 1


async def promote(session: AsyncSession, c: Course, now: datetime, text: str) -> list[str]:
    """Fill free seats from the head of the waitlist, telling each one promoted."""
    if c.status != "published" or c.start_at <= now:
        return []
    free = c.capacity - await enrolled_count(session, c)
    if free <= 0:
        return []
    heads = (await session.exec(select(Enrolment).join(
        Member, col(Member.id) == Enrolment.member_id).where(
        Enrolment.course_id == c.id, Enrolment.status == "waitlist",
        col(Member.erased_at).is_(None))
        .order_by(col(Enrolment.queued_at), col(Enrolment.id)).limit(free))).all()
    told: list[str] = []
    for row in heads:
        row.status, row.enrolled_at = "enrolled", now
        session.add(row)
        member = await session.get(Member, row.member_id)
        assert member is not None
        subject = f"course:{c.id}:promoted:{row.id}:{int(row.queued_at.timestamp())}"
        await outbox.enqueue(session, PUSH_KIND, subject, [outbox.Outgoing(
            member.openid, text.format(what=describe(c), code=c.code),
            _template(c, "候补转正"), c.online_url)], now)
        told.append(member.openid)
    await session.flush()
    return told


async def withdraw(session: AsyncSession, c: Course, member: Member, now: datetime,
                   text: str) -> str:
    """取消报名: frees the seat (the head of the waitlist moves up and is told), or leaves
    the waitlist. Returns the status the member had."""
    row = await _mine(session, c, member)
    if row is None or row.status == "cancelled":
        raise CourseError("not_enrolled")
    if row.attended_at is not None:
        raise CourseError("already_present")
    if c.status == "published" and c.start_at <= now:
        raise CourseError("started")
    was = row.status
    row.status, row.enrolled_at = "cancelled", None
    session.add(row)
    await session.flush()
    if was == "enrolled":
        await promote(session, c, now, text)
    return was


async def release(session: AsyncSession, member: Member, now: datetime, text: str) -> None:
    """注销: the member's seats and waitlist places in courses not yet started are given
    up (the waitlist moves up), before the member's data goes."""
    rows = (await session.exec(select(Enrolment, Course).join(
        Course, col(Course.id) == Enrolment.course_id).where(
        Enrolment.member_id == member.id, col(Enrolment.status).in_(("enrolled", "waitlist")),
        col(Course.start_at) > now))).all()
    for row, c in rows:
        await _lock(session, c)
        row.status, row.enrolled_at = "cancelled", None
        session.add(row)
        await session.flush()
        await promote(session, c, now, text)


# --- attendance and study hours ---------------------------------------------------------------


async def attend(session: AsyncSession, c: Course, member: Member, method: str,
                 now: datetime) -> Attended:
    """Present once, inside the window: the study hours and points are credited by the
    update that sets attended_at, so a retry or a double tap credits nothing more. A member
    without a seat who turns up takes a free one if any."""
    if c.status == "cancelled":
        raise CourseError("cancelled")
    if c.status != "published":
        raise CourseError("unknown")
    opens, closes = c.window()
    if now < opens:
        raise CourseError("not_yet")
    if now > closes:
        raise CourseError("ended")
    row = await _mine(session, c, member)
    if row is None or row.status != "enrolled":
        await _lock(session, c)
        if not await may_join(session, c, member):
            raise CourseError("audience_mismatch")
        if await enrolled_count(session, c) >= c.capacity:
            raise CourseError("full_walk_in")
        if row is None:
            row = Enrolment(course_id=c.id or 0, member_id=member.id or 0,
                            status="enrolled", queued_at=now, enrolled_at=now)
        row.status, row.enrolled_at = "enrolled", now
        session.add(row)
        await session.flush()
    if row.attended_at is not None:
        return Attended.ALREADY
    result = await session.exec(update(Enrolment).where(
        col(Enrolment.id) == row.id, col(Enrolment.attended_at).is_(None)
    ).values(attended_at=now, method=method, hours=c.hours))  # type: ignore[call-overload]
    if result.rowcount != 1:
        return Attended.ALREADY
    await session.refresh(row)
    await session.exec(update(Member).where(col(Member.id) == member.id).values(
        points=Member.points + POINTS_ATTENDED))  # type: ignore[call-overload]
    await session.refresh(member, ["points"])
    return Attended.PRESENT


async def study_hours(session: AsyncSession, member: Member) -> float:
    total = (await session.exec(select(func.coalesce(func.sum(Enrolment.hours), 0.0)).where(
        Enrolment.member_id == member.id, col(Enrolment.attended_at).is_not(None)))).one()
    return float(total)


@dataclass(frozen=True)
class MyCourse:
    course: Course
    status: str  # enrolled, waitlist
    attended: bool
    position: int  # on the waitlist, else 0


async def of_member(session: AsyncSession, member: Member, now: datetime) -> list[MyCourse]:
    """My enrolments and waitlist places in courses not yet ended, soonest first."""
    rows = (await session.exec(
        select(Course, Enrolment).join(Enrolment, col(Enrolment.course_id) == Course.id)
        .where(Enrolment.member_id == member.id,
               col(Enrolment.status).in_(("enrolled", "waitlist")),
               Course.status == "published", col(Course.end_at) >= now)
        .order_by(col(Course.start_at)))).all()
    out = []
    for c, e in rows:
        pos = await waitlist_position(session, c, member) if e.status == "waitlist" else 0
        out.append(MyCourse(c, e.status, e.attended_at is not None, pos))
    return out


def reminder_times(c: Course, offsets: Sequence[timedelta]) -> list[tuple[timedelta, datetime]]:
    """The reminders a course gets: each offset whose moment is after the time was set and
    before the start, soonest first."""
    if c.status != "published":
        return []
    out = [(o, c.start_at - o) for o in offsets if o > timedelta(0)
           and c.start_at - o >= c.timed_at]
    return sorted(out, key=lambda x: x[1])


def next_reminder(mine: Sequence[MyCourse], offsets: Sequence[timedelta], now: datetime
                  ) -> datetime | None:
    times = [at for m in mine if m.status == "enrolled"
             for _, at in reminder_times(m.course, offsets) if at > now]
    return min(times, default=None)


async def open_for(session: AsyncSession, member: Member, now: datetime) -> list[Course]:
    """Courses of mine (enrolled) whose attendance window is open now."""
    rows = (await session.exec(
        select(Course).join(Enrolment, col(Enrolment.course_id) == Course.id)
        .where(Enrolment.member_id == member.id, Enrolment.status == "enrolled",
               Course.status == "published", col(Course.start_at) <= now + OPENS_BEFORE,
               col(Course.end_at) >= now))).all()
    return list(rows)


async def roll(session: AsyncSession, c: Course) -> Roll:
    rows = (await session.exec(
        select(Member.name, Enrolment.status, Enrolment.attended_at)
        .join(Enrolment, col(Enrolment.member_id) == Member.id)
        .where(Enrolment.course_id == c.id, col(Enrolment.status).in_(("enrolled",
                                                                       "waitlist")))
        .order_by(col(Enrolment.queued_at), col(Enrolment.id)))).all()
    present = [n or "（已注销）" for n, s, at in rows if s == "enrolled" and at is not None]
    absent = [n or "（已注销）" for n, s, at in rows if s == "enrolled" and at is None]
    waiting = [n or "（已注销）" for n, s, _ in rows if s == "waitlist"]
    return Roll(present, absent, waiting)


# --- reminders ---------------------------------------------------------------------------


def reminder_subject(c: Course, offset: timedelta) -> str:
    """One reminder per course, offset and start time: a moved course is reminded anew for
    its new time; an edit that leaves the time alone never repeats one."""
    return f"course:{c.id}:remind{int(offset.total_seconds())}:{int(c.start_at.timestamp())}"


async def send_reminder(session: AsyncSession, course_id: int, offset_s: int, start_ts: int,
                        now: datetime, text: str, offsets: Sequence[timedelta]) -> int | None:
    """The reminder job's work: every enrollee gets it once, if the course still starts at
    the planned time and has not started, and no nearer reminder's moment has come too (after
    downtime, only the latest one goes). None when it was dropped."""
    c = await session.get(Course, course_id)
    if c is None or c.status != "published" or int(c.start_at.timestamp()) != start_ts:
        return None
    if now >= c.start_at:
        return None
    offset = timedelta(seconds=offset_s)
    if any(o < offset and at <= now for o, at in reminder_times(c, offsets)):
        return None
    link = f"\n{c.online_url}" if c.online_url else ""
    return await _tell(session, c, reminder_subject(c, offset),
                       text.format(what=describe(c), code=c.code, link=link,
                                   opens=_when(c.window()[0])), "课前提醒", now,
                       statuses=("enrolled",))


async def overdue_reminders(session: AsyncSession, offsets: Sequence[timedelta], now: datetime,
                            slack: timedelta) -> list[tuple[int, int, int]]:
    """The safety net under the reminder jobs: (course id, offset s, start ts) of every
    reminder whose moment passed more than `slack` ago, before a start still ahead, that
    was never queued — a job lost with a crashed leader, or an offset added to the config.
    Only the latest passed moment of each course counts."""
    if not offsets:
        return []
    found = (await session.exec(select(Course).where(
        Course.status == "published", col(Course.start_at) > now,
        col(Course.start_at) <= now + max(offsets)))).all()
    wanted: dict[str, tuple[int, int, int]] = {}
    for c in found:
        passed = [o for o, at in reminder_times(c, offsets) if at <= now - slack]
        if passed:
            o = min(passed)
            wanted[reminder_subject(c, o)] = (c.id or 0, int(o.total_seconds()),
                                              int(c.start_at.timestamp()))
    if not wanted:
        return []
    done = set((await session.exec(select(outbox.Push.subject).where(
        col(outbox.Push.subject).in_(list(wanted))).distinct())).all())
    return [v for k, v in wanted.items() if k not in done]


@dataclass(frozen=True)
class Plan:
    """What the scheduler must hold for one course: its reminder moments (none when
    cancelled or in draft)."""

    course_id: int
    revision: int
    start_ts: int
    times: list[tuple[int, datetime]]  # (offset seconds, when)


async def unplanned(session: AsyncSession, offsets: Sequence[timedelta], now: datetime,
                    limit: int = 500) -> list[Plan]:
    """The courses whose reminders the scheduler has not planned since they changed; a
    course that has started needs none."""
    found = (await session.exec(select(Course).where(
        col(Course.revision) != col(Course.planned_revision)).order_by(col(Course.id))
        .limit(limit))).all()
    return [Plan(c.id or 0, c.revision, int(c.start_at.timestamp()),
                 [(int(o.total_seconds()), at) for o, at in reminder_times(c, offsets)]
                 if c.start_at > now else [])
            for c in found]


async def mark_planned(session: AsyncSession, plans: Sequence[Plan]) -> None:
    """Record what was planned; a course changed meanwhile keeps its newer revision and is
    planned again next time."""
    for p in plans:
        await session.exec(update(Course).where(
            col(Course.id) == p.course_id, col(Course.revision) == p.revision
        ).values(planned_revision=p.revision))  # type: ignore[call-overload]


@dataclass(frozen=True)
class CourseTexts:
    moved: str
    promoted: str
    where: str
