"""/healthz tells the truth about the scheduler: each job's last success, and "stalled" when
a job keeps failing or the leadership task died — through HTTP, on the real app."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY

import handlers
from bot.app import HOUSEKEEPING_JOB, LEADER
from bot.features import PeriodicJob
from handlers.reports.jobs import DIGEST_JOB
from tests.conftest import Bot, BotFactory

FAILING = "test.always_fails"
FINE = "test.fine"


async def _fails(services: Any, now: datetime) -> None:
    raise RuntimeError("member 13800138000 not found")  # personal data: never logged


async def _fine(services: Any, now: datetime) -> int:
    return 1


async def health(bot: Bot) -> tuple[int, dict[str, Any]]:
    resp = await bot.client.get("/healthz")
    return resp.status, await resp.json()


async def poll(bot: Bot, want: str, seconds: float = 10) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(int(seconds / 0.1)):
        status, body = await health(bot)
        assert status == 200, body  # the database is up: a stalled scheduler stays 200
        if body["scheduler"] == want:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"/healthz never said {want!r}: {body}")


async def with_jobs(make_bot: BotFactory, *jobs: PeriodicJob) -> Bot:
    features = handlers.install()
    features.jobs.extend(jobs)
    return await make_bot(features=features, scheduler=True, background=False)


async def test_a_job_that_always_fails_is_reported_stalled(
        make_bot: BotFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    bot = await with_jobs(make_bot, PeriodicJob(FAILING, _fails, every_s=0.2),
                          PeriodicJob(FINE, _fine, every_s=0.2))
    body = await poll(bot, "stalled")
    assert body["status"] == "ok" and body["database"] == "ok"
    jobs = body["jobs"]
    assert jobs[FAILING]["last_ok"] is None and jobs[FAILING]["overdue"] is True
    assert jobs[FAILING]["period_s"] == 0.2
    assert {DIGEST_JOB, HOUSEKEEPING_JOB, FAILING, FINE} <= set(jobs)
    assert not jobs[HOUSEKEEPING_JOB]["overdue"]  # 600 s: not yet due
    assert (REGISTRY.get_sample_value("xiaoge_scheduler_jobs_total",
                                      {"job": FAILING, "result": "error"}) or 0) >= 1
    # One record a failure, with its traceback for whoever must fix it (through the log's
    # formatter, which masks phones); APScheduler's own ERROR line, which would say it
    # again, is silenced by bot.logs.setup outside DEBUG: see test_logs_are_quiet.
    ours = [r for r in caplog.records if r.name == "bot.scheduler" and FAILING in r.message]
    assert ours and all(r.message == f"scheduled job {FAILING} failed: RuntimeError"
                        and r.exc_info is not None for r in ours)


def test_logs_are_quiet_about_each_run() -> None:
    from bot import logs

    try:
        logs.setup()
        assert not logging.getLogger("apscheduler.scheduler").isEnabledFor(logging.INFO)
        assert not logging.getLogger("apscheduler.executors.default").isEnabledFor(
            logging.ERROR)
        assert not logging.getLogger("aiohttp.access").isEnabledFor(logging.INFO)
        assert logging.getLogger("bot.scheduler").isEnabledFor(logging.WARNING)
        logs.setup(logging.DEBUG)
        assert logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.ERROR)
    finally:
        logs.setup()


async def test_a_healthy_leader_shows_each_jobs_last_success(make_bot: BotFactory) -> None:
    bot = await with_jobs(make_bot, PeriodicJob(FINE, _fine, every_s=0.2))
    body = await poll(bot, "leader")
    for _ in range(100):
        if body["jobs"][FINE]["last_ok"]:
            break
        await asyncio.sleep(0.05)
        body = (await health(bot))[1]
    assert body["scheduler"] == "leader", body
    assert datetime.fromisoformat(body["jobs"][FINE]["last_ok"]).tzinfo is not None
    assert not any(job["overdue"] for job in body["jobs"].values())


async def test_a_dead_scheduler_task_is_reported_stalled(make_bot: BotFactory) -> None:
    bot = await with_jobs(make_bot)
    await poll(bot, "leader")
    leader = bot.client.server.app[LEADER]
    task = leader._task
    assert task is not None
    task.cancel()  # as if it crashed: nothing would run again
    await asyncio.wait([task])
    body = await poll(bot, "stalled")
    assert "jobs" not in body  # it no longer leads (the lock was let go for a standby)


async def test_without_a_scheduler_healthz_says_off(bot: Bot) -> None:
    status, body = await health(bot)
    assert status == 200 and body == {"status": "ok", "database": "ok", "scheduler": "off"}
