"""Over-long and invisible text through the signed /wechat callback, on SQLite and PostgreSQL.

A rider's long place label or typed address is kept, cut with "…" to its field's maximum
(it used to make 确认 fail on PostgreSQL for ever); an openid that is not one is refused as a
bad request before anything reads it; and zero-width, word-joiner and bidi characters are
not there at all: `报\u200b名 X` is 报名 X, in words, dialogs, menu keys, scans and labels.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlmodel import col, select

from bot import texts as T
from models import activity as activities
from models import grid as grids
from models import report as reports
from models.activity import Attendance
from models.member import Member
from models.report import Report, ReportEvent
from models.text import fit
from tests.chat.test_activities import schedule
from tests.chat.test_groups import leader, new_group
from tests.chat.test_reports import HT_SQUARE, IN_HT, collection, feature, officer
from tests.chat.test_stations import seed
from tests.conftest import Bot, BotFactory

ZWSP, WJ, RLO, BOM, LRI, PDI = "\u200b", "\u2060", "\u202e", "\ufeff", "\u2066", "\u2069"


async def _to_location_step(bot: Bot, openid: str, text: str = "花园街路灯不亮，晚上很黑"
                            ) -> Any:
    p = bot.phone(openid)
    await p.register()
    assert (await p.say("上报")).startswith(T.REPORT_ASK_DESC)
    assert await p.say(text) == T.REPORT_ASK_PHOTO
    assert await p.say("跳过") == T.REPORT_ASK_LOCATION
    return p


async def _file(p: Any) -> str:
    reply = await p.say("确认")  # the guessed category (路灯 → its category)
    if not reply.startswith("请核对"):
        reply = await p.say("1")
    assert reply.startswith("请核对"), reply
    filed = await p.say("确认")
    assert filed.startswith("✅") or "R2026" in filed, filed
    return filed


async def _only_report(sessions: Any) -> Report:
    async with sessions() as s:
        return (await s.exec(select(Report))).one()


async def test_a_place_with_a_300_character_label_is_filed_with_the_label_cut(
        bot: Bot, sessions: Any) -> None:
    p = await _to_location_step(bot, "o-long-label")
    label = "常州市武进区湖塘镇花园街" * 25  # 300 characters
    assert len(label) == 300
    await p.send(bot.peer.location("o-long-label", *IN_HT, label=label))
    await _file(p)
    report = await _only_report(sessions)
    assert report.address == fit(label, reports.ADDRESS_MAX)
    assert len(report.address) == 200 and report.address.endswith("…")
    assert report.lat is not None  # the place itself is kept whole
    # The rider is done, not stuck in a dialog whose 确认 fails.
    assert not (await p.say("确认") or "").startswith(T.ERROR)


async def test_a_long_typed_address_is_cut_and_a_long_description_refused_with_its_limit(
        bot: Bot, sessions: Any) -> None:
    p = bot.phone("o-long-desc")
    await p.register()
    await p.say("上报")
    refused = await p.say("路灯" * 260)  # 520 characters
    assert refused.startswith(T.REPORT_DESC_LONG) and str(reports.DESCRIPTION_MAX) in refused
    assert await p.say("花园街路灯不亮") == T.REPORT_ASK_PHOTO
    assert await p.say("跳过") == T.REPORT_ASK_LOCATION
    typed = "湖塘镇花园街与延政路交叉口往东" * 20  # 300 characters
    await p.say(typed)
    await _file(p)
    report = await _only_report(sessions)
    assert report.address == typed[:199] + "…"


@pytest.fixture
async def with_officer(make_bot: BotFactory, sessions: Any) -> Bot:
    """The 湖塘 grid with its officer bound to WeChat."""
    bot = await make_bot(background=False)
    await officer(bot, sessions, "officer-ht", "o-officer-ht")
    async with sessions() as s, s.begin():
        await grids.import_grids(s, collection(feature("HT", "湖塘网格", HT_SQUARE,
                                                       ["officer-ht"])), bot.clock.now())
    return bot


async def test_an_officers_long_note_is_cut_where_it_is_stored(with_officer: Bot,
                                                               sessions: Any) -> None:
    bot = with_officer
    p = await _to_location_step(bot, "o-noted")
    await p.send(bot.peer.location("o-noted", *IN_HT, label="湖塘花园街"))
    await _file(p)
    ticket = (await _only_report(sessions)).ticket
    note = "已联系路灯所明天上午安排维修" * 40  # 560 characters
    reply = await bot.phone("o-officer-ht").say(f"处理 {ticket} {note}")
    assert reply is not None and not reply.startswith(T.ERROR)
    async with sessions() as s:
        stored = (await s.exec(select(ReportEvent.note).where(
            col(ReportEvent.to_status) == reports.IN_PROGRESS))).one()
    assert stored == note[:reports.NOTE_MAX - 1] + "…"


async def test_a_long_leave_reason_is_cut_where_it_is_stored(make_bot: BotFactory,
                                                            sessions: Any) -> None:
    bot = await make_bot(background=False)
    await leader(bot, sessions, "leader-zhou", "o-leader")
    code = await new_group(sessions, bot.clock, "湖塘骑手党小组", leader_name="leader-zhou")
    p = bot.phone("o-leaver")
    await p.register(name="甲一")
    await p.say(f"加入小组 {code}")
    await schedule(bot, code)
    reason = "家里老人住院需要陪护" * 30  # 300 characters
    assert (await p.say(f"请假 {reason}") or "").startswith("已请假")
    async with sessions() as s:
        stored = (await s.exec(select(Attendance.reason))).one()
    assert stored == fit(reason, activities.REASON_MAX) and len(stored) == 200


async def test_a_phone_and_a_name_past_their_limit_are_refused_with_it(bot: Bot) -> None:
    p = bot.phone("o-long-profile")
    await p.say("注册")
    assert T.INVALID["name_length"] in (await p.say("张" * 50) or "")
    assert "手机号" in (await p.say("张三") or "")
    assert T.INVALID["mobile_length"] in (await p.say("1" * 30) or "")


@pytest.mark.parametrize("openid", ["o" * 65, "o" * 300, "o b", "o<x>", "o\u200bx", "小哥"])
async def test_an_openid_that_is_not_one_is_a_clean_bad_request(
        bot: Bot, sessions: Any, caplog: pytest.LogCaptureFixture, openid: str) -> None:
    caplog.set_level(logging.DEBUG)
    reply = await bot.post(bot.peer.text(openid, "帮助", create_time=bot.now_ts))
    assert reply.status == 400 and "FromUserName is not an openid" in reply.body
    assert T.ERROR not in reply.body
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert openid not in caplog.text  # personal data stays out of the log
    async with sessions() as s:
        assert (await s.exec(select(Member))).all() == []


async def test_an_openid_of_64_characters_is_served(bot: Bot) -> None:
    reply = await bot.phone("o" * 64).say("帮助")
    assert reply is not None and not reply.startswith(T.ERROR)


# --- invisible characters ------------------------------------------------------------------


@pytest.mark.parametrize(("dirty", "clean"), [
    (f"报{ZWSP}名 X1", "报名 X1"),
    (f"签{WJ}到", "签到"),
    (f"{RLO}我的", "我的"),
    (f"帮{BOM}助", "帮助"),
    (f"{LRI}附近{PDI}", "附近"),
    (f"上{ZWSP}报", "上报"),
])
async def test_invisible_characters_do_not_change_a_word(bot: Bot, dirty: str,
                                                        clean: str) -> None:
    a, b = bot.phone("o-clean"), bot.phone("o-dirty")
    for p in (a, b):
        await p.register()
    expected = await a.say(clean)
    assert expected is not None and expected != T.ERROR
    assert not expected.startswith(T.LOW_MENU.split("「")[0])  # the word was understood
    assert await b.say(dirty) == expected


async def test_invisible_characters_inside_a_dialog_and_a_label(bot: Bot,
                                                               sessions: Any) -> None:
    p = bot.phone("o-zw-dialog")
    await p.register()
    # Every answer of the dialog sprinkled with invisible characters.
    assert (await p.say(f"上{ZWSP}报")).startswith(T.REPORT_ASK_DESC)
    assert await p.say(f"花园街{ZWSP}路灯{RLO}不亮") == T.REPORT_ASK_PHOTO
    assert await p.say(f"跳{ZWSP}过") == T.REPORT_ASK_LOCATION
    await p.send(bot.peer.location("o-zw-dialog", *IN_HT, label=f"湖塘{ZWSP}花园街{RLO}"))
    reply = await p.say(f"确{WJ}认")
    if not reply.startswith("请核对"):
        reply = await p.say(f"{BOM}1")
    assert reply.startswith("请核对"), reply
    await p.say(f"确{ZWSP}认")
    report = await _only_report(sessions)
    assert (report.description, report.address) == ("花园街路灯不亮", "湖塘花园街")


async def test_cancel_with_an_invisible_character_leaves_the_dialog(bot: Bot) -> None:
    a, b = bot.phone("o-cancel-clean"), bot.phone("o-cancel-dirty")
    left = []
    for p, word in ((a, "取消"), (b, f"取{ZWSP}{RLO}消")):
        await p.register()
        await p.say("上报")
        left.append(await p.say(word))
        # Out of the dialog: a description is no longer taken as one.
        assert await p.say("花园街路灯不亮") != T.REPORT_ASK_PHOTO
    assert left[0] == left[1] and left[0] != T.REPORT_ASK_PHOTO


async def test_invisible_characters_in_a_menu_key_and_a_scan(bot: Bot, sessions: Any) -> None:
    await seed(sessions, bot.clock)
    a, b = bot.phone("o-key-clean"), bot.phone("o-key-dirty")
    for p in (a, b):
        await p.register()
    assert await b.event("CLICK", f"我{ZWSP}的") == await a.event("CLICK", "我的")
    clean = await a.event("SCAN", "st:HT01")
    assert clean is not None and "湖塘驿站" in clean
    assert await b.event("SCAN", f"st:{WJ}HT{ZWSP}01") == clean
