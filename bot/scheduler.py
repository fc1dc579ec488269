"""The periodic housekeeping the features register (bot/features.py: PeriodicJob), run by
APScheduler's AsyncIOScheduler on the bot's own event loop, in one instance only.

Jobs are coroutines `run(services, now)`; they are kept in memory (their list is the code),
coalesced, never run twice at once. A daily job whose time today passed before a leader
started (no instance ran then, or the leader died) runs at once, so it still runs that day;
daily jobs must therefore be idempotent per day (the digest's outbox key holds the day).
Reminders and other due work are rows the outbox worker sends, not jobs here.

With several instances on one database only the leader runs the scheduler. Leadership is an
asyncio task holding a lock: a PostgreSQL session advisory lock on a connection of its own
(checked every few seconds; PostgreSQL drops it when the holder dies or its link breaks), or
on SQLite an flock on a file beside the database (the kernel drops it when the process
dies). A standby tries again every `server.scheduler_takeover_s` seconds.

/healthz reads `SchedulerLeader.health()`: the role, and for the leader each job's last
success; "stalled" when a job has not succeeded for two periods (counted from the leader's
start before its first success) or the leadership task died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from bot import metrics
from bot.clock import SHANGHAI
from bot.features import PeriodicJob, Runtime

log = logging.getLogger(__name__)

Role = Literal["leader", "standby", "stalled"]
STALLED_AFTER_PERIODS = 2
LOCK_CHECK_MAX_S = 5.0  # the leader checks its lock at least this often
CONNECT_TIMEOUT_S = 5.0
MISFIRE_GRACE_S = 3600  # a run this late (the loop was blocked) is still made


def first_run(at: str | None, now: datetime) -> datetime | None:
    """When a leader started at `now` first runs a job daily `at` ("HH:MM", Shanghai), if
    not at its trigger's next time: now when today's time has passed (it may have been
    missed while no instance ran); None for interval jobs (they run a period after)."""
    if at is None:
        return None
    hour, minute = (int(x) for x in at.split(":"))
    local = now.astimezone(SHANGHAI)
    return now if local >= local.replace(hour=hour, minute=minute, second=0,
                                         microsecond=0) else None


def _event_name(event: JobEvent) -> str:
    return {EVENT_JOB_MISSED: "missed", EVENT_JOB_ERROR: "error"}.get(event.code, "ok")


class Scheduler:
    """The features' periodic jobs on the running loop. Start and stop it on the loop."""

    def __init__(self, services: Runtime, jobs: Sequence[PeriodicJob]):
        self._services = services
        self._jobs = {job.id: job for job in jobs}
        self._scheduler = AsyncIOScheduler(
            jobstores={"default": MemoryJobStore()}, timezone=SHANGHAI,
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": MISFIRE_GRACE_S})
        self._scheduler.add_listener(self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED
                                     | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        self.started: datetime | None = None
        self.last_ok: dict[str, datetime] = {}  # by job id: the end of its last success

    def start(self) -> None:
        now = datetime.now(UTC)
        self._scheduler.start()
        for job in self._jobs.values():
            at = job.daily_at(self._services.settings) if job.daily_at else None
            if at is not None:
                hour, minute = (int(x) for x in at.split(":"))
                trigger: Any = CronTrigger(hour=hour, minute=minute, timezone=SHANGHAI)
            else:
                trigger = IntervalTrigger(seconds=job.every_s, timezone=SHANGHAI)
            extra = {}
            if (when := first_run(at, now)) is not None:
                extra["next_run_time"] = when
            self._scheduler.add_job(self._run, trigger, args=[job.id], id=job.id,
                                    name=job.id, **extra)
        self.started = now

    def shutdown(self) -> None:
        """Stop at once; a job in flight is cancelled (its transaction rolls back)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    @property
    def running(self) -> bool:
        return self._scheduler.running

    def job_ids(self) -> list[str]:
        return [job.id for job in self._scheduler.get_jobs()]

    def next_runs(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

    async def _run(self, job_id: str) -> Any:
        result = await self._jobs[job_id].run(self._services, self._services.clock.now())
        self.last_ok[job_id] = datetime.now(UTC)
        return result

    def _on_event(self, event: JobEvent) -> None:
        """The one hook for every job: metrics, and one log line per failure or miss (the
        job id and the exception's type: no personal data)."""
        if isinstance(event, JobSubmissionEvent):
            metrics.observe_job(event.job_id, "started",
                                min(event.scheduled_run_times, default=None))
            return
        if not isinstance(event, JobExecutionEvent):
            return
        if isinstance(event.exception, asyncio.CancelledError):
            return  # stopped with the scheduler (stood down, or shutting down)
        result = _event_name(event)
        metrics.observe_job(event.job_id, result)
        if result == "error":
            exc = event.exception
            # With its traceback, through the log's formatter (which masks phones).
            log.error("scheduled job %s failed: %s", event.job_id, type(exc).__name__,
                      exc_info=(type(exc), exc, exc.__traceback__) if exc else None)
        elif result == "missed":
            log.warning("scheduled job %s missed its run at %s", event.job_id,
                        event.scheduled_run_time)

    def overdue(self, now: datetime) -> dict[str, bool]:
        """By job: no success for more than two periods (from the start before the first)."""
        since = self.started or now
        return {job_id: now - self.last_ok.get(job_id, since)
                > timedelta(seconds=STALLED_AFTER_PERIODS * job.period_s)
                for job_id, job in self._jobs.items()}

    def health(self, now: datetime) -> dict[str, dict[str, Any]]:
        overdue = self.overdue(now)
        return {job_id: {"period_s": job.period_s,
                         "last_ok": ok.isoformat() if (ok := self.last_ok.get(job_id)) else None,
                         "overdue": overdue[job_id]}
                for job_id, job in self._jobs.items()}


class _FileLock:
    """SQLite: one host, so an exclusive flock on a file beside the database does (a
    non-blocking call: fine on the loop); the kernel drops it when the process dies."""

    def __init__(self, path: str):
        self._path = path
        self._fd: int | None = None

    async def acquire(self) -> bool:
        import fcntl

        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def alive(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _AdvisoryLock:
    """PostgreSQL: a session advisory lock on a plain asyncpg connection of its own (not a
    pooled one: the pool may close or recycle it); PostgreSQL drops the lock when that
    connection goes (the process died, or the link broke)."""

    KEY = 7_246_118_312

    def __init__(self, services: Runtime):
        engine = services.engine
        _, self._params = engine.dialect.create_connect_args(engine.url)
        self._conn: Any = None

    async def acquire(self) -> bool:
        import asyncpg

        try:
            conn = await asyncio.wait_for(asyncpg.connect(**self._params,
                                                          timeout=CONNECT_TIMEOUT_S),
                                          CONNECT_TIMEOUT_S + 1)
        except Exception as exc:  # down, refusing, starting up, timed out: try again later
            log.debug("scheduler lock: cannot connect (%s)", type(exc).__name__)
            return False
        try:
            got = await asyncio.wait_for(conn.fetchval("SELECT pg_try_advisory_lock($1)",
                                                       self.KEY), CONNECT_TIMEOUT_S)
        except Exception:
            got = False  # the database went away in between: try again later
        if not got:
            conn.terminate()
            return False
        self._conn = conn
        return True

    async def alive(self) -> bool:
        if self._conn is None or self._conn.is_closed():
            return False
        try:
            await asyncio.wait_for(self._conn.fetchval("SELECT 1"), CONNECT_TIMEOUT_S)
            return True
        except Exception:
            return False

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:  # closing the session releases the lock; do not wait long for a dead link
            await asyncio.wait_for(conn.close(), 2)
        except Exception:
            conn.terminate()


class SchedulerLeader:
    """Runs the scheduler in exactly one process of those sharing a database: the one
    holding the lock. An asyncio task: it never blocks the loop."""

    def __init__(self, services: Runtime, jobs: Sequence[PeriodicJob],
                 takeover_s: float | None = None):
        self._services = services
        self._jobs = list(jobs)
        self._takeover_s = takeover_s or services.settings.server.scheduler_takeover_s
        url = make_url(services.settings.database.url)
        self._lock: _FileLock | _AdvisoryLock = (
            _FileLock(f"{url.database}.scheduler.lock") if url.get_backend_name() == "sqlite"
            else _AdvisoryLock(services))
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.scheduler: Scheduler | None = None  # while leading
        self.leading = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="scheduler-leader")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    @property
    def dead(self) -> bool:
        """The leadership task ended without being stopped (a bug): nothing runs again."""
        return (not self._stopping and self._task is not None and self._task.done())

    def role(self, now: datetime | None = None) -> Role:
        if self.dead:
            return "stalled"
        scheduler = self.scheduler
        if not self.leading.is_set() or scheduler is None:
            return "standby"
        if not scheduler.running or any(scheduler.overdue(now or datetime.now(UTC)).values()):
            return "stalled"
        return "leader"

    def health(self) -> dict[str, Any]:
        """/healthz's part: the role, and for the leader each job's last success."""
        now = datetime.now(UTC)
        body: dict[str, Any] = {"scheduler": self.role(now)}
        if self.scheduler is not None and self.leading.is_set():
            body["jobs"] = self.scheduler.health(now)
        return body

    async def _run(self) -> None:
        try:
            while True:
                try:
                    if await self._lock.acquire():
                        try:
                            await self._lead()
                        finally:
                            self._stand_down()
                            await self._lock.release()
                except Exception as exc:  # try again, as a standby would
                    log.error("scheduler failed (%s); standing down", type(exc).__name__)
                await asyncio.sleep(self._takeover_s)
        except asyncio.CancelledError:
            raise
        except BaseException:
            log.exception("the scheduler's leadership task died")
            raise
        finally:
            self._stand_down()
            await self._lock.release()

    async def _lead(self) -> None:
        scheduler = Scheduler(self._services, self._jobs)
        self.scheduler = scheduler
        scheduler.start()
        self.leading.set()
        log.info("this instance runs the scheduler (%d periodic jobs)", len(self._jobs))
        while True:
            await asyncio.sleep(min(self._takeover_s, LOCK_CHECK_MAX_S))
            if not await self._lock.alive():
                log.warning("scheduler lock lost; standing down")
                return

    def _stand_down(self) -> None:
        self.leading.clear()
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None
