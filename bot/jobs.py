"""Scheduled work. Each job is a module-level function with plain arguments (so the
persistent job store can keep it) that hops onto the bot's event loop and writes outbox
rows; the outbox does the sending."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel import col, select

from bot import texts as T
from bot.clock import SHANGHAI
from bot.db import session_factory
from models import activity as activities
from models import course as courses
from models import grid as grids
from models import group as groups
from models import outbox
from models import report as reports
from models.outbox import Push
from models.staff import ConsoleUser

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger(__name__)
R = TypeVar("R")

_RUNTIME: dict[str, object] = {}  # the running process's loop and services, for the jobs


def bind_runtime(loop: asyncio.AbstractEventLoop, services: Services) -> None:
    _RUNTIME["loop"], _RUNTIME["services"] = loop, services


def hop(coro_factory: Callable[[Services], Coroutine[Any, Any, R]]) -> R | None:
    """Run a coroutine on the bot's loop from the scheduler's thread and wait for it;
    None when the bot is not running."""
    loop = _RUNTIME.get("loop")
    services = _RUNTIME.get("services")
    if (not isinstance(loop, asyncio.AbstractEventLoop) or services is None
            or loop.is_closed() or not loop.is_running()):
        log.warning("scheduled job skipped: the bot is not running")
        return None
    coro = coro_factory(services)
    try:
        future = asyncio.run_coroutine_threadsafe(coro, loop)
    except RuntimeError:  # the loop stopped in between
        coro.close()
        log.warning("scheduled job skipped: the bot is stopping")
        return None
    return future.result(timeout=300)


def digest_job() -> None:
    """The daily digest of overdue reports (APScheduler calls this in its thread)."""
    hop(lambda services: send_digest(services, services.clock.now()))


async def send_digest(services: Services, now: datetime) -> int:
    """Tell each officer the overdue reports of their grids and each admin all of them,
    once a day (the outbox key holds the day). Returns how many digests were queued."""
    day = now.astimezone(SHANGHAI).date().isoformat()
    subject = f"digest:{day}"
    queued = 0
    async with session_factory(services.engine)() as session, session.begin():
        late = list(await reports.overdue(session, now))
        if not late:
            return 0
        names = {g.code: g.name for g in (await session.exec(select(grids.Grid))).all()}
        sent = set((await session.exec(select(Push.openid).where(Push.subject == subject))
                    ).all())
        staff = (await session.exec(select(ConsoleUser).where(
            ConsoleUser.active, col(ConsoleUser.openid).is_not(None),
            col(ConsoleUser.role).in_(("officer", "admin"))))).all()
        for user in staff:
            if user.openid in sent:
                continue
            mine = late if user.role == "admin" else [
                r for r in late if r.grid_code in await grids.codes_of_officer(session, user)]
            if not mine:
                continue
            lines = [T.DIGEST_LINE.format(ticket=r.ticket, status=r.status,
                                          grid=names.get(r.grid_code or "", "待分派"),
                                          days=max(1, (now - r.due_at).days + 1))
                     for r in mine[:20]]
            text = "\n".join([T.DIGEST_HEADER.format(n=len(mine)), *lines])
            data = {"thing1": "逾期上报日报", "character_string2": str(len(mine)),
                    "time3": now.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")}
            await outbox.enqueue(session, "report_status", subject,
                                 [outbox.Outgoing(user.openid or "", text, data)], now)
            queued += 1
    if queued and services.worker:
        services.worker.wake()
    log.info("overdue digest: %d reports, %d digests", len(late), queued)
    return queued


def activity_job() -> None:
    """Every half minute: due activity reminders, and the roll for activities just ended."""
    hop(lambda services: run_activity_duties(services, services.clock.now()))


async def run_activity_duties(services: Services, now: datetime) -> tuple[int, int]:
    """Reminders at `school.reminder_offsets` before each activity, and its attendance list
    to the group's leader once it has ended. Returns (reminders, rolls) queued."""
    rolls = 0
    async with session_factory(services.engine)() as session, session.begin():
        reminded = await activities.due_reminders(
            session, services.settings.school.reminder_offsets, now, T.ACTIVITY_REMIND)
        for a in await activities.ended_without_roll(session, now, timedelta(days=1)):
            subject = f"activity:{a.id}:roll"
            if (await session.exec(select(Push.id).where(Push.subject == subject))).first():
                continue
            group = await session.get(groups.PartyGroup, a.group_id)
            leader = await groups.leader_of(session, group) if group else None
            if leader is None or not leader.openid:
                continue
            r = await activities.roll(session, a)
            text = T.ACTIVITY_ROLL.format(
                what=activities.describe(a), np=len(r.present), present="、".join(r.present)
                or "—", nl=len(r.leave), leave="、".join(f"{n}（{why}）" for n, why in r.leave)
                or "—", na=len(r.absent), absent="、".join(r.absent) or "—")
            data = {"thing1": a.topic[:20], "thing2": f"到会{len(r.present)}人",
                    "time3": a.end_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")}
            await outbox.enqueue(session, "group_activity", subject,
                                 [outbox.Outgoing(leader.openid, text, data)], now)
            rolls += 1
    if (reminded or rolls) and services.worker:
        services.worker.wake()
    return reminded, rolls


# --- 小哥党校: planning the reminder jobs, and the reminders themselves ---------------------


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
