"""What a course's enrollees are told: a change (place, time, cancellation) as an outbox push
to each, and the reminders before the start, planned as due rows (models/due.py) in the
transaction that publishes or moves the course and expanded into pushes when due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import due, outbox
from models.course import PUSH_KIND, Course, Enrolment, describe, short_time
from models.member import Member
from models.push_values import iso_time

if TYPE_CHECKING:
    from models.course_enrolment import MyCourse


# --- telling the enrollees ---------------------------------------------------------------------


async def _recipients(session: AsyncSession, c: Course, statuses: Sequence[str]) -> list[str]:
    """The openids of the course's enrollees in `statuses`, in the order they enrolled."""
    rows = (await session.exec(
        select(Member.openid)
        .join(Enrolment, col(Enrolment.member_id) == Member.id)
        .where(Enrolment.course_id == c.id, col(Enrolment.status).in_(statuses),
               col(Member.erased_at).is_(None))
        .order_by(col(Enrolment.id)))).all()
    return list(rows)


def template(c: Course, what: str) -> dict[str, str]:
    """A push about the course, as values (models/push_values.py); config maps them to the
    template's fields. `what`: what happened (课前提醒, 改期, 候补转正…)."""
    return {"course.title": c.title, "course.start": iso_time(c.start_at),
            "course.place": ("线上" if c.online else c.place) or "—", "course.code": c.code,
            "course.what": what}


async def tell(session: AsyncSession, c: Course, subject: str, text: str, what: str,
               now: datetime, statuses: Sequence[str] = ("enrolled", "waitlist")) -> int:
    """One push per enrollee (and, by default, per member on the waitlist); how many."""
    items = [outbox.Outgoing(o, text, template(c, what), c.online_url)
             for o in await _recipients(session, c, statuses)]
    if items:
        await outbox.enqueue(session, PUSH_KIND, subject, items, now)
    return len(items)


# --- reminders ---------------------------------------------------------------------------


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


def reminder_subject(c: Course, offset: timedelta) -> str:
    """One reminder per course, offset and start time: a moved course is reminded anew for
    its new time; an edit that leaves the time alone never repeats one."""
    return f"course:{c.id}:remind{int(offset.total_seconds())}:{int(c.start_at.timestamp())}"


def due_subject(course_id: int) -> str:
    """The course's due rows (models/due.py): one per reminder offset."""
    return f"course:{course_id}"


async def plan_reminders(session: AsyncSession, c: Course, offsets: Sequence[timedelta]
                         ) -> None:
    """The course's reminders as due rows, in the transaction that published or moved it:
    one per offset whose moment lies between the time being set and the start (none for a
    draft); late after downtime is fine, after the start never (not_after)."""
    subject = due_subject(c.id or 0)
    await due.withdraw(session, PUSH_KIND, subject)
    planned = [int(o.total_seconds()) for o in offsets]
    for offset, at in reminder_times(c, offsets):
        await due.plan(session, PUSH_KIND, subject, str(int(offset.total_seconds())), at,
                       c.start_at, {"start_ts": int(c.start_at.timestamp()),
                                    "offsets": planned})


async def send_reminder(session: AsyncSession, course_id: int, offset_s: int, start_ts: int,
                        now: datetime, text: str, offsets: Sequence[timedelta]) -> int | None:
    """A reminder's work when due: every enrollee gets it once, if the course still starts at
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
    return await tell(session, c, reminder_subject(c, offset),
                      text.format(what=describe(c), code=c.code, link=link,
                                  opens=short_time(c.window()[0])), "课前提醒", now,
                      statuses=("enrolled",))


async def expand_reminder(session: AsyncSession, row: due.DuePush, now: datetime, text: str
                          ) -> int | None:
    """A due course_reminder row (planned by plan_reminders) into outbox rows."""
    offsets = [timedelta(seconds=s) for s in row.payload.get("offsets", [])]
    return await send_reminder(session, int(row.subject.split(":")[1]), int(row.slot),
                               int(row.payload["start_ts"]), now, text, offsets)
