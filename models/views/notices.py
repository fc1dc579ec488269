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


def _where(authors: list[str] | None, f: dict[str, str]) -> list[Any]:
    where: list[Any] = []
    if authors is not None:
        where.append(col(Notice.created_by).in_(authors))
    if f.get("q"):
        where.append(col(Notice.title).contains(f["q"], autoescape=True))
    if f.get("status"):
        where.append(col(Notice.status) == f["status"])
    if f.get("author"):
        where.append(col(Notice.created_by) == f["author"])
    return where


async def notices_page(db: AsyncSession, authors: list[str] | None, page: int | None,
                       page_size: int, f: dict[str, str] | None = None
                       ) -> tuple[list[Notice], int]:
    """Notices (latest first) by these authors (None: all), filtered by f's q (words in the
    title), status and author (a created_by), a page of them or (page None) all; and how
    many in all."""
    where = _where(authors, f or {})
    stmt = select(Notice).where(*where).order_by(col(Notice.id).desc())
    total = (await db.exec(select(func.count()).select_from(Notice).where(*where))).one()
    if page is not None:
        stmt = stmt.offset((page - 1) * page_size).limit(page_size)
    return list((await db.exec(stmt)).all()), total


async def notice_authors(db: AsyncSession, authors: list[str] | None) -> list[str]:
    """The created_by values of the notices these authors (None: all) may see: the list's
    author filter."""
    stmt = select(Notice.created_by).distinct().where(col(Notice.created_by).is_not(None))
    if authors is not None:
        stmt = stmt.where(col(Notice.created_by).in_(authors))
    return sorted(a for a in (await db.exec(stmt)).all() if a)
