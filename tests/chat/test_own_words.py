"""Riders in their own words, through the real signed /wechat callback (SQLite and
PostgreSQL): a free phrasing does exactly what the contract word does, an unsure one is
asked once, a described problem starts 上报, and nothing ends in a bare 没看懂."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot import texts as T
from models.report import Report
from tests.conftest import Bot

WECHAT_REPLY_BYTES = 2048


def _fine(reply: str | None) -> str:
    """A reply a rider can go on from: said, short enough, never the bare 没看懂."""
    assert reply, "silence"
    assert len(reply.encode()) < WECHAT_REPLY_BYTES
    assert "没看懂" not in reply
    return reply


@pytest.mark.parametrize(("phrase", "word"), [
    ("我要签到", "签到"), ("qiandao", "签到"), ("簽到", "签到"), ("签到。", "签到"),
    ("附近有驿站吗", "附近"), ("怎么报名上课", "报名"), ("幫助！", "帮助"), ("哪里能喝水", "附近"),
    ("我想入群", "加入小组"), ("你是谁", "帮助"), ("我上报的怎么样了", "我的上报"),
    ("帮我查一下R20261201-0003", "查询 R20261201-0003"),
])
async def test_a_free_phrasing_does_what_the_word_does(bot: Bot, phrase: str, word: str) -> None:
    expected = await bot.phone("o-word").say(word)
    assert _fine(await bot.phone("o-phrase").say(phrase)) == expected


async def test_voice_text_with_its_punctuation_is_the_word(bot: Bot) -> None:
    p = bot.phone("o-voice")
    assert _fine(await p.send(bot.peer.voice("o-voice", "我要签到。"))) == T.CHECKIN_HOW


async def test_a_captured_course_code_goes_with_the_word(bot: Bot) -> None:
    a, b = bot.phone("o-exact"), bot.phone("o-free")
    await a.register()
    await b.register(mobile="13900139000")
    expected = await a.say("报名 NOPE9")
    assert expected == T.COURSE_UNKNOWN.format(code="NOPE9")
    assert _fine(await b.say("我要报个名 NOPE9")) == expected


async def test_a_typo_is_asked_once_and_yes_does_it(bot: Bot) -> None:
    p = bot.phone("o-typo")
    offer = _fine(await p.say("注删"))
    assert "「注册」" in offer and "帮助" in offer
    assert _fine(await p.say("是")) == await bot.phone("o-typed").say("注册")


async def test_an_offer_gives_way_to_anything_else(bot: Bot) -> None:
    p = bot.phone("o-away")
    assert "「注册」" in _fine(await p.say("注删"))
    assert await p.say("签到") == T.CHECKIN_HOW  # not an answer: handled as itself
    assert await p.say("是") != T.ASK_NAME  # the offer is gone


async def test_nothing_close_gets_a_short_menu(bot: Bot) -> None:
    reply = _fine(await bot.phone("o-lost").say("13800138000"))
    assert reply.startswith(T.LOW_MENU.split("「")[0])
    for line in (T.HELP_CHECKIN, T.HELP_NEARBY, T.HELP_REPORT, T.HELP_PROFILE):
        assert line in reply
    assert "「帮助」" in reply


async def test_a_problem_in_free_text_starts_the_report(bot: Bot, sessions) -> None:
    p = bot.phone("o-lamp")
    await p.register()
    said = "小区门口的路灯坏了，晚上好黑"
    reply = _fine(await p.say(said))
    assert "路灯坏了" in reply and T.REPORT_ASK_PHOTO in reply
    assert await p.say("跳过") == T.REPORT_ASK_LOCATION
    assert "道路交通" in _fine(await p.say("湖塘花园街12号"))  # guessed from the description
    assert "路灯坏了" in _fine(await p.say("确认"))  # the summary
    assert "R" in _fine(await p.say("确认"))
    async with sessions() as s:
        [report] = (await s.exec(select(Report))).all()
    assert report.description.startswith("小区门口的路灯坏了") and report.category == "道路交通"


async def test_a_problem_from_a_newcomer_registers_then_goes_on(bot: Bot) -> None:
    p = bot.phone("o-newbie")
    reply = _fine(await p.send(bot.peer.voice("o-newbie", "这边井盖没了，好危险。")))
    assert T.REG_NEEDED in reply
    for answer in ("张三", "13800138000", "2", "美团", "1"):
        await p.say(answer)
    done = _fine(await p.say("同意"))
    assert "井盖没了" in done and T.REPORT_ASK_PHOTO in done


async def test_staff_words_are_never_reached_by_fuzz(bot: Bot) -> None:
    p = bot.phone("o-notstaff")
    near = _fine(await p.say("待半"))
    assert "仅限" not in near  # never taken for 待办
    # The exact word after normalisation is the word itself, with its role check.
    assert await p.say("待办。") == await bot.phone("o-notstaff2").say("待办")


@pytest.mark.parametrize(("phrase", "word"), [
    ("在吗", "你好"), ("多谢", "谢谢"), ("辛苦了", "谢谢"), ("转人工", "人工")])
async def test_small_talk_phrasings_reach_their_words(bot: Bot, phrase: str, word: str) -> None:
    expected = await bot.phone("o-w").say(word)
    assert _fine(await bot.phone("o-p").say(phrase)) == expected


async def test_an_unsure_problem_is_offered_and_yes_starts_it(bot: Bot) -> None:
    p = bot.phone("o-maybe")
    await p.register()
    offer = _fine(await p.say("门口那个坏了好几天了"))
    assert "门口那个坏了好几天了" in offer and "「是」" in offer
    started = _fine(await p.say("是"))
    assert "门口那个坏了好几天了" in started and T.REPORT_ASK_PHOTO in started
