"""「数据」 (issue 17, part 3): reports with realistic histories — 派单, 签收, 办结, 评价,
reopened after a low rating, 延期 approved, 督办, 合并, closed — made with the domain
functions at FakeClock times across two grids, two categories and two months; the page
shows the numbers they give, per grid, per category and per month, to an admin (all) and
to each grid's officer (their grid only); the monthly report, its workbook and CSV; an
instructor is refused."""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import select

from bot import texts as T
from handlers.reports.orders import policy
from models import grid as grids
from models import report as R
from models import work_order as wo
from models.base import SHANGHAI
from models.member import Member
from models.report import Draft, Report
from models.staff import ConsoleUser
from tests.chat.test_reports import HT_SQUARE, XY_SQUARE, collection, feature
from tests.conftest import Bot, BotFactory
from tests.console_util import login, make_user

ROAD, CITY = "道路交通", "市容环境"


def sh(mo: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    return datetime(2026, mo, d, h, mi, tzinfo=SHANGHAI)


class History:
    """Makes reports and steps them at given times, as the chat, console and job would."""

    def __init__(self, bot: Bot, sessions: Any) -> None:
        self.bot, self.sessions = bot, sessions
        self.policy = policy(bot.settings)
        self.tickets: dict[str, str] = {}

    async def member(self) -> Member:
        async with self.sessions() as s, s.begin():
            found = (await s.exec(select(Member).where(Member.openid == "o-num"))).first()
            if found is None:
                found = Member(openid="o-num", name="王五", consent_at=sh(10, 1),
                               registered_at=sh(10, 1), created_at=sh(10, 1))
                s.add(found)
                await s.flush()
            return found

    async def file(self, name: str, at: datetime, category: str, grid: str | None) -> None:
        self.bot.clock.set(at)
        await self.member()
        async with self.sessions() as s, s.begin():
            member = (await s.exec(select(Member).where(Member.openid == "o-num"))).one()
            where = await grids.by_code(s, grid) if grid else None
            report = await R.create(s, member, Draft(f"{name} 的问题描述", category),
                                    self.policy.due(category, at), at, where,
                                    T.ORDER_PUSH_NEW, self.policy.ack_due(at))
            self.tickets[name] = report.ticket

    async def step(self, name: str, at: datetime, fn: Any, *args: Any, **kw: Any) -> Any:
        """fn(session, report, *args, now=at, …) on the locked report; a string in args
        naming a console account is that account."""
        self.bot.clock.set(at)
        async with self.sessions() as s, s.begin():
            report = await R.by_ticket(s, self.tickets[name], lock=True)
            assert report is not None
            real = []
            for a in args:
                user = (await s.exec(select(ConsoleUser).where(ConsoleUser.username == a))
                        ).first() if isinstance(a, str) else None
                real.append(user or a)
            return await fn(s, report, *real, **kw)

    async def ack(self, name: str, at: datetime, officer: str) -> None:
        await self.step(name, at, lambda s, r, u: wo.acknowledge(s, r, u, at, self.policy),
                        officer)

    async def resolve(self, name: str, at: datetime) -> None:
        await self.step(name, at, lambda s, r: R.move(s, r, R.RESOLVED, "officer:x", "修好了",
                                                      at, T.REPORT_PUSH_STATUS))

    async def rate(self, name: str, at: datetime, stars: int) -> None:
        async def _rate(s: Any, r: Report) -> None:
            member = await s.get(Member, r.member_id)
            await wo.rate(s, r, member, stars, at, self.policy)
        await self.step(name, at, _rate)


@pytest.fixture
async def district(make_bot: BotFactory, sessions) -> Bot:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "officer-ht", "officer")
    await make_user(sessions, bot.clock, "officer-xy", "officer", grid_code="XY")
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    await make_user(sessions, bot.clock, "teacher", "instructor")
    async with sessions() as s, s.begin():
        user = (await s.exec(select(ConsoleUser).where(ConsoleUser.username == "officer-xy"))
                ).one()
        user.display_name = "徐网格"
        s.add(user)
        imported = await grids.import_grids(s, collection(
            feature("HT", "湖塘网格", HT_SQUARE, ["officer-ht"]),
            feature("XY", "雪堰网格", XY_SQUARE, [])), bot.clock.now())
    assert imported.rejected == []
    return bot


async def histories(bot: Bot, sessions: Any) -> History:
    """October: one report, resolved and rated 5. November (see the test's numbers):
    N1 HT road: ack 2 h, resolved next day, 5 stars.
    N2 HT road: ack 4 h, resolved, rated 2 (reopened, priority), resolved again.
    N3 XY city: ack 8.5 h, never resolved: 督办.   N4 XY city: merged into N3 (重复).
    N5 XY road: ack 1 h, 延期 5 days approved, resolved after the first deadline but
       before the new one (on time), 3 stars.
    N6 HT city: ack 3 h, resolved late, 5 stars.
    N7 road in no grid (district queue), never dispatched, overdue.
    N8 XY road: closed as 非职责范围."""
    h = History(bot, sessions)
    p = h.policy
    await h.file("O1", sh(10, 13), ROAD, "HT")
    await h.ack("O1", sh(10, 13, 11), "officer-ht")
    await h.resolve("O1", sh(10, 15))
    await h.rate("O1", sh(10, 16), 5)

    await h.file("N1", sh(11, 2), ROAD, "HT")
    await h.ack("N1", sh(11, 2, 12), "officer-ht")
    await h.resolve("N1", sh(11, 3))
    await h.rate("N1", sh(11, 4), 5)

    await h.file("N2", sh(11, 2), ROAD, "HT")
    await h.ack("N2", sh(11, 2, 14), "officer-ht")
    await h.resolve("N2", sh(11, 4))
    await h.rate("N2", sh(11, 5, 9), 2)  # reopened
    await h.resolve("N2", sh(11, 6))

    await h.file("N3", sh(11, 3), CITY, "XY")
    await h.ack("N3", sh(11, 4), "officer-xy")
    await h.file("N4", sh(11, 4), CITY, "XY")
    await h.step("N4", sh(11, 4, 11), lambda s, r, u: _merge(s, r, u, h), "admin-wu")
    await h.step("N3", sh(11, 11), lambda s, r: wo.escalate(s, r, sh(11, 11), p))

    await h.file("N5", sh(11, 5), ROAD, "XY")
    await h.ack("N5", sh(11, 5, 11), "officer-xy")
    await h.step("N5", sh(11, 6), lambda s, r, u: wo.request_extension(
        s, r, u, 5, "等待材料", sh(11, 6), p), "officer-xy")
    await h.step("N5", sh(11, 6, 11), lambda s, r, u: wo.approve_extension(
        s, r, u, "同意", sh(11, 6, 11), p), "admin-wu")
    await h.resolve("N5", sh(11, 16))
    await h.rate("N5", sh(11, 17), 3)

    await h.file("N6", sh(11, 6), CITY, "HT")
    await h.ack("N6", sh(11, 6, 13), "officer-ht")
    await h.resolve("N6", sh(11, 12))
    await h.rate("N6", sh(11, 13), 5)

    await h.file("N7", sh(11, 9), ROAD, None)
    await h.file("N8", sh(11, 10), ROAD, "XY")
    await h.step("N8", sh(11, 10, 11), lambda s, r: R.move(
        s, r, R.CLOSED, "officer:officer-xy", "", sh(11, 10, 11), T.REPORT_PUSH_STATUS,
        close_reason="非职责范围"))
    bot.clock.set(sh(11, 20))  # Friday 20 November, 10:00
    return h


async def _merge(s: Any, duplicate: Report, admin: ConsoleUser, h: History) -> None:
    original = await R.by_ticket(s, h.tickets["N3"])
    assert original is not None
    await wo.merge(s, duplicate, original, admin, h.bot.clock.now(), h.policy)


async def as_user(bot: Bot, username: str) -> None:
    bot.client.session.cookie_jar.clear()
    assert (await login(bot.client, username)).status == 303


def tile(html: str, key: str) -> str:
    found = re.search(rf'id="tile-{key}"><b>([^<]*)</b><span>([^<]*)</span>', html)
    assert found, key
    return f"{found.group(1)} | {found.group(2)}"


def row(html: str, table: str, name: str) -> list[str]:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    found = re.search(rf'<th[^>]*scope="row"[^>]*>{re.escape(name)}</th>(.*?)</tr>', body, re.S)
    assert found, (table, name)
    return re.findall(r"<td[^>]*>([^<]*)</td>", found.group(1))


async def test_the_numbers_of_a_month(district: Bot, sessions) -> None:
    bot = district
    h = await histories(bot, sessions)
    await as_user(bot, "admin-wu")
    page = await bot.client.get("/console/numbers")
    html = await page.text()
    assert page.status == 200 and "2026年11月" in html and "共上报 8 件" in html
    # 4 resolved of 8 − 1 duplicate; 2 of 3 ratings 4–5 (N2's 2 stars went with its
    # reopening: the next 已办结 is rated afresh)
    assert tile(html, "resolution") == "57.1% | 办结率 · 4 ÷ 7 件"
    assert tile(html, "satisfaction") == "66.7% | 满意率 · 2 ÷ 3 条评价"
    assert tile(html, "on_time") == "75.0% | 按时办结率 · 3 ÷ 4 件"  # N6 late
    # 签收 [1, 2, 3, 4, 8.5] working hours; 办结 [1, 4, 4, 7] working days
    assert tile(html, "ack").startswith("3.0 / 6.7 | ")
    assert tile(html, "resolve").startswith("4.0 / 6.1 | ")
    assert tile(html, "reopen") == "25.0% | 重新打开占比 · 1 ÷ 4 件"
    assert tile(html, "overdue").startswith("2 | ") and tile(html, "escalated").startswith("1 |")
    assert "未达标" in html and "达标" in html
    for _, name, definition in T.NUMBERS_DEFINITIONS:
        assert name in html and definition.format(days=2)[:20] in html
    assert "已办结 ÷（全部上报 − 重复关闭）" in html and "工作小时" in html
    columns = ["上报", "重复关闭", "已办结", "办结率", "满意率", "评价数", "按时办结率",
               "签收中位", "办结中位", "重新打开", "逾期", "督办"]
    assert len(columns) == len(T.NUMBERS_COLUMNS)
    assert row(html, "by-grid", "湖塘网格") == [
        "3", "0", "3", "100.0%", "100.0%", "2", "66.7%", "3.0", "4.0", "33.3%", "0", "0"]
    assert row(html, "by-grid", "雪堰网格") == [
        "4", "1", "1", "33.3%", "0.0%", "1", "100.0%", "4.8", "7.0", "0.0%", "1", "1"]
    assert row(html, "by-grid", T.NUMBERS_NO_GRID) == [
        "1", "0", "0", "0.0%", "暂无数据", "0", "暂无数据", "暂无数据", "暂无数据", "暂无数据",
        "1", "0"]
    assert row(html, "by-category", ROAD)[:4] == ["5", "0", "3", "60.0%"]
    assert row(html, "by-category", CITY)[:4] == ["3", "1", "1", "50.0%"]
    assert row(html, "by-month", "2026年10月")[:5] == ["1", "0", "1", "100.0%", "100.0%"]
    assert row(html, "by-month", "2026年09月")[:5] == ["0", "0", "0", "暂无数据", "暂无数据"]
    # the 督办 list: N3, 10 working days past its deadline (Fri 6 Nov 17:30), its officer
    escalated = html.split('id="escalated"', 1)[1].split("</table>", 1)[0]
    assert f'href="/console/reports/{h.tickets["N3"]}"' in escalated
    assert "雪堰网格" in escalated and CITY in escalated and "徐网格" in escalated
    assert re.search(r'<td[^>]*class="num"[^>]*>10</td>', escalated)
    assert h.tickets["N4"] not in escalated
    # the trend charts: three, each for a laptop and a phone, with their axes
    assert html.count('class="chart wide"') == 3 and html.count('class="chart tall"') == 3
    assert "2026.11" in html and "100%" in html

    # October alone, by the month picker
    october = await (await bot.client.get("/console/numbers?month=2026-10")).text()
    assert tile(october, "resolution") == "100.0% | 办结率 · 1 ÷ 1 件"
    assert "达标" in october
    empty = await (await bot.client.get("/console/numbers?month=2025-01")).text()
    assert tile(empty, "resolution").startswith("暂无数据") and "暂无数据" in empty
    bad = await bot.client.get("/console/numbers?month=2026-13")
    assert bad.status == 400 and T.NUMBERS_BAD_MONTH in await bad.text()


async def test_officers_see_their_grids_and_others_are_refused(district: Bot, sessions
                                                               ) -> None:
    bot = district
    h = await histories(bot, sessions)
    await as_user(bot, "officer-ht")
    html = await (await bot.client.get("/console/numbers")).text()
    assert "共上报 3 件" in html and T.NUMBERS_SCOPE_OFFICER in html
    assert tile(html, "resolution").startswith("100.0% | ")
    assert "雪堰网格" not in html and T.NUMBERS_NO_GRID not in html
    assert h.tickets["N3"] not in html
    assert 'href="/console/numbers"' in html  # in the menu
    monthly = await bot.client.get("/console/numbers/monthly")
    assert monthly.status == 403 and T.NUMBERS_MONTHLY_REFUSED in await monthly.text()
    for download in ("/console/numbers/monthly.xlsx", "/console/numbers/monthly.csv"):
        assert (await bot.client.get(download)).status == 403
    await as_user(bot, "officer-xy")
    html = await (await bot.client.get("/console/numbers")).text()
    assert "共上报 4 件" in html and tile(html, "resolution").startswith("33.3% | ")
    assert h.tickets["N3"] in html and "湖塘网格" not in html
    await as_user(bot, "teacher")
    refused = await bot.client.get("/console/numbers")
    text = await refused.text()
    assert refused.status == 403 and "没有权限" in text and T.NUMBERS_REFUSED in text
    assert 'href="/console/numbers"' not in text


async def test_the_monthly_report_and_its_downloads(district: Bot, sessions) -> None:
    from openpyxl import load_workbook

    bot = district
    h = await histories(bot, sessions)
    await as_user(bot, "admin-wu")
    page = await bot.client.get("/console/numbers/monthly?month=2026-11")
    html = await page.text()
    assert page.status == 200
    assert "武进区新就业群体随手拍月度报告 2026年11月" in html
    assert "生成时间：2026-11-20 10:00:00" in html and "charts.css" in html
    assert row(html, "by-grid", "湖塘网格")[:4] == ["3", "0", "3", "100.0%"]
    assert h.tickets["N3"] in html
    xlsx = await bot.client.get("/console/numbers/monthly.xlsx?month=2026-11")
    assert xlsx.status == 200 and "spreadsheetml" in xlsx.headers["Content-Type"]
    book = load_workbook(io.BytesIO(await xlsx.read()))
    assert book.sheetnames == ["概览", "按网格", "按类别", "按月", "督办"]
    overview = {r[0]: r[1] for r in book["概览"].iter_rows(min_row=2, values_only=True)}
    assert overview["办结率"] == "57.1%" and overview["全部上报"] == 8
    grid_rows = {r[0]: r[1:] for r in book["按网格"].iter_rows(min_row=2, values_only=True)}
    assert grid_rows["雪堰网格"][:4] == (4, 1, 1, 33.3)
    assert grid_rows[T.NUMBERS_NO_GRID][4] == "暂无数据"
    months = list(book["按月"].iter_rows(min_row=2, values_only=True))
    assert len(months) == 12 and months[-1][:2] == ("2026-11", 8)
    assert months[-2][:2] == ("2026-10", 1)
    escalated = list(book["督办"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in escalated] == [h.tickets["N3"]] and escalated[0][5] == 10
    csv = await bot.client.get("/console/numbers/monthly.csv?month=2026-11")
    text = (await csv.read()).decode("utf-8-sig")
    assert csv.status == 200
    assert text.splitlines()[0].startswith("网格,上报,重复关闭,已办结,办结率（%）")
    assert "湖塘网格,3,0,3,100.0" in text
