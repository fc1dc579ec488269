"""APScheduler, with its jobs kept in the bot's own database.

The scheduler runs in its own thread (BackgroundScheduler): the job store's SQL is
synchronous, and so it never touches the event loop. Jobs (bot/jobs.py) are
module-level functions with stable ids that hop onto the loop to do their work.
Jobs are coalesced, and a run missed while the bot was down is made up within the
grace time, never twice.
"""

from __future__ import annotations

import logging

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from bot.clock import SHANGHAI
from bot.settings import Settings

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
DIGEST_JOB = "reports.digest"
ACTIVITY_JOB = "activities.duties"
ACTIVITY_EVERY_S = 30


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

    def start(self) -> None:
        hour, minute = (int(x) for x in self._settings.reports.digest_at.split(":"))
        self._scheduler.start()
        self._scheduler.add_job("bot.jobs:digest_job", CronTrigger(hour=hour, minute=minute,
                                                                  timezone=SHANGHAI),
                                id=DIGEST_JOB, replace_existing=True)
        self._scheduler.add_job("bot.jobs:activity_job", IntervalTrigger(
            seconds=ACTIVITY_EVERY_S), id=ACTIVITY_JOB, replace_existing=True)
        log.info("scheduler started; overdue digest daily at %s", self._settings.reports.digest_at)

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def job_ids(self) -> list[str]:
        return [job.id for job in self._scheduler.get_jobs()]
