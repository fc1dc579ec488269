"""注销 leaves nothing of the person: a member who registered, reported with a photo and a
phone number in the text, was answered by an officer, asked for leave and got a notice, then
注销 — and every text column of every table, the photos folder, Open311 and the console are
searched for their name, their phone in any spelling and their openid. The statistics stay
the same."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import SQLModel

from bot import texts as T
from bot.app import SERVICES
from models import grid as grids
from models import report as reports
from models import stats
from models.redact import digits_of
from models.report import Report
from models.staff import ConsoleUser
from tests.chat.test_activities import schedule
from tests.chat.test_groups import leader, new_group
from tests.chat.test_reports import HT_SQUARE, IN_HT, collection, feature, officer, ticket_of
from tests.conftest import Bot, BotFactory
from tests.console_util import login, make_user

API = {"Authorization": "Bearer xiaoge-demo-api-token"}
NAME, PHONE, OPENID = "赵六", "13900002222", "o-zhao-liu"
OTHER_NAME, OTHER_PHONE = "张三", "13800138000"
DESCRIPTION = f"{NAME}家门口路灯坏了，电话{PHONE}"
ADDRESS = f"湖塘镇花园街8号{NAME}家，电话一三九零零零零二二二二"
LEAVE = f"家里有事，电话139.0000.2222，找{NAME}"


async def _file(bot: Bot, openid: str, text: str, where: Any, photo: bool) -> str:
    p = bot.phone(openid)
    assert (await p.say("上报")).startswith(T.REPORT_ASK_DESC)
    assert await p.say(text) == T.REPORT_ASK_PHOTO
    if photo:
        await p.send(bot.peer.image(openid, media_id=f"media-{openid}"))
    else:
        await p.say("跳过")
    if isinstance(where, str):
        await p.say(where)
    else:
        await p.send(bot.peer.location(openid, *where, label="湖塘花园街"))
    reply = await p.say("1")  # the first category
    assert reply.startswith("请核对"), reply
    assert NAME not in text or NAME in reply  # the summary quotes the text (a stored reply)
    return ticket_of(await p.say("确认"))


def _texts_of_every_table(rows_by_table: dict[str, list[dict[str, Any]]]
                          ) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text and JSON value in the database (every column
    of every table is looked at: what holds a string, a list or a mapping is searched)."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        for row in rows_by_table[table.name]:
            for column in table.columns:
                value = row[column.name]
                if isinstance(value, str):
                    found.append((table.name, column.name, value))
                elif isinstance(value, (dict, list)):
                    found.append((table.name, column.name,
                                  json.dumps(value, ensure_ascii=False)))
    return found


async def _dump(sessions) -> dict[str, list[dict[str, Any]]]:
    async with sessions() as s:
        conn = await s.connection()
        return {t.name: [dict(r._mapping) for r in (await conn.execute(select(t))).all()]
                for t in SQLModel.metadata.sorted_tables}


def _same(text: str, expected: str) -> bool:
    """Equal but for the width of commas (text may be normalised on the way in)."""
    return text.replace("，", ",") == expected.replace("，", ",")


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _leaks(text: str) -> list[str]:
    """What of the person a text still holds: the name, the openid, the phone (in any
    spelling: the digits it spells, separators and numerals read as digits)."""
    return [what for what, there in (("name", NAME in text), ("openid", OPENID in text),
                                     ("phone", PHONE in digits_of(text))) if there]


async def _numbers(sessions, bot: Bot) -> dict[str, Any]:
    """The statistics: the dashboard's (but its member counts: one member fewer is the
    point), report numbers per grid, reports by status, category, grid and day."""
    now = bot.clock.now()
    async with sessions() as s:
        admin = (await s.exec(select(ConsoleUser).where(ConsoleUser.role == "admin"))
                 ).scalars().first()
        board = await stats.dashboard(s, now, admin)
        by = (await s.exec(select(Report.status, Report.category, Report.grid_code,
                                  func.date(Report.created_at), func.count())
                           .group_by(Report.status, Report.category, Report.grid_code,
                                     func.date(Report.created_at)))).all()
        per_grid = {g: await reports.numbers(s, now - timedelta(days=30), now, now,
                                             grid_code=g) for g in ("HT", "")}
    kept = {k: v for k, v in vars(board).items() if k not in ("members", "active_30d",
                                                               "new_today")}
    return {"dashboard": kept, "by": sorted(tuple(str(x) for x in r) for r in by),
            "per_grid": per_grid}


async def test_erasure_leaves_nothing_of_the_person(make_bot: BotFactory, sessions,
                                                    settings) -> None:
    bot = await make_bot(background=False)
    await officer(bot, sessions, "officer-ht", "o-officer-ht")
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    async with sessions() as s, s.begin():
        await grids.import_grids(s, collection(feature("HT", "湖塘网格", HT_SQUARE,
                                                       ["officer-ht"])), bot.clock.now())
    await leader(bot, sessions, "leader-zhou", "o-leader")
    code = await new_group(sessions, bot.clock, "湖塘骑手党小组", leader_name="leader-zhou")
    zhao, other = bot.phone(OPENID), bot.phone("o-other")
    assert (await zhao.register(name=NAME, mobile=PHONE)).startswith(
        T.REG_DONE.format(name=NAME)[:8])
    await other.register(name=OTHER_NAME, mobile=OTHER_PHONE)
    for p in (zhao, other):
        await p.say(f"加入小组 {code}")

    # What the member leaves: two reports (a photo, a point; a typed address), an officer's
    # note naming them, a leave reason, a notice to them, their 我的.
    first = await _file(bot, OPENID, DESCRIPTION, IN_HT, photo=True)
    second = await _file(bot, OPENID, "井盖松动了，联系1 3 9 0 0 0 0 2 2 2 2", ADDRESS,
                         photo=False)
    theirs = await _file(bot, "o-other", f"桥下积水很深，电话{OTHER_PHONE}", (31.7101, 119.9501),
                         photo=False)
    assert (await bot.phone("o-officer-ht").say(f"处理 {first} 已联系{NAME} {PHONE}")
            ).startswith("已将")
    await schedule(bot, code, hours_ahead=3)
    assert (await zhao.say(f"请假 {LEAVE}")).startswith("已请假")
    resp = await bot.client.post("/api/v1/notices", headers=API, json={
        "title": "通知", "body": "明天学习", "audience": f"member:{OPENID},o-other"})
    assert resp.status == 201
    assert NAME in (await zhao.say("我的"))
    fetcher = bot.client.server.app[SERVICES].loops["photos"]
    await fetcher.run_once()
    folder = Path(settings.reports.photo_dir)
    assert await asyncio.to_thread(_files, folder) == [f"{first}.jpg"]
    bot.clock.advance(minutes=1)  # the numbers count reports made before now
    before = await _numbers(sessions, bot)
    assert before["dashboard"]["reports"]["reports"] == 3
    leaking = [(t, c) for t, c, v in _texts_of_every_table(await _dump(sessions)) if _leaks(v)]
    assert {"report", "member", "outbox", "activity_attendance", "report_event",
            "inbound_claim", "notice"} <= {t for t, _ in leaking}  # the search finds them

    assert await zhao.say("注销") == T.ERASE_CONFIRM
    assert await zhao.say("确认注销") == T.ERASE_DONE
    await fetcher.run_once()  # the photo goes once the erasure has committed

    # The database: not a trace in any text column of any table.
    rows = await _dump(sessions)
    texts = _texts_of_every_table(rows)
    assert [(t, c, v[:80]) for t, c, v in texts if _leaks(v)] == []
    assert any(OTHER_NAME in v for _, _, v in texts)  # the other member is all there
    assert await asyncio.to_thread(_files, folder) == []
    mine = {r["ticket"]: r for r in rows["report"]}
    assert _same(mine[first]["description"], "某某家门口路灯坏了，电话***********")
    assert mine[second]["address"].startswith("湖塘镇花园街8号某某家")  # the place is kept
    assert mine[second]["address"].endswith("电话***********")
    assert (mine[first]["lat"], mine[first]["lng"]) == (round(IN_HT[0], 3), round(IN_HT[1], 3))
    assert mine[first]["photo_path"] is None and mine[first]["photo_media_id"] is None
    assert [r["reason"] for r in rows["activity_attendance"]] == [T.ERASED_TEXT]
    assert _same(mine[theirs]["description"], f"桥下积水很深，电话{OTHER_PHONE}")  # not theirs
    assert await _numbers(sessions, bot) == before  # the statistics stay right

    # Open311 publishes the redacted form; the other resident's phone is masked too.
    body = await (await bot.client.get("/open311/v2/requests.json")).text()
    published = {r["service_request_id"]: r for r in json.loads(body)}
    assert set(published) == {first, second, theirs} and _leaks(body) == []
    assert _same(published[first]["description"], "某某家门口路灯坏了，电话***********")
    assert _same(published[theirs]["description"], "桥下积水很深，电话***********")
    one = await (await bot.client.get(f"/open311/v2/requests/{second}.json")).text()
    assert _leaks(one) == [] and "井盖松动了" in one

    # The console: the admin sees the redacted form; an officer does not see a phone.
    assert (await login(bot.client, "admin-wu")).status == 303
    for path in (f"/console/reports/{first}", f"/console/reports/{second}",
                 "/console/reports?status=all", "/console/reports?status=all&format=csv",
                 "/console/members"):
        page = await bot.client.get(path)
        html = await page.text()
        assert page.status == 200 and _leaks(html) == [], path
    html = await (await bot.client.get(f"/console/reports/{first}")).text()
    assert "某某家门口路灯坏了" in html and "已联系某某 ***********" in html
    assert OTHER_PHONE in await (await bot.client.get(f"/console/reports/{theirs}")).text()
    bot.client.session.cookie_jar.clear()
    assert (await login(bot.client, "officer-ht")).status == 303
    html = await (await bot.client.get(f"/console/reports/{theirs}")).text()
    assert "电话***********" in html and OTHER_PHONE not in html
    csv = await (await bot.client.get("/console/reports?status=all&format=csv")).text()
    assert "桥下积水很深" in csv and OTHER_PHONE not in csv


async def test_a_download_finishing_after_the_erasure_keeps_nothing(make_bot: BotFactory,
                                                                    sessions,
                                                                    settings) -> None:
    bot = await make_bot(background=False)
    zhao = bot.phone(OPENID)
    await zhao.register(name=NAME, mobile=PHONE)
    ticket = await _file(bot, OPENID, DESCRIPTION, "湖塘镇花园街", photo=True)
    fetcher = bot.client.server.app[SERVICES].loops["photos"]
    async with sessions() as s:
        [report] = (await s.exec(select(Report))).scalars().all()
    assert report.photo_status == "pending"
    await zhao.say("注销")
    await zhao.say("确认注销")
    await fetcher._fetch(report)  # the download was under way: it lands after the 注销
    assert await asyncio.to_thread(_files, Path(settings.reports.photo_dir)) == []
    async with sessions() as s:
        after = await reports.by_ticket(s, ticket)
    assert after is not None and after.photo_status == "none" and after.photo_path is None
    assert await fetcher.run_once() == 0  # nothing left to download
