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
from tests.conftest import Bot, BotFactory
from tests.test_stations import STATIONS

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
    assert all("o-forget-me" != m.openid for m in members if m.erased_at)


async def test_the_notice_api_answers_bad_input_with_json_4xx(bot: Bot) -> None:
    await bot.phone("o-api").register()
    resp = await bot.client.get("/api/v1/notices/99999999999999999999", headers=API)
    assert resp.status == 404
    resp = await bot.client.post("/api/v1/notices", headers=API, json={
        "title": "t", "body": "b", "audience": "industry:a\\q\n\"x\""})
    assert resp.status == 400
    assert "没有这个行业" in json.loads(await resp.text())["error"]  # valid JSON
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
