"""报名 by a course's title, through the signed /wechat callback (SQLite and PostgreSQL): the
word with a title or part of one, and the free phrasings the matcher hands over with it, do
exactly what 报名 CODE does; several matches are listed as lines to send; none says so and
how to see the courses; 报名 alone lists the open courses."""

from __future__ import annotations

import pytest

from bot import texts as T
from tests.chat.test_school import new_course
from tests.conftest import Bot, BotFactory

TITLES = {"DJ1": "党课一：学习新修订的条例", "DJ2": "党课二：党史学习教育",
          "XF1": "消防安全知识讲座", "JT1": "交通安全讲座"}


@pytest.fixture
async def school(make_bot: BotFactory) -> Bot:
    bot = await make_bot(background=False)
    for i, name in enumerate(["甲一", "乙二", "丙三", "丁四"]):
        await bot.phone(f"o-t{i}").register(name=name, mobile=f"1390000000{i}")
    for n, (code, title) in enumerate(TITLES.items()):
        await new_course(bot, code, hours_ahead=48 + n, title=title, capacity=10)
    return bot


def _fine(reply: str | None) -> str:
    assert reply and "没看懂" not in reply and len(reply.encode()) < 2048
    return reply


async def test_a_title_or_part_of_it_enrols_as_the_code_does(school: Bot) -> None:
    a, b, c, d = (school.phone(f"o-t{i}") for i in range(4))
    by_code = await b.say("报名 DJ1")
    assert by_code.startswith("✅ 报名成功：DJ1")
    assert await a.say("报名党课一") == by_code  # the word and a title fragment, no space
    assert await a.say("报名 党课一") == T.COURSE_ALREADY.format(title=TITLES["DJ1"])

    by_code = await d.say("报名 XF1")
    assert _fine(await c.say("我想报名消防安全课")) == by_code  # free phrasing, near title
    assert (await c.say("报个名 党史学习")).startswith("✅ 报名成功：DJ2")
    assert "DJ1" in (mine := await a.say("我的课程")) and "DJ2" not in mine


async def test_several_none_and_nothing_after_the_word(school: Bot) -> None:
    a = school.phone("o-t0")
    several = _fine(await a.say("报名 安全"))
    assert several.startswith(T.ENROL_PICK.format(n=2, text="安全"))
    assert "「报名 XF1」「消防安全知识讲座」" in several
    assert "「报名 JT1」「交通安全讲座」" in several
    assert "DJ1" not in several
    assert (await a.say("报名 JT1")).startswith("✅ 报名成功：JT1")  # a line as sent

    assert _fine(await a.say("报名 广场舞")) == T.ENROL_NO_MATCH.format(text="广场舞")
    assert _fine(await a.say("我想报名广场舞教学")) == T.ENROL_NO_MATCH.format(text="广场舞教学")
    assert await a.say("报名 NOPE9") == T.COURSE_UNKNOWN.format(code="NOPE9")  # a code still
    assert (await a.say("报名XF1谢谢")).startswith("✅ 报名成功：XF1")  # words around a code

    listing = _fine(await a.say("报名"))
    assert listing.startswith(T.ENROL_OPEN.split("（")[0])
    for code, title in TITLES.items():
        assert f"「报名 {code}」「{title}」" in listing
    assert "「报名 JT1」「交通安全讲座」" in listing and "✅已报名" in listing
    # Phrasings of the words themselves are not titles.
    assert await a.say("报名上课") == listing
    assert await a.say("报名记录") == await a.say("我的课程")
