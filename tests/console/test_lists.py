"""Every console list (成员, 驿站, 课程, 通知, 上报): the search box finds a row, a filter
narrows, page 2 holds the rest, the CSV and the Excel (.xlsx) hold exactly the filtered rows
under Chinese headers, bad paging values are the 400 page, and each role still sees only
what it saw before (a leader their group, an instructor their courses, an officer their
grid's reports, the authors their own notices)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from models.member import Member
from models.notice import Notice
from models.report import Report
from models.station import Station
from tests.browser_util import CHROMIUM, need_browser
from tests.chat.test_groups import new_group
from tests.chat.test_school import new_course
from tests.conftest import Bot, BotFactory
from tests.console_util import PASSWORD, login, make_user

BULK = 23  # more than a page of 20


async def as_user(bot: Bot, username: str) -> None:
    bot.client.session.cookie_jar.clear()
    assert (await login(bot.client, username)).status == 303


async def page(bot: Bot, path: str, status: int = 200) -> str:
    resp = await bot.client.get(path)
    body = await resp.text()
    assert resp.status == status, (path, resp.status, body[:400])
    return body


async def csv_rows(bot: Bot, path: str) -> list[list[str]]:
    resp = await bot.client.get(path)
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv"), path
    assert ".csv" in resp.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))


async def xlsx_rows(bot: Bot, path: str) -> list[list[Any]]:
    resp = await bot.client.get(path)
    assert resp.status == 200, path
    assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats"), path
    assert ".xlsx" in resp.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(await resp.read()), read_only=True)
    return [["" if v is None else v for v in row]
            for row in book.worksheets[0].iter_rows(values_only=True)]


def is_chinese(header: list[Any]) -> bool:
    return all(any("\u4e00" <= ch <= "\u9fff" for ch in str(h)) for h in header)


async def exports_match(bot: Bot, path: str, column: int, expected: set[str],
                        csv_chinese: bool = True) -> None:
    """The CSV and the workbook of `path` hold exactly `expected` in `column`."""
    sep = "&" if "?" in path else "?"
    rows = await csv_rows(bot, f"{path}{sep}format=csv")
    assert not csv_chinese or is_chinese(rows[0]), rows[0]
    assert {r[column] for r in rows[1:]} == expected and len(rows) - 1 == len(expected)
    sheet = await xlsx_rows(bot, f"{path}{sep}format=xlsx")
    assert is_chinese(sheet[0]), sheet[0]
    assert {str(r[column]) for r in sheet[1:]} == expected
    assert len(sheet) - 1 == len(expected)


async def paged(bot: Bot, path: str, marker: str, total: int) -> None:
    """Page 1 shows 20 rows and links page 2 with the filters kept; page 2 the rest; a
    page of 50 all of them."""
    first = await page(bot, path)
    assert first.count(marker) == 20, first.count(marker)
    assert f"共 {total} " in first and 'aria-label="翻页"' in first
    links = re.findall(r'href="([^"]*)" aria-label="第2页"', first)
    assert links, first[-2000:]
    link = html.unescape(links[0])
    base, _, query = path.partition("?")
    assert urlsplit(link).path == base
    assert parse_qs(urlsplit(link).query) == {**parse_qs(query), "page": ["2"]}
    assert (await page(bot, link)).count(marker) == total - 20
    bigger = await page(bot, f"{path}{'&' if query else '?'}size=50")
    assert bigger.count(marker) == total


async def bad_paging(bot: Bot, path: str) -> None:
    for query in ("page=abc", "page=0", "size=7", "size=1000", "format=pdf"):
        html = await page(bot, f"{path}?{query}", 400)
        assert "参数有误" in html and query.split("=")[0] in html


# --- 成员 ---------------------------------------------------------------------------------


@pytest.fixture
async def crowd(make_bot: BotFactory, sessions) -> Bot:
    """BULK members 骑手01… (外卖送餐, 党员 for the even ones), 王小明 in leader-wang's group
    (registered through the chat), an admin, the leader and an instructor."""
    bot = await make_bot(background=False)
    for name, role in (("admin-wu", "admin"), ("leader-wang", "leader"),
                       ("teacher-li", "instructor")):
        await make_user(sessions, bot.clock, name, role)
    mine = await new_group(sessions, bot.clock, "湖塘外卖骑手党小组", leader_name="leader-wang")
    p = bot.phone("o-ming")
    await p.register(name="王小明", mobile="13812345678")
    await p.say(f"加入小组 {mine}")
    at = bot.clock.now() - timedelta(days=1)
    async with sessions() as s, s.begin():
        for i in range(BULK):
            s.add(Member(openid=f"o-bulk{i}", name=f"骑手{i:02d}", mobile=f"1390000{i:04d}",
                         industry="外卖送餐", platform="美团",
                         party_status="中共党员" if i % 2 == 0 else "群众",
                         consent_at=at, consent_source="wechat", registered_at=at,
                         created_at=at))
    return bot


ROW = 'data-label="姓名">骑手'  # a bulk member's row (bot/web/cards.py labels the cells)


async def test_members_search_filter_page_export(crowd: Bot) -> None:
    bot = crowd
    await as_user(bot, "admin-wu")
    html = await page(bot, "/console/members?q=骑手07")
    assert "骑手07" in html and "骑手08" not in html and "共1人" in html
    assert "王小明" in await page(bot, "/console/members?q=5678")  # the phone's tail
    html = await page(bot, "/console/members?q=骑手&party=群众")
    assert html.count(ROW) == 11 and "中共党员</td>" not in html
    await paged(bot, "/console/members?q=骑手", ROW, BULK)
    await exports_match(bot, "/console/members?q=骑手&party=群众", 0,
                        {f"骑手{i:02d}" for i in range(1, BULK, 2)})
    await exports_match(bot, "/console/members?industry=外卖送餐&q=骑手1", 0,
                        {f"骑手{i:02d}" for i in range(10, 20)})
    rows = await csv_rows(bot, "/console/members?q=骑手07&format=csv")
    assert rows[0][:2] == ["姓名", "手机"] and rows[1][1] == "13900000007"  # admin: full
    await bad_paging(bot, "/console/members")
    # the existing filter errors still answer 400 in the page, not an export
    assert "没有这个行业" in await page(bot, "/console/members?industry=飞行&format=xlsx", 400)

    await as_user(bot, "leader-wang")  # their group only, phones masked
    html = await page(bot, "/console/members")
    assert "王小明" in html and ROW not in html and "共1人" in html
    assert ROW not in await page(bot, "/console/members?q=骑手07")
    sheet = await xlsx_rows(bot, "/console/members?format=xlsx")
    assert [r[0] for r in sheet[1:]] == ["王小明"] and sheet[1][1] == "138****5678"
    assert "只能按手机尾号后4位搜索" in await page(bot, "/console/members?q=13812345678", 400)
    await as_user(bot, "teacher-li")  # nobody enrolled in their (no) courses
    assert await xlsx_rows(bot, "/console/members?format=xlsx") == [
        ["姓名", "手机", "行业", "平台", "政治面貌", "小组", "积分", "登记日期"]]


# --- 驿站 ---------------------------------------------------------------------------------


async def add_stations(sessions: Any, bot: Bot) -> None:
    """BULK 湖塘驿站 HT00… (HT03 停用) and one 服务吧 XY01."""
    async with sessions() as s, s.begin():
        for i in range(BULK):
            s.add(Station(code=f"HT{i:02d}", name=f"湖塘驿站{i:02d}", kind="驿站",
                          address=f"湖塘镇花园街{i}号", lat=31.7, lng=119.95, radius_m=100,
                          hours_text="24h", active=i != 3, updated_at=bot.clock.now()))
        s.add(Station(code="XY01", name="雪堰服务吧", kind="服务吧", address="雪堰镇",
                      lat=31.5, lng=120.08, radius_m=100, hours_text="24h",
                      updated_at=bot.clock.now()))


async def test_stations_search_filter_page_export(make_bot: BotFactory, sessions) -> None:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await make_user(sessions, bot.clock, "leader-wang", "leader")
    await add_stations(sessions, bot)
    await as_user(bot, "admin-wu")
    html = await page(bot, "/console/stations?q=xy01")  # codes found in any case
    assert "雪堰服务吧" in html and "湖塘驿站" not in html
    assert "湖塘驿站05" in await page(bot, "/console/stations?q=花园街5号")
    html = await page(bot, "/console/stations?kind=驿站&active=0")
    assert "湖塘驿站03" in html and html.count("<code>HT") == 1
    await paged(bot, "/console/stations?kind=驿站", "<code>HT", BULK)
    await exports_match(bot, "/console/stations?kind=服务吧", 0, {"XY01"}, csv_chinese=False)
    await exports_match(bot, "/console/stations?q=湖塘驿站1", 0,
                        {f"HT{i:02d}" for i in range(10, 20)}, csv_chinese=False)
    # the CSV keeps the station file's columns, so it can be imported again
    assert (await csv_rows(bot, "/console/stations?format=csv"))[0][:3] == [
        "code", "name", "kind"]
    assert (await xlsx_rows(bot, "/console/stations?format=xlsx"))[0][:3] == [
        "编号", "名称", "类型"]
    await bad_paging(bot, "/console/stations")
    assert "参数有误" in await page(bot, "/console/stations?active=2", 400)
    await as_user(bot, "leader-wang")  # not theirs: no such page, no export
    for path in ("/console/stations", "/console/stations?format=xlsx"):
        await page(bot, path, 404)


# --- 课程 ---------------------------------------------------------------------------------


async def test_courses_search_filter_page_export(make_bot: BotFactory, sessions) -> None:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await make_user(sessions, bot.clock, "teacher-li", "instructor")
    for i in range(BULK):
        await new_course(bot, code=f"DX{i:02d}", title=f"党史课第{i:02d}讲",
                         instructor="teacher-li", hours_ahead=24 + i)
    await new_course(bot, code="ZC01", title="政策解读", instructor="王老师", status="draft")
    await new_course(bot, code="OLD1", title="往期党课", instructor="王老师", hours_ahead=1)
    bot.clock.advance(hours=4)  # OLD1 has ended
    await as_user(bot, "admin-wu")
    html = await page(bot, "/console/courses?q=政策")
    assert "ZC01" in html and "DX01" not in html
    html = await page(bot, "/console/courses?status=draft")
    assert "ZC01" in html and "DX0" not in html and "OLD1" not in html
    assert "OLD1" not in await page(bot, "/console/courses?when=upcoming&q=往期")
    assert "OLD1" in await page(bot, "/console/courses?when=past")
    await paged(bot, "/console/courses?q=党史课", 'class="badge green">已发布', BULK)
    await exports_match(bot, "/console/courses?q=党史课第1", 0,
                        {f"DX{i:02d}" for i in range(10, 20)})
    await exports_match(bot, "/console/courses?status=draft", 0, {"ZC01"})
    await bad_paging(bot, "/console/courses")
    assert "参数有误" in await page(bot, "/console/courses?status=gone", 400)
    await as_user(bot, "teacher-li")  # their own courses only
    assert "ZC01" not in await page(bot, "/console/courses?q=政策")
    await exports_match(bot, "/console/courses", 0, {f"DX{i:02d}" for i in range(BULK)})


# --- 通知 ---------------------------------------------------------------------------------


async def test_notices_search_filter_page_export(make_bot: BotFactory, sessions) -> None:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await make_user(sessions, bot.clock, "teacher-li", "instructor")
    at = bot.clock.now()
    async with sessions() as s, s.begin():
        for i in range(BULK):
            s.add(Notice(title=f"学习通知{i:02d}", body="请按时参加", audience="all",
                         status="sent" if i % 2 else "scheduled", send_at=at + timedelta(days=1),
                         created_by="console:admin-wu", created_at=at))
        s.add(Notice(title="讲师的课前提醒", body="带好笔记本", audience="all",
                     status="scheduled", send_at=at + timedelta(days=1),
                     created_by="console:teacher-li", created_at=at))
    await as_user(bot, "admin-wu")
    html = await page(bot, "/console/notices?q=课前")
    assert "讲师的课前提醒" in html and "学习通知" not in html
    html = await page(bot, "/console/notices?author=console:teacher-li")
    assert "讲师的课前提醒" in html and "学习通知" not in html
    await paged(bot, "/console/notices?q=学习通知", ">学习通知", BULK)
    await exports_match(bot, "/console/notices?q=学习通知&status=sent", 1,
                        {f"学习通知{i:02d}" for i in range(1, BULK, 2)})
    await bad_paging(bot, "/console/notices")
    assert "参数有误" in await page(bot, "/console/notices?author=console:nobody", 400)
    await as_user(bot, "teacher-li")  # their own notices only
    assert ">学习通知" not in await page(bot, "/console/notices?q=学习通知")
    await exports_match(bot, "/console/notices", 1, {"讲师的课前提醒"})
    assert "参数有误" in await page(bot, "/console/notices?author=console:admin-wu", 400)


# --- 上报 ---------------------------------------------------------------------------------


async def test_reports_search_filter_page_export(make_bot: BotFactory, sessions) -> None:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await make_user(sessions, bot.clock, "officer-xy", "officer", grid_code="XY")
    await bot.phone("o-r").register()
    at = bot.clock.now()
    async with sessions() as s, s.begin():
        member = (await s.exec(select(Member))).one()
        for i in range(BULK):
            s.add(Report(ticket=f"R20260101-{i + 1:04d}", member_id=member.id,
                         category="道路交通" if i % 2 else "市容环境",
                         description=f"湖塘路灯坏了第{i}处", grid_code="HT",
                         created_at=at - timedelta(hours=BULK - i), updated_at=at,
                         due_at=at + timedelta(days=3)))
        s.add(Report(ticket="R20260101-0900", member_id=member.id, category="公共设施",
                     description="雪堰充电桩坏了", grid_code="XY", created_at=at,
                     updated_at=at, due_at=at + timedelta(days=3)))
    await as_user(bot, "admin-wu")
    html = await page(bot, "/console/reports?q=r20260101-0900")  # tickets in any case
    assert "R20260101-0900" in html and "R20260101-0001" not in html
    html = await page(bot, "/console/reports?q=充电桩")  # words of the description
    assert "R20260101-0900" in html and "共 1 件" in html
    html = await page(bot, "/console/reports?category=公共设施")
    assert "R20260101-0900" in html and "R20260101-0001" not in html
    await paged(bot, "/console/reports?status=open&grid=HT", 'href="/console/reports/R', BULK)
    await exports_match(bot, "/console/reports?status=open&q=路灯&category=道路交通", 0,
                        {f"R20260101-{i + 1:04d}" for i in range(1, BULK, 2)})
    await bad_paging(bot, "/console/reports")
    await as_user(bot, "officer-xy")  # their grid only
    assert "R20260101-0001" not in await page(bot, "/console/reports?q=路灯")
    await exports_match(bot, "/console/reports?status=all", 0, {"R20260101-0900"})


# --- in a browser, on a phone ---------------------------------------------------------------


async def test_search_page_and_download_in_a_phone_browser(make_bot: BotFactory, sessions,
                                                           tmp_path: Path) -> None:
    """On a 390 px phone: search the 驿站 list, go to page 2, download the Excel of every
    row found (not only the page's)."""
    need_browser()
    from playwright.async_api import async_playwright

    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await add_stations(sessions, bot)
    base = str(bot.client.make_url("")).rstrip("/")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                            args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            context = await chromium.new_context(locale="zh-CN", accept_downloads=True,
                                                 viewport={"width": 390, "height": 844})
            tab = await context.new_page()
            tab.set_default_timeout(15_000)
            await tab.goto(f"{base}/console/login")
            await tab.fill("input[name=username]", "admin-wu")
            await tab.fill("input[name=password]", PASSWORD)
            await tab.get_by_role("button", name="登录").click()
            await tab.wait_for_url(f"{base}/console/")
            await tab.goto(f"{base}/console/stations")
            await tab.get_by_label("名称、编号或地址").fill("湖塘")
            await tab.get_by_label("状态").select_option("1")
            await tab.get_by_role("button", name="筛选").click()
            await tab.wait_for_url(re.compile(r"q=%E6%B9%96%E5%A1%98"))
            assert await tab.locator("table.list tbody tr").count() == 20
            assert "共 22 处" in await tab.locator("nav.pager").inner_text()
            wide = await tab.evaluate("document.documentElement.scrollWidth")
            assert wide <= 390, wide  # the form wraps, the table is cards
            await tab.get_by_role("link", name="下一页").click()
            await tab.wait_for_url(re.compile(r"page=2"))
            assert "active=1" in tab.url
            assert await tab.locator("table.list tbody tr").count() == 2
            async with tab.expect_download() as info:
                await tab.get_by_role("link", name="导出 Excel").click()
            download = await info.value
            assert download.suggested_filename == "驿站.xlsx"
            saved = tmp_path / "stations.xlsx"
            await download.save_as(saved)
            sheet = load_workbook(saved, read_only=True).worksheets[0]
            rows = list(sheet.iter_rows(values_only=True))
            assert rows[0][:3] == ("编号", "名称", "类型")
            assert sorted(str(r[0]) for r in rows[1:]) == [
                f"HT{i:02d}" for i in range(BULK) if i != 3]
        finally:
            await chromium.close()
