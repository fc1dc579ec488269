"""Open311 GeoReport v2 (read-only) through real HTTP, on reports filed through the callback."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import texts as T
from bot.app import SERVICES, create_app
from bot.clock import SHANGHAI, FakeClock
from bot.settings import Settings
from handlers.reports.open311 import service_code
from models import geo
from models import grid as grids
from models import report as reports
from tests.chat.test_reports import (
    HT_SQUARE,
    IN_HT,
    XY_SQUARE,
    collection,
    feature,
    file_report,
    officer,
    ticket_of,
)
from tests.conftest import Bot, Sandbox

# Every field of a GeoReport v2 service request (GET Service Requests, "Response").
REQUEST_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
    "long", "media_url",
}
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type",
                  "keywords", "group"}
W3C = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})")
NAME, MOBILE, OPENID = "王小明", "13912345678", "o-reporter-wxm"
IN_XY = (31.52, 120.08)
FAR = (31.80, 119.70)  # outside every grid


async def start_city(settings: Settings, clock: FakeClock, sandbox: Sandbox,
                     sessions: Any) -> tuple[Bot, TestClient]:
    """The bot (as conftest's make_bot starts it), two grids and their officers."""
    app = create_app(settings, clock=clock, sandbox=False, scheduler=False, background=False)
    client = TestClient(TestServer(app))
    await client.start_server()
    bot = Bot(client, settings, clock, sandbox)
    await officer(bot, sessions, "officer-ht", "o-officer-ht")
    await officer(bot, sessions, "officer-xy", "o-officer-xy")
    async with sessions() as s, s.begin():
        imported = await grids.import_grids(s, collection(
            feature("HT", "湖塘网格", HT_SQUARE, ["officer-ht"]),
            feature("XY", "雪堰网格", XY_SQUARE, ["officer-xy"])), clock.now())
    assert imported.rejected == []
    return bot, client


@pytest.fixture
async def city(settings: Settings, clock: FakeClock, sandbox: Sandbox,
               sessions: Any) -> AsyncIterator[Bot]:
    bot, client = await start_city(settings, clock, sandbox, sessions)
    yield bot
    await client.close()


async def get(bot: Bot, path: str, **params: Any) -> tuple[int, str, Any]:
    resp = await bot.client.get(path, params=params)
    body = await resp.text()
    assert resp.content_type == "application/json", body
    return resp.status, body, json.loads(body)


async def requests(bot: Bot, **params: Any) -> list[dict[str, Any]]:
    status, _, data = await get(bot, "/open311/v2/requests.json", **params)
    assert status == 200, data
    return data


def assert_open311_error(status: int, data: Any, code: int) -> None:
    assert status == code
    assert isinstance(data, list) and len(data) == 1
    assert set(data[0]) == {"code", "description"} and data[0]["code"] == code
    assert isinstance(data[0]["description"], str) and data[0]["description"]


def assert_no_personal_data(body: str, data: Any) -> None:
    """Raw bytes and decoded text (JSON may escape the Chinese name as \\uXXXX)."""
    decoded = json.dumps(data, ensure_ascii=False)
    for secret in (NAME, MOBILE, OPENID, json.dumps(NAME)[1:-1]):
        assert secret not in body and secret not in decoded, secret
    for key in ("member_id", "openid", "name", "mobile", "photo_path", "photo_media_id"):
        assert f'"{key}"' not in body


async def test_services_one_per_category(city: Bot) -> None:
    status, body, services = await get(city, "/open311/v2/services.json")
    assert status == 200
    categories = city.settings.reports.categories
    assert [s["service_name"] for s in services] == [c.name for c in categories]
    for service, category in zip(services, categories, strict=True):
        assert set(service) == SERVICE_FIELDS
        assert re.fullmatch(r"rc[0-9a-f]{8}", service["service_code"])
        assert service["service_code"] == service_code(category.name)
        assert service["metadata"] is False and service["type"] == "realtime"
        assert service["group"] == "随手拍"
        assert service["keywords"] == ",".join(category.keywords)
    assert len({s["service_code"] for s in services}) == len(services)
    assert "路灯,红绿灯" in body  # UTF-8 as it is, not \u-escaped


async def test_requests_carry_every_field_and_nothing_personal(city: Bot, sessions) -> None:
    bot = city
    await bot.phone(OPENID).register(name=NAME, mobile=MOBILE)
    lamp = ticket_of(await file_report(bot, OPENID))  # HT, with photo and location
    typed = ticket_of(await file_report(bot, OPENID, text="这里垃圾乱堆，电话13700001111",
                                        where="湖塘镇花园街12号", photo=False))
    far = ticket_of(await file_report(bot, OPENID, where=FAR, photo=False))
    xy = ticket_of(await file_report(bot, OPENID, where=IN_XY, photo=False))
    await bot.client.server.app[SERVICES].loops["photos"].run_once()  # the photo is saved to disk
    async with sessions() as s:
        stored = {t: await reports.by_ticket(s, t) for t in (lamp, typed, far, xy)}
    assert stored[lamp].photo_path

    status, body, found = await get(bot, "/open311/v2/requests.json")
    assert status == 200
    assert_no_personal_data(body, found)
    assert stored[lamp].photo_path not in body and "media-" not in body
    assert "13700001111" not in body  # a phone number typed into the description is masked
    by_id = {r["service_request_id"]: r for r in found}
    assert set(by_id) == {lamp, typed, far, xy}
    assert [r["service_request_id"] for r in found] == [xy, far, typed, lamp]  # newest first
    for r in found:
        assert set(r) == REQUEST_FIELDS
        assert r["status"] in ("open", "closed")
        for key in ("requested_datetime", "updated_datetime", "expected_datetime"):
            assert W3C.fullmatch(r[key]), r[key]
        assert r["requested_datetime"].endswith("+08:00")
        assert r["service_notice"] == r["address_id"] == r["zipcode"] == r["media_url"] == ""
    lamp_r = by_id[lamp]
    assert lamp_r["status"] == "open" and lamp_r["status_notes"] == "湖塘网格"
    assert lamp_r["service_name"] == "道路交通"
    assert lamp_r["service_code"] == service_code("道路交通")
    assert lamp_r["description"] == "花园街路灯不亮，晚上很黑"
    assert lamp_r["agency_responsible"] == "湖塘网格"
    assert lamp_r["address"] == "湖塘花园街"
    report = stored[lamp]
    assert datetime.fromisoformat(lamp_r["requested_datetime"]) == report.created_at
    assert datetime.fromisoformat(lamp_r["expected_datetime"]) == report.due_at
    assert by_id[xy]["agency_responsible"] == "雪堰网格"
    assert by_id[far]["agency_responsible"] == "区级待分派"
    assert by_id[typed]["agency_responsible"] == "区级待分派"
    assert by_id[typed]["lat"] is None and by_id[typed]["long"] is None
    assert by_id[typed]["description"] == "这里垃圾乱堆，电话***********"
    assert by_id[typed]["service_name"] == "市容环境"

    # lat/long are WGS-84: a few hundred metres from the stored GCJ-02 point, and shifting
    # them back gives the stored point.
    stored_point = geo.Point(report.lat, report.lng)
    wgs = geo.Point(lamp_r["lat"], lamp_r["long"])
    assert (report.lat, report.lng) == IN_HT
    assert 200 <= geo.distance_m(wgs, stored_point) <= 700
    assert geo.distance_m(geo.wgs84_to_gcj02(wgs), stored_point) < 1


async def test_status_filter_and_notes(city: Bot) -> None:
    bot = city
    await bot.phone(OPENID).register(name=NAME, mobile=MOBILE)
    fixed = ticket_of(await file_report(bot, OPENID, photo=False))
    duplicate = ticket_of(await file_report(bot, OPENID, where=(31.7150, 119.9450),
                                            photo=False))
    waiting = ticket_of(await file_report(bot, OPENID, where=(31.7050, 119.9550),
                                          photo=False))
    ht = bot.phone("o-officer-ht")
    bot.clock.advance(hours=5)
    assert (await ht.say(f"办结 {fixed} 灯泡已更换")).startswith(f"已将 {fixed}")
    await ht.say(f"关闭 {duplicate} 重复 与{fixed}相同")
    await ht.say(f"处理 {waiting} 已联系路灯所")

    def ids(found: list[dict[str, Any]]) -> set[str]:
        return {r["service_request_id"] for r in found}

    assert ids(await requests(bot, status="open")) == {waiting}
    closed = {r["service_request_id"]: r for r in await requests(bot, status="closed")}
    assert set(closed) == {fixed, duplicate}
    assert closed[fixed]["status"] == "closed" and closed[fixed]["status_notes"] == "灯泡已更换"
    assert closed[duplicate]["status_notes"] == "重复"
    assert closed[fixed]["updated_datetime"] != closed[fixed]["requested_datetime"]
    assert ids(await requests(bot, status="open,closed")) == {fixed, duplicate, waiting}
    assert ids(await requests(bot, status="")) == {fixed, duplicate, waiting}  # null = absent
    [open_one] = await requests(bot, status="open")
    assert open_one["status_notes"] == "已联系路灯所"
    # A rating after 已办结 changes neither the status note nor the closing time.
    assert await bot.phone(OPENID).say(f"评价 {fixed} 5") == T.RATED.format(ticket=fixed,
                                                                          stars="5")
    [again] = await requests(bot, service_request_id=fixed)
    assert again == closed[fixed]
    status, _, data = await get(bot, "/open311/v2/requests.json", status="pending")
    assert_open311_error(status, data, 400)


async def test_date_range(city: Bot) -> None:
    bot = city
    await bot.phone(OPENID).register(name=NAME, mobile=MOBILE)
    first = ticket_of(await file_report(bot, OPENID, photo=False))  # 2026-11-28 10:00 +08
    bot.clock.advance(days=2)
    second = ticket_of(await file_report(bot, OPENID, where=(31.7150, 119.9450),
                                         photo=False))  # 2026-11-30 10:00 +08

    async def ids(**params: Any) -> list[str]:
        return [r["service_request_id"] for r in await requests(bot, **params)]

    assert await ids() == [second, first]
    assert await ids(start_date="2026-11-29T00:00:00+08:00") == [second]
    assert await ids(end_date="2026-11-29T00:00:00+08:00") == [first]
    assert await ids(start_date="2026-11-28T00:00:00Z", end_date="2026-11-29T00:00:00Z") == [
        first]
    assert await ids(start_date="2026-11-28T02:00:00Z", end_date="2026-11-28T02:00:00Z") == [
        first]  # both ends included
    assert await ids(start_date="2026-11-30T10:00:01+08:00") == []
    # An unescaped '+' in a query string arrives as a space; it is read as the '+' meant.
    resp = await bot.client.get("/open311/v2/requests.json?start_date="
                                "2026-11-29T00:00:00+08:00")
    assert [r["service_request_id"] for r in await resp.json()] == [second]
    # No offset: Asia/Shanghai.
    assert await ids(start_date="2026-11-30T09:59:00", end_date="2026-11-30T10:01:00") == [
        second]

    for bad in ({"start_date": "yesterday"}, {"end_date": "2026-13-01T00:00:00Z"},
                {"start_date": "2026-11-30T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"},
                {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"},
                {"start_date": "0001-01-01T00:00:00+08:00"},
                {"start_date": "9999-12-31T00:00:00Z"}):
        status, _, data = await get(bot, "/open311/v2/requests.json", **bad)
        assert_open311_error(status, data, 400)
    # The default window is the spec's most recent 90 days; an id still finds the request.
    bot.clock.advance(days=89)
    assert await ids() == [second]
    assert await ids(service_request_id=f"{first},{second}") == [second, first]


async def test_pagination(city: Bot) -> None:
    bot = city
    await bot.phone(OPENID).register(name=NAME, mobile=MOBILE)
    tickets = []
    for i in range(5):
        tickets.append(ticket_of(await file_report(bot, OPENID, where=(31.7010 + i * 0.002,
                                                                      119.9450), photo=False)))
        bot.clock.advance(minutes=1)
    pages = [[r["service_request_id"] for r in await requests(bot, page=p, page_size=2)]
             for p in (1, 2, 3, 4)]
    assert pages == [tickets[4:2:-1], tickets[2:0:-1], tickets[:1], []]
    assert len(await requests(bot)) == 5  # default page_size 50
    assert len(await requests(bot, page_size=200)) == 5
    for bad in ({"page": 0}, {"page": "x"}, {"page_size": 0}, {"page_size": 201},
                {"page": "99999999999999999999"}):
        status, _, data = await get(bot, "/open311/v2/requests.json", **bad)
        assert_open311_error(status, data, 400)


async def test_one_request_and_service_codes(city: Bot) -> None:
    bot = city
    await bot.phone(OPENID).register(name=NAME, mobile=MOBILE)
    lamp = ticket_of(await file_report(bot, OPENID, photo=False))
    litter = ticket_of(await file_report(bot, OPENID, text="这里垃圾乱堆", photo=False))
    status, body, found = await get(bot, f"/open311/v2/requests/{lamp}.json")
    assert status == 200 and len(found) == 1 and set(found[0]) == REQUEST_FIELDS
    assert found[0]["service_request_id"] == lamp
    assert_no_personal_data(body, found)
    status, _, found = await get(bot, f"/open311/v2/requests/{lamp.lower()}.json")
    assert status == 200 and found[0]["service_request_id"] == lamp
    for missing in ("R20990101-0001", "nonsense", "R20261128-0001%00"):
        status, _, data = await get(bot, f"/open311/v2/requests/{missing}.json")
        assert_open311_error(status, data, 404)

    road = [r["service_request_id"] for r in await requests(
        bot, service_code=service_code("道路交通"))]
    assert road == [lamp]
    both = await requests(bot, service_code=f"{service_code('道路交通')},"
                                            f"{service_code('市容环境')}")
    assert {r["service_request_id"] for r in both} == {lamp, litter}
    status, _, data = await get(bot, "/open311/v2/requests.json", service_code="cat1")
    assert_open311_error(status, data, 400)
    # A list of ids overrides every other argument, unknown and malformed ones are left out.
    found = await requests(bot, service_request_id=f"{lamp}, R20990101-0001,x",
                           status="closed", service_code="nope")
    assert [r["service_request_id"] for r in found] == [lamp]
    assert (await requests(bot, start_date=(bot.clock.now() + timedelta(hours=1))
                           .astimezone(SHANGHAI).isoformat())) == []
