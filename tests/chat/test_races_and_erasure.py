"""Races, erasure and hostile input found in review: each pinned by a test."""

from __future__ import annotations

import asyncio
import json

from sqlmodel import select

from bot import texts as T
from bot.router import Router
from handlers import require_profile
from models import staff
from models.checkin import Checkin
from models.member import Member
from models.outbox import Push
from models.station_import import import_stations
from tests.chat.test_stations import STATIONS
from tests.conftest import Bot, BotFactory

API = {"Authorization": "Bearer xiaoge-demo-api-token"}


async def test_a_bind_code_cannot_be_spent_twice_at_once(bot: Bot, sessions) -> None:
    async with sessions() as s, s.begin():
        user = await staff.create_user(s, "racer", "officer", "password-123", bot.clock.now())
        code = await staff.issue_bind_code(s, user, bot.clock.now())
    replies = await asyncio.gather(*(bot.phone(f"o-race-{i}").say(f"绑定 {code}")
                                     for i in range(4)))
    assert sum(r.startswith("绑定成功") for r in replies) == 1
    assert sum(r == T.BIND_USED for r in replies) == 3


async def test_erasure_reaches_pushes_and_check_in_positions(bot: Bot, sessions) -> None:
    async with sessions() as s, s.begin():
        await import_stations(s, enumerate(STATIONS[:1], 2), 200, bot.clock.now())
    p = bot.phone("o-forget-me")
    await p.register()
    await p.send(bot.peer.location("o-forget-me", 31.7095, 119.9513))
    resp = await bot.client.post("/api/v1/notices", headers=API, json={
        "title": "通知", "body": "明天学习", "audience": "member:o-forget-me"})
    assert resp.status == 201
    await p.say("注销")
    await p.say("确认注销")
    async with sessions() as s:
        pushes = (await s.exec(select(Push))).all()
        checkins = (await s.exec(select(Checkin))).all()
        members = (await s.exec(select(Member))).all()
    assert pushes and all(x.openid.startswith("erased:") and x.text == "" for x in pushes)
    assert len(checkins) == 1 and checkins[0].lat is None  # kept, without the position
    assert all(m.openid != "o-forget-me" for m in members if m.erased_at)


async def test_the_notice_api_answers_bad_input_with_json_4xx(bot: Bot) -> None:
    await bot.phone("o-api").register()
    resp = await bot.client.get("/api/v1/notices/99999999999999999999", headers=API)
    assert resp.status == 404
    resp = await bot.client.post("/api/v1/notices", headers=API, json={
        "title": "t", "body": "b", "audience": "industry:a\\q\"x\""})
    assert resp.status == 400
    assert "没有这个行业" in json.loads(await resp.text())["error"]  # valid JSON
    # A line break in a one-line field is refused before it is looked up (models/text.py).
    resp = await bot.client.post("/api/v1/notices", headers=API, json={
        "title": "t", "body": "b", "audience": "industry:a\\q\n\"x\""})
    assert resp.status == 400
    assert "control or invisible" in json.loads(await resp.text())["error"]
    resp = await bot.client.post("/api/v1/notices", headers=API, json={
        "title": "t", "body": "b", "audience": "member:" + ",".join(["o"] * 1500)})
    assert resp.status == 400 and "受众写得太长" in (await resp.json())["error"]
    resp = await bot.client.post("/api/v1/notices", headers=API, json={
        "title": "t", "body": "b", "audience": "all", "url": "https://x.cn/" + "a" * 1100})
    assert resp.status == 400 and "链接最长" in (await resp.json())["error"]


async def test_long_opening_hours_are_a_named_import_error(sessions, clock) -> None:
    row = {**STATIONS[0], "hours": "；".join(["一 08:00-09:00"] * 12)}
    async with sessions() as s, s.begin():
        report = await import_stations(s, [(2, row)], 200, clock.now())
    assert report.rejected == [(2, "hours 最长120个字符")]


async def test_a_failing_scan_gets_an_apology_not_silence(make_bot: BotFactory) -> None:
    router = Router("broken")

    @router.scene("st:")
    async def broken() -> str:
        raise RuntimeError("the database fell over")

    bot = await make_bot(router=router, profile_gate=require_profile)
    reply = await bot.phone("o-scan").event("SCAN", "st:HT01")
    assert reply == T.ERROR


async def test_a_retried_notice_request_sends_once(bot: Bot, sessions) -> None:
    await bot.phone("o-once").register()
    body = {"title": "通知", "body": "只发一次", "audience": "all"}
    headers = {**API, "Idempotency-Key": "cms-42"}
    first, again = [await bot.client.post("/api/v1/notices", headers=headers, json=body)
                    for _ in range(2)]
    assert (first.status, again.status) == (201, 200)
    assert (await first.json())["id"] == (await again.json())["id"]
    racing = await asyncio.gather(*(bot.client.post(
        "/api/v1/notices", headers={**API, "Idempotency-Key": "cms-43"}, json=body)
        for _ in range(3)))
    assert len({(await r.json())["id"] for r in racing}) == 1
    async with sessions() as s:
        assert len((await s.exec(select(Push))).all()) == 2  # two notices, one push each


async def test_report_lifecycle_edges(make_bot: BotFactory, sessions) -> None:
    from models import grid as grids
    from tests.chat.test_reports import (
        HT_SQUARE,
        collection,
        feature,
        file_report,
        officer,
        ticket_of,
    )

    bot = await make_bot(background=False)
    await officer(bot, sessions, "officer-e", "o-off-e")
    async with sessions() as s, s.begin():
        await grids.import_grids(s, collection(feature("HT", "湖塘网格", HT_SQUARE,
                                                       ["officer-e"])), bot.clock.now())
    rider, off = bot.phone("o-edge"), bot.phone("o-off-e")
    await rider.register()
    ticket = ticket_of(await file_report(bot, "o-edge"))
    await off.say(f"处理 {ticket} 已派人")
    # A double tap is refused, not a second event and push.
    assert await off.say(f"处理 {ticket} 已派人") == T.CANNOT_MOVE.format(
        ticket=ticket, status="处理中", to="处理中")
    # Reopening and resolving again does not earn the points again.
    for _ in range(3):
        await off.say(f"办结 {ticket} 好了")
        await rider.say(f"未解决 {ticket}")
    async with sessions() as s:
        points = (await s.exec(select(Member.points).where(Member.openid == "o-edge"))).one()
    assert points == 2 + 3
    # One's own open report nearby is not offered for backing: a new one is filed.
    again = await file_report(bot, "o-edge", text="路灯又坏了一盏")
    assert again.startswith("✅ 已受理")
    assert await rider.say("评价") == T.RATE_USAGE
    assert await rider.say(f"评价 {ticket}") == T.RATE_USAGE
    assert await rider.say("未解决") == T.REOPEN_USAGE
    # A location at the photo step: the question again, without "reply in text".
    await rider.say("上报")
    await rider.say("桥下积水过不去")
    reply = await rider.send(bot.peer.location("o-edge", 31.70, 119.95))
    assert reply.startswith(T.REPORT_ASK_PHOTO) and T.DIALOG_NEEDS_TEXT not in reply
    resp = await bot.client.get("/api/v1/reports/stats?to=9999-12-31", headers=API)
    assert resp.status == 400


async def test_an_erased_member_leaves_their_group(make_bot: BotFactory, sessions) -> None:
    from models import group as groups

    bot = await make_bot(background=False)
    async with sessions() as s, s.begin():
        code = (await groups.create(s, "测试党小组", "外卖送餐", bot.clock.now())).code
    a, b = bot.phone("o-ga"), bot.phone("o-gb")
    for p, name in ((a, "甲一"), (b, "乙二")):
        await p.register(name=name)
        await p.say(f"加入小组 {code}")
    assert await a.say("加入小组 AB") == T.GROUP_UNKNOWN.format(code="AB")
    await b.say("注销")
    await b.say("确认注销")
    assert "成员 1 人" in await a.say("我的小组")
