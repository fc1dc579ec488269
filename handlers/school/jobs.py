"""小哥党校: planning the reminder jobs, and the reminders themselves."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from bot import texts as T
from bot.db import session_factory
from bot.scheduler import hop
from models import course as courses

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger(__name__)



SWEEP_SLACK = timedelta(seconds=30)  # a job this late is taken for lost


def plan_courses_job() -> None:
    """Every few seconds in the leader: re-plan the courses changed anywhere, then send any
    reminder whose job was lost (a leader killed while running it: APScheduler removes a
    date job as it starts it)."""
    from bot import scheduler

    if (running := scheduler.current()) is not None:
        running.plan_courses()
    hop(sweep_reminders)


async def sweep_reminders(services: Services) -> int:
    offsets = services.settings.school.reminder_offsets
    async with session_factory(services.engine)() as session:
        lost = await courses.overdue_reminders(session, offsets, services.clock.now(),
                                               SWEEP_SLACK)
    for course_id, offset_s, start_ts in lost:
        log.warning("course reminder %s/%ss was never queued; sending it now", course_id,
                    offset_s)
        await send_course_reminder(services, course_id, offset_s, start_ts)
    return len(lost)


async def unplanned_courses(services: Services) -> list[courses.Plan]:
    async with session_factory(services.engine)() as session:
        return await courses.unplanned(session, services.settings.school.reminder_offsets,
                                       services.clock.now())


async def mark_courses_planned(services: Services, plans: list[courses.Plan]) -> None:
    async with session_factory(services.engine)() as session, session.begin():
        await courses.mark_planned(session, plans)


async def plan_soon() -> None:
    """After a course changed in this process: if it runs the scheduler, re-plan now
    (otherwise the leader's planning job finds the change within seconds)."""
    from bot import scheduler

    if (running := scheduler.current()) is not None:
        await asyncio.to_thread(running.plan_courses)


def course_reminder_job(course_id: int, offset_s: int, start_ts: int) -> None:
    hop(lambda services: send_course_reminder(services, course_id, offset_s, start_ts))


async def send_course_reminder(services: Services, course_id: int, offset_s: int,
                               start_ts: int) -> int | None:
    """Every enrollee once (the outbox key holds course, offset and start time). Dropped
    when the course moved, was cancelled, has started, or the offset is no longer set."""
    if timedelta(seconds=offset_s) not in services.settings.school.reminder_offsets:
        return None
    async with session_factory(services.engine)() as session, session.begin():
        sent = await courses.send_reminder(session, course_id, offset_s, start_ts,
                                           services.clock.now(), T.COURSE_REMIND,
                                           services.settings.school.reminder_offsets)
    if sent and services.worker:
        services.worker.wake()
    log.info("course reminder %s/%ss: %s", course_id, offset_s,
             "dropped" if sent is None else f"{sent} queued")
    return sent
