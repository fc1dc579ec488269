"""APScheduler, with its jobs kept in the bot's own database.

The scheduler runs in its own thread (BackgroundScheduler): the job store's SQL is
synchronous, and so it never touches the event loop. Jobs (bot/jobs.py) are
module-level functions with stable ids that hop onto the loop to do their work.
Jobs are coalesced, and a run missed while the bot was down is made up within the
grace time, never twice.

Course reminders are one date job per course and offset. Courses change in any instance;
each change bumps the course's revision, and the leader's planning job (every few seconds,
and at once when the change was made in its own process) re-plans the courses whose
revision it has not planned yet. A reminder job checks at firing time that its course
still starts when planned, so a stale job never reminds of a wrong time.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from bot import metrics
from bot.clock import SHANGHAI
from bot.settings import Settings
from models.course import Plan

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger(__name__)
R = TypeVar("R")

JOBS_TABLE = "apscheduler_jobs"
DIGEST_JOB = "reports.digest"
ACTIVITY_JOB = "activities.duties"
ACTIVITY_EVERY_S = 30
PLAN_JOB = "school.plan"
PLAN_EVERY_S = 10

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


_current: Scheduler | None = None  # the scheduler this process runs, when it leads


def current() -> Scheduler | None:
    return _current


def _observe(event: JobEvent) -> None:
    """Jobs and their lateness for /metrics."""
    if isinstance(event, JobSubmissionEvent):
        metrics.observe_job(event.job_id, "started", min(event.scheduled_run_times,
                                                         default=None))
    elif isinstance(event, JobExecutionEvent):
        result = {EVENT_JOB_MISSED: "missed", EVENT_JOB_ERROR: "error"}.get(event.code, "ok")
        metrics.observe_job(event.job_id, result)


def reminder_job_id(course_id: int, offset_s: int) -> str:
    return f"course:{course_id}:remind:{offset_s}"


def sync_url(url: str) -> str:
    """The same database through a synchronous driver (for the job store's thread)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


class Scheduler:
    def __init__(self, settings: Settings):
        store = SQLAlchemyJobStore(url=sync_url(settings.database.url), tablename=JOBS_TABLE)
        self._scheduler = BackgroundScheduler(
            jobstores={"default": store}, timezone=SHANGHAI,
            job_defaults={"coalesce": True, "misfire_grace_time": 3600, "max_instances": 1})
        self._settings = settings
        self._plan_lock = threading.Lock()
        self._scheduler.add_listener(_observe, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED
                                     | EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def start(self) -> None:
        global _current
        hour, minute = (int(x) for x in self._settings.reports.digest_at.split(":"))
        self._scheduler.start()
        self._scheduler.add_job("handlers.reports.jobs:digest_job",
                                CronTrigger(hour=hour, minute=minute, timezone=SHANGHAI),
                                id=DIGEST_JOB, replace_existing=True)
        self._scheduler.add_job("handlers.groups.jobs:activity_job", IntervalTrigger(
            seconds=ACTIVITY_EVERY_S), id=ACTIVITY_JOB, replace_existing=True)
        self._scheduler.add_job("handlers.school.jobs:plan_courses_job", IntervalTrigger(
            seconds=PLAN_EVERY_S), id=PLAN_JOB, replace_existing=True,
            next_run_time=datetime.now(SHANGHAI))  # changes made while none led: now
        _current = self
        log.info("scheduler started; overdue digest daily at %s", self._settings.reports.digest_at)

    def shutdown(self) -> None:
        global _current
        if _current is self:
            _current = None
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def wakeup(self) -> None:
        """Look at the jobs now (tests move the clock, then call this)."""
        self._scheduler.wakeup()

    def job_ids(self) -> list[str]:
        return [job.id for job in self._scheduler.get_jobs()]

    def next_runs(self, prefix: str) -> dict[str, object]:
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()
                if job.id.startswith(prefix)}

    def plan_courses(self) -> int:
        """Bring the reminder jobs in line with the courses changed since the last plan.
        Runs in the scheduler's thread (or a worker thread), never on the event loop."""
        from handlers.school import jobs

        planned = 0
        with self._plan_lock:
            # A scheduler that has stood down keeps jobs only in memory: plan nothing then,
            # or the course would be marked planned with no job behind it.
            while self._scheduler.running and (plans := jobs.hop(jobs.unplanned_courses)):
                for plan in plans:
                    self._plan(plan)
                jobs.hop(lambda services, done=plans: jobs.mark_courses_planned(services, done))
                planned += len(plans)
        return planned

    def _plan(self, plan: Plan) -> None:
        wanted = {reminder_job_id(plan.course_id, o): (o, at) for o, at in plan.times}
        offsets = {int(o.total_seconds()) for o in self._settings.school.reminder_offsets}
        for offset_s in offsets:
            job_id = reminder_job_id(plan.course_id, offset_s)
            if job_id not in wanted:
                try:
                    self._scheduler.remove_job(job_id)
                except JobLookupError:
                    pass
        for job_id, (offset_s, at) in wanted.items():
            # Late is fine until the course starts; after that the reminder is dropped.
            grace = max(1, plan.start_ts - int(at.timestamp()))
            self._scheduler.add_job(
                "handlers.school.jobs:course_reminder_job", DateTrigger(run_date=at),
                args=[plan.course_id, offset_s, plan.start_ts], id=job_id,
                replace_existing=True, misfire_grace_time=grace)


class _FileLock:
    """SQLite: one host, so an exclusive lock on a file beside the database does; the
    kernel drops it when the holding process dies."""

    def __init__(self, path: str):
        self._path = path
        self._file: object | None = None

    def acquire(self) -> bool:
        import fcntl

        f = open(self._path, "a")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            return False
        self._file = f
        return True

    def alive(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # type: ignore[attr-defined]
            self._file = None


class _AdvisoryLock:
    """PostgreSQL: a session-level advisory lock on a connection of its own; PostgreSQL
    drops it when the holder's connection goes (the process died, or the link broke)."""

    KEY = 7_246_118_312

    def __init__(self, url: str):
        self._url = url
        self._conn: object | None = None

    def acquire(self) -> bool:
        import psycopg

        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
        except psycopg.Error:
            return False
        try:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.KEY,)).fetchone()
        except psycopg.Error:  # the database went away in between: try again later
            conn.close()
            return False
        if not got or not got[0]:
            conn.close()
            return False
        self._conn = conn
        return True

    def alive(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")  # type: ignore[attr-defined]
            return True
        except Exception:
            return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # type: ignore[attr-defined]
            finally:
                self._conn = None


class SchedulerLeader:
    """Runs the scheduler in exactly one process of those sharing a database: the one
    holding the lock. The others wait and try again every `takeover_s` seconds, so when
    the leader dies another takes over within that time."""

    def __init__(self, settings: Settings, takeover_s: float = 15.0):
        self._settings = settings
        self._takeover_s = takeover_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.leading = threading.Event()
        url = make_url(settings.database.url)
        if url.get_backend_name() == "sqlite":
            self._lock: _FileLock | _AdvisoryLock = _FileLock(f"{url.database}.scheduler.lock")
        else:
            self._lock = _AdvisoryLock(url.set(drivername="postgresql").render_as_string(
                hide_password=False))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scheduler-leader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._lock.acquire():
                self._stop.wait(self._takeover_s)
                continue
            scheduler = Scheduler(self._settings)
            try:
                scheduler.start()
                self.leading.set()
                log.info("this instance runs the scheduler")
                while not self._stop.wait(min(self._takeover_s, 5.0)):
                    if not self._lock.alive():
                        log.warning("scheduler lock lost; standing down")
                        break
            except Exception:
                log.exception("scheduler failed; standing down")
            finally:
                self.leading.clear()
                scheduler.shutdown()
                self._lock.release()
