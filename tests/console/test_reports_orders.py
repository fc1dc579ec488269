"""Work orders (工单, issue 17) in the console, in a real browser (Debian's Chromium under
Playwright's async API) against the app served in the test's own loop, so the test's clock,
the WeChat sandbox and the outbox worker are at hand. One test per step, each taken by the
role that may take it and refused to one that may not: 派单 (admin) → the officer's WeChat
gets it; 签收 (officer); 退单 with a reason → flagged at the top of the district queue;
延期 (officer) → approved, or refused, by an admin; 合并 → the duplicate's reporter hears of
the original's 已办结; 督办 once the clock passes the deadline + escalate days and the job
runs; the timeline names people by their display names. A double submit takes a step once.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot import texts as T
from bot.app import SERVICES
from handlers.reports.jobs import run_orders
from models import grid as grids
from models import report as reports
from models import staff
from models.report import Report
from tests.browser_util import CHROMIUM, need_browser
from tests.chat.test_reports import (
    HT_SQUARE,
    XY_SQUARE,
    collection,
    feature,
    file_report,
    ticket_of,
)
from tests.conftest import Bot, BotFactory

PASSWORD = "password-123"
# login → (role, the WeChat bound to it, the name its owner registered with, mobile)
STAFF = {"admin-wu": ("admin", "o-admin-wu", "吴管理员", "13700137001"),
         "officer-ht": ("officer", "o-officer-ht", "何网格员", "13700137002"),
         "officer-xy": ("officer", "o-officer-xy", "徐网格员", "13700137003")}
IN_HT_FAR = (31.7150, 119.9550)  # in 湖塘 too, but more than 50 m from the first report


@pytest.fixture
async def desk(make_bot: BotFactory, sessions) -> Bot:
    """Two grids, 湖塘 (officer-ht) and 雪堰 (officer-xy), and an admin: each account bound
    to its owner's WeChat, registered with a name. The test drives the background work."""
    need_browser()
    bot = await make_bot(background=False)
    for login, (role, openid, name, mobile) in STAFF.items():
        await bot.phone(openid).register(name=name, mobile=mobile)
        async with sessions() as s, s.begin():
            user = await staff.create_user(s, login, role, PASSWORD, bot.clock.now())
            code = await staff.issue_bind_code(s, user, bot.clock.now())
        assert (await bot.phone(openid).say(f"绑定 {code}") or "").startswith("绑定成功")
    async with sessions() as s, s.begin():
        imported = await grids.import_grids(s, collection(
            feature("HT", "湖塘网格", HT_SQUARE, ["officer-ht"]),
            feature("XY", "雪堰网格", XY_SQUARE, ["officer-xy"])), bot.clock.now())
    assert imported.rejected == []
    return bot


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    need_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                            args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield chromium
        finally:
            await chromium.close()


def base_of(bot: Bot) -> str:
    return str(bot.client.make_url("")).rstrip("/")


async def as_user(browser: Any, bot: Bot, login: str) -> Any:
    """A browser page of its own (own cookies) logged in through the login form."""
    page = await (await browser.new_context(locale="zh-CN",
                                            viewport={"width": 1280, "height": 900})).new_page()
    page.set_default_timeout(15_000)
    base = base_of(bot)
    await page.goto(f"{base}/console/login")
    await page.fill("input[name=username]", login)
    await page.fill("input[name=password]", PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(f"{base}/console/")
    return page


async def open_report(page: Any, bot: Bot, ticket: str) -> None:
    resp = await page.goto(f"{base_of(bot)}/console/reports/{ticket}")
    assert resp is not None and resp.status == 200


async def post(page: Any, bot: Bot, ticket: str, step: str, **form: str) -> tuple[int, str]:
    """The step's form sent by hand with the page's own session and CSRF token (a role
    shown no such form, or a second submit of one)."""
    token = await page.locator("input[name=_csrf]").first.get_attribute("value")
    resp = await page.request.post(f"{base_of(bot)}/console/reports/{ticket}/{step}",
                                   form={"_csrf": token, **form}, max_redirects=0)
    return resp.status, await resp.text()


async def filed(bot: Bot, openid: str, name: str, mobile: str, **kw: Any) -> str:
    await bot.phone(openid).register(name=name, mobile=mobile)
    return ticket_of(await file_report(bot, openid, photo=False, **kw))


async def load(sessions: Any, ticket: str) -> Report:
    async with sessions() as s:
        report = await reports.by_ticket(s, ticket)
    assert report is not None
    return report


async def deliver(bot: Bot) -> None:
    await bot.client.server.app[SERVICES].worker.run_once()


def said(bot: Bot, openid: str) -> str:
    return "\n".join(str(m) for m in bot.sandbox.delivered(openid))


async def body(page: Any) -> str:
    return str(await page.locator("main").inner_text())


async def refused_403(page: Any, bot: Bot, ticket: str, step: str, **form: str) -> None:
    status, html = await post(page, bot, ticket, step, **form)
    assert status == 403 and T.ORDER_REFUSED[step] in html and "没有权限" in html


async def test_dispatch_from_the_district_queue(desk: Bot, browser: Any, sessions) -> None:
    bot = desk
    loose = await filed(bot, "o-rider", "张三", "13800138000", where="湖塘镇花园街")
    assert (await load(sessions, loose)).grid_code is None  # a typed address: district queue
    ht = await filed(bot, "o-two", "李四", "13900139000")

    officer = await as_user(browser, bot, "officer-ht")  # refused: no form, a 403 by hand
    await open_report(officer, bot, ht)
    assert await officer.locator("form[action$='/dispatch']").count() == 0
    await refused_403(officer, bot, ht, "dispatch", grid="XY")

    admin = await as_user(browser, bot, "admin-wu")
    await admin.goto(f"{base_of(bot)}/console/reports?stage=queue")
    assert loose in await body(admin) and ht not in await body(admin)
    await admin.get_by_role("link", name=loose).click()
    options = await admin.locator("#grid option").all_inner_texts()
    assert "雪堰网格（徐网格员）" in options and "湖塘网格（何网格员）" in options
    await admin.select_option("#grid", "XY")
    await admin.get_by_role("button", name="派单并通知网格员").click()
    await admin.wait_for_url(re.compile(r".*\?done=dispatch$"))
    page = await body(admin)
    assert T.ORDER_DONE["dispatch"].format(ticket=loose, grid="雪堰网格") in page
    assert "待签收" in page and "改派" in page
    report = await load(sessions, loose)
    assert (report.status, report.grid_code) == ("已派单", "XY") and report.ack_due_at
    await deliver(bot)
    assert loose in said(bot, "o-officer-xy") and "签收" in said(bot, "o-officer-xy")

    # The same form sent twice: one 派单, and the second is told so.
    status, html = await post(admin, bot, loose, "dispatch", grid="XY")
    assert status == 200 and T.ORDER_ALREADY["dispatch"].format(ticket=loose,
                                                                grid="雪堰网格") in html
    # 改派 to another grid; a grid that does not exist is a form error.
    status, html = await post(admin, bot, loose, "dispatch", grid="NOPE")
    assert status == 409 and T.FORM_GRID_UNKNOWN in html
    await open_report(admin, bot, loose)
    await admin.select_option("#grid", "HT")
    await admin.get_by_role("button", name="改派并通知网格员").click()
    await admin.wait_for_url(re.compile(r".*\?done=dispatch$"))
    assert (await load(sessions, loose)).grid_code == "HT"
    async with sessions() as s:
        events = await reports.history(s, (await load(sessions, loose)).id or 0)
    assert [e.action for e in events].count("派单") == 2


async def test_acknowledge_by_the_grids_officer(desk: Bot, browser: Any, sessions) -> None:
    bot = desk
    ticket = await filed(bot, "o-rider", "张三", "13800138000")
    admin = await as_user(browser, bot, "admin-wu")
    await open_report(admin, bot, ticket)
    assert await admin.get_by_role("button", name="签收").count() == 0
    await refused_403(admin, bot, ticket, "ack")
    other = await as_user(browser, bot, "officer-xy")  # another grid: no such report
    status, _ = await post(other, bot, ticket, "ack")
    assert status == 404

    officer = await as_user(browser, bot, "officer-ht")
    await open_report(officer, bot, ticket)
    assert "待签收" in await officer.locator("h1").inner_text()
    await officer.get_by_role("button", name="签收", exact=True).click()
    await officer.wait_for_url(re.compile(r".*\?done=ack$"))
    assert "已签收" in await body(officer) and "处理中" in await officer.locator("h1").inner_text()
    status, html = await post(officer, bot, ticket, "ack")  # a double submit
    assert status == 200 and T.ORDER_ALREADY["ack"].format(ticket=ticket,
                                                           status="处理中") in html
    report = await load(sessions, ticket)
    assert report.status == "处理中" and report.acked_at == bot.clock.now()
    async with sessions() as s:
        assert [e.action for e in await reports.history(s, report.id or 0)].count("签收") == 1


async def test_give_back_with_a_reason_lands_flagged_atop_the_queue(desk: Bot, browser: Any,
                                                                    sessions) -> None:
    bot = desk
    older = await filed(bot, "o-rider", "张三", "13800138000", where="湖塘镇花园街")
    bot.clock.advance(hours=1)
    ticket = await filed(bot, "o-two", "李四", "13900139000")
    admin = await as_user(browser, bot, "admin-wu")
    await open_report(admin, bot, ticket)
    await refused_403(admin, bot, ticket, "return", return_reason="不归这里管")

    officer = await as_user(browser, bot, "officer-ht")
    await open_report(officer, bot, ticket)
    await officer.fill("#return_reason", " ")
    await officer.get_by_role("button", name="退单").click()
    error = officer.locator("#return_reason + .field-error")
    assert T.FORM_REASON.format(n=2) in await error.inner_text()
    assert (await load(sessions, ticket)).grid_code == "HT"
    await officer.fill("#return_reason", "位置在高速公路上，不属于本网格")
    await officer.get_by_role("button", name="退单").click()
    await officer.wait_for_url(re.compile(r".*/console/reports\?returned="))
    assert T.ORDER_DONE["return"].format(ticket=ticket) in await body(officer)
    assert ticket not in "\n".join(await officer.locator("table.queue").all_inner_texts())
    status, _ = await post(officer, bot, ticket, "return", return_reason="再退一次")
    assert status == 303  # the second submit lands on the same message
    report = await load(sessions, ticket)
    assert (report.status, report.grid_code, report.returned) == ("已受理", None, True)
    assert report.return_reason == "位置在高速公路上，不属于本网格"

    await admin.goto(f"{base_of(bot)}/console/reports?grid=-")
    rows = await admin.locator("table.queue tbody tr").all_inner_texts()
    assert ticket in rows[0] and older in rows[1]  # flagged first, though newer
    assert "已退单" in rows[0] and "位置在高速公路上，不属于本网格" in rows[0]
    await admin.goto(f"{base_of(bot)}/console/reports?stage=returned")
    assert ticket in await body(admin) and older not in await body(admin)
    await deliver(bot)
    assert "【退单】" in said(bot, "o-admin-wu")


async def _asked(bot: Bot, browser: Any, ticket: str) -> Any:
    """officer-ht takes the report and asks for 3 more working days (after a bad try)."""
    officer = await as_user(browser, bot, "officer-ht")
    await open_report(officer, bot, ticket)
    await officer.get_by_role("button", name="签收", exact=True).click()
    await officer.wait_for_url(re.compile(r".*\?done=ack$"))
    await officer.fill("#days", "40")
    await officer.fill("#ext_reason", "等待路灯配件")
    await officer.get_by_role("button", name="申请延期").click()
    assert T.FORM_DAYS.format(low=1, high=30) in await officer.locator(
        "#days + .field-error").inner_text()
    assert await officer.input_value("#ext_reason") == "等待路灯配件"  # kept as typed
    await officer.fill("#days", "3")
    await officer.get_by_role("button", name="申请延期").click()
    await officer.wait_for_url(re.compile(r".*\?done=extend$"))
    assert "延期待批" in await officer.locator("h1").inner_text()
    status, html = await post(officer, bot, ticket, "extend", days="3", ext_reason="再申请")
    assert status == 200 and T.ORDER_ALREADY["extend"].format(ticket=ticket, days=3) in html
    return officer


async def test_extension_asked_then_approved(desk: Bot, browser: Any, sessions) -> None:
    bot = desk
    ticket = await filed(bot, "o-rider", "张三", "13800138000")
    admin = await as_user(browser, bot, "admin-wu")
    await open_report(admin, bot, ticket)
    await refused_403(admin, bot, ticket, "extend", days="3", ext_reason="等待配件")
    before = (await load(sessions, ticket)).due_at
    officer = await _asked(bot, browser, ticket)
    await refused_403(officer, bot, ticket, "decide", decision="approve")

    await open_report(admin, bot, ticket)
    assert "何网格员 申请延期 3 个工作日：等待路灯配件" in await body(admin)
    await admin.fill("#decide_note", "同意，请尽快")
    await admin.get_by_role("button", name="批准延期").click()
    await admin.wait_for_url(re.compile(r".*\?done=approve$"))
    report = await load(sessions, ticket)
    expected = bot.settings.reports.calendar().add_working_days(before, 3)
    assert report.due_at == expected and report.extension_state == "approved"
    shown = expected.astimezone(reports.SHANGHAI).strftime("%Y-%m-%d %H:%M")
    page = await body(admin)
    assert T.ORDER_DONE["approve"].format(ticket=ticket, due=shown) in page
    assert "已批准：3 个工作日" in page
    status, html = await post(admin, bot, ticket, "decide", decision="approve")
    assert status == 200 and "已经处理过了（已批准）" in html
    assert (await load(sessions, ticket)).due_at == expected  # not moved twice
    await deliver(bot)
    assert "【延期已批准】" in said(bot, "o-officer-ht")


async def test_extension_refused(desk: Bot, browser: Any, sessions) -> None:
    bot = desk
    ticket = await filed(bot, "o-rider", "张三", "13800138000")
    before = (await load(sessions, ticket)).due_at
    await _asked(bot, browser, ticket)
    admin = await as_user(browser, bot, "admin-wu")
    await open_report(admin, bot, ticket)
    await admin.get_by_role("button", name="驳回延期").click()
    assert T.FORM_REFUSE_NOTE.format(n=2) in await admin.locator(
        "#decide_note + .field-error").inner_text()
    await admin.fill("#decide_note", "配件已到，请按期办结")
    await admin.get_by_role("button", name="驳回延期").click()
    await admin.wait_for_url(re.compile(r".*\?done=refuse$"))
    report = await load(sessions, ticket)
    assert report.due_at == before and report.extension_state == "refused"
    assert "已驳回：3 个工作日" in await body(admin)
    await deliver(bot)
    assert "【延期被驳回】" in said(bot, "o-officer-ht")
    assert "配件已到，请按期办结" in said(bot, "o-officer-ht")


async def test_merge_a_duplicate_and_its_reporter_follows(desk: Bot, browser: Any,
                                                         sessions) -> None:
    bot = desk
    original = await filed(bot, "o-rider", "张三", "13800138000")
    duplicate = await filed(bot, "o-two", "李四", "13900139000", where=IN_HT_FAR)
    elsewhere = await filed(bot, "o-three", "王五", "13600136000", where=(31.52, 120.08))
    other = await as_user(browser, bot, "officer-xy")  # another grid: no such report
    status, _ = await post(other, bot, duplicate, "merge", original=original, confirm="1")
    assert status == 404

    officer = await as_user(browser, bot, "officer-ht")
    await open_report(officer, bot, duplicate)
    await officer.fill("#original", elsewhere)  # not in the officer's grids
    await officer.get_by_role("button", name="预览合并").click()
    assert T.FORM_ORIGINAL_UNKNOWN.format(ticket=elsewhere) in await body(officer)
    assert await officer.input_value("#original") == elsewhere
    await officer.fill("#original", original)
    await officer.get_by_role("button", name="预览合并").click()
    preview = T.MERGE_PREVIEW.format(ticket=duplicate, original=original, people=1)
    assert preview in await body(officer)
    assert (await load(sessions, duplicate)).status == "已派单"  # nothing done yet
    await officer.get_by_role("button", name="确认合并").click()
    await officer.wait_for_url(re.compile(r".*\?done=merge$"))
    assert T.ORDER_DONE["merge"].format(ticket=duplicate, original=original) \
        in await body(officer)
    status, html = await post(officer, bot, duplicate, "merge", original=original, confirm="1")
    assert status == 200 and T.ORDER_ALREADY["merge"].format(
        ticket=duplicate, original=original) in html
    dup = await load(sessions, duplicate)
    assert (dup.status, dup.close_reason) == ("已关闭", "重复")
    await open_report(officer, bot, original)
    assert duplicate in await officer.locator("section", has_text="并入本单").inner_text()

    # The original is resolved: the duplicate's reporter hears it through WeChat.
    await officer.get_by_role("button", name="签收", exact=True).click()
    await officer.wait_for_url(re.compile(r".*\?done=ack$"))
    await officer.select_option("#status", "已办结")
    await officer.fill("#note", "灯泡已更换")
    await officer.get_by_role("button", name="保存并通知").click()
    await officer.wait_for_url(re.compile(r".*\?done=1$"))
    token = await officer.locator("input[name=_csrf]").first.get_attribute("value")
    again = await officer.request.post(  # the status form sent twice
        f"{base_of(bot)}/console/reports/{original}", max_redirects=0,
        form={"_csrf": token, "status": "已办结", "note": "灯泡已更换"})
    assert again.status == 200 and T.ALREADY_MOVED.format(
        ticket=original, status="已办结") in await again.text()
    await deliver(bot)
    heard = said(bot, "o-two")
    assert original in heard and "已办结" in heard and "灯泡已更换" in heard


async def test_escalation_shows_after_the_job(desk: Bot, browser: Any, sessions) -> None:
    bot = desk
    ticket = await filed(bot, "o-rider", "张三", "13800138000")
    report = await load(sessions, ticket)
    rules_days = bot.settings.reports.escalate_after_days
    at = bot.settings.reports.calendar().add_working_days(report.due_at, rules_days)
    services = bot.client.server.app[SERVICES]
    bot.clock.advance(seconds=(at - bot.clock.now()).total_seconds() - 60)
    await run_orders(services, bot.clock.now())
    assert (await load(sessions, ticket)).escalated_at is None  # a minute early
    bot.clock.advance(minutes=2)
    assert await run_orders(services, bot.clock.now()) >= 1
    assert (await load(sessions, ticket)).escalated_at is not None

    admin = await as_user(browser, bot, "admin-wu")
    await admin.goto(f"{base_of(bot)}/console/reports")
    await admin.locator("h1").get_by_role("link", name="督办 1").click()
    assert ticket in await body(admin) and "stage=escalated" in admin.url
    await open_report(admin, bot, ticket)
    assert "督办" in await admin.locator("h1").inner_text()
    other = await as_user(browser, bot, "officer-xy")  # another grid's count is not theirs
    await other.goto(f"{base_of(bot)}/console/reports?stage=escalated")
    assert ticket not in await body(other) and "督办 0" in await body(other)


async def test_the_timeline_names_people(desk: Bot, browser: Any, sessions) -> None:
    bot = desk
    ticket = await filed(bot, "o-rider", "张三", "13800138000", where="湖塘镇花园街")
    admin = await as_user(browser, bot, "admin-wu")
    await open_report(admin, bot, ticket)
    await admin.select_option("#grid", "HT")
    await admin.get_by_role("button", name="派单并通知网格员").click()
    await admin.wait_for_url(re.compile(r".*\?done=dispatch$"))
    officer = await as_user(browser, bot, "officer-ht")
    await open_report(officer, bot, ticket)
    await officer.get_by_role("button", name="签收", exact=True).click()
    await officer.wait_for_url(re.compile(r".*\?done=ack$"))
    bot.clock.advance(days=10)
    await run_orders(bot.client.server.app[SERVICES], bot.clock.now())  # 催办, 督办
    admin = await as_user(browser, bot, "admin-wu")
    await open_report(admin, bot, ticket)
    rows = await admin.locator("table.events tbody tr").all_inner_texts()
    joined = "\n".join(rows)
    assert any("派单" in r and "管理员 吴管理员" in r for r in rows), rows
    assert any("签收" in r and "网格员 何网格员" in r for r in rows), rows
    assert any("督办" in r and "系统" in r for r in rows), rows
    assert any("受理" in r and "上报人" in r for r in rows), rows
    for raw in ("admin-wu", "officer-ht", "admin:", "officer:", "console:", "system"):
        assert raw not in joined, raw
