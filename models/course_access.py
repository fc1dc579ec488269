"""Who may see which course in the console, and the course lists and rolls it shows.

An admin sees every course; an instructor the courses they teach (the course's instructor
is their user name) or created in the console. Everything else is not there for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from models.course import Course, Enrolment
from models.member import Member
from models.staff import ConsoleUser

COURSE_ROLES = frozenset({"admin", "instructor"})
WHEN = ("upcoming", "past")


def created_by(user: ConsoleUser) -> str:
    """What a course created by this user in the console records as its creator."""
    return f"console:{user.username}"


def may_see(user: ConsoleUser, c: Course) -> bool:
    if user.role == "admin":
        return True
    if user.role != "instructor":
        return False
    return c.instructor == user.username or c.created_by == created_by(user)


def owned(user: ConsoleUser) -> Any:
    """The courses an instructor owns, as a WHERE clause (the rule of may_see)."""
    return or_(col(Course.instructor) == user.username, col(Course.created_by) == created_by(user))


def _visible(stmt: SelectOfScalar[Course], user: ConsoleUser) -> SelectOfScalar[Course]:
    if user.role == "admin":
        return stmt
    if user.role != "instructor":
        return stmt.where(col(Course.id).is_(None))  # nothing
    return stmt.where(owned(user))


async def visible_by_code(session: AsyncSession, user: ConsoleUser, code: str, *,
                          lock: bool = False) -> Course | None:
    """The course with this code, if this user may see it (else None, as if there were
    none)."""
    stmt = select(Course).where(Course.code == code.strip().upper())
    if lock:
        stmt = stmt.with_for_update()
    c = (await session.exec(stmt)).first()
    return c if c is not None and may_see(user, c) else None


async def search(session: AsyncSession, user: ConsoleUser, now: datetime, *,
                 status: str = "", when: str = "", text: str = "", limit: int = 500
                 ) -> list[Course]:
    """The courses this user may see, filtered: status (draft, published, cancelled), when
    (upcoming: not yet ended, soonest first; past: ended, latest first) and words found in
    the code or the title."""
    stmt = _visible(select(Course), user)
    if status:
        stmt = stmt.where(Course.status == status)
    if when == "upcoming":
        stmt = stmt.where(col(Course.end_at) > now).order_by(col(Course.start_at))
    elif when == "past":
        stmt = stmt.where(col(Course.end_at) <= now).order_by(col(Course.start_at).desc())
    else:
        stmt = stmt.order_by(col(Course.start_at).desc())
    text = text.strip()[:60]
    if text:
        stmt = stmt.where(or_(col(Course.code).contains(text.upper(), autoescape=True),
                              col(Course.title).contains(text, autoescape=True)))
    return list((await session.exec(stmt.order_by(col(Course.id)).limit(limit))).all())


@dataclass(frozen=True)
class Counts:
    enrolled: int = 0
    waitlist: int = 0
    present: int = 0


async def counts(session: AsyncSession, ids: Sequence[int]) -> dict[int, Counts]:
    """Seats taken, waitlist length and attendance of each course."""
    if not ids:
        return {}
    rows = (await session.exec(
        select(Enrolment.course_id, Enrolment.status,
               func.count(), func.count(col(Enrolment.attended_at)))
        .where(col(Enrolment.course_id).in_(list(ids)),
               col(Enrolment.status).in_(("enrolled", "waitlist")))
        .group_by(col(Enrolment.course_id), col(Enrolment.status)))).all()
    found: dict[int, dict[str, int]] = {}
    for course_id, status, n, present in rows:
        here = found.setdefault(course_id, {})
        here[status] = n
        if status == "enrolled":
            here["present"] = present
    return {i: Counts(v.get("enrolled", 0), v.get("waitlist", 0), v.get("present", 0))
            for i, v in found.items()}


@dataclass(frozen=True)
class Enrollee:
    name: str
    mobile: str | None
    status: str  # enrolled, waitlist
    queued_at: datetime
    enrolled_at: datetime | None
    attended_at: datetime | None
    method: str


async def enrollees(session: AsyncSession, c: Course) -> list[Enrollee]:
    """The course's enrollees and waitlist, in the order they joined (the waitlist's
    order). A member who deleted their data shows as such, without a phone."""
    rows = (await session.exec(
        select(Member.name, Member.mobile, Member.erased_at, Enrolment)
        .join(Enrolment, col(Enrolment.member_id) == Member.id)
        .where(Enrolment.course_id == c.id,
               col(Enrolment.status).in_(("enrolled", "waitlist")))
        .order_by(col(Enrolment.queued_at), col(Enrolment.id)))).all()
    return [Enrollee(name=(name if erased is None and name else "（已注销）"),
                     mobile=None if erased is not None else mobile, status=e.status,
                     queued_at=e.queued_at, enrolled_at=e.enrolled_at,
                     attended_at=e.attended_at, method=e.method or "")
            for name, mobile, erased, e in rows]
