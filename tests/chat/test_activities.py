"""三会一课: scheduling, reminders that never miss or repeat, attendance and the roll.

Reminders and rolls are due rows (models/due.py): the tests move the bot's FakeClock and let
the outbox worker take a pass."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot import texts as T
from bot.app import SERVICES
from models.member import Member
from models.outbox import Push
from tests.chat.test_groups import leader, new_group
from tests.conftest import Bot, BotFactory

API = {"Authorization": "Bearer xiaoge-demo-api-token"}
PLACE = {"place": "湖塘红色驿站二楼", "lat": 31.7093, "lng": 119.9512, "radius_m": 150}


@pytest.fixture
async def group(make_bot: BotFactory, sessions) -> tuple[Bot, str]:
    bot = await make_bot(background=False)
    await leader(bot, sessions, "leader-zhou", "o-leader")
    code = await new_group(sessions, bot.clock, "湖塘骑手党小组", leader_name="leader-zhou")
    for i, name in enumerate(["甲一", "乙二", "丙三"]):
        p = bot.phone(f"o-m{i}")
        await p.register(name=name)
        await p.say(f"加入小组 {code}")
    return bot, code


async def schedule(bot: Bot, code: str, hours_ahead: float = 48, **extra: Any
                   ) -> dict[str, Any]:
    start = bot.clock.now() + timedelta(hours=hours_ahead)
    body = {"kind": "党小组会", "topic": "学习新修订的条例", "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(), **PLACE, **extra}
    resp = await bot.client.post(f"/api/v1/groups/{code}/activities", headers=API, json=body)
    data = await resp.json()
    assert resp.status == 201, data
    return data


async def pushes(sessions, subject_part: str) -> list[Push]:
    async with sessions() as s:
        rows = (await s.exec(select(Push).order_by(Push.id))).all()
    return [p for p in rows if subject_part in p.subject]


async def duties(bot: Bot) -> tuple[int, int]:
    """One pass of the outbox worker: (reminders, rolls) it queued this time."""
    async def subjects() -> set[str]:
        async with bot.client.server.app[SERVICES].worker._sessions() as s:  # type: ignore
            return set((await s.exec(select(Push.subject))).all())
    before = await subjects()
    worker = bot.client.server.app[SERVICES].worker
    assert worker is not None
    await worker.run_once()
    new = await subjects() - before
    return (sum(":remind" in s for s in new), sum(s.endswith(":roll") for s in new))


async def test_scheduling_tells_the_members_and_refuses_nonsense(group, sessions) -> None:
    bot, code = group
    a = await schedule(bot, code)
    told = await pushes(sessions, f"activity:{a['id']}:new")
    assert {p.openid for p in told} == {"o-m0", "o-m1", "o-m2"}
    assert told[0].text.startswith("【小组活动】党小组会「学习新修订的条例」")
    assert a["code"] in told[0].text
    start = bot.clock.now() + timedelta(hours=1)
    for body, words in [
        ({"kind": "茶话会"}, "kind must be one of"),
        ({"start": (bot.clock.now() - timedelta(hours=1)).isoformat()}, "in the future"),
        ({"end": start.isoformat()}, "end must be after start"),
        ({"start": "tomorrow"}, "ISO 8601"),
    ]:
        payload = {"kind": "党课", "topic": "党课", "start": start.isoformat(),
                   "end": (start + timedelta(hours=1)).isoformat(), **body}
        resp = await bot.client.post(f"/api/v1/groups/{code}/activities", headers=API,
                                     json=payload)
        assert resp.status == 400 and words in (await resp.json())["error"], body
    resp = await bot.client.post("/api/v1/groups/NOPE99/activities", headers=API, json={})
    assert resp.status in (400, 404)


async def test_reminders_never_miss_or_repeat(group, sessions) -> None:
    bot, code = group
    a = await schedule(bot, code, hours_ahead=48)
    assert await duties(bot) == (0, 0)  # two days ahead: nothing yet
    bot.clock.advance(hours=24, minutes=1)  # 24 h before, give or take
    assert (await duties(bot))[0] == 1
    assert (await duties(bot))[0] == 0  # its due row is done: never found again
    assert len(await pushes(sessions, "remind86400")) == 3
    bot.clock.advance(hours=23)  # 59 minutes before
    await duties(bot)
    assert len(await pushes(sessions, "remind3600")) == 3
    bot.clock.advance(hours=2)  # it has started: no reminder any more
    await duties(bot)
    assert len(await pushes(sessions, "remind")) == 6
    _ = a


async def test_a_reminder_missed_while_down_goes_late_once_without_a_burst(group,
                                                                            sessions) -> None:
    bot, code = group
    await schedule(bot, code, hours_ahead=30)
    bot.clock.advance(hours=29, minutes=30)  # down through the 24 h and the 1 h moments
    await duties(bot)
    assert len(await pushes(sessions, "remind3600")) == 3
    assert await pushes(sessions, "remind86400") == []  # the stale one is dropped


async def test_moving_replans_and_cancelling_stops(group, sessions) -> None:
    bot, code = group
    a = await schedule(bot, code, hours_ahead=30)
    bot.clock.advance(hours=6, minutes=1)  # 24 h before
    await duties(bot)
    later = bot.clock.now() + timedelta(hours=48)
    resp = await bot.client.post(f"/api/v1/activities/{a['id']}/move", headers=API, json={
        "start": later.isoformat(), "end": (later + timedelta(hours=1)).isoformat()})
    assert resp.status == 200
    moved = await pushes(sessions, f"activity:{a['id']}:moved")
    assert len(moved) == 3 and moved[0].text.startswith("【小组活动改期】")
    bot.clock.advance(hours=24)  # 24 h before the new time: reminded again, for it
    await duties(bot)
    assert len(await pushes(sessions, "remind86400")) == 6
    resp = await bot.client.post(f"/api/v1/activities/{a['id']}/cancel", headers=API)
    assert resp.status == 200
    assert len(await pushes(sessions, f"activity:{a['id']}:cancelled")) == 3
    bot.clock.advance(hours=23, minutes=30)
    await duties(bot)
    assert await pushes(sessions, "remind3600") == []
    again = await bot.client.post(f"/api/v1/activities/{a['id']}/cancel", headers=API)
    assert again.status == 409


async def test_attendance_every_way_and_the_roll(group, sessions) -> None:
    bot, code = group
    a = await schedule(bot, code, hours_ahead=2)
    m0, m1, m2 = (bot.phone(f"o-m{i}") for i in range(3))
    assert (await m0.say("到")).startswith("「学习新修订的条例」还没开始")
    assert await m1.say("请假") == T.LEAVE_USAGE
    assert (await m1.say("请假 在外地送货")).startswith("已请假")
    outsider = bot.phone("o-out")
    await outsider.register(name="外人")
    bot.clock.advance(hours=1, minutes=40)  # 20 minutes before: attendance is open
    assert (await m0.say("到")).startswith("✅ 已签到")
    assert await m0.say("到") == T.ACTIVITY_ALREADY
    assert (await m1.say(f"签到 {a['code']}")).startswith("✅ 已签到")  # leave turns present
    assert await outsider.say(f"签到 {a['code']}") == T.ACTIVITY_ERRORS["not_member"]
    assert await m2.say("签到 ZZZZZZ") == T.ATTEND_UNKNOWN.format(code="ZZZZZZ")
    reply = await m2.send(bot.peer.location("o-m2", 31.7094, 119.9513))
    assert reply.startswith("✅ 已签到")
    bot.clock.advance(minutes=30)  # started
    assert await bot.phone("o-m0").say("请假 晚了") == T.ACTIVITY_ERRORS["started"]
    async with sessions() as s:
        points = {m.openid: m.points for m in (await s.exec(select(Member))).all()}
    assert points["o-m0"] == points["o-m1"] == 3
    bot.clock.advance(hours=1)  # it has ended
    assert await duties(bot) == (0, 1)
    assert await duties(bot) == (0, 0)  # the roll goes once
    [roll] = await pushes(sessions, f"activity:{a['id']}:roll")
    assert roll.openid == "o-leader"
    assert "到会 3 人" in roll.text and "缺席 0 人" in roll.text
    resp = await bot.client.get(f"/api/v1/activities/{a['id']}", headers=API)
    assert sorted((await resp.json())["present"]) == ["丙三", "乙二", "甲一"]


async def test_the_roll_names_leave_and_absence_and_my_group_shows_the_next(group,
                                                                              sessions) -> None:
    bot, code = group
    a = await schedule(bot, code, hours_ahead=3)
    mine = await bot.phone("o-m0").say("我的小组")
    assert "下次活动：党小组会「学习新修订的条例」" in mine
    await bot.phone("o-m1").say("请假 家里有事")
    bot.clock.advance(hours=2, minutes=45)
    await bot.phone("o-m0").event("SCAN", f"act:{a['id']}")
    bot.clock.advance(hours=2)
    await duties(bot)
    [roll] = await pushes(sessions, f"activity:{a['id']}:roll")
    assert "到会 1 人：甲一" in roll.text and "请假 1 人：乙二（家里有事）" in roll.text
    assert "缺席 1 人：丙三" in roll.text


async def test_odd_requests_get_a_4xx(group) -> None:
    bot, code = group
    start = bot.clock.now() + timedelta(hours=5)
    base = {"kind": "党课", "topic": "党课", "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat()}
    too_long = "https://x/" + "a" * 600
    for extra in ({"online_url": ["x"]}, {"online_url": 5}, {"online_url": too_long},
                  {"lat": 10**400, "lng": 1}, {"lat": "31", "lng": "119"}, {"topic": ["a"]},
                  {"start": "9999-12-31T20:00:00-05:00", "end": "9999-12-31T21:00:00-05:00"}):
        resp = await bot.client.post(f"/api/v1/groups/{code}/activities", headers=API,
                                     json={**base, **extra})
        assert resp.status == 400, extra
    for path in ("/api/v1/activities/999999999999", "/api/v1/notices/999999999999"):
        assert (await bot.client.get(path, headers=API)).status == 404
    p = bot.phone("o-m0")
    for scene in ("act:²", "act:99999999999999999999999", "act:999999999999"):
        bot.clock.advance(seconds=1)
        assert (await p.event("SCAN", scene)).startswith("没有这个活动码")


async def test_moving_back_and_forth_tells_every_time(group, sessions) -> None:
    bot, code = group
    a = await schedule(bot, code, hours_ahead=50)
    first = bot.clock.now() + timedelta(hours=60)
    second = bot.clock.now() + timedelta(hours=70)
    for when in (first, second, first):
        resp = await bot.client.post(f"/api/v1/activities/{a['id']}/move", headers=API, json={
            "start": when.isoformat(), "end": (when + timedelta(hours=1)).isoformat()})
        assert resp.status == 200
    assert len(await pushes(sessions, f"activity:{a['id']}:moved")) == 9  # 3 moves × 3


async def test_leave_after_presence_and_a_leaver_in_the_roll(group, sessions) -> None:
    bot, code = group
    a = await schedule(bot, code, hours_ahead=1)
    bot.clock.advance(minutes=40)
    m0 = bot.phone("o-m0")
    assert (await m0.say("到")).startswith("✅ 已签到")
    assert await m0.say("请假 有事") == T.ACTIVITY_ERRORS["already_present"]
    await m0.say("退出小组")
    await m0.say("确认退出")
    bot.clock.advance(hours=2)
    await duties(bot)
    [roll] = await pushes(sessions, f"activity:{a['id']}:roll")
    assert "到会 1 人：甲一" in roll.text and "缺席 2 人" in roll.text
