"""An instructor's courses: create, edit, publish, move and cancel (the console, the API and
import-courses). A change the enrollees must know — a new place or link, a new time, a
cancellation — is told to them and the waitlist; the reminders follow the start."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from models import due
from models.course import (
    MAX_LENGTH,
    PUSH_KIND,
    Course,
    CourseData,
    CourseError,
    CourseTexts,
    by_code,
    check_audience,
    describe,
    short_time,
    validate,
)
from models.course_enrolment import promote
from models.course_reminders import due_subject, plan_reminders, tell


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


async def create(session: AsyncSession, data: CourseData, now: datetime, by: str = "", *,
                 offsets: Sequence[timedelta]) -> Course:
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
    await plan_reminders(session, c, offsets)
    return c


async def update_course(session: AsyncSession, c: Course, data: CourseData, now: datetime,
                        texts: CourseTexts, *, offsets: Sequence[timedelta]) -> list[str]:
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
        await tell(session, c, f"course:{c.id}:where:r{c.revision}",
                   texts.where.format(code=c.code, what=describe(c),
                                      where=c.online_url or c.place), "地点变更", now)
        changed.append("place")
    if (data.start, data.end) != (c.start_at, c.end_at):
        await move(session, c, data.start, data.end, now, texts.moved, offsets=offsets)
        changed.append("moved")
    if data.status == "published" and c.status == "draft":
        await publish(session, c, now, offsets=offsets)
        changed.append("published")
    session.add(c)
    await session.flush()
    if c.status == "published":
        await promote(session, c, now, texts.promoted)
    return changed


async def publish(session: AsyncSession, c: Course, now: datetime, *,
                  offsets: Sequence[timedelta]) -> None:
    if c.status == "cancelled":
        raise CourseError("cancelled")
    if c.status == "published":
        return
    if c.start_at <= now:
        raise CourseError("past")
    c.status, c.timed_at = "published", now
    c.revision += 1
    session.add(c)
    await plan_reminders(session, c, offsets)


async def move(session: AsyncSession, c: Course, start: datetime, end: datetime,
               now: datetime, text: str, *, offsets: Sequence[timedelta]) -> int:
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
    await plan_reminders(session, c, offsets)
    if c.status != "published":
        return 0
    return await tell(session, c, f"course:{c.id}:moved:r{c.revision}",
                      text.format(what=describe(c), old=short_time(old), code=c.code), "改期",
                      now)


async def cancel(session: AsyncSession, c: Course, now: datetime, text: str) -> int:
    if c.status == "cancelled":
        raise CourseError("cancelled")
    if c.end_at <= now:
        raise CourseError("ended")
    was_published = c.status == "published"
    c.status = "cancelled"
    c.revision += 1
    session.add(c)
    await due.withdraw(session, PUSH_KIND, due_subject(c.id or 0))
    if not was_published:
        return 0
    return await tell(session, c, f"course:{c.id}:cancelled",
                      text.format(what=describe(c), code=c.code), "取消", now)
