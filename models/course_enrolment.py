"""Members and courses: 课程 (what I may join), enrolment with a waitlist, 取消报名, the
waitlist moving up, 我的课程, and giving up every seat on 注销.

Seats are counted under a lock on the course row, and the table holds one enrolment row per
member and course, so two members never take the last seat both and a double tap enrols
once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import group as groups
from models import outbox
from models.course import PUSH_KIND, Course, CourseError, Enrolment, describe
from models.course_reminders import template
from models.member import Member

LIST_AHEAD = timedelta(days=14)  # 课程 lists courses starting within this


class Enrolled(Enum):
    ENROLLED = "enrolled"
    WAITLIST = "waitlist"
    ALREADY = "already"
    ALREADY_WAITING = "already_waiting"


@dataclass(frozen=True)
class Seat:
    """A course as one member sees it in 课程."""

    course: Course
    seats_left: int
    mine: str | None  # enrolled, waitlist or None


@dataclass(frozen=True)
class MyCourse:
    course: Course
    status: str  # enrolled, waitlist
    attended: bool
    position: int  # on the waitlist, else 0


# --- seats ---------------------------------------------------------------------------------


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


async def lock_course(session: AsyncSession, c: Course) -> None:
    """Hold the course row (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises) while
    seats are counted and taken."""
    await session.exec(select(Course.id).where(Course.id == c.id).with_for_update())


async def enrolment_of(session: AsyncSession, c: Course, member: Member) -> Enrolment | None:
    """The member's enrolment row for the course (any status), if any."""
    return (await session.exec(select(Enrolment).where(
        Enrolment.course_id == c.id, Enrolment.member_id == member.id))).first()


# --- members: list, enrol, cancel, waitlist --------------------------------------------------


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
    seats: list[Seat] = []
    for c in found:
        assert c.id is not None  # read from the table
        if await may_join(session, c, member):
            seats.append(Seat(c, max(0, c.capacity - taken.get(c.id, 0)), mine.get(c.id)))
    return seats


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
    row = await enrolment_of(session, c, member)
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
    row = await enrolment_of(session, c, member)
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
            template(c, "候补转正"), c.online_url)], now)
        told.append(member.openid)
    await session.flush()
    return told


async def withdraw(session: AsyncSession, c: Course, member: Member, now: datetime,
                   text: str) -> str:
    """取消报名: frees the seat (the head of the waitlist moves up and is told), or leaves
    the waitlist. Returns the status the member had."""
    row = await enrolment_of(session, c, member)
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
        await lock_course(session, c)
        row.status, row.enrolled_at = "cancelled", None
        session.add(row)
        await session.flush()
        await promote(session, c, now, text)


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
