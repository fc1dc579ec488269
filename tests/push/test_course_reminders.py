"""Course reminders as due rows (models/due.py) the outbox worker expands when due, with the
bot's FakeClock moved instead of waited for: the worker runs in the background, and the
tests also let it take a pass at once after moving the clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.app import SERVICES
from bot.push.worker import OutboxWorker
from models import course as courses
from models import course_lifecycle, course_reminders, due
from models.outbox import Push
from tests.chat.test_school import API, new_course
from tests.conftest import Bot, BotFactory

REMIND_24H, REMIND_1H = "remind86400", "remind3600"


class Timeline:
    """The bot with its outbox worker, and its clock."""

    def __init__(self, make_bot: BotFactory, sessions: Any):
        self._make_bot, self._sessions = make_bot, sessions
        self.bot: Bot | None = None

    @property
    def worker(self) -> OutboxWorker:
        assert self.bot is not None
        worker = self.bot.client.server.app[SERVICES].worker
        assert worker is not None
        return worker

    async def start(self) -> Bot:
        """(Re)start the bot and its worker, as a restarted process would."""
        self.bot = await self._make_bot(background=True)
        await self.settle()
        return self.bot

    async def stop(self) -> None:
        """The process goes away: its worker stops; the due rows stay in the database."""
        assert self.bot is not None
        await self.bot.client.close()

    def move(self, **delta: float) -> None:
        assert self.bot is not None
        self.to(self.bot.clock.now() + timedelta(**delta))

    def to(self, when: datetime) -> None:
        assert self.bot is not None
        self.bot.clock.set(when)
        if not self.bot.client._closed:  # type: ignore[attr-defined]
            self.worker.wake()

    async def settle(self) -> None:
        """Let the worker take a pass now (expanding what fell due, sending it), until no
        due row is left (the background pass may hold some for a moment)."""
        assert self.bot is not None
        for _ in range(100):
            await self.worker.run_once()
            async with self._sessions() as s:
                left = [r for r in await due.pending(s) if r.due_at <= self.bot.clock.now()]
            if not left:
                return
            await asyncio.sleep(0.05)

    async def runs(self) -> dict[str, datetime]:
        """The reminders still to come: {"course:ID:remind:OFFSET": due time}."""
        async with self._sessions() as s:
            rows = await due.pending(s, courses.PUSH_KIND)
        return {f"{r.subject}:remind:{r.slot}": r.due_at for r in rows}


@pytest.fixture
async def timeline(make_bot: BotFactory, sessions) -> AsyncIterator[Timeline]:
    yield Timeline(make_bot, sessions)


async def until(check: Callable[[], Any], within_s: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.05)


def reminders(sessions, part: str) -> Callable[[], Any]:
    async def check() -> list[Push]:
        async with sessions() as s:
            rows = (await s.exec(select(Push).order_by(Push.id))).all()
        return [p for p in rows if ":remind" in p.subject and part in p.subject]
    return check


async def enrolled(bot: Bot, n: int = 3, **course: Any) -> dict[str, Any]:
    data = await new_course(bot, **{"capacity": n - 1, **course})
    for i in range(n):
        p = bot.phone(f"o-r{i}")
        await p.register(name="学员" + "甲乙丙丁"[i])
        await p.say(f"报名 {data['code']}")  # the last one waits: no reminder for them
    return data


async def test_reminders_fire_at_their_moments_once(timeline: Timeline, sessions) -> None:
    bot = await timeline.start()
    data = await enrolled(bot, hours_ahead=48)
    start = datetime.fromisoformat(data["start"])
    assert await timeline.runs() == {"course:1:remind:86400": start - timedelta(hours=24),
                                     "course:1:remind:3600": start - timedelta(hours=1)}
    mine = await bot.phone("o-r0").say("我的课程")
    assert "下次提醒：11-29 10:00" in mine

    timeline.to(start - timedelta(hours=24, minutes=1))
    await timeline.settle()
    assert await reminders(sessions, "")() == []  # a minute early: nothing
    timeline.move(minutes=1)
    sent = await until(reminders(sessions, REMIND_24H))
    assert sorted(p.openid for p in sent) == ["o-r0", "o-r1"]  # not the waitlisted o-r2
    assert sent[0].text.startswith("【上课提醒】DX2612A「新就业群体党员的初心使命」")
    assert "下次提醒：11-30 09:00" in await bot.phone("o-r0").say("我的课程")

    timeline.to(start - timedelta(hours=1))
    assert len(await until(reminders(sessions, REMIND_1H))) == 2
    timeline.move(minutes=5)
    await timeline.settle()
    assert len(await reminders(sessions, "")()) == 4  # two each, no more
    assert await timeline.runs() == {}  # fired rows are done


async def test_a_restart_between_planning_and_firing(timeline: Timeline, sessions) -> None:
    bot = await timeline.start()
    data = await enrolled(bot, hours_ahead=30)
    start = datetime.fromisoformat(data["start"])
    planned = await timeline.runs()
    assert len(planned) == 2
    await timeline.stop()  # the process goes away with its rows planned

    timeline.to(start - timedelta(hours=23))  # down through the 24 h moment
    await timeline.start()
    assert await timeline.runs() == {k: v for k, v in planned.items() if "3600" in k}  # as kept
    sent = await until(reminders(sessions, REMIND_24H))  # late, but before the start: sent
    assert len(sent) == 2
    await timeline.stop()

    timeline.to(start + timedelta(minutes=5))  # down through the 1 h moment and the start
    await timeline.start()
    await timeline.settle()
    assert await reminders(sessions, REMIND_1H)() == []  # too late: dropped, not sent
    assert len(await reminders(sessions, REMIND_24H)()) == 2  # and nothing twice
    assert await timeline.runs() == {}


async def test_moving_replans_and_cancelling_removes(timeline: Timeline, sessions) -> None:
    bot = await timeline.start()
    data = await enrolled(bot, hours_ahead=30)
    later = datetime.fromisoformat(data["start"]) + timedelta(hours=24)
    resp = await bot.client.post("/api/v1/courses/DX2612A/move", headers=API, json={
        "start": later.isoformat(), "end": (later + timedelta(hours=1)).isoformat()})
    assert resp.status == 200
    assert await timeline.runs() == {"course:1:remind:86400": later - timedelta(hours=24),
                                     "course:1:remind:3600": later - timedelta(hours=1)}
    timeline.to(later - timedelta(hours=30, minutes=-1))  # the old 24 h moment has passed
    await timeline.settle()
    assert await reminders(sessions, "")() == []
    timeline.to(later - timedelta(hours=24))
    sent = await until(reminders(sessions, REMIND_24H))
    assert len(sent) == 2 and str(int(later.timestamp())) in sent[0].subject

    resp = await bot.client.post("/api/v1/courses/DX2612A/cancel", headers=API)
    assert resp.status == 200
    assert await timeline.runs() == {}
    timeline.to(later - timedelta(minutes=59))
    await timeline.settle()
    assert await reminders(sessions, REMIND_1H)() == []


async def test_a_course_changed_by_another_instance_is_planned_by_the_leader(
        timeline: Timeline, sessions) -> None:
    """Any instance's change plans its rows in its own transaction: nothing to find later."""
    bot = await timeline.start()
    await enrolled(bot, hours_ahead=30)
    moved_to = bot.clock.now() + timedelta(hours=50)
    async with sessions() as s, s.begin():  # as another process would
        c = await courses.by_code(s, "DX2612A")
        assert c is not None
        await course_lifecycle.move(s, c, moved_to, moved_to + timedelta(hours=1), bot.clock.now(),
                           "{what}", offsets=bot.settings.school.reminder_offsets)
    expected = {"course:1:remind:86400": moved_to - timedelta(hours=24),
                "course:1:remind:3600": moved_to - timedelta(hours=1)}

    async def replanned() -> bool:
        return await timeline.runs() == expected
    assert await until(replanned)


async def test_a_course_published_two_hours_ahead_gets_only_the_one_hour_reminder(
        timeline: Timeline, sessions) -> None:
    bot = await timeline.start()
    data = await enrolled(bot, hours_ahead=2)
    start = datetime.fromisoformat(data["start"])
    assert await timeline.runs() == {"course:1:remind:3600": start - timedelta(hours=1)}
    timeline.to(start - timedelta(minutes=59))
    assert len(await until(reminders(sessions, REMIND_1H))) == 2
    assert await reminders(sessions, REMIND_24H)() == []


async def test_after_downtime_only_the_latest_reminder_goes(timeline: Timeline,
                                                            sessions) -> None:
    bot = await timeline.start()
    data = await enrolled(bot, hours_ahead=30)
    start = datetime.fromisoformat(data["start"])
    await timeline.stop()
    timeline.to(start - timedelta(minutes=40))  # down through both moments
    await timeline.start()
    assert len(await until(reminders(sessions, REMIND_1H))) == 2
    await timeline.settle()
    assert await reminders(sessions, REMIND_24H)() == []  # no burst of stale reminders


async def test_a_crash_while_expanding_loses_nothing(timeline: Timeline, sessions) -> None:
    """A worker that dies between claiming a due row and committing leaves it pending: the
    next pass (of any instance) sends the reminder, once."""
    bot = await timeline.start()
    await enrolled(bot, hours_ahead=30)
    await timeline.stop()  # no background worker: the crash below is the only one at work
    timeline.move(hours=6, seconds=5)  # the 24 h moment has just passed
    async with sessions() as s:
        await s.begin()
        claimed = await due.claim_due(s, bot.clock.now(), 10, {"course_reminder"})
        assert [r.slot for r in claimed] == ["86400"]
        await s.rollback()  # the worker died here: nothing committed
    assert await reminders(sessions, "")() == []
    await timeline.start()
    timeline.move(seconds=40)
    sent = await until(reminders(sessions, REMIND_24H))
    assert len(sent) == 2
    timeline.move(seconds=20)
    await timeline.settle()
    assert len(await reminders(sessions, "")()) == 2


async def test_who_withdrew_is_not_reminded_and_a_stale_job_is_dropped(
        timeline: Timeline, sessions) -> None:
    bot = await timeline.start()
    data = await enrolled(bot, hours_ahead=48)
    start = datetime.fromisoformat(data["start"])
    await bot.phone("o-r0").say("取消报名 DX2612A")  # o-r2 moves up from the waitlist
    timeline.to(start - timedelta(hours=24))
    sent = await until(reminders(sessions, REMIND_24H))
    assert sorted(p.openid for p in sent) == ["o-r1", "o-r2"]
    # A row planned for a time the course no longer has is dropped when it falls due.
    async with sessions() as s, s.begin():
        assert await course_reminders.send_reminder(
            s, 1, 3600, int(start.timestamp()) + 60, bot.clock.now(), "{what}",
            bot.settings.school.reminder_offsets) is None
