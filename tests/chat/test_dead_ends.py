"""No dead ends: whole conversations through the signed /wechat callback, every dialog of the
product with a wrong answer and a "never mind" at every step. Every reply either does the
thing or names what to send next (a 「…」-quoted word, or a question with its answer
choices), none is over WeChat's 2,048 bytes, and none says 没看懂."""

from __future__ import annotations

import re

import pytest

import handlers
from bot import dialogs
from bot import texts as T
from bot.router import Dispatcher
from tests.chat.test_activities import schedule
from tests.chat.test_groups import leader, new_group
from tests.chat.test_reports import IN_HT, district, officer  # noqa: F401 (a fixture)
from tests.chat.test_school import new_course
from tests.chat.test_stations import seed
from tests.conftest import Bot, BotFactory

MAX_REPLY_BYTES = 2048
QUOTED = re.compile(r"「[^」\n]{1,30}」")
CHOICES = re.compile(r"回复\s*(?:数字|\d)")


def names_next(reply: str) -> bool:
    return bool(QUOTED.search(reply) or CHOICES.search(reply))


class Rider:
    """A phone whose every reply is checked: there is one, it fits, and (for `ask`) it
    names what to send next."""

    def __init__(self, bot: Bot, openid: str):
        self.bot, self.openid = bot, openid
        self.phone = bot.phone(openid)
        self.seen = 0

    def _checked(self, sent: str, reply: str | None) -> str:
        assert reply is not None, f"no reply to {sent!r}"
        assert len(reply.encode("utf-8")) <= MAX_REPLY_BYTES, (sent, len(reply.encode()))
        assert "没看懂" not in reply, (sent, reply)
        self.seen += 1
        return reply

    async def ask(self, words: str) -> str:
        """Send words; the reply must say what to send next."""
        reply = self._checked(words, await self.phone.say(words))
        assert names_next(reply), f"dead end after {words!r}: {reply!r}"
        return reply

    async def do(self, words: str) -> str:
        """Send words that do the thing: the reply reports it (still checked for size)."""
        return self._checked(words, await self.phone.say(words))

    async def ask_xml(self, xml: str, what: str) -> str:
        reply = self._checked(what, await self.phone.send(xml))
        assert names_next(reply), f"dead end after {what}: {reply!r}"
        return reply

    async def never_mind(self, phrase: str) -> None:
        """A "never mind" leaves the dialog, whatever step it was at."""
        assert await self.ask(phrase) == T.CANCELLED, phrase
        assert await self.ask("取消") == T.NOTHING_TO_CANCEL


# --- every step's prompt -------------------------------------------------------------------


def test_every_dialog_step_says_how_to_answer_and_how_to_leave() -> None:
    dispatcher = Dispatcher(handlers.build_router(), handlers.require_profile)
    states = dict(dialogs._STATES)
    assert len(states) >= 16  # registration 6, edit 2, erase, report 7, nearby 2, groups 2
    for name, state in states.items():
        assert state.prompt.endswith(T.STEP_END), name
        last = state.prompt.splitlines()[-1]
        assert "「取消」" in last and len(last) > len(T.STEP_END) + 1, (name, last)
        assert len(state.prompt.encode()) <= MAX_REPLY_BYTES, name
        assert dispatcher._by_state.get(name), f"no handler takes an answer in {name}"
    with pytest.raises(ValueError, match=r"texts\.step"):
        dialogs.State("没有说怎么回答")


@pytest.mark.parametrize("phrase", ["取消", "算了", "算了吧", "不要了。", "不报了啦", "那算了",
                                    "还是算了吧！", "算了算了", "不弄了~", " /取消 ", "Cancel",
                                    "别弄了", "不签了", "我不报名了", "那就不报了吧", "先不签到了",
                                    "算啦", "别报了！"])
def test_never_mind_phrasings(phrase: str) -> None:
    from bot.wechat.message import normalize
    assert dialogs.is_cancel(normalize(phrase))


@pytest.mark.parametrize("text", ["路灯坏了算了", "取消报名 DX2612A", "不同意", "跳过", "没有",
                                  "退出小组", "算了个账", "我不要了解", "", "不用了", "不要",
                                  "不亮了", "不通", "不去了", "不好"])
def test_not_never_mind(text: str) -> None:
    assert not dialogs.is_cancel(text)


# --- registration, profile edits, 注销 -----------------------------------------------------

REG_ANSWERS = ["王小明", "13800138000", "2", "美团", "1"]
REG_WRONG = ["12", "1380013", "9", "美" * 31, "五", "也许"]
REG_PROMPTS = [T.ASK_NAME, T.ASK_MOBILE, T.ASK_INDUSTRY, T.ASK_PLATFORM, T.ASK_PARTY_STATUS,
               T.ASK_CONSENT_AGAIN]
NEVER_MIND = ["算了", "不要了。", "不注册了", "算了吧", "那算了", "不弄了~"]


async def test_registration_edits_and_erasure_have_no_dead_end(bot: Bot) -> None:
    r = Rider(bot, "o-dead-reg")
    assert (await r.ask("我的")).startswith(T.REG_NEEDED)  # the gate names the first answer
    await r.never_mind("取消")
    for i, phrase in enumerate(NEVER_MIND):
        await r.ask("注册")
        for answer in REG_ANSWERS[:i]:
            await r.ask(answer)
        wrong = await r.ask(REG_WRONG[i])
        assert REG_PROMPTS[i] in wrong, (i, wrong)
        await r.ask("我的课程")  # a word of the product is not an answer either
        await r.never_mind(phrase)
    for answer in ["注册", *REG_ANSWERS]:
        await r.ask(answer)
    assert await r.ask("同意") == T.REG_DONE.format(name="王小明")

    assert T.EDIT_ASK_FIELD in await r.ask("修改资料")
    assert T.EDIT_ASK_FIELD in await r.ask("9")
    await r.never_mind("不改了")
    await r.ask("修改资料")
    assert await r.ask("2") == T.EDIT_ASK_VALUE["mobile"]
    assert T.EDIT_ASK_VALUE["mobile"] in await r.ask("123")
    await r.never_mind("算了")

    assert await r.ask("注销") == T.ERASE_CONFIRM
    assert await r.ask("好") == T.ERASE_ASK_AGAIN
    await r.never_mind("不注销了")
    assert "王小明" in await r.do("我的")  # still registered


# --- 上报, its steps, the duplicate, the rating --------------------------------------------


async def test_the_report_dialog_has_no_dead_end(district: Bot, sessions) -> None:  # noqa: F811
    bot = district
    r = Rider(bot, "o-dead-rep")
    for answer in ["注册", *REG_ANSWERS, "同意"]:
        await r.do(answer)
    voice = bot.peer.voice("o-dead-rep", None)

    # description
    assert await r.ask("上报") == T.REPORT_ASK_DESC
    assert T.REPORT_ASK_DESC in await r.ask("灯")
    await r.never_mind("不报了啦")
    # photo: a description ending in 算了 is a description, not a "never mind"
    await r.ask("上报")
    assert await r.ask("路灯坏了算了") == T.REPORT_ASK_PHOTO
    assert T.REPORT_ASK_PHOTO in await r.ask("一张照片")
    assert T.REPORT_ASK_PHOTO in await r.ask_xml(voice, "an unheard voice")
    await r.never_mind("算了")
    # location
    for answer in ("上报", "花园街路灯不亮，晚上很黑"):
        await r.ask(answer)
    assert await r.ask("跳过") == T.REPORT_ASK_LOCATION
    assert T.REPORT_ASK_LOCATION in await r.ask("湖")
    await r.never_mind("不要了")
    # category
    for answer in ("上报", "花园街路灯不亮，晚上很黑", "跳过"):
        await r.ask(answer)
    guess = await r.ask_xml(bot.peer.location("o-dead-rep", *IN_HT, label="花园街"), "location")
    assert guess.startswith("第4步：看起来是「道路交通」")
    assert T.INVALID["choice_range"] in await r.ask("9")
    await r.never_mind("不弄了")
    # summary and 确认
    for answer in ("上报", "花园街路灯不亮，晚上很黑", "跳过"):
        await r.ask(answer)
    await r.ask_xml(bot.peer.location("o-dead-rep", *IN_HT, label="花园街"), "location")
    assert (await r.ask("确认")).startswith("请核对")
    assert await r.ask("嗯嗯") == T.REPORT_ASK_CONFIRM
    await r.never_mind("还是算了吧")
    for answer in ("上报", "花园街路灯不亮，晚上很黑", "跳过"):
        await r.ask(answer)
    await r.ask_xml(bot.peer.location("o-dead-rep", *IN_HT, label="花园街"), "location")
    await r.ask("确认")
    filed = await r.ask("确认")  # names 「我的上报」
    ticket = re.search(r"R\d{8}-\d{4}", filed)
    assert filed.startswith("✅ 已受理") and ticket is not None
    tk = ticket.group(0)

    # the duplicate step, for a second rider at the same place
    s = Rider(bot, "o-dead-rep2")
    for answer in ["注册", "李四", "13900001111", "1", "顺丰", "4", "同意"]:
        await s.do(answer)
    for answer in ("上报", "这里路灯坏了好几天", "跳过"):
        await s.ask(answer)
    await s.ask_xml(bot.peer.location("o-dead-rep2", *IN_HT, label="花园街"), "location")
    assert (await s.ask("确认")).startswith("附近50米内已有同类上报")
    assert await s.ask("3") == T.REPORT_ASK_DUPLICATE
    await s.never_mind("不报了")

    # after filing: 我的 lists it; 未解决 while open says how to follow it; ratings 1–5
    assert f"{tk} 已派单" in await r.ask("我的")
    still = await r.ask(f"未解决 {tk}")
    assert still == T.REOPEN_STILL_OPEN.format(ticket=tk, status="已派单")
    assert f"「查询 {tk}」" in still
    assert (await r.do(f"查询 {tk}")).startswith(f"【{tk}】已派单")
    assert await s.ask(f"查询 {tk}") == T.RATE_ERRORS["not_yours"]
    assert await r.ask("9") == T.NO_RATING_PENDING
    assert (await bot.phone("o-officer-ht").say(f"办结 {tk} 已修")).startswith("已将")
    assert await r.ask("9") == T.RATE_RANGE
    assert await r.ask(f"评价 {tk} 9") == T.RATE_ERRORS["stars"].format(ticket=tk)
    assert await r.do("5") == T.RATED.format(ticket=tk, stars="5")
    assert await r.ask(f"评价 {tk} 4") == T.RATE_ERRORS["rated"].format(rating=5)
    assert await r.ask("查询") == T.QUERY_USAGE
    assert r.seen > 40 and s.seen > 8


# --- check-in and 附近 -----------------------------------------------------------------------


async def test_check_in_and_nearby_have_no_dead_end(bot: Bot, sessions) -> None:
    await seed(sessions, bot.clock)
    r = Rider(bot, "o-dead-st")
    for answer in ["注册", *REG_ANSWERS, "同意"]:
        await r.do(answer)
    assert await r.ask("签到") == T.CHECKIN_HOW
    assert await r.ask("附近") == T.NEARBY_ASK
    await r.never_mind("算了")
    far = await r.ask_xml(bot.peer.location("o-dead-st", 32.5, 121.5), "a far location")
    assert "最近的驿站是「" in far and "「附近」" in far
    await r.ask("附近")
    none = await r.ask_xml(bot.peer.location("o-dead-st", 32.5, 121.5), "a far location")
    assert none.startswith("5公里内没有驿站。最近的驿站是「")
    assert await r.ask("更多") == T.NOTHING_MORE
    assert await r.ask("我的签到") == T.MY_CHECKINS_NONE
    # a list with more to come: 更多 pages on, a "never mind" ends it
    await seed(sessions, bot.clock, [{"code": f"N{i:02d}", "name": f"驿站{i:02d}", "kind": "驿站",
                                      "lat": 32.5 + i * 0.002, "lng": 121.5, "hours": "24h"}
                                     for i in range(8)])
    await r.ask("附近")
    listed = await r.ask_xml(bot.peer.location("o-dead-st", 32.5, 121.5), "a location")
    assert listed.endswith(T.NEARBY_MORE)
    await r.never_mind("算了吧")
    await r.ask("附近")
    await r.ask_xml(bot.peer.location("o-dead-st", 32.5, 121.5), "a location")
    assert (await r.ask("更多")).endswith(T.NEARBY_END)


# --- groups, activities, the school ----------------------------------------------------------


async def test_groups_activities_and_school_have_no_dead_end(make_bot: BotFactory,
                                                             sessions) -> None:
    bot = await make_bot(background=False)
    await leader(bot, sessions, "leader-wang", "o-leader")
    await bot.phone("o-leader").register(name="王书记", mobile="13700000001")
    a = await new_group(sessions, bot.clock, "湖塘外卖骑手党小组", leader_name="leader-wang")
    b = await new_group(sessions, bot.clock, "牛塘快递党小组", "快递物流")
    r = Rider(bot, "o-dead-grp")
    for answer in ["注册", *REG_ANSWERS, "同意"]:
        await r.do(answer)

    assert await r.ask("到") == T.GROUP_NONE  # no group: how to join one
    assert "「加入小组 邀请码」" in T.GROUP_NONE and "二维码" in T.GROUP_NONE
    assert await r.ask("请假 送单") == T.GROUP_NONE
    assert await r.ask("我的小组") == T.GROUP_NONE
    assert await r.ask("加入小组") == T.GROUP_USAGE
    assert await r.ask("加入小组 ZZZZZZ") == T.GROUP_UNKNOWN.format(code="ZZZZZZ")
    joined = await r.ask(f"加入小组 {a}")
    assert "党小组长：王书记" in joined and "leader-wang" not in joined
    mine = await r.do("我的小组")  # does the thing
    assert "党小组长：王书记" in mine and "leader-wang" not in mine
    assert await r.ask("到") == T.ACTIVITY_NONE
    assert await r.ask(f"加入小组 {b}") == T.GROUP_MOVE.format(here="湖塘外卖骑手党小组",
                                                                there="牛塘快递党小组")
    assert await r.ask("嗯") == T.GROUP_MOVE_ASK
    await r.never_mind("不转了")
    assert await r.ask("退出小组") == T.GROUP_LEAVE_CONFIRM.format(name="湖塘外卖骑手党小组")
    assert await r.ask("好") == T.GROUP_LEAVE_ASK
    await r.never_mind("不退了")

    # an activity two days ahead: 到 says when it opens and how to ask for leave
    data = await schedule(bot, a, hours_ahead=48)
    early = await r.ask("到")
    assert early.startswith("「学习新修订的条例」还没开始") and T.ACTIVITY_LEAVE_HINT in early
    assert await r.ask("请假") == T.LEAVE_USAGE
    assert (await r.do("请假 今晚在送单")).startswith("已请假")
    early = await r.ask("到")
    assert T.ACTIVITY_ON_LEAVE.format(reason="今晚在送单") in early
    by_code = await r.ask(f"签到 {data['code']}")
    assert "还没开始" in by_code and T.ACTIVITY_ON_LEAVE.format(reason="今晚在送单") in by_code
    assert await r.ask("签到 NOSUCH") == T.ATTEND_UNKNOWN.format(code="NOSUCH")

    # 小哥党校
    assert await r.ask("课程") == T.COURSE_LIST_EMPTY
    assert await r.ask("报名") == T.COURSE_LIST_EMPTY
    assert await r.ask("报名 NOPE") == T.COURSE_UNKNOWN.format(code="NOPE")
    assert await r.ask("取消报名") == T.COURSE_WITHDRAW_USAGE
    await new_course(bot)
    assert "「报名 课程码」" in await r.ask("课程")
    assert (await r.ask("报名 DX2612A")).startswith("✅ 报名成功")
    early = await r.ask("签到 DX2612A")
    assert "还没到签到时间" in early and "「签到 DX2612A」" in early
    assert (await r.do("我的课程")).startswith("【我的课程】")
    assert (await r.do("取消报名 DX2612A")).startswith("已取消报名")
    assert await r.ask("取消报名 DX2612A") == T.COURSE_ERRORS["not_enrolled"]


# --- small talk and messages that are not text, outside dialogs ----------------------------


async def test_small_talk_and_non_text_have_no_dead_end(bot: Bot, sessions) -> None:
    await seed(sessions, bot.clock)
    r = Rider(bot, "o-dead-talk")
    for words in ("你好", "您好", "在吗", "hello", "谢谢", "辛苦了", "👍", "🙏🙏", "[强]",
                  "[微笑]", "/::)", "人工", "客服", "找人"):
        await r.ask(words)
    await r.ask_xml(bot.peer.voice("o-dead-talk", None), "an unheard voice")
    await r.ask_xml(bot.peer.image("o-dead-talk", media_id="m-1"), "a photo")
    await r.never_mind("算了")
    await r.ask_xml(bot.peer.message("o-dead-talk", "video", MediaId="v-1",
                                     ThumbMediaId="t-1"), "a video")
    assert (await r.ask("上报")).startswith(T.REG_NEEDED)  # registration first
    await r.never_mind("不登记了")
