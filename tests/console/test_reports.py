"""随手拍 in the console: reports filed through the real WeChat dialog, worked by grid officers
in their queue, moved on with a note (the reporter and backers are told), and kept from
officers of other grids."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from bot import texts as T
from bot.app import SERVICES
from models import grid as grids
from models import report as reports
from models.member import Member
from tests.chat.test_reports import (
    HT_SQUARE,
    XY_SQUARE,
    collection,
    feature,
    file_report,
    pushes,
    ticket_of,
)
from tests.conftest import Bot, BotFactory
from tests.console_util import csrf_of, login, make_user

IN_XY = (31.52, 120.08)


@pytest.fixture
async def district(make_bot: BotFactory, sessions) -> Bot:
    """Two grids: 湖塘 worked by officer-ht (named in the grid), 雪堰 by officer-xy (through
    the account's grid); an admin. The test drives the background work."""
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "officer-ht", "officer")
    await make_user(sessions, bot.clock, "officer-xy", "officer", grid_code="XY")
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    async with sessions() as s, s.begin():
        imported = await grids.import_grids(s, collection(
            feature("HT", "湖塘网格", HT_SQUARE, ["officer-ht"]),
            feature("XY", "雪堰网格", XY_SQUARE, [])), bot.clock.now())
    assert imported.rejected == []
    return bot


async def as_user(bot: Bot, username: str) -> None:
    bot.client.session.cookie_jar.clear()
    assert (await login(bot.client, username)).status == 303


async def three_reports(bot: Bot) -> tuple[str, str, str]:
    """One in 湖塘 (with a photo), one in 雪堰, one with a typed address (the default queue)."""
    await bot.phone("o-rider").register()
    await bot.phone("o-xy").register(name="李四", mobile="13900139000")
    ht = ticket_of(await file_report(bot, "o-rider"))
    xy = ticket_of(await file_report(bot, "o-xy", text="雪堰桥头垃圾乱堆没人清", where=IN_XY,
                                     photo=False))
    loose = ticket_of(await file_report(bot, "o-rider", text="街边井盖松动了",
                                        where="湖塘镇花园街", photo=False))
    return ht, xy, loose


async def test_each_sees_their_own_queue(district: Bot, sessions) -> None:
    bot = district
    ht, xy, loose = await three_reports(bot)
    await as_user(bot, "officer-ht")
    page = await bot.client.get("/console/reports")
    html = await page.text()
    assert page.status == 200 and "随手拍上报" in html and "共 1 件" in html
    assert ht in html and xy not in html and loose not in html
    assert "湖塘网格" in html and "道路交通" in html and "已派单" in html
    await as_user(bot, "officer-xy")
    html = await (await bot.client.get("/console/reports")).text()
    assert xy in html and ht not in html and loose not in html
    await as_user(bot, "admin-wu")
    html = await (await bot.client.get("/console/reports")).text()
    assert ht in html and xy in html and loose in html and "默认队列" in html
    only_default = await (await bot.client.get("/console/reports?grid=-")).text()
    assert loose in only_default and ht not in only_default
    by_category = await (await bot.client.get("/console/reports?category=市容环境")).text()
    assert xy in by_category and ht not in by_category
    # Other roles have no such page.
    await make_user(sessions, bot.clock, "teacher-li", "instructor")
    await as_user(bot, "teacher-li")
    assert (await bot.client.get("/console/reports")).status == 404
    assert (await bot.client.get(f"/console/reports/{ht}")).status == 404


async def test_an_officer_moves_a_report_and_the_reporter_is_told(district: Bot,
                                                                 sessions) -> None:
    bot = district
    await bot.phone("o-rider").register()
    await bot.phone("o-backer").register(name="李四", mobile="13900139000")
    ticket = ticket_of(await file_report(bot, "o-rider", photo=False))
    offer = await file_report(bot, "o-backer", text="这里路灯坏了", where=(31.7094, 119.9513),
                              photo=False)
    assert offer.startswith(f"附近50米内已有同类上报 {ticket}")
    await bot.phone("o-backer").say("1")
    await as_user(bot, "officer-ht")
    queue = await (await bot.client.get("/console/reports")).text()
    # one backer, in the 附议 column (its label shows on a phone's card)
    assert re.search(rf"{ticket}.*?<td data-label=\"附议\" class=\"num\">1</td>", queue, re.S)

    page = await bot.client.get(f"/console/reports/{ticket}")
    html = await page.text()
    assert page.status == 200 and "花园街路灯不亮，晚上很黑" in html and "湖塘网格" in html
    assert "31.709300" in html and "119.951200" in html and "1 人" in html
    assert "openstreetmap" not in html.lower() and "上报人没有拍照" in html
    options = re.findall(r'<option value="([^"]*)"', html.split('name="status"')[1]
                         .split("</select>")[0])
    assert options == ["", "处理中", "已办结", "已关闭"]
    token = csrf_of(html)

    bot.clock.advance(hours=1)
    moved = await bot.client.post(f"/console/reports/{ticket}", data={
        "_csrf": token, "status": "处理中", "note": "已联系路灯所"}, allow_redirects=False)
    assert moved.status == 303 and moved.headers["Location"] == f"/console/reports/{ticket}?done=1"
    after = await (await bot.client.get(moved.headers["Location"])).text()
    assert T.MOVED.format(ticket=ticket, status="处理中", backers="和 1 位附议人") in after
    assert "网格员 officer-ht" in after and "已联系路灯所" in after

    bot.clock.advance(hours=5)
    done = await bot.client.post(f"/console/reports/{ticket}", data={
        "_csrf": csrf_of(after), "status": "已办结", "note": "灯泡已更换"},
        allow_redirects=False)
    assert done.status == 303
    final = await (await bot.client.get(f"/console/reports/{ticket}")).text()
    assert "已办结，等待居民评价" in final and 'name="note"' not in final

    told = [p.text for p in await pushes(sessions, "o-rider")]
    assert told[0] == T.REPORT_PUSH_STATUS.format(ticket=ticket, status="处理中",
                                                  note="已联系路灯所")
    assert told[1] == T.REPORT_PUSH_RESOLVED.format(ticket=ticket, status="已办结",
                                                    note="灯泡已更换")
    backer = [p.text for p in await pushes(sessions, "o-backer")]
    assert len(backer) == 2 and all(p.kind == "report_status"
                                    for p in await pushes(sessions, "o-rider"))
    async with sessions() as s:
        report = await reports.by_ticket(s, ticket)
        assert report is not None and report.status == "已办结"
        events = [(e.actor, e.from_status, e.to_status, e.note)
                  for e in await reports.history(s, report.id or 0)]
        points = (await s.exec(select(Member.points).where(Member.openid == "o-rider"))).one()
    assert events[-2:] == [("officer:officer-ht", "已派单", "处理中", "已联系路灯所"),
                           ("officer:officer-ht", "处理中", "已办结", "灯泡已更换")]
    assert points == 5  # +2 accepted, +3 resolved

    # The reporter rates it on WeChat; the console shows the rating.
    assert await bot.phone("o-rider").say("5") == T.RATED.format(ticket=ticket, stars="5")
    rated = await (await bot.client.get(f"/console/reports/{ticket}")).text()
    assert "★★★★★" in rated and "评价 5 星" in rated

    # The outbox really delivers the status pushes (through the sandbox).
    await bot.client.server.app[SERVICES].worker.run_once()
    delivered = [str(m) for m in bot.sandbox.delivered("o-rider")]
    assert any("处理中" in m for m in delivered) and any("已办结" in m for m in delivered)


async def test_bad_forms_show_their_errors(district: Bot, sessions) -> None:
    bot = district
    await bot.phone("o-rider").register()
    ticket = ticket_of(await file_report(bot, "o-rider", photo=False))
    await as_user(bot, "officer-ht")
    token = csrf_of(await (await bot.client.get(f"/console/reports/{ticket}")).text())
    url = f"/console/reports/{ticket}"

    no_note = await bot.client.post(url, data={"_csrf": token, "status": "处理中", "note": " "})
    html = await no_note.text()
    assert no_note.status == 400 and '<span class="field-error">请写处理说明' in html
    assert '<option value="处理中" selected>' in html

    no_reason = await bot.client.post(url, data={"_csrf": token, "status": "已关闭",
                                                 "note": "和别的单子重复"})
    html = await no_reason.text()
    assert no_reason.status == 400 and "关闭须选择原因" in html and "和别的单子重复" in html

    bad_status = await bot.client.post(url, data={"_csrf": token, "status": "已受理",
                                                  "note": "退回"})
    assert bad_status.status == 400 and "只能改为" in await bad_status.text()
    nothing = await bot.client.post(url, data={"_csrf": token})
    html = await nothing.text()
    assert nothing.status == 400 and "请选择新的状态" in html
    too_long = await bot.client.post(url, data={"_csrf": token, "status": "处理中",
                                                "note": "长" * 501})
    assert too_long.status == 400 and "最多 500 字" in await too_long.text()
    no_csrf = await bot.client.post(url, data={"status": "处理中", "note": "我来"})
    assert no_csrf.status == 403

    async with sessions() as s:
        report = await reports.by_ticket(s, ticket)
    assert report is not None and report.status == "已派单"
    assert await pushes(sessions, "o-rider") == []

    closed = await bot.client.post(url, data={"_csrf": token, "status": "已关闭",
                                              "reason": "重复", "note": ""},
                                   allow_redirects=False)
    assert closed.status == 303
    async with sessions() as s:
        report = await reports.by_ticket(s, ticket)
        events = await reports.history(s, report.id or 0)
    assert report.status == "已关闭" and report.close_reason == "重复"
    assert events[-1].note == "重复"
    [told] = await pushes(sessions, "o-rider")
    assert "已关闭" in told.text
    page = await (await bot.client.get(url)).text()
    assert "已关闭，不能再改状态" in page
    again = await bot.client.post(url, data={"_csrf": token, "status": "处理中", "note": "x"})
    assert again.status == 400 and "不能再改状态" in await again.text()


async def test_another_grids_report_is_not_found(district: Bot, sessions) -> None:
    bot = district
    ht, _xy, loose = await three_reports(bot)
    fetcher = bot.client.server.app[SERVICES].loops["photos"]
    await fetcher.run_once()
    async with sessions() as s:
        report = await reports.by_ticket(s, ht)
    assert report is not None and report.photo_status == "saved"

    await as_user(bot, "officer-ht")
    page = await (await bot.client.get(f"/console/reports/{ht}")).text()
    assert f'src="/console/reports/{ht}/photo"' in page
    photo = await bot.client.get(f"/console/reports/{ht}/photo")
    assert photo.status == 200 and photo.content_type == "image/png"
    assert (await photo.read()).startswith(b"\x89PNG")
    assert (await bot.client.get(f"/console/reports/{loose}/photo")).status == 404  # none

    await as_user(bot, "officer-xy")
    unknown = await bot.client.get("/console/reports/R20261128-0999")
    other = await bot.client.get(f"/console/reports/{ht}")
    assert unknown.status == other.status == 404
    assert await unknown.text() == await other.text()  # nothing tells them apart
    assert (await bot.client.get(f"/console/reports/{loose}")).status == 404  # default queue
    assert (await bot.client.get(f"/console/reports/{ht}/photo")).status == 404
    assert (await bot.client.get("/console/reports/..%2F..%2Fetc%2Fpasswd")).status == 404
    token = csrf_of(await (await bot.client.get("/console/reports")).text())
    moved = await bot.client.post(f"/console/reports/{ht}", data={
        "_csrf": token, "status": "处理中", "note": "我来"})
    assert moved.status == 404
    async with sessions() as s:
        report = await reports.by_ticket(s, ht)
    assert report is not None and report.status == "已派单"

    await as_user(bot, "admin-wu")
    assert (await bot.client.get(f"/console/reports/{ht}/photo")).status == 200
    assert (await bot.client.get(f"/console/reports/{loose}")).status == 200


async def test_a_photo_path_outside_the_folder_is_never_served(district: Bot,
                                                               sessions) -> None:
    bot = district
    await bot.phone("o-rider").register()
    ticket = ticket_of(await file_report(bot, "o-rider", photo=False))
    async with sessions() as s, s.begin():
        report = await reports.by_ticket(s, ticket)
        assert report is not None
        report.photo_status, report.photo_path = "saved", "/etc/passwd"
        s.add(report)
    await as_user(bot, "admin-wu")
    assert (await bot.client.get(f"/console/reports/{ticket}/photo")).status == 404


async def test_overdue_first_the_filter_and_csv(district: Bot) -> None:
    bot = district
    await bot.phone("o-rider").register()
    await bot.phone("o-two").register(name="李四", mobile="13900139000")
    road = ticket_of(await file_report(bot, "o-rider", photo=False))  # 3 days to fix
    bot.clock.advance(hours=1)
    wire = ticket_of(await file_report(bot, "o-two", text="电线裸露漏电很危险", photo=False,
                                       where=(31.7150, 119.9550)))  # 安全隐患: 1 day
    # Filed on a Saturday: the deadlines count working days (Mon 17:30 and Wed 17:30).
    bot.clock.advance(days=3, hours=1)
    await as_user(bot, "officer-ht")
    html = await (await bot.client.get("/console/reports")).text()
    assert html.index(wire) < html.index(road)  # overdue first, though newer
    assert "逾期 1" in html and html.count("badge red") == 3  # the tally, the ticket, the due date
    only = await (await bot.client.get("/console/reports?overdue=1")).text()
    assert wire in only and road not in only and 'name="overdue" value="1" checked' in only
    assert "format=csv" in only and "overdue=1" in only

    export = await bot.client.get("/console/reports?format=csv")
    assert export.status == 200 and export.headers["Content-Type"].startswith("text/csv")
    body = (await export.read()).decode("utf-8")
    assert body.startswith("\ufeff单号,类别,状态,网格")
    lines = body.strip().splitlines()
    assert len(lines) == 3 and lines[1].startswith(f"{wire},安全隐患,已派单,湖塘网格")
    assert ",是," in lines[1] and "电线裸露漏电很危险" in lines[1]
    filtered = await (await bot.client.get("/console/reports?overdue=1&format=csv")).read()
    assert road not in filtered.decode() and wire in filtered.decode()
    none = await (await bot.client.get("/console/reports?status=已办结&format=csv")).read()
    assert len(none.decode().strip().splitlines()) == 1  # the header only
    # A hand-edited filter is ignored, never an error.
    odd = await bot.client.get("/console/reports?status=<x>&category=nope&grid=XY")
    assert odd.status == 200 and "没有符合条件的上报" in await odd.text()
