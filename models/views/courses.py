"""Reads for 小哥党校 courses: the API's list and each course's enrolment counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import course_access
from models.course import Course, Enrolment
from models.staff import ConsoleUser


async def enrolment_counts(db: AsyncSession, c: Course) -> dict[str, int]:
    """Enrolment status → how many (enrolled, waitlist, cancelled)."""
    return dict((await db.exec(select(Enrolment.status, func.count()).where(
        Enrolment.course_id == c.id).group_by(col(Enrolment.status)))).all())


async def course_list(db: AsyncSession, status: str | None, limit: int = 1000) -> list[Course]:
    """Courses by start, of one status if given."""
    stmt = select(Course).order_by(col(Course.start_at))
    if status:
        stmt = stmt.where(Course.status == status)
    return list((await db.exec(stmt.limit(limit))).all())


def _scoped(user: ConsoleUser) -> list[Any]:
    """The courses the user may see (course_access.may_see) as WHERE clauses."""
    if user.role == "admin":
        return []
    if user.role != "instructor":
        return [col(Course.id).is_(None)]  # nothing
    return [course_access.owned(user)]


async def courses_page(db: AsyncSession, user: ConsoleUser, now: datetime, *, status: str,
                       when: str, text: str, offset: int = 0, limit: int | None = None
                       ) -> tuple[list[Course], int]:
    """The console's course list: the courses this user may see, by status, when (upcoming:
    not yet ended, soonest first; past: ended, latest first; else latest first) and words
    in the code or title; `limit` of them from `offset` (None: all), and how many match."""
    where = _scoped(user)
    order: list[Any]
    if status:
        where.append(col(Course.status) == status)
    if when == "upcoming":
        where.append(col(Course.end_at) > now)
        order = [col(Course.start_at)]
    elif when == "past":
        where.append(col(Course.end_at) <= now)
        order = [col(Course.start_at).desc()]
    else:
        order = [col(Course.start_at).desc()]
    if text:
        where.append(or_(col(Course.code).contains(text.upper(), autoescape=True),
                         col(Course.title).contains(text, autoescape=True)))
    total = (await db.exec(select(func.count()).select_from(Course).where(*where))).one()
    rows = (await db.exec(select(Course).where(*where).order_by(*order, col(Course.id))
                          .offset(offset).limit(limit))).all()
    return list(rows), total
