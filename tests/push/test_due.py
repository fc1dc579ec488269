"""Pushes due later (models/due.py) and their expansion by the outbox worker: planning is an
upsert, withdrawing drops, a row past not_after is dropped, a row of a kind this process
cannot expand waits for one that can, and two
workers on one PostgreSQL database expand a row once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import select

from bot.clock import FakeClock
from bot.db import make_engine, session_factory
from bot.push.worker import OutboxWorker
from bot.settings import Settings
from models import due, outbox
from models.due import DuePush
from models.outbox import Push


def worker(sessions: Any, settings: Settings, clock: FakeClock, expanders: dict[str, Any]
           ) -> OutboxWorker:
    return OutboxWorker(sessions, None, settings.push, {}, clock,  # type: ignore[arg-type]
                        expanders=expanders)


async def rows(sessions: Any) -> dict[str, DuePush]:
    async with sessions() as s:
        return {f"{r.kind}/{r.subject}/{r.slot}": r
                for r in (await s.exec(select(DuePush))).all()}


async def test_plan_is_an_upsert_and_withdraw_drops(sessions, clock: FakeClock) -> None:
    now = clock.now()
    async with sessions() as s, s.begin():
        await due.plan(s, "k", "thing:1", "60", now + timedelta(hours=1), None, {"a": 1})
        await due.plan(s, "k", "thing:1", "60", now + timedelta(hours=2), None, {"a": 2})
        await due.plan(s, "k", "thing:1", "30", now + timedelta(hours=3))
        await due.plan(s, "k", "thing:2", "60", now + timedelta(hours=3))
    found = await rows(sessions)
    assert len(found) == 3
    assert found["k/thing:1/60"].due_at == now + timedelta(hours=2)
    assert found["k/thing:1/60"].payload == {"a": 2}
    async with sessions() as s, s.begin():
        assert await due.withdraw(s, "k", "thing:1") == 2
        assert [r.subject for r in await due.pending(s)] == ["thing:2"]
        await due.plan(s, "k", "thing:1", "60", now + timedelta(hours=4))  # planned again
        assert len(await due.pending(s, "k", "thing:1")) == 1


async def test_claim_takes_what_is_due_soonest_first(sessions, clock: FakeClock) -> None:
    now = clock.now()
    async with sessions() as s, s.begin():
        for slot, minutes in (("a", 5), ("b", -5), ("c", -10), ("d", 0)):
            await due.plan(s, "k", "x", slot, now + timedelta(minutes=minutes))
    async with sessions() as s, s.begin():
        await due.plan(s, "other", "x", "e", now - timedelta(minutes=20))
    async with sessions() as s, s.begin():
        assert [r.slot for r in await due.claim_due(s, now, 10, {"k"})] == ["c", "b", "d"]
        assert [r.slot for r in await due.claim_due(s, now, 1, {"k"})] == ["c"]
        assert await due.claim_due(s, now, 10, set()) == []


async def test_the_worker_expands_once_drops_late_rows_and_leaves_unknown_kinds(
        sessions, settings: Settings, clock: FakeClock) -> None:
    now = clock.now()
    calls: list[str] = []

    async def expand(session: Any, row: DuePush, at: datetime) -> int | None:
        calls.append(row.slot)
        if row.slot == "stale":
            return None
        await outbox.enqueue(session, "notice", f"t:{row.slot}",
                             [outbox.Outgoing("o-1", "hi", {})], at)
        return 1

    async with sessions() as s, s.begin():
        await due.plan(s, "k", "x", "on-time", now + timedelta(minutes=1), now + timedelta(hours=1))
        await due.plan(s, "k", "x", "late", now - timedelta(hours=2), now - timedelta(hours=1))
        await due.plan(s, "k", "x", "stale", now)
        await due.plan(s, "nobody", "x", "1", now)
    w = worker(sessions, settings, clock, {"k": expand})
    assert await w.expand_due() == 2  # on-time is not due yet; "nobody" is not ours
    clock.advance(minutes=1)
    assert await w.expand_due() == 1
    assert await w.expand_due() == 0  # done rows are never taken again
    assert sorted(calls) == ["on-time", "stale"]
    status = {k: r.status for k, r in (await rows(sessions)).items()}
    assert status == {"k/x/on-time": "done", "k/x/late": "dropped", "k/x/stale": "dropped",
                      "nobody/x/1": "pending"}
    async with sessions() as s:
        assert [p.subject for p in (await s.exec(select(Push))).all()] == ["t:on-time"]


async def test_a_failing_expander_leaves_its_row_pending(sessions, settings: Settings,
                                                         clock: FakeClock) -> None:
    async def broken(session: Any, row: DuePush, at: datetime) -> int | None:
        raise RuntimeError("boom")

    async with sessions() as s, s.begin():
        await due.plan(s, "k", "x", "1", clock.now())
    w = worker(sessions, settings, clock, {"k": broken})
    assert await w.expand_due() == 1
    row = (await rows(sessions))["k/x/1"]
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.due_at == clock.now() + timedelta(seconds=2)  # put off, not tried every pass
    assert await w.expand_due() == 0
    for _ in range(due.MAX_ATTEMPTS - 1):  # backing off, then given up for good
        clock.advance(seconds=due.RETRY_CAP_S)
        assert await w.expand_due() == 1
    row = (await rows(sessions))["k/x/1"]
    assert (row.status, row.attempts) == ("failed", due.MAX_ATTEMPTS)
    clock.advance(seconds=due.RETRY_CAP_S)
    assert await w.expand_due() == 0


def test_a_failing_row_waits_longer_each_time() -> None:
    waits = [due.retry_in(n).total_seconds() for n in range(1, 12)]
    assert waits[:4] == [2, 4, 8, 16] and waits == sorted(waits) and max(waits) == 600


async def test_two_workers_on_postgresql_expand_a_row_once(pg_db_url: str, settings: Settings,
                                                           clock: FakeClock) -> None:
    engines = [make_engine(pg_db_url), make_engine(pg_db_url)]
    try:
        pools = [session_factory(e) for e in engines]
        expanded: list[str] = []

        async def slow(session: Any, row: DuePush, at: datetime) -> int | None:
            expanded.append(row.slot)
            await asyncio.sleep(0.01)  # the other worker claims meanwhile
            return 0

        async with pools[0]() as s, s.begin():
            for i in range(40):
                await due.plan(s, "k", "x", str(i), clock.now() - timedelta(seconds=i))
        workers = [worker(p, settings, clock, {"k": slow}) for p in pools]
        for _ in range(5):
            await asyncio.gather(*(w.expand_due() for w in workers))
        assert sorted(expanded, key=int) == [str(i) for i in range(40)]  # each once
        assert {r.status for r in (await rows(pools[0])).values()} == {"done"}
    finally:
        for e in engines:
            await e.dispose()


async def test_a_row_that_cannot_go_yet_waits_without_counting_as_a_failure(
        sessions, settings: Settings, clock: FakeClock) -> None:
    """An activity's roll while its group has no leader: asked again a minute later, until
    its not_after, and never counted as a failed expansion."""
    async def no_leader(session: Any, row: DuePush, at: datetime) -> int | None:
        raise due.NotYet("no leader")

    async with sessions() as s, s.begin():
        await due.plan(s, "k", "x", "roll", clock.now(), clock.now() + timedelta(minutes=90))
    w = worker(sessions, settings, clock, {"k": no_leader})
    assert await w.expand_due() == 1
    row = (await rows(sessions))["k/x/roll"]
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.due_at == clock.now() + due.NOT_YET_WAIT
    assert await w.expand_due() == 0  # not again before its minute is up
    clock.advance(minutes=100)  # past not_after: dropped, not sent late
    assert await w.expand_due() == 1
    assert (await rows(sessions))["k/x/roll"].status == "dropped"


async def test_a_reminder_at_an_offset_taken_out_of_config_is_dropped(
        sessions, settings: Settings, clock: FakeClock) -> None:
    from bot.features import Platform
    from handlers import install
    from models import course as courses

    kept = settings.model_copy(deep=True)
    kept.school.reminder_offsets = [timedelta(hours=1)]  # 24 h taken out after planning
    expand = install().due[courses.PUSH_KIND](Platform(kept, sessions, clock, None))  # type: ignore[arg-type]
    async with sessions() as s, s.begin():
        await due.plan(s, courses.PUSH_KIND, "course:1", "86400", clock.now(),
                       payload={"start_ts": 0, "offsets": [86400, 3600]})
    assert await worker(sessions, settings, clock, {courses.PUSH_KIND: expand}).expand_due() == 1
    assert (await rows(sessions))[f"{courses.PUSH_KIND}/course:1/86400"].status == "dropped"
