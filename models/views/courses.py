"""Reads for 小哥党校 courses: the API's list and each course's enrolment counts."""

from __future__ import annotations

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.course import Course, Enrolment


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
