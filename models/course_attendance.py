"""Attendance at a course and what it credits: present once inside the window (the study
hours and points credited by the update that sets attended_at), study hours, the courses
whose window is open for me now, and the instructor's roll."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from models.attendance import OPENS_BEFORE, Attended
from models.course import Course, CourseError, Enrolment
from models.course_enrolment import enrolled_count, enrolment_of, lock_course, may_join
from models.member import Member

POINTS_ATTENDED = 5


@dataclass(frozen=True)
class CourseRoll:
    present: list[str]
    absent: list[str]
    waitlist: list[str]


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
    row = await enrolment_of(session, c, member)
    if row is None or row.status != "enrolled":
        await lock_course(session, c)
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
    ).values(attended_at=now, method=method, hours=c.hours))
    if result.rowcount != 1:
        return Attended.ALREADY
    await session.refresh(row)
    await session.exec(update(Member).where(col(Member.id) == member.id).values(
        points=Member.points + POINTS_ATTENDED))
    await session.refresh(member, ["points"])
    return Attended.PRESENT


async def study_hours(session: AsyncSession, member: Member) -> float:
    total = (await session.exec(select(func.coalesce(func.sum(Enrolment.hours), 0.0)).where(
        Enrolment.member_id == member.id, col(Enrolment.attended_at).is_not(None)))).one()
    return float(total)


def open_for_query(member: Member, now: datetime) -> SelectOfScalar[Course]:
    """Courses of mine (enrolled) whose attendance window is open now."""
    return (select(Course).join(Enrolment, col(Enrolment.course_id) == Course.id)
            .where(Enrolment.member_id == member.id, Enrolment.status == "enrolled",
                   Course.status == "published", col(Course.start_at) <= now + OPENS_BEFORE,
                   col(Course.end_at) >= now))


async def open_for(session: AsyncSession, member: Member, now: datetime) -> list[Course]:
    """Courses of mine (enrolled) whose attendance window is open now."""
    return list((await session.exec(open_for_query(member, now))).all())


async def roll(session: AsyncSession, c: Course) -> CourseRoll:
    rows = (await session.exec(
        select(Member.name, Enrolment.status, Enrolment.attended_at)
        .join(Enrolment, col(Enrolment.member_id) == Member.id)
        .where(Enrolment.course_id == c.id, col(Enrolment.status).in_(("enrolled",
                                                                       "waitlist")))
        .order_by(col(Enrolment.queued_at), col(Enrolment.id)))).all()
    present = [n or "（已注销）" for n, s, at in rows if s == "enrolled" and at is not None]
    absent = [n or "（已注销）" for n, s, at in rows if s == "enrolled" and at is None]
    waiting = [n or "（已注销）" for n, s, _ in rows if s == "waitlist"]
    return CourseRoll(present, absent, waiting)
