"""随手拍 through the real callback: from 上报 to rating with an officer in between."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot import texts as T
from bot.app import SERVICES
from models import grid as grids
from models import report as reports
from models import staff
from models.member import Member
from models.outbox import Push
from models.report import Report
from tests.conftest import Bot, BotFactory

# A square around 湖塘 (GCJ-02), and one around 雪堰.
HT_SQUARE = [[119.94, 31.70], [119.96, 31.70], [119.96, 31.72], [119.94, 31.72], [119.94, 31.70]]
XY_SQUARE = [[120.07, 31.51], [120.09, 31.51], [120.09, 31.53], [120.07, 31.53], [120.07, 31.51]]
IN_HT = (31.7093, 119.9512)


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "datum": "gcj02", "features": list(features)}


def feature(code: str, name: str, ring: list[list[float]], officers: list[str]
            ) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"code": code, "name": name, "officers": officers},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


async def officer(bot: Bot, sessions, username: str, openid: str) -> None:
    async with sessions() as s, s.begin():
        user = await staff.create_user(s, username, "officer", "password-123", bot.clock.now())
        code = await staff.issue_bind_code(s, user, bot.clock.now())
    assert (await bot.phone(openid).say(f"绑定 {code}")).startswith("绑定成功")


@pytest.fixture
async def district(make_bot: BotFactory, sessions) -> Bot:
    """Two grids with an officer each, bound to WeChat; the test drives the background work."""
    bot = await make_bot(background=False)
    await officer(bot, sessions, "officer-ht", "o-officer-ht")
    await officer(bot, sessions, "officer-xy", "o-officer-xy")
    async with sessions() as s, s.begin():
        report = await grids.import_grids(s, collection(
            feature("HT", "湖塘网格", HT_SQUARE, ["officer-ht"]),
            feature("XY", "雪堰网格", XY_SQUARE, ["officer-xy"])), bot.clock.now())
    assert report.rejected == []
    return bot


async def file_report(bot: Bot, openid: str, text: str = "花园街路灯不亮，晚上很黑",
                      where: tuple[float, float] | str = IN_HT, photo: bool = True,
                      category_answer: str = "确认") -> str:
    p = bot.phone(openid)
    assert (await p.say("上报")).startswith(T.REPORT_ASK_DESC)
    assert await p.say(text) == T.REPORT_ASK_PHOTO
    if photo:
        reply = await p.send(bot.peer.image(openid, media_id=f"media-{openid}"))
    else:
        reply = await p.say("跳过")
    assert reply == T.REPORT_ASK_LOCATION
    if isinstance(where, str):
        reply = await p.say(where)
    else:
        reply = await p.send(bot.peer.location(openid, *where, label="湖塘花园街"))
    reply = await p.say(category_answer)
    if reply.startswith("附近50米内"):
        return reply
    assert reply.startswith("请核对"), reply
    return await p.say("确认")


def ticket_of(reply: str) -> str:
    m = re.search(r"R\d{8}-\d{4}", reply)
    assert m, reply
    return m.group(0)


async def pushes(sessions, openid: str) -> list[Push]:
    async with sessions() as s:
        return list((await s.exec(select(Push).where(Push.openid == openid)
                                  .order_by(Push.id))).all())


async def test_report_to_rating_with_an_officer_in_between(district: Bot, sessions) -> None:
    bot = district
    reporter = bot.phone("o-rider")
    await reporter.register()
    reply = await file_report(bot, "o-rider")
    assert reply.startswith("✅ 已受理，单号 R20261128-0001") and "湖塘网格" in reply
    ticket = ticket_of(reply)
    async with sessions() as s:
        report = await reports.by_ticket(s, ticket)
        assert report is not None
        assert (report.status, report.category, report.grid_code) == ("已派单", "道路交通", "HT")
        assert report.photo_status == "pending" and report.photo_media_id == "media-o-rider"
        points = (await s.exec(select(Member.points).where(Member.openid == "o-rider"))).one()
    assert points == 2
    [told] = await pushes(sessions, "o-officer-ht")
    assert ticket in told.text and told.kind == "work_order"  # 派单 by the system: staff-facing
    assert await pushes(sessions, "o-officer-xy") == []

    ht, xy = bot.phone("o-officer-ht"), bot.phone("o-officer-xy")
    todo = await ht.say("待办")
    assert todo.startswith("【待办】1 件") and ticket in todo
    assert await xy.say(f"处理 {ticket} 我来") == T.NOT_YOUR_GRID.format(ticket=ticket)
    assert await ht.say(f"处理 {ticket} 已联系路灯所") == T.MOVED.format(
        ticket=ticket, status="处理中", backers="")
    assert await ht.say(f"关闭 {ticket} 懒得修") == T.CLOSE_REASON.format(ticket=ticket)
    assert await reporter.say(f"评价 {ticket} 5") == T.RATE_ERRORS["not_resolved"].format(
        status="处理中", ticket=ticket)
    bot.clock.advance(hours=20)
    assert (await ht.say(f"办结 {ticket} 灯泡已更换")).startswith(f"已将 {ticket} 改为「已办结」")

    told = [p.text for p in await pushes(sessions, "o-rider")]
    assert told[0].startswith(f"您关注的上报 {ticket} 有新进展：处理中")
    assert told[1].startswith(f"您关注的上报 {ticket} 已办结：灯泡已更换")
    assert await reporter.say("5") == T.RATED.format(ticket=ticket, stars="5")  # reply to it
    assert await reporter.say(f"评价 {ticket} 4") == T.RATE_ERRORS["rated"].format(rating=5)
    assert await bot.phone("o-other").say("我的上报") == T.REG_NEEDED + "\n" + T.ASK_NAME
    async with sessions() as s:
        report = await reports.by_ticket(s, ticket)
        assert report is not None and report.rating == 5
        events = [(e.actor, e.from_status, e.to_status, e.note)
                  for e in await reports.history(s, report.id or 0)]
        points = (await s.exec(select(Member.points).where(Member.openid == "o-rider"))).one()
    assert events == [
        ("member", None, "已受理", ""),
        ("system", "已受理", "已派单", "湖塘网格"),
        ("officer:officer-ht", "已派单", "处理中", "已联系路灯所"),
        ("officer:officer-ht", "处理中", "已办结", "灯泡已更换"),
        ("member", "已办结", "已办结", "评价 5 星"),
    ]
    assert points == 5  # +2 accepted, +3 resolved
    mine = await reporter.say("我的上报")
    assert mine.startswith(T.MY_REPORTS_HEADER) and f"{ticket} 已办结" in mine


async def test_reopen_within_seven_days(district: Bot, sessions) -> None:
    bot = district
    reporter = bot.phone("o-picky")
    await reporter.register()
    ticket = ticket_of(await file_report(bot, "o-picky", photo=False))
    ht = bot.phone("o-officer-ht")
    await ht.say(f"办结 {ticket} 已修")
    assert await bot.phone("o-stranger").say(f"未解决 {ticket}") != T.REOPENED.format(
        ticket=ticket)
    assert await reporter.say(f"未解决 {ticket}") == T.REOPENED.format(ticket=ticket)
    reopened = (await pushes(sessions, "o-officer-ht"))[-1]
    assert reopened.kind == "work_order" and reopened.text == T.ORDER_PUSH_REOPENED.format(
        ticket=ticket, why="反馈未解决", due="12-02 17:30")  # a priority, a new deadline
    await ht.say(f"办结 {ticket} 这次真修好了")
    bot.clock.advance(days=7, minutes=1)
    assert await reporter.say(f"未解决 {ticket}") == T.RATE_ERRORS["too_late"]
    assert await reporter.say(f"评价 {ticket} 3") == T.RATED.format(ticket=ticket, stars="3")


async def test_a_duplicate_nearby_is_offered_for_backing(district: Bot, sessions) -> None:
    bot = district
    first, second = bot.phone("o-first"), bot.phone("o-second")
    await first.register()
    await second.register(name="李四")
    ticket = ticket_of(await file_report(bot, "o-first"))
    offer = await file_report(bot, "o-second", text="这里路灯坏了", where=(31.7094, 119.9513))
    assert offer.startswith(f"附近50米内已有同类上报 {ticket}")
    assert await second.say("1") == T.REPORT_BACKED.format(ticket=ticket, count=1)
    # A backer hears of later changes too.
    await bot.phone("o-officer-ht").say(f"处理 {ticket} 已派人")
    assert [p.text.split("：")[0] for p in await pushes(sessions, "o-second")] == [
        f"您关注的上报 {ticket} 有新进展"]
    assert "（附议）" in await second.say("我的上报")
    # Farther than 50 m, or another category: a new report.
    far = await file_report(bot, "o-second", where=(31.7110, 119.9512))
    assert far.startswith("✅ 已受理")
    other = await file_report(bot, "o-second", text="这里垃圾乱堆", category_answer="确认")
    assert other.startswith("✅ 已受理")
    # Choosing 2 files anyway.
    offer = await file_report(bot, "o-second", text="路灯还是不亮", where=(31.7093, 119.9512))
    assert offer.startswith("附近50米内")
    assert (await second.say("2")).startswith("请核对")
    assert (await second.say("确认")).startswith("✅ 已受理")


async def test_wrong_answers_in_the_dialog(district: Bot) -> None:
    bot = district
    p = bot.phone("o-clumsy")
    await p.register()
    await p.say("上报")
    reply = await p.say("灯")
    assert reply.startswith(T.REPORT_DESC_SHORT)
    assert await p.send(bot.peer.voice("o-clumsy", "小区门口井盖没了")) == T.REPORT_ASK_PHOTO
    reply = await p.say("一张照片")
    assert T.REPORT_ASK_PHOTO in reply  # words are not a photo
    await p.say("跳过")
    assert await p.say("湖") == T.REPORT_ADDRESS_SHORT + "\n" + T.REPORT_ASK_LOCATION
    reply = await p.say("湖塘镇花园街12号门口")
    assert reply.startswith("第4步：看起来是「道路交通」")
    reply = await p.say("9")
    assert T.INVALID["choice_range"] in reply
    reply = await p.say("4")
    assert reply.startswith("请核对") and "安全隐患" in reply and "湖塘镇花园街12号门口" in reply
    reply = await p.say("确认")
    assert T.REPORT_QUEUED in reply  # a typed address: no point, so no grid


async def test_outside_every_grid_goes_to_the_default_queue(district: Bot, sessions) -> None:
    bot = district
    await bot.phone("o-far").register()
    reply = await file_report(bot, "o-far", where=(31.80, 119.70))
    assert T.REPORT_QUEUED in reply
    async with sessions() as s:
        report = await reports.by_ticket(s, ticket_of(reply))
    assert report is not None and report.status == "已受理" and report.grid_code is None


async def test_ticket_numbers_are_consecutive_under_concurrency(district: Bot, sessions) -> None:
    bot = district
    phones = [bot.phone(f"o-many-{i}") for i in range(6)]
    for i, p in enumerate(phones):
        await p.register(name=f"用户{'甲乙丙丁戊己'[i]}")
    for p in phones:
        for step in ("上报", "湖塘花园街积水很深", "跳过", "湖塘镇花园街", "确认"):
            await p.say(step)
    replies = await asyncio.gather(*(p.say("确认") for p in phones))
    tickets = sorted(ticket_of(r) for r in replies)
    assert tickets == [f"R20261128-{i:04d}" for i in range(1, 7)]
    bot.clock.advance(days=1)
    assert ticket_of(await file_report(bot, "o-many-0")) == "R20261129-0001"


async def test_officer_words_for_others_and_bad_tickets(district: Bot, sessions) -> None:
    bot = district
    rider = bot.phone("o-nosy")
    await rider.register()
    assert await rider.say("待办") == T.STAFF_ONLY.format(word="待办", roles="网格员")
    ht = bot.phone("o-officer-ht")
    assert await ht.say("办结") == T.TICKET_USAGE.format(word="办结", what="说明")
    assert await ht.say("处理 R20990101-0001 看看") == T.TICKET_UNKNOWN.format(
        ticket="R20990101-0001")
    assert await ht.say("待办") == T.TODO_NONE
    assert await rider.say("评价 R20990101-0001 5") == T.TICKET_UNKNOWN.format(
        ticket="R20990101-0001")
    ticket = ticket_of(await file_report(bot, "o-nosy"))
    await ht.say(f"关闭 {ticket} 重复 与R20261127-0001相同")
    assert await ht.say(f"处理 {ticket} 再看看") == T.CANNOT_MOVE.format(
        ticket=ticket, status="已关闭", to="处理中")
    async with sessions() as s:
        report = await reports.by_ticket(s, ticket)
    assert report is not None and report.close_reason == "重复"


async def test_numbers_on_a_seeded_data_set(sessions, clock) -> None:
    """Ten reports worked out by hand:
    4 已办结 (ratings 5, 4, 2, none), 1 处理中 (overdue), 1 已受理, 2 已关闭 as 重复,
    1 已关闭 as 非职责范围, 1 in another grid (已办结, rated 5).
    Grid HT: 办结率 = 4 / (9 - 2 duplicates) = 4/7; 满意率 = 2/3 (5 and 4 of 5, 4, 2).
    Overall: 办结率 = 5/8, 满意率 = 3/4."""
    now = clock.now()
    async with sessions() as s, s.begin():
        m = Member(openid="o-seed", created_at=now, consent_at=now)
        s.add(m)
        await s.flush()

        def add(grid: str, status: str, hours: float | None = None, rating: int | None = None,
                close: str | None = None, due_in: float = 72) -> None:
            created = now - timedelta(days=2)
            s.add(Report(ticket=f"T{len(rows):02d}", member_id=m.id or 0, category="道路交通",
                         description="x", grid_code=grid, status=status, close_reason=close,
                         created_at=created, due_at=created + timedelta(hours=due_in),
                         resolved_at=created + timedelta(hours=hours) if hours else None,
                         rating=rating, updated_at=now))
            rows.append(status)

        rows: list[str] = []
        add("HT", "已办结", 10, 5)
        add("HT", "已办结", 20, 4)
        add("HT", "已办结", 30, 2)
        add("HT", "已办结", 40)
        add("HT", "处理中", due_in=24)  # overdue
        add("HT", "已受理")
        add("HT", "已关闭", close="重复")
        add("HT", "已关闭", close="重复")
        add("HT", "已关闭", close="非职责范围")
        add("XY", "已办结", 5, 5)
    start, end = now - timedelta(days=30), now + timedelta(days=1)
    async with sessions() as s:
        ht = await reports.numbers(s, start, end, now, grid_code="HT")
        total = await reports.numbers(s, start, end, now)
    assert ht["reports"] == 9 and ht["resolution_rate"] == round(4 / 7, 4)
    assert ht["satisfaction_rate"] == round(2 / 3, 4) and ht["ratings"] == 3
    assert ht["median_hours_to_resolve"] == 25.0 and ht["overdue"] == 1
    assert total["reports"] == 10 and total["resolution_rate"] == round(5 / 8, 4)
    assert total["satisfaction_rate"] == 0.75


async def test_the_photo_is_downloaded_in_the_background(district: Bot, sessions,
                                                         tmp_path) -> None:
    bot = district
    await bot.phone("o-photo").register()
    ticket = ticket_of(await file_report(bot, "o-photo"))
    fetcher = bot.client.server.app[SERVICES].loops["photos"]
    assert fetcher is not None
    await fetcher.run_once()
    async with sessions() as s:
        report = await reports.by_ticket(s, ticket)
    assert report is not None and report.photo_status == "saved"
    assert report.photo_path
    assert (await asyncio.to_thread(Path(report.photo_path).read_bytes)).startswith(b"\x89PNG")


async def test_a_photo_that_cannot_be_downloaded_keeps_the_report(district: Bot,
                                                                   sessions) -> None:
    bot = district
    p = bot.phone("o-lost")
    await p.register()
    for step in ("上报", "桥下积水很深过不去"):
        await p.say(step)
    await p.send(bot.peer.image("o-lost", media_id="expired-123"))
    await p.say("湖塘镇花园街")
    await p.say("确认")
    ticket = ticket_of(await p.say("确认"))
    fetcher = bot.client.server.app[SERVICES].loops["photos"]
    for _ in range(3):
        await fetcher.run_once()
        bot.clock.advance(hours=12)
    async with sessions() as s:
        report = await reports.by_ticket(s, ticket)
    assert report is not None and report.photo_status == "pending" and report.photo_attempts == 3
    bot.clock.advance(days=3)
    await fetcher.run_once()
    async with sessions() as s:
        report = await reports.by_ticket(s, ticket)
        events = await reports.history(s, report.id or 0)
    assert report is not None and report.photo_status == "failed"
    assert report.status == "已受理" and len(events) == 1  # the report itself is untouched


async def test_digest_of_overdue_reports(district: Bot, sessions) -> None:
    bot = district
    await bot.phone("o-late").register()
    ticket = ticket_of(await file_report(bot, "o-late"))
    services = bot.client.server.app[SERVICES]
    from handlers.reports.jobs import send_digest

    assert await send_digest(services, bot.clock.now()) == 0  # nothing overdue yet
    bot.clock.advance(days=4, hours=7, minutes=31)  # 3 working days from Saturday: Wed 17:30
    async with sessions() as s, s.begin():
        admin = await staff.create_user(s, "admin-z", "admin", "password-123", bot.clock.now())
        code = await staff.issue_bind_code(s, admin, bot.clock.now())
    await bot.phone("o-admin").say(f"绑定 {code}")
    assert await send_digest(services, bot.clock.now()) == 2  # the grid's officer, the admin
    assert await send_digest(services, bot.clock.now()) == 0  # once a day
    for who in ("o-officer-ht", "o-admin"):
        digest = (await pushes(sessions, who))[-1]
        assert digest.text.startswith("【逾期上报日报】1 件") and ticket in digest.text
        assert digest.kind == "work_order"  # staff-facing: its own template
        assert digest.template_data["order.count"] == "1"
        assert digest.template_data["order.ticket"] == ticket
    assert services.worker is not None and await services.worker.drain(timeout_s=20)
    sent = bot.sandbox.delivered("o-officer-ht")[-1]  # 3 days on: outside the 客服 window
    assert sent["template_id"] == "demo-tmpl-work-order"
    assert sent["data"]["thing1"] == {"value": "逾期上报日报"}
    assert sent["data"]["number2"] == {"value": "1"}
    assert sent["data"]["character_string3"] == {"value": ticket}
    assert not [p for p in await pushes(sessions, "o-officer-xy") if "日报" in p.text]
