"""/api/v1/reports through real HTTP: list, detail, moves that reach the reporter, numbers."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from bot import texts as T
from bot.clock import SHANGHAI
from handlers.reports.api import DEFINITIONS
from models import report as reports
from tests.api import test_open311
from tests.api.test_open311 import (
    FAR,
    IN_XY,
    MOBILE,
    NAME,
    OPENID,
)
from tests.chat.test_reports import file_report, pushes, ticket_of
from tests.conftest import Bot

city = test_open311.city  # the same fixture: the bot with two grids and their officers


class Api:
    def __init__(self, client: TestClient, token: str):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        resp = await self.client.get(path, params=params, headers=self.headers)
        assert resp.content_type == "application/json"
        return resp.status, json.loads(await resp.text())

    async def post(self, path: str, body: Any, raw: bool = False) -> tuple[int, Any]:
        data = body if raw else json.dumps(body)
        resp = await self.client.post(path, data=data, headers={
            **self.headers, "Content-Type": "application/json"})
        assert resp.content_type == "application/json"
        return resp.status, await resp.json()

    async def move(self, ticket: str, **body: Any) -> tuple[int, Any]:
        return await self.post(f"/api/v1/reports/{ticket}/status", body)

    async def tickets(self, **params: Any) -> list[str]:
        status, data = await self.get("/api/v1/reports", **params)
        assert status == 200, data
        return [r["ticket"] for r in data["reports"]]


def api(bot: Bot) -> Api:
    return Api(bot.client, bot.settings.api.token)


async def seed(bot: Bot) -> dict[str, str]:
    """Four reports, newest last: two in 湖塘, one in 雪堰, one in the default queue."""
    await bot.phone(OPENID).register(name=NAME, mobile=MOBILE)
    made = {}
    for key, where in (("ht", (31.7093, 119.9512)), ("ht2", (31.7150, 119.9450)),
                       ("xy", IN_XY), ("queue", FAR)):
        made[key] = ticket_of(await file_report(bot, OPENID, where=where, photo=False))
        bot.clock.advance(minutes=1)
    return made


async def test_every_endpoint_needs_the_token(city: Bot) -> None:
    bot = city
    for headers in ({}, {"Authorization": "Bearer wrong-token-123456"},
                    {"Authorization": bot.settings.api.token[:-1]}):
        for method, path in (("GET", "/api/v1/reports"), ("GET", "/api/v1/reports/stats"),
                             ("GET", "/api/v1/reports/R20261128-0001"),
                             ("POST", "/api/v1/reports/R20261128-0001/status")):
            resp = await bot.client.request(method, path, headers=headers,
                                            json={"status": "处理中"})
            assert resp.status == 401, (method, path)
            assert await resp.json() == {"error": "missing or wrong API token"}


async def test_list_and_its_filters(city: Bot) -> None:
    bot = city
    t = await seed(bot)
    a = api(bot)
    status, data = await a.get("/api/v1/reports")
    assert status == 200 and data["total"] == 4 and data["offset"] == 0
    assert [r["ticket"] for r in data["reports"]] == [t["queue"], t["xy"], t["ht2"], t["ht"]]
    first = data["reports"][-1]
    assert set(first) == {"ticket", "status", "category", "description", "grid_code",
                          "created_at", "due_at", "overdue", "backers", "rating"}
    assert (first["status"], first["grid_code"], first["overdue"], first["backers"]) == (
        "已派单", "HT", False, 0)
    assert first["created_at"].endswith("+08:00")

    assert await a.tickets(grid="HT") == [t["ht2"], t["ht"]]
    assert await a.tickets(grid="ht") == [t["ht2"], t["ht"]]
    assert await a.tickets(grid="none") == [t["queue"]]
    assert await a.tickets(status="已受理") == [t["queue"]]
    assert await a.tickets(status="已派单", grid="XY") == [t["xy"]]
    assert await a.tickets(status="已受理,已派单") == [t["queue"], t["xy"], t["ht2"], t["ht"]]
    assert await a.tickets(limit=2, offset=1) == [t["xy"], t["ht2"]]
    assert await a.tickets(overdue=1) == []

    # A second resident backs the first report; the counts show in the list.
    await bot.phone("o-backer").register(name="李四", mobile="13600000000")
    offer = await file_report(bot, "o-backer", where=(31.7094, 119.9513), photo=False)
    assert offer.startswith(f"附近50米内已有同类上报 {t['ht']}")
    await bot.phone("o-backer").say("1")
    status, data = await a.get("/api/v1/reports", grid="HT")
    assert [r["backers"] for r in data["reports"]] == [0, 1]

    assert (await a.move(t["ht2"], status="已办结", note="已修好"))[0] == 200
    # The other three are now past their deadline: 3 working days from Saturday 28 November
    # is Wednesday 2 December, 17:30.
    bot.clock.advance(days=4, hours=8)
    assert await a.tickets(overdue=1) == [t["queue"], t["xy"], t["ht"]]
    assert await a.tickets(overdue=0) == [t["ht2"]]
    status, data = await a.get("/api/v1/reports", overdue="1", grid="none")
    assert data["total"] == 1 and data["reports"][0]["overdue"] is True

    for bad in ({"status": "open"}, {"limit": 0}, {"limit": 201}, {"limit": "x"},
                {"offset": -1}, {"offset": "99999999999999999999"}, {"overdue": "maybe"},
                {"grid": "X" * 40}, {"grid": "H\x00T"}):
        status, data = await a.get("/api/v1/reports", **bad)
        assert status == 400 and isinstance(data["error"], str), bad


async def test_detail_with_history_and_nothing_personal(city: Bot, sessions) -> None:
    bot = city
    t = await seed(bot)
    a = api(bot)
    await bot.phone("o-officer-ht").say(f"处理 {t['ht']} 已联系路灯所")
    resp = await bot.client.get(f"/api/v1/reports/{t['ht'].lower()}", headers=a.headers)
    body = await resp.text()
    detail = json.loads(body)
    assert resp.status == 200 and detail["ticket"] == t["ht"]
    for secret in (NAME, MOBILE, OPENID):
        assert secret not in body
    for key in ("member_id", "openid", "name", "mobile", "photo_path", "photo_media_id"):
        assert key not in detail
    assert (detail["lat"], detail["lng"], detail["datum"]) == (31.7093, 119.9512, "gcj02")
    assert detail["address"] == "湖塘花园街" and detail["photo_status"] == "none"
    assert detail["grid_name"] == "湖塘网格" and detail["status"] == "处理中"
    assert [(e["actor"], e["from"], e["to"], e["note"]) for e in detail["history"]] == [
        ("member", None, "已受理", ""),
        ("system", "已受理", "已派单", "湖塘网格"),
        ("officer:officer-ht", "已派单", "处理中", "已联系路灯所"),
    ]
    assert all(e["at"].endswith("+08:00") for e in detail["history"])
    status, queue = await a.get(f"/api/v1/reports/{t['queue']}")
    assert queue["grid_code"] is None and queue["grid_name"] == "区级待分派"
    for missing in ("R20990101-0001", "whatever", "R20261128-0001%00"):
        status, data = await a.get(f"/api/v1/reports/{missing}")
        assert status == 404 and data == {"error": "no such report"}


async def test_moves_through_the_api_reach_the_reporter(city: Bot, sessions) -> None:
    bot = city
    t = await seed(bot)
    a = api(bot)
    ticket = t["ht"]
    status, detail = await a.move(ticket, status="处理中", note=" 已派人查看 ")
    assert status == 200 and detail["status"] == "处理中"
    assert detail["history"][-1]["actor"] == "api"
    assert detail["history"][-1]["note"] == "已派人查看"
    bot.clock.advance(hours=6)
    status, detail = await a.move(ticket, status="已办结", note="灯泡已更换")
    assert status == 200 and detail["status"] == "已办结" and detail["resolved_at"]
    told = [p for p in await pushes(sessions, OPENID)]
    assert [p.kind for p in told] == ["report_status", "report_status"]
    assert told[0].text == T.REPORT_PUSH_STATUS.format(ticket=ticket, status="处理中",
                                                       note="已派人查看")
    assert told[1].text == T.REPORT_PUSH_RESOLVED.format(ticket=ticket, note="灯泡已更换")
    # The reporter can rate it as after an officer's 办结.
    assert await bot.phone(OPENID).say("4") == T.RATED.format(ticket=ticket, stars="4")

    # Illegal moves: 409 with the Chinese reason; nothing changes, nobody is told.
    status, data = await a.move(ticket, status="处理中", note="再看看")
    assert status == 409
    assert data["error"] == T.CANNOT_MOVE.format(ticket=ticket, status="已办结", to="处理中")
    status, data = await a.move(t["ht2"], status="已关闭", reason="非职责范围", note="归物业")
    assert status == 200 and data["close_reason"] == "非职责范围" and data["closed_at"]
    status, data = await a.move(t["ht2"], status="已派单")
    assert status == 409 and "已关闭" in data["error"]
    assert len(await pushes(sessions, OPENID)) == 3

    # Bad requests.
    path = f"/api/v1/reports/{t['xy']}/status"
    for body in ("not json", "[1, 2]", json.dumps({"status": "open"}),
                 json.dumps({"status": "已受理"}), json.dumps({"status": "已关闭"}),
                 json.dumps({"status": "已关闭", "reason": "懒得修"}),
                 json.dumps({"status": "处理中", "note": 5}),
                 json.dumps({"status": "处理中", "note": "x" * 501}),
                 json.dumps({"status": "处理中", "reason": "重复"})):
        status, data = await a.post(path, body, raw=True)
        assert status == 400 and isinstance(data["error"], str), body
    status, data = await a.move("R20990101-0001", status="处理中")
    assert status == 404
    async with sessions() as s:
        xy = await reports.by_ticket(s, t["xy"])
    assert xy is not None and xy.status == "已派单"


def day_bounds(first: str, last: str) -> tuple[datetime, datetime]:
    start = datetime.combine(datetime.fromisoformat(first).date(), time(0), SHANGHAI)
    end = datetime.combine(datetime.fromisoformat(last).date() + timedelta(days=1), time(0),
                           SHANGHAI)
    return start, end


async def test_stats_are_the_models_numbers(city: Bot, sessions) -> None:
    bot = city
    t = await seed(bot)
    a = api(bot)
    await a.move(t["ht"], status="处理中")
    bot.clock.advance(hours=10)
    await a.move(t["ht"], status="已办结", note="已修")
    await bot.phone(OPENID).say("5")
    await a.move(t["ht2"], status="已关闭", reason="重复", note="同上")
    await a.move(t["xy"], status="已关闭", reason="无法处理")
    bot.clock.advance(days=4)  # the queued one is overdue
    now = bot.clock.now()

    status, data = await a.get("/api/v1/reports/stats")
    assert status == 200
    assert (data["from"], data["to"]) == ("2026-11-03", "2026-12-02")  # the last 30 days
    start, end = day_bounds(data["from"], data["to"])
    assert data["start"] == "2026-11-03T00:00:00+08:00" == start.isoformat()
    assert data["end"] == "2026-12-03T00:00:00+08:00" == end.isoformat()
    async with sessions() as s:
        overall = await reports.numbers(s, start, end, now)
        by_grid = {code: await reports.numbers(s, start, end, now, code)
                   for code in ("HT", "XY", "")}
    assert data["grid"] is None and data["numbers"] == overall
    # Worked by hand: 4 reports; 1 已办结 of 4 − 1 duplicate; one rating (5); one overdue.
    assert overall["reports"] == 4 and overall["resolution_rate"] == round(1 / 3, 4)
    assert overall["satisfaction_rate"] == 1.0 and overall["overdue"] == 1
    assert overall["median_hours_to_resolve"] == round(10 + 4 / 60, 2)  # moved at +4 min
    grids_out = {g["grid_code"]: g for g in data["grids"]}
    assert list(grids_out) == ["HT", "XY", None]
    assert grids_out["HT"]["grid_name"] == "湖塘网格" and grids_out[None]["grid_name"] == (
        "区级待分派")
    for code, numbers in by_grid.items():
        got = {k: v for k, v in grids_out[code or None].items()
               if k not in ("grid_code", "grid_name")}
        assert got == numbers, code
    assert grids_out["HT"]["resolution_rate"] == 1.0  # the duplicate is left out
    assert grids_out["XY"]["resolution_rate"] == 0.0  # 无法处理 stays in
    assert grids_out[None]["overdue"] == 1

    assert data["definitions"] == DEFINITIONS
    text = data["definitions"]
    assert "以「重复」为由" in text["resolution_rate"] and "已办结" in text["resolution_rate"]
    assert "4 或 5" in text["satisfaction_rate"]
    assert "已受理、已派单、处理中" in text["overdue"] and "due_at" in text["overdue"]
    assert "已办结" in text["median_hours_to_resolve"]

    status, one = await a.get("/api/v1/reports/stats", grid="HT", **{
        "from": "2026-11-28", "to": "2026-11-28"})
    start, end = day_bounds("2026-11-28", "2026-11-28")
    async with sessions() as s:
        assert one["numbers"] == await reports.numbers(s, start, end, now, "HT")
    assert one["grid"] == "HT" and "grids" not in one and one["numbers"]["reports"] == 2
    status, queue = await a.get("/api/v1/reports/stats", grid="none")
    assert queue["grid"] is None and queue["numbers"]["reports"] == 1
    status, before = await a.get("/api/v1/reports/stats", **{"from": "2026-11-01",
                                                               "to": "2026-11-27"})
    assert before["numbers"]["reports"] == 0 and before["numbers"]["resolution_rate"] is None

    for bad in ({"from": "2026-11-30", "to": "2026-11-01"}, {"from": "28/11/2026"},
                {"to": "2026-02-30"}, {"from": "2024-01-01", "to": "2026-01-01"}):
        status, data = await a.get("/api/v1/reports/stats", **bad)
        assert status == 400 and isinstance(data["error"], str), bad
    status, data = await a.get("/api/v1/reports/stats", grid="NOWHERE")
    assert status == 404
