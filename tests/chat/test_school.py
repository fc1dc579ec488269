"""小哥党校 from a member's phone and an instructor's API: courses, enrolment and the
waitlist, attendance every way, study hours and points."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot import texts as T
from bot.clock import SHANGHAI
from models.course import Enrolment
from models.member import Member
from models.outbox import Push
from tests.conftest import Bot, BotFactory

API = {"Authorization": "Bearer xiaoge-demo-api-token"}
PLACE = {"place": "湖塘红色驿站二楼", "lat": 31.7093, "lng": 119.9512, "radius_m": 150}


async def new_course(bot: Bot, code: str = "DX2612A", hours_ahead: float = 48,
                     **extra: Any) -> dict[str, Any]:
    start = (bot.clock.now() + timedelta(hours=hours_ahead)).astimezone(SHANGHAI)
    body = {"code": code, "title": "新就业群体党员的初心使命", "instructor": "王老师",
            "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat(),
            "capacity": 2, "hours": 2, **PLACE, **extra}
    resp = await bot.client.post("/api/v1/courses", headers=API, json=body)
    data = await resp.json()
    assert resp.status == 201, data
    return data


async def pushes(sessions, part: str) -> list[Push]:
    async with sessions() as s:
        rows = (await s.exec(select(Push).order_by(Push.id))).all()
    return [p for p in rows if part in p.subject]


@pytest.fixture
async def school(make_bot: BotFactory) -> Bot:
    bot = await make_bot(background=False)
    for i, name in enumerate(["甲一", "乙二", "丙三", "丁四"]):
        await bot.phone(f"o-s{i}").register(name=name)
    return bot


async def test_the_list_enrol_waitlist_and_promotion(school: Bot, sessions) -> None:
    bot = school
    assert await bot.phone("o-s0").say("课程") == T.COURSE_LIST_EMPTY
    await new_course(bot)
    listing = await bot.phone("o-s0").say("课程")
    assert listing.startswith(T.COURSE_LIST_HEADER)
    assert "DX2612A｜「新就业群体党员的初心使命」11-30 10:00-12:00 湖塘红色驿站二楼" in listing
    assert "讲师 王老师 · 2学时 · 余2座" in listing

    a, b, c, d = (bot.phone(f"o-s{i}") for i in range(4))
    assert (await a.say("报名 dx2612a")).startswith("✅ 报名成功：DX2612A")
    assert await a.say("报名 DX2612A") == T.COURSE_ALREADY.format(title="新就业群体党员的初心使命")
    assert "✅已报名" in await a.say("课程")
    assert (await b.say("/报名　ＤＸ２６１２Ａ")).startswith("✅ 报名成功")  # full-width, slash
    assert "已满，可候补" in await c.say("课程")
    assert (await c.say("报名 DX2612A")).startswith("课程已满，您已进入候补第1位")
    assert (await d.say("报名 DX2612A")).startswith("课程已满，您已进入候补第2位")
    assert await d.say("报名 DX2612A") == T.COURSE_ALREADY_WAITING.format(
        title="新就业群体党员的初心使命", pos=2)
    assert "候补第2位" in await d.say("我的课程")

    assert (await a.say("取消报名 DX2612A")).startswith("已取消报名：DX2612A")
    [promoted] = await pushes(sessions, "promoted")
    assert promoted.openid == "o-s2" and promoted.text.startswith("【候补成功】")
    assert "候补第1位" in await d.say("我的课程")  # moved up the line
    assert (await d.say("取消报名 DX2612A")).startswith("已退出候补")
    assert await d.say("取消报名 DX2612A") == T.COURSE_ERRORS["not_enrolled"]
    assert len(await pushes(sessions, "promoted")) == 1  # leaving the waitlist frees no seat
    # Re-enrolling after cancelling goes to the back of the line, as anyone would.
    assert (await a.say("报名 DX2612A")).startswith("课程已满，您已进入候补第1位")

    resp = await bot.client.get("/api/v1/courses/DX2612A", headers=API)
    data = await resp.json()
    assert (data["enrolled"], data["waitlist"]) == (2, 1)
    assert data["absent"] == ["乙二", "丙三"] and data["waitlist_names"] == ["甲一"]


async def test_enrolment_refusals(school: Bot) -> None:
    bot = school
    a = bot.phone("o-s0")
    assert await a.say("报名") == T.COURSE_LIST_EMPTY  # nothing open yet
    assert await a.say("取消报名") == T.COURSE_WITHDRAW_USAGE
    assert await a.say("报名 NOPE1") == T.COURSE_UNKNOWN.format(code="NOPE1")
    await new_course(bot, "DRAFT1", status="draft")
    assert await a.say("报名 DRAFT1") == T.COURSE_UNKNOWN.format(code="DRAFT1")
    await new_course(bot, "RIDE1", audience="industry:网约车")  # members here deliver food
    assert await a.say("报名 RIDE1") == T.COURSE_ERRORS["audience_mismatch"]
    assert "RIDE1" not in await a.say("课程")
    await new_course(bot, "GONE1")
    assert (await bot.client.post("/api/v1/courses/GONE1/cancel", headers=API)).status == 200
    assert await a.say("报名 GONE1") == T.COURSE_ERRORS["cancelled"]
    await new_course(bot, "SOON1", hours_ahead=1)
    bot.clock.advance(hours=1, minutes=5)  # it has started
    assert await a.say("报名 SOON1") == T.COURSE_ERRORS["started"]
    await new_course(bot, "FAR1", hours_ahead=24 * 20)
    assert "FAR1" not in await a.say("课程")  # beyond 14 days: not listed, still enrollable
    assert (await a.say("报名 FAR1")).startswith("✅ 报名成功")


async def test_racing_for_the_last_seat_gives_it_to_one(school: Bot, sessions) -> None:
    import asyncio

    bot = school
    await new_course(bot, capacity=1)
    replies = await asyncio.gather(*(bot.phone(f"o-s{i}").say("报名 DX2612A")
                                     for i in range(4)))
    assert sum(r.startswith("✅ 报名成功") for r in replies) == 1
    assert sum(r.startswith("课程已满") for r in replies) == 3
    async with sessions() as s:
        rows = (await s.exec(select(Enrolment))).all()
    assert sorted(r.status for r in rows) == ["enrolled", "waitlist", "waitlist", "waitlist"]


async def test_attendance_by_qr_code_and_location_credits_once(school: Bot, sessions) -> None:
    bot = school
    await new_course(bot, hours_ahead=2, capacity=3, hours=1.5)
    a, b, c, d = (bot.phone(f"o-s{i}") for i in range(4))
    for p in (a, b, c):
        await p.say("报名 DX2612A")
    early = await a.event("SCAN", "crs:DX2612A")
    assert early.startswith("「新就业群体党员的初心使命」还没到签到时间")
    bot.clock.advance(hours=1, minutes=31)  # 29 minutes before the start: open
    assert (await a.event("SCAN", "crs:DX2612A")).startswith("✅ 已签到：DX2612A")
    bot.clock.advance(seconds=1)  # (an event at the same second is WeChat's retry of it)
    assert await a.event("SCAN", "crs:DX2612A") == T.COURSE_ALREADY_PRESENT
    assert (await b.say("签到 dx2612a")).startswith("✅ 已签到")
    assert await b.say("签到 DX2612A") == T.COURSE_ALREADY_PRESENT
    reply = await c.send(bot.peer.location("o-s2", 31.7094, 119.9513))
    assert "✅ 已签到：DX2612A" in reply
    far = await d.send(bot.peer.location("o-s3", 31.7094, 119.9513))
    assert "已签到：DX2612A" not in (far or "")  # not enrolled: a location is no attendance
    # Three seats, three enrolled: a walk-in finds no seat (test_a_walk_in… has one that does).
    assert await d.say("签到 DX2612A") == T.COURSE_ERRORS["full_walk_in"]
    mine = await a.say("我的课程")
    assert mine.startswith("【我的课程】累计学时 1.5") and "✅已签到" in mine
    async with sessions() as s:
        points = {m.openid: m.points for m in (await s.exec(select(Member))).all()}
    assert points["o-s0"] == points["o-s1"] == points["o-s2"] == 5
    assert "学时：1.5" in await a.say("我的")
    bot.clock.advance(hours=3)  # it has ended
    assert await b.say("签到 DX2612A") == T.COURSE_ERRORS["ended"]
    data = await (await bot.client.get("/api/v1/courses/DX2612A", headers=API)).json()
    assert data["present"] == ["甲一", "乙二", "丙三"] and data["absent"] == []


async def test_a_walk_in_needs_a_free_seat(school: Bot) -> None:
    bot = school
    await new_course(bot, hours_ahead=1, capacity=2)
    a, b, c = bot.phone("o-s0"), bot.phone("o-s1"), bot.phone("o-s2")
    await a.say("报名 DX2612A")
    bot.clock.advance(minutes=45)
    assert (await b.say("签到 DX2612A")).startswith("✅ 已签到")  # the free seat is theirs
    assert await c.say("签到 DX2612A") == T.COURSE_ERRORS["full_walk_in"]
    assert (await a.say("签到 DX2612A")).startswith("✅ 已签到")
    assert await b.say("签到 ZZZ9") == T.ATTEND_UNKNOWN.format(code="ZZZ9")
    assert await b.event("SCAN", "crs:ZZZ9") == T.COURSE_UNKNOWN.format(code="ZZZ9")


async def test_a_retried_attendance_is_credited_once(school: Bot, sessions) -> None:
    bot = school
    await new_course(bot, hours_ahead=0.25)
    a = bot.phone("o-s0")
    await a.say("报名 DX2612A")
    xml = bot.peer.text("o-s0", "签到 DX2612A", create_time=bot.now_ts, msg_id=8_800_001)
    first, again = await a.send(xml), await a.send(xml)  # WeChat's retry of the same message
    assert first == again and first.startswith("✅ 已签到")
    async with sessions() as s:
        member = (await s.exec(select(Member).where(Member.openid == "o-s0"))).one()
    assert member.points == 5


async def test_move_and_cancel_tell_enrollees_and_the_waitlist(school: Bot, sessions) -> None:
    bot = school
    await new_course(bot, capacity=1)
    await bot.phone("o-s0").say("报名 DX2612A")
    await bot.phone("o-s1").say("报名 DX2612A")  # waitlist
    later = (bot.clock.now() + timedelta(hours=72)).astimezone(SHANGHAI)
    resp = await bot.client.post("/api/v1/courses/DX2612A/move", headers=API, json={
        "start": later.isoformat(), "end": (later + timedelta(hours=1)).isoformat()})
    assert resp.status == 200, await resp.text()
    moved = await pushes(sessions, "moved")
    assert {p.openid for p in moved} == {"o-s0", "o-s1"}
    assert moved[0].text.startswith("【课程改期】DX2612A 原定 11-30 10:00 开课，改为：")
    assert (await bot.client.post("/api/v1/courses/DX2612A/cancel", headers=API)).status == 200
    cancelled = await pushes(sessions, "cancelled")
    assert {p.openid for p in cancelled} == {"o-s0", "o-s1"}
    again = await bot.client.post("/api/v1/courses/DX2612A/cancel", headers=API)
    assert again.status == 409
    assert "DX2612A" not in (await bot.phone("o-s0").say("我的课程"))


async def test_raising_the_capacity_promotes_the_waitlist(school: Bot, sessions) -> None:
    bot = school
    await new_course(bot, capacity=1)
    for i in range(3):
        await bot.phone(f"o-s{i}").say("报名 DX2612A")
    resp = await bot.client.post("/api/v1/courses/DX2612A", headers=API, json={"capacity": 3})
    data = await resp.json()
    assert resp.status == 200 and data["changed"] == ["fields"], data
    assert (data["enrolled"], data["waitlist"]) == (3, 0)
    assert {p.openid for p in await pushes(sessions, "promoted")} == {"o-s1", "o-s2"}


async def test_the_api_refuses_bad_courses_with_reasons(school: Bot) -> None:
    bot = school
    start = (bot.clock.now() + timedelta(hours=5)).astimezone(SHANGHAI)
    base = {"code": "BAD1", "title": "一门课", "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(), "capacity": 10, "hours": 1,
            **PLACE}
    for extra, words in [
        ({"end": (start - timedelta(hours=1)).isoformat()}, "end 须晚于 start"),
        ({"start": "next friday"}, "不是 ISO 8601 时间"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": 2.5}, "capacity 须为整数"),
        ({"hours": -1}, "hours"),
        ({"audience": "industry:火星"}, "audience"),
        ({"place": "", "lat": None, "lng": None}, "线下课要写 place"),
        ({"online_url": "ftp://x"}, "online_url"),
        ({"code": "坏码"}, "code"),
        ({"status": "live"}, "status"),
        ({"start": (bot.clock.now() - timedelta(hours=1)).isoformat(),
          "end": bot.clock.now().isoformat()}, "start 已经过去"),
        ({"title": ["x"]}, "title 须为文字"),
    ]:
        resp = await bot.client.post("/api/v1/courses", headers=API, json={**base, **extra})
        assert resp.status == 400, extra
        assert words in (await resp.json())["error"], (extra, await resp.text())
    await new_course(bot, "DUP1")
    resp = await bot.client.post("/api/v1/courses", headers=API, json={**base, "code": "DUP1"})
    assert resp.status == 409
    assert (await bot.client.get("/api/v1/courses/NOPE", headers=API)).status == 404
    assert (await bot.client.get("/api/v1/courses", headers={})).status == 401
    resp = await bot.client.post("/api/v1/courses/DUP1", headers=API, json={"code": "OTHER"})
    assert resp.status == 400
    resp = await bot.client.post("/api/v1/courses/DUP1", headers=API, json={"status": "draft"})
    assert resp.status == 409
    resp = await bot.client.post("/api/v1/courses/DUP1/move", headers=API, json={})
    assert resp.status == 400
    resp = await bot.client.post("/api/v1/courses/DUP1/move", headers=API, json={
        "start": (start + timedelta(hours=2)).isoformat(), "end": start.isoformat()})
    assert resp.status == 400
    listing = await (await bot.client.get("/api/v1/courses?status=published", headers=API)
                     ).json()
    assert [c["code"] for c in listing["courses"]] == ["DUP1"]
    assert (await bot.client.get("/api/v1/courses?status=x", headers=API)).status == 400


async def test_draft_then_publish_and_online_courses(school: Bot) -> None:
    bot = school
    await new_course(bot, "ONL1", status="draft", place="", lat=None, lng=None,
                     online_url="https://meeting.example.cn/j/123")
    a = bot.phone("o-s0")
    assert await a.say("报名 ONL1") == T.COURSE_UNKNOWN.format(code="ONL1")
    resp = await bot.client.post("/api/v1/courses/ONL1/publish", headers=API)
    assert resp.status == 200 and (await resp.json())["status"] == "published"
    assert "ONL1｜「新就业群体党员的初心使命」11-30 10:00-12:00 线上课" in await a.say("课程")
    enrolled = await a.say("报名 ONL1")
    assert enrolled.startswith("✅ 报名成功") and "https://meeting.example.cn/j/123" in enrolled


async def test_instructor_sees_the_roll_on_wechat(school: Bot, sessions) -> None:
    from tests.chat.test_groups import leader

    bot = school
    await leader(bot, sessions, "王老师", "o-teacher", role="instructor")
    await new_course(bot, hours_ahead=1)
    await bot.phone("o-s0").say("报名 DX2612A")
    await bot.phone("o-s1").say("报名 DX2612A")
    bot.clock.advance(minutes=40)
    await bot.phone("o-s0").say("签到 DX2612A")
    roll = await bot.phone("o-teacher").say("名单 DX2612A")
    assert roll.startswith("【签到名单】DX2612A") and "到课 1 人：甲一" in roll
    assert "缺课 1 人：乙二" in roll
    assert await bot.phone("o-s0").say("名单 DX2612A") != roll  # members cannot see it


async def test_a_notice_to_the_enrollees(school: Bot, sessions) -> None:
    bot = school
    await new_course(bot)
    await bot.phone("o-s0").say("报名 DX2612A")
    await bot.phone("o-s1").say("报名 DX2612A")
    await bot.phone("o-s2").say("报名 DX2612A")  # waitlist: not an enrollee
    resp = await bot.client.post("/api/v1/courses/DX2612A/notices", headers={
        **API, "Idempotency-Key": "k1"}, json={"title": "带好党员证", "body": "签到时出示"})
    data = await resp.json()
    assert resp.status == 201, data
    assert data["recipients"] == 2
    again = await bot.client.post("/api/v1/courses/DX2612A/notices", headers={
        **API, "Idempotency-Key": "k1"}, json={"title": "带好党员证", "body": "签到时出示"})
    assert again.status == 200 and (await again.json())["id"] == data["id"]


async def test_withdrawing_after_attending_is_refused(school: Bot) -> None:
    bot = school
    await new_course(bot, hours_ahead=1, capacity=1)
    a, b = bot.phone("o-s0"), bot.phone("o-s1")
    await a.say("报名 DX2612A")
    await b.say("报名 DX2612A")  # waitlist
    bot.clock.advance(minutes=40)
    await a.say("签到 DX2612A")
    assert await a.say("取消报名 DX2612A") == T.COURSE_ERRORS["already_present"]
    assert "候补第1位" in await b.say("我的课程")  # the seat was not given away


async def test_erasing_myself_frees_my_seat_for_the_waitlist(school: Bot, sessions) -> None:
    bot = school
    await new_course(bot, capacity=1)
    a, b = bot.phone("o-s0"), bot.phone("o-s1")
    await a.say("报名 DX2612A")
    await b.say("报名 DX2612A")
    await a.say("注销")
    await a.say("确认注销")
    [promoted] = await pushes(sessions, "promoted")
    assert promoted.openid == "o-s1"
    data = await (await bot.client.get("/api/v1/courses/DX2612A", headers=API)).json()
    assert (data["enrolled"], data["waitlist"], data["absent"]) == (1, 0, ["乙二"])


async def test_a_repeated_move_tells_once_and_a_new_place_is_told(school: Bot,
                                                                  sessions) -> None:
    bot = school
    await new_course(bot)
    await bot.phone("o-s0").say("报名 DX2612A")
    later = (bot.clock.now() + timedelta(hours=72)).astimezone(SHANGHAI)
    body = {"start": later.isoformat(), "end": (later + timedelta(hours=1)).isoformat()}
    for _ in range(2):  # a client's retry of the same move
        resp = await bot.client.post("/api/v1/courses/DX2612A/move", headers=API, json=body)
        assert resp.status == 200
    assert len(await pushes(sessions, "moved")) == 1
    resp = await bot.client.post("/api/v1/courses/DX2612A", headers=API, json={
        "place": "牛塘红色驿站", "lat": 31.7301, "lng": 119.9022})
    assert (await resp.json())["changed"] == ["fields", "place"]
    [where] = await pushes(sessions, ":where:")
    assert where.text.startswith("【上课地点变更】DX2612A") and "新地点：牛塘红色驿站" in where.text
    resp = await bot.client.post("/api/v1/courses/DX2612A", headers=API, json={
        "title": "新就业群体党员的初心使命（二）"})
    assert (await resp.json())["changed"] == ["fields"]  # no one is told of a title fix
    assert len(await pushes(sessions, ":where:")) == 1


async def test_absurd_numbers_and_types_get_a_400(school: Bot) -> None:
    bot = school
    await new_course(bot, "OK1")
    start = (bot.clock.now() + timedelta(hours=5)).astimezone(SHANGHAI)
    base = {"code": "BAD2", "title": "一门课", "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(), "capacity": 10, "hours": 1,
            **PLACE}
    for extra in ({"capacity": 10**400}, {"hours": 10**400}, {"lat": 10**400},
                  {"radius_m": "1" * 5000}, {"lat": [31]}, {"capacity": True},
                  {"start": 5}, {"hours": "NaN"}):
        resp = await bot.client.post("/api/v1/courses", headers=API, json={**base, **extra})
        assert resp.status == 400, (extra, await resp.text())
    for path, body in (("/api/v1/courses/OK1", {"capacity": 10**400}),
                       ("/api/v1/courses/OK1/move", {"start": [1], "end": 2}),
                       ("/api/v1/courses/OK1", [1, 2])):
        resp = await bot.client.post(path, headers=API, json=body)
        assert resp.status == 400, (path, body, await resp.text())
