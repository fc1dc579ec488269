"""小哥党校: the course and enrolment tables and the rules a course's fields meet.

A course is published, moved or cancelled by an instructor (models/course_lifecycle.py);
members enrol or wait for a seat (models/course_enrolment.py), are reminded at the
configured offsets (models/course_reminders.py), and attend once inside the window, which
credits the course's study hours and points (models/course_attendance.py). Every rule that
must hold under retries and double taps is held by the database: one enrolment row per
member and course, seats counted under a lock on the course row, attendance credited by a
conditional update.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geo
from models.attendance import AttendanceWindow
from models.base import SHANGHAI, UTCDateTime
from models.errors import DomainError
from models.member import INDUSTRIES
from models.text import long_text

STATUSES = ("draft", "published", "cancelled")
CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9-]{1,15}")
MAX_LENGTH = timedelta(hours=12)
DESCRIPTION_MAX = 2000  # characters
PUSH_KIND = "course_reminder"


class CourseError(DomainError):
    """A course rule broken; the code is a stable key (texts and the API map it)."""


class Course(AttendanceWindow, SQLModel, table=True):
    __tablename__ = "course"
    OPEN_STATUS: ClassVar[str] = "published"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    title: str = Field(max_length=60)
    instructor: str = Field(default="", max_length=40)  # a name; a console user if one matches
    description: str = Field(default="", sa_type=Text,
                             sa_column_kwargs=long_text(DESCRIPTION_MAX))
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
    # +1 on every publish, move, cancel and change of place: the pushes telling of each
    # change are new pushes (their outbox subjects hold it).
    revision: int = 0
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


@dataclass(frozen=True)
class CourseTexts:
    moved: str
    promoted: str
    where: str


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
    if data.description is not None and len(data.description) > DESCRIPTION_MAX:
        raise CourseError("description")
    if data.end <= data.start:
        raise CourseError("end_before_start")
    if data.end - data.start > MAX_LENGTH:
        raise CourseError("too_long")
    _check_where(data)
    if not 10 <= data.radius_m <= 5000:
        raise CourseError("radius")
    if not 1 <= data.capacity <= 100_000:
        raise CourseError("capacity")
    if not 0 < data.hours <= 24:
        raise CourseError("hours")
    if data.status not in ("draft", "published"):
        raise CourseError("status")
    check_audience(data.audience)


def _check_where(data: CourseData) -> None:
    """Online (a link) or offline (a place and a point)."""
    if data.online_url:
        if not (data.online_url.startswith(("https://", "http://"))
                and len(data.online_url) <= 512):
            raise CourseError("online_url")
    elif data.point is None or not data.place.strip():
        raise CourseError("where")
    if len(data.place) > 120:
        raise CourseError("place")


def short_time(dt: datetime) -> str:
    """A time as a phone line shows it: 12-01 19:30, Asia/Shanghai."""
    return dt.astimezone(SHANGHAI).strftime("%m-%d %H:%M")


def describe(c: Course) -> str:
    """One line for a phone: the link itself goes with the enrolment and the reminder."""
    where = "线上课" if c.online else c.place
    return f"「{c.title}」{short_time(c.start_at)}-{c.end_at.astimezone(SHANGHAI):%H:%M} {where}"


def hours_text(h: float) -> str:
    return f"{h:g}"


# --- lookups ---------------------------------------------------------------------------------


async def by_code(session: AsyncSession, code: str, *, lock: bool = False) -> Course | None:
    stmt = select(Course).where(Course.code == normalize_code(code))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.exec(stmt)).first()
