"""Red stations: geo and hours rules, the importer, and check-ins through the real callback."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot import texts as T
from models import geo, qr
from models import hours as opening
from models import station as stations
from models.checkin import Checkin
from models.member import Member
from models.station import Station
from models.station_import import import_stations
from tests.conftest import Bot, BotFactory

HT01 = geo.Point(31.7093, 119.9512)
STATIONS = [
    {"code": "HT01", "name": "湖塘驿站", "kind": "驿站", "lat": 31.7093, "lng": 119.9512,
     "services": "饮水、充电、微波炉", "hours": "24h", "radius_m": "200"},
    {"code": "HT02", "name": "延政路服务吧", "kind": "服务吧", "lat": 31.7012, "lng": 119.9403,
     "services": "饮水", "hours": "一至五 08:00-18:00；六日 09:00-12:00"},
    {"code": "HT03", "name": "万达驿站", "kind": "驿站", "lat": 31.7158, "lng": 119.9625,
     "services": "", "hours": "20:00-02:00"},
    {"code": "XY01", "name": "雪堰驿站", "kind": "驿站", "lat": 31.5203, "lng": 120.0804,
     "services": "饮水", "hours": "07:00-20:00"},
    {"code": "OLD1", "name": "旧驿站", "kind": "驿站", "lat": 31.7100, "lng": 119.9520,
     "services": "", "hours": "24h"},
]


# --- rules ---------------------------------------------------------------------------------


def test_wgs84_to_gcj02_matches_the_known_shift() -> None:
    tiananmen = geo.Point(39.908692, 116.397477)
    shifted = geo.wgs84_to_gcj02(tiananmen)
    assert shifted.lat == pytest.approx(39.910092, abs=2e-5)
    assert shifted.lng == pytest.approx(116.403718, abs=2e-5)
    back = geo.gcj02_to_wgs84(shifted)
    assert geo.distance_m(back, tiananmen) < 0.5
    assert 200 < geo.distance_m(HT01, geo.wgs84_to_gcj02(HT01)) < 700  # Wujin: ~500 m
    outside = geo.Point(48.85, 2.35)  # Paris: no shift outside China
    assert geo.wgs84_to_gcj02(outside) == outside


def test_distance_and_bbox() -> None:
    a, b = geo.Point(31.7, 119.95), geo.Point(31.71, 119.95)
    assert geo.distance_m(a, b) == pytest.approx(1112, rel=0.01)
    lat0, lat1, lng0, lng1 = geo.bbox(a, 1000)
    for _ in range(200):
        p = geo.Point(a.lat + random.uniform(-0.02, 0.02), a.lng + random.uniform(-0.02, 0.02))
        if geo.distance_m(a, p) <= 1000:
            assert lat0 <= p.lat <= lat1 and lng0 <= p.lng <= lng1
    assert geo.format_distance(347) == "350米" and geo.format_distance(1234) == "1.2公里"


@pytest.mark.parametrize(("lat", "lng"), [(0, 0), (95, 120), (31, 190), (float("nan"), 1)])
def test_bad_points(lat: float, lng: float) -> None:
    with pytest.raises(geo.BadPoint):
        geo.check(lat, lng)


def test_hours() -> None:
    week = opening.parse("一至五 08:00-18:00；六日 09:00-12:00")
    saturday_10 = datetime(2026, 11, 28, 10, 0)
    assert opening.is_open(week, saturday_10)
    assert not opening.is_open(week, saturday_10.replace(hour=13))
    assert opening.today_text(week, saturday_10) == "今日 09:00-12:00"
    night = opening.parse("20:00-02:00")
    assert opening.is_open(night, datetime(2026, 11, 28, 1, 30))
    assert not opening.is_open(night, datetime(2026, 11, 28, 3, 0))
    assert opening.today_text(night, saturday_10) == "今日 20:00-次日02:00"
    assert opening.today_text(opening.parse("24h"), saturday_10) == "24小时"
    only_weekdays = opening.parse("一至五 09:00-17:00")
    assert opening.today_text(only_weekdays, saturday_10) == "今日休息"


@pytest.mark.parametrize("bad", ["", "8-18", "一至五", "25:00-26:00", "五至一 08:00-09:00",
                                 "08:00-08:00", "周八 08:00-18:00"])
def test_bad_hours(bad: str) -> None:
    with pytest.raises(opening.BadHours):
        opening.parse(bad)


# --- the importer --------------------------------------------------------------------------


async def seed(sessions, clock, rows: list[dict[str, Any]] = STATIONS) -> Any:
    async with sessions() as s, s.begin():
        report = await import_stations(s, enumerate(rows, 2), 200, clock.now())
    assert report.rejected == []
    async with sessions() as s, s.begin():
        old = await stations.by_code(s, "OLD1")
        if old:
            old.active = False
            s.add(old)
    return report


async def test_import_upserts_by_code_and_converts_wgs84(sessions, clock) -> None:
    report = await seed(sessions, clock)
    assert sorted(report.added) == ["HT01", "HT02", "HT03", "OLD1", "XY01"]
    changed = [{**STATIONS[0], "name": "湖塘红色驿站"},
               {**STATIONS[1], "datum": "wgs84"}, STATIONS[3]]
    async with sessions() as s, s.begin():
        report = await import_stations(s, enumerate(changed, 2), 200, clock.now())
    assert (report.changed, report.unchanged) == (["HT01", "HT02"], ["XY01"])
    async with sessions() as s:
        ht02 = await stations.by_code(s, "HT02")
        ht01 = await stations.by_code(s, "ht01")
    assert ht01 is not None and ht01.name == "湖塘红色驿站" and ht01.services == [
        "饮水", "充电", "微波炉"]
    assert ht02 is not None and ht02.source_datum == "wgs84"
    moved = geo.distance_m(ht02.point, geo.Point(31.7012, 119.9403))
    assert 300 < moved < 700  # stored in GCJ-02, not as given


async def test_a_broken_file_imports_nothing(sessions, clock) -> None:
    rows = [
        STATIONS[0],
        {**STATIONS[1], "hours": ""},
        {**STATIONS[2], "lat": "0", "lng": "0"},
        {**STATIONS[3], "kind": "加油站"},
        {**STATIONS[0], "name": "重复"},
        {**STATIONS[4], "radius_m": "十米"},
        {**STATIONS[4], "code": "BAD CODE"},
        {**STATIONS[4], "datum": "bd09"},
    ]
    async with sessions() as s, s.begin():
        report = await import_stations(s, enumerate(rows, 2), 200, clock.now())
    reasons = dict(report.rejected)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9]
    assert "缺少 hours" in reasons[3]
    assert "坐标无效" in reasons[4]
    assert "kind" in reasons[5]
    assert "与第2行重复" in reasons[6]
    assert "radius_m" in reasons[7] and "code" in reasons[8] and "datum" in reasons[9]
    async with sessions() as s:
        assert (await s.exec(select(Station))).all() == []


async def test_nearest_matches_brute_force(sessions, clock) -> None:
    rng = random.Random(7)
    rows = [{"code": f"R{i:04d}", "name": f"驿站{i}", "kind": "驿站",
             "lat": round(31.7 + rng.uniform(-0.1, 0.1), 6),
             "lng": round(119.95 + rng.uniform(-0.1, 0.1), 6), "hours": "24h"}
            for i in range(600)]
    await seed(sessions, clock, rows)
    for _ in range(20):
        here = geo.Point(31.7 + rng.uniform(-0.08, 0.08), 119.95 + rng.uniform(-0.08, 0.08))
        expected = sorted((geo.distance_m(here, geo.Point(r["lat"], r["lng"])), r["code"])
                          for r in rows)
        expected = [c for d, c in expected if d <= 5000][:5]
        async with sessions() as s:
            page, _ = await stations.nearest_page(s, here)
        assert [n.station.code for n in page] == expected


# --- check-ins through the callback --------------------------------------------------------


@pytest.fixture
async def with_stations(bot: Bot, sessions) -> Bot:
    await seed(sessions, bot.clock)
    return bot


async def checkin_rows(sessions, openid: str | None = None) -> list[Checkin]:
    async with sessions() as s:
        q = select(Checkin).order_by(Checkin.id)
        if openid:
            q = q.join(Member, Member.id == Checkin.member_id).where(Member.openid == openid)
        return list((await s.exec(q)).all())


async def points(sessions, openid: str) -> int:
    async with sessions() as s:
        return (await s.exec(select(Member.points).where(Member.openid == openid))).one()


async def test_check_in_by_qr_once_a_day(with_stations: Bot, sessions) -> None:
    bot = with_stations
    p = bot.phone("o-qr")
    await p.register()
    reply = await p.event("SCAN", "st:HT01")
    assert reply.startswith("✅ 签到成功：湖塘驿站（驿站）")
    assert "营业中 · 24小时" in reply and "饮水、充电、微波炉" in reply
    assert "本月第1次签到 · 红色积分 1" in reply
    bot.clock.advance(minutes=30)
    again = await p.event("SCAN", "st:HT01")
    assert again == T.CHECKIN_AGAIN.format(time="10:00", name="湖塘驿站", month=1, points=1)
    bot.clock.advance(days=1)
    reply = await p.event("SCAN", "st:HT01")
    assert "本月第2次签到 · 红色积分 2" in reply
    assert len(await checkin_rows(sessions, "o-qr")) == 2


async def test_follow_by_scanning_registers_then_checks_in(with_stations: Bot,
                                                             sessions) -> None:
    bot = with_stations
    p = bot.phone("o-newcomer")
    reply = await p.event("subscribe", "qrscene_st:HT02")
    assert reply.startswith(T.REG_NEEDED)
    for answer in ("王五", "13900001111", "1", "顺丰", "1"):
        await p.say(answer)
    reply = await p.say("同意")
    assert reply.startswith(T.REG_DONE.format(name="王五"))
    assert "✅ 签到成功：延政路服务吧（服务吧）" in reply
    assert "未营业 · 今日 09:00-12:00" in reply or "营业中 · 今日 09:00-12:00" in reply
    [row] = await checkin_rows(sessions, "o-newcomer")
    assert row.method == "qr"


async def test_menu_scan_button_checks_in_too(with_stations: Bot, sessions) -> None:
    bot = with_stations
    p = bot.phone("o-menu-scan")
    await p.register()
    scan = bot.peer.event("o-menu-scan", "scancode_waitmsg", "扫码签到",
                          create_time=bot.now_ts,
                          ScanCodeInfo={"ScanType": "qrcode", "ScanResult": "st:HT03"})
    assert "✅ 签到成功：万达驿站" in await p.send(scan)
    # A code WeChat made for us: its URL leads to the scene.
    async with sessions() as s, s.begin():
        await qr.remember(s, "st:XY01", "ticket-1", "http://weixin.qq.com/q/abc", bot.clock.now())
    bot.clock.advance(hours=3)
    scan = bot.peer.event("o-menu-scan", "scancode_waitmsg", "扫码签到",
                          create_time=bot.now_ts,
                          ScanCodeInfo={"ScanType": "qrcode",
                                        "ScanResult": "http://weixin.qq.com/q/abc"})
    assert "✅ 签到成功：雪堰驿站" in await p.send(scan)
    bot.clock.advance(seconds=1)
    scan = bot.peer.event("o-menu-scan", "scancode_waitmsg", "扫码签到",
                          create_time=bot.now_ts,
                          ScanCodeInfo={"ScanType": "qrcode", "ScanResult": "https://x.cn"})
    assert await p.send(scan) == T.SCAN_UNKNOWN


async def test_unknown_and_inactive_stations(with_stations: Bot) -> None:
    p = with_stations.phone("o-bad-scene")
    await p.register()
    assert await p.event("SCAN", "st:NOPE") == T.STATION_UNKNOWN.format(code="NOPE")
    with_stations.clock.advance(seconds=1)
    assert await p.event("SCAN", "st:OLD1") == T.STATION_INACTIVE.format(name="旧驿站")


async def test_check_in_by_location(with_stations: Bot, sessions) -> None:
    bot = with_stations
    p = bot.phone("o-loc")
    await p.register()
    near_ht01 = bot.peer.location("o-loc", 31.7100, 119.9515)  # ~80 m away
    reply = await p.send(near_ht01)
    assert reply.startswith("✅ 签到成功：湖塘驿站")
    [row] = await checkin_rows(sessions, "o-loc")
    assert row.method == "location" and 50 < (row.distance_m or 0) < 120
    # Between stations: nothing in range, so the nearest are listed.
    reply = await p.send(bot.peer.location("o-loc", 31.7050, 119.9450))
    assert reply.startswith("这里不在任何驿站的签到范围内。最近的是「延政路服务吧」")
    assert "1. 延政路服务吧" in reply and "旧驿站" not in reply
    far = await p.send(bot.peer.location("o-loc", 32.5, 121.5))
    assert far.startswith(T.OUTSIDE_NONE.split("{")[0]) and "最近的驿站是「" in far
    assert "公里" in far and "「附近」" in far  # how far the nearest is, and what to send
    assert await p.send(bot.peer.location("o-loc", 0, 0)) == T.BAD_LOCATION
    assert await p.send(bot.peer.location("o-loc", 95, 119)) == T.BAD_LOCATION
    assert len(await checkin_rows(sessions, "o-loc")) == 1


async def test_location_datum_is_configurable(make_bot: BotFactory, settings, sessions) -> None:
    wgs = settings.model_copy(update={"wechat": settings.wechat.model_copy(
        update={"location_datum": "wgs84"})})
    bot = await make_bot(wgs)
    await seed(sessions, bot.clock)
    p = bot.phone("o-gps")
    await p.register()
    # The station's GCJ-02 point, sent as if it were WGS-84, is ~500 m off: out of range.
    reply = await p.send(bot.peer.location("o-gps", HT01.lat, HT01.lng))
    assert not reply.startswith("✅")
    gps = geo.gcj02_to_wgs84(HT01)
    bot.clock.advance(seconds=1)
    assert (await p.send(bot.peer.location("o-gps", gps.lat, gps.lng))).startswith("✅")


async def test_nearby_dialog_pages_on(make_bot: BotFactory, sessions) -> None:
    bot = await make_bot()
    rows = [{"code": f"N{i:02d}", "name": f"驿站{i:02d}", "kind": "驿站",
             "lat": 31.70 + i * 0.002, "lng": 119.95, "hours": "24h"} for i in range(8)]
    await seed(sessions, bot.clock, rows)
    p = bot.phone("o-nearby")  # no registration needed to look
    assert await p.say("附近") == T.NEARBY_ASK
    # Waiting for a location is no dead end: other words do what they always do.
    assert (await p.say("帮助")).startswith(T.HELP_HEADER)
    assert await p.say("附近") == T.NEARBY_ASK
    first = await p.send(bot.peer.location("o-nearby", 31.70, 119.95))
    assert first.startswith(T.NEARBY_HEADER) and "1. 驿站00" in first and "5. 驿站04" in first
    assert first.endswith(T.NEARBY_MORE)
    # WeChat's delivery reports arriving meanwhile do not end the list.
    assert await p.send(bot.peer.event("o-nearby", "TEMPLATESENDJOBFINISH",
                                       create_time=bot.now_ts, Status="success")) is None
    second = await p.say("更多")
    assert "6. 驿站05" in second and "8. 驿站07" in second and T.NEARBY_MORE not in second
    assert await p.say("更多") == T.NOTHING_MORE


async def test_after_a_list_other_words_work_as_usual(with_stations: Bot) -> None:
    bot = with_stations
    p = bot.phone("o-list")
    await p.say("附近")
    await p.send(bot.peer.location("o-list", 31.7093, 119.9512))
    assert (await p.say("帮助")).startswith(T.HELP_HEADER)


async def test_menu_nearby_button_makes_the_next_location_a_search(with_stations: Bot,
                                                                     sessions) -> None:
    bot = with_stations
    p = bot.phone("o-picker")
    await p.register()
    picked = {"Location_X": "31.7093", "Location_Y": "119.9512", "Scale": "15",
              "Label": "湖塘", "Poiname": "湖塘"}
    assert await p.send(bot.peer.event("o-picker", "location_select", "附近驿站",
                                       create_time=bot.now_ts,
                                       SendLocationInfo=picked)) is None
    reply = await p.send(bot.peer.location("o-picker", 31.7093, 119.9512))
    assert reply.startswith(T.NEARBY_HEADER)
    assert await checkin_rows(sessions, "o-picker") == []
    # 位置签到: the location that follows checks in.
    bot.clock.advance(seconds=1)
    assert await p.send(bot.peer.event("o-picker", "location_select", "位置签到",
                                       create_time=bot.now_ts,
                                       SendLocationInfo=picked)) is None
    assert (await p.send(bot.peer.location("o-picker", 31.7093, 119.9512))).startswith("✅")


async def test_concurrent_double_check_in_makes_one_row(with_stations: Bot, sessions) -> None:
    bot = with_stations
    p = bot.phone("o-double")
    await p.register()
    ts = bot.now_ts
    taps = [bot.peer.event("o-double", "SCAN", "st:HT01", create_time=ts + i) for i in range(3)]
    replies = await asyncio.gather(*(p.send(x) for x in taps))
    assert sum(r.startswith("✅") for r in replies) == 1
    assert sum(r.startswith("今天") for r in replies) == 2
    assert len(await checkin_rows(sessions, "o-double")) == 1
    assert await points(sessions, "o-double") == 1


async def test_a_retried_scan_checks_in_once(with_stations: Bot, sessions) -> None:
    bot = with_stations
    p = bot.phone("o-retry-scan")
    await p.register()
    scan = bot.peer.event("o-retry-scan", "SCAN", "st:HT01", create_time=bot.now_ts)
    replies = [await p.send(scan) for _ in range(3)]
    assert len(set(replies)) == 1 and replies[0].startswith("✅")
    assert len(await checkin_rows(sessions, "o-retry-scan")) == 1


async def test_impossible_journeys_are_kept_but_flagged(with_stations: Bot, sessions) -> None:
    bot = with_stations
    p = bot.phone("o-teleport")
    await p.register()
    await p.event("SCAN", "st:HT01")
    bot.clock.advance(minutes=10)  # ~25 km in 10 minutes: 150 km/h
    assert (await p.event("SCAN", "st:XY01")).startswith("✅")
    bot.clock.advance(hours=3)  # plausible again
    assert (await p.event("SCAN", "st:HT02")).startswith("✅")
    rows = await checkin_rows(sessions, "o-teleport")
    assert [r.flagged for r in rows] == [False, True, False]
    assert "湖塘驿站" in (rows[1].flag_reason or "")


async def test_my_checkins_and_the_how_to(with_stations: Bot) -> None:
    bot = with_stations
    p = bot.phone("o-history")
    await p.register()
    assert await p.say("我的签到") == T.MY_CHECKINS_NONE
    assert await p.say("签到") == T.CHECKIN_HOW
    for code in ["HT01", "HT02", "HT03"] * 4:
        bot.clock.advance(timedelta(days=1))
        await p.event("SCAN", f"st:{code}")
    reply = await p.say("我的签到")
    lines = reply.split("\n")
    # Twelve days from 29 November: ten of them in December, a point a day.
    assert lines[0] == T.MY_CHECKINS_HEADER.format(month=10, points=12)
    assert len(lines) == 11  # header + the last 10


async def test_the_database_alone_keeps_one_check_in_a_day(sessions, clock) -> None:
    """Two transactions racing without the per-user lock: the unique constraint decides."""
    from models import checkin as checkins

    await seed(sessions, clock)
    async with sessions() as s, s.begin():
        s.add(Member(openid="o-race-db", created_at=clock.now(), consent_at=clock.now()))

    async def attempt() -> bool:
        async with sessions() as s, s.begin():
            member = (await s.exec(select(Member).where(Member.openid == "o-race-db"))).one()
            station = await stations.by_code(s, "HT01")
            assert station is not None
            return (await checkins.check_in(s, member, station, clock.now(), "qr")).created

    results = await asyncio.gather(*(attempt() for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert len(await checkin_rows(sessions, "o-race-db")) == 1
