"""Reads about notices: the API's description of one with its delivery counts, the
console's list and the audiences it offers."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import course_access, push_counts
from models.course import Course
from models.group import PartyGroup
from models.notice import Notice
from models.staff import ConsoleUser


async def delivery(session: AsyncSession, notice_id: int) -> dict[str, Any] | None:
    """A notice as /api/v1/notices/ID shows it, with its outbox counts; None if unknown."""
    notice = await session.get(Notice, notice_id)
    if notice is None:
        return None
    return {
        "id": notice.id,
        "title": notice.title,
        "audience": notice.audience,
        "status": notice.status,
        "send_at": notice.send_at.isoformat(),
        "recipients": notice.recipients,
        "counts": await push_counts.counts(session, notice.subject),
    }


async def audience_courses(db: AsyncSession, user: ConsoleUser, limit: int = 100
                           ) -> list[Course]:
    """Courses a notice may go to (not cancelled, latest first): an instructor's own."""
    stmt = select(Course).where(col(Course.status) != "cancelled") \
        .order_by(col(Course.start_at).desc()).limit(limit)
    if user.role == "instructor":
        stmt = stmt.where(course_access.owned(user))
    return list((await db.exec(stmt)).all())


async def all_groups(db: AsyncSession) -> list[PartyGroup]:
    return list((await db.exec(select(PartyGroup).order_by(col(PartyGroup.name)))).all())


async def notices_page(db: AsyncSession, authors: list[str] | None, page: int | None,
                       page_size: int) -> tuple[list[Notice], int]:
    """Notices (latest first) by these authors (None: all), a page of them or (page None)
    all; and how many in all."""
    stmt = select(Notice).order_by(col(Notice.id).desc())
    total_stmt = select(func.count()).select_from(Notice)
    if authors is not None:
        where = col(Notice.created_by).in_(authors)
        stmt, total_stmt = stmt.where(where), total_stmt.where(where)
    if page is not None:
        stmt = stmt.offset((page - 1) * page_size).limit(page_size)
    return list((await db.exec(stmt)).all()), (await db.exec(total_stmt)).one()
