"""Voice messages through the signed /wechat callback (SQLite and PostgreSQL).

WeChat is withdrawing a voice message's Recognition (its speech-to-text), so the bot never
counts on it. Without words (Recognition absent, empty, or only white space and
punctuation) every voice gets a short reply saying what to send instead — outside dialogs
"type it or say it again", inside one the step waits, nothing lost, and asks its question
again. With words, the recognised text goes exactly the way the same text typed goes: words,
free phrasings, and every dialog's answers, with the "。" recognition ends a sentence with.
"""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from bot import texts as T
from bot.router import join
from handlers.common.understand import Offer
from models.member import Member
from models.report import Report
from tests.chat.test_groups import new_group
from tests.chat.test_reports import IN_HT, district, officer  # noqa: F401 (a fixture)
from tests.conftest import Bot

# Recognition as WeChat may send it when it heard no words: absent, empty, blank, a full stop.
UNHEARD: tuple[str | None, ...] = (None, "", "   ", "。", "？！……", " ，。 ")
TICKET = re.compile(r"R\d{8}-\d{4}")


def fine(reply: str | None) -> str:
    """Never silence, never the 没看懂 reply, never an error."""
    assert reply, "silence"
    assert "没看懂" not in reply and T.ERROR not in reply, reply
    return reply


def voice(bot: Bot, openid: str, words: str | None) -> str:
    return bot.peer.voice(openid, words, create_time=bot.now_ts)


async def unheard(bot: Bot, openid: str) -> str:
    """Every kind of voice without words gets the same reply; that reply."""
    phone = bot.phone(openid)
    replies = {fine(await phone.send(voice(bot, openid, words))) for words in UNHEARD}
    assert len(replies) == 1, replies
    return replies.pop()


class Twins:
    """Two riders doing the same thing: one types, the other says it (a voice whose
    Recognition is the same words). Every reply must be the same (tickets aside)."""

    def __init__(self, bot: Bot, typist: str, speaker: str):
        self.bot, self.typist, self.speaker = bot, typist, speaker

    async def both(self, words: str) -> str:
        typed = fine(await self.bot.phone(self.typist).say(words))
        said = fine(await self.bot.phone(self.speaker).send(voice(self.bot, self.speaker,
                                                                  words)))
        assert TICKET.sub("R…", said) == TICKET.sub("R…", typed), words
        return said

    async def send_both(self, make: str) -> None:
        """A gesture that is not words (a photo, a location), sent by both."""
        for openid in (self.typist, self.speaker):
            fine(await self.bot.phone(openid).send(getattr(self.bot.peer, make)(openid)))


async def member(sessions, openid: str) -> Member:
    async with sessions() as s:
        return (await s.exec(select(Member).where(Member.openid == openid))).one()


# --- without Recognition -------------------------------------------------------------------


async def test_a_voice_without_words_outside_dialogs_asks_to_type_it(bot: Bot) -> None:
    assert await unheard(bot, "o-v-new") == T.VOICE_UNHEARD
    await bot.phone("o-v-reg").register()
    assert await unheard(bot, "o-v-reg") == T.VOICE_UNHEARD
    assert "打字" in T.VOICE_UNHEARD and "「帮助」" in T.VOICE_UNHEARD
    # A dialog left idle past its time is gone: said once, with the same ask.
    await bot.phone("o-v-reg").say("修改资料")
    bot.clock.advance(bot.settings.dialog.idle_timeout * 2)
    assert fine(await bot.phone("o-v-reg").send(voice(bot, "o-v-reg", None))) \
        == join(T.DIALOG_EXPIRED, T.VOICE_UNHEARD)
    assert await unheard(bot, "o-v-reg") == T.VOICE_UNHEARD


async def test_a_voice_without_words_at_every_registration_step_waits(bot: Bot,
                                                                       sessions) -> None:
    p = bot.phone("o-v-steps")
    await p.say("注册")
    answers = [(T.ASK_NAME, "陈七"), (T.ASK_MOBILE, "13800138000"), (T.ASK_INDUSTRY, "2"),
               (T.ASK_PLATFORM, "美团"), (T.ASK_PARTY_STATUS, "1"), (T.ASK_CONSENT, None)]
    for prompt, answer in answers:
        assert await unheard(bot, "o-v-steps") == join(T.VOICE_UNHEARD_STEP, prompt)
        if answer:
            await p.say(answer)
    assert fine(await p.say("同意")) == T.REG_DONE.format(name="陈七")
    m = await member(sessions, "o-v-steps")  # nothing was lost on the way
    assert (m.registered, m.name, m.mobile, m.platform) == (True, "陈七", "13800138000", "美团")


async def test_a_voice_without_words_at_every_report_step_waits(district: Bot,  # noqa: F811
                                                                 sessions) -> None:
    bot = district
    p = bot.phone("o-v-rep")
    await p.register()
    assert await p.say("上报") == T.REPORT_ASK_DESC
    # The description step says to type the description; the step waits for it.
    said = await unheard(bot, "o-v-rep")
    assert said == join(T.REPORT_VOICE_UNHEARD, T.REPORT_ASK_DESC)
    assert "打字" in T.REPORT_VOICE_UNHEARD and "问题" in T.REPORT_VOICE_UNHEARD
    assert await p.say("花园街路灯不亮，晚上很黑") == T.REPORT_ASK_PHOTO
    # Photo and place: the step's question again, as it is.
    assert await unheard(bot, "o-v-rep") == T.REPORT_ASK_PHOTO
    assert await p.send(bot.peer.image("o-v-rep", media_id="m-v-1")) == T.REPORT_ASK_LOCATION
    assert await unheard(bot, "o-v-rep") == T.REPORT_ASK_LOCATION
    guess = fine(await p.send(bot.peer.location("o-v-rep", *IN_HT, label="花园街")))
    assert "第4步" in guess
    assert await unheard(bot, "o-v-rep") == join(T.VOICE_UNHEARD_STEP,
                                                 T.REPORT_ASK_CATEGORY_AGAIN)
    assert "请核对" in fine(await p.say("1"))
    assert await unheard(bot, "o-v-rep") == join(T.VOICE_UNHEARD_STEP, T.REPORT_ASK_CONFIRM)
    assert TICKET.search(fine(await p.say("确认")))
    # The same problem nearby: the duplicate question waits too.
    q = bot.phone("o-v-rep2")
    await q.register(name="李四", mobile="13900139000")
    for answer in ("上报", "花园街路灯不亮了", "跳过"):
        await q.say(answer)
    await q.send(bot.peer.location("o-v-rep2", *IN_HT, label="花园街"))
    assert "附近50米内" in fine(await q.say("1"))
    assert await unheard(bot, "o-v-rep2") == join(T.VOICE_UNHEARD_STEP,
                                                  T.REPORT_ASK_DUPLICATE)
    assert "请核对" in fine(await q.say("2"))
    await q.say("取消")
    async with sessions() as s:
        [report] = (await s.exec(select(Report))).all()
    assert (report.description, report.category) == ("花园街路灯不亮，晚上很黑", "道路交通")
    assert report.lat is not None


async def test_a_voice_without_words_keeps_an_offered_photo(district: Bot) -> None:  # noqa: F811
    bot = district
    p = bot.phone("o-v-offer")
    await p.register()
    assert await p.send(bot.peer.image("o-v-offer", media_id="m-v-2")) == T.REPORT_OFFER_PHOTO
    assert await unheard(bot, "o-v-offer") == join(T.VOICE_UNHEARD_STEP, T.REPORT_OFFER_PHOTO)
    assert await p.say("上报") == join(T.REPORT_PHOTO_KEPT, T.REPORT_ASK_DESC)


async def test_a_voice_without_words_in_every_other_dialog_waits(bot: Bot, sessions) -> None:
    p = bot.phone("o-v-other")
    # An offer made for a typo
    assert "「注册」" in fine(await p.say("注删"))
    assert await unheard(bot, "o-v-other") == join(T.VOICE_UNHEARD_STEP, Offer.pending.prompt)
    assert T.ASK_NAME in fine(await p.say("是"))
    await p.say("取消")
    await p.register()
    # 附近: the location it waits for
    assert await p.say("附近") == T.NEARBY_ASK
    assert await unheard(bot, "o-v-other") == T.NEARBY_ASK
    await p.say("取消")
    # 修改资料, both steps
    assert await p.say("修改资料") == T.EDIT_ASK_FIELD
    assert await unheard(bot, "o-v-other") == join(T.VOICE_UNHEARD_STEP, T.EDIT_ASK_FIELD)
    assert await p.say("2") == T.EDIT_ASK_VALUE["mobile"]
    assert await unheard(bot, "o-v-other") == join(T.VOICE_UNHEARD_STEP,
                                                   T.EDIT_ASK_VALUE_ANY)
    assert fine(await p.say("13700137000")).startswith(T.EDIT_DONE.format(field="手机",
                                                                         value="")[:5])
    assert (await member(sessions, "o-v-other")).mobile == "13700137000"
    # 小组: moving and leaving
    a = await new_group(sessions, bot.clock, "湖塘外卖骑手党小组")
    b = await new_group(sessions, bot.clock, "牛塘快递党小组", "快递物流")
    await p.say(f"加入小组 {a}")
    assert "牛塘快递党小组" in fine(await p.say(f"加入小组 {b}"))
    assert await unheard(bot, "o-v-other") == join(T.VOICE_UNHEARD_STEP, T.GROUP_MOVE_ASK)
    assert "牛塘快递党小组" in fine(await p.say("确认"))
    await p.say("退出小组")
    assert await unheard(bot, "o-v-other") == join(T.VOICE_UNHEARD_STEP, T.GROUP_LEAVE_ASK)
    assert fine(await p.say("确认退出")) == T.GROUP_LEFT.format(name="牛塘快递党小组")
    # 注销
    assert await p.say("注销") == T.ERASE_CONFIRM
    assert await unheard(bot, "o-v-other") == join(T.VOICE_UNHEARD_STEP, T.ERASE_CONFIRM)
    assert await p.say("取消") == T.CANCELLED
    assert (await member(sessions, "o-v-other")).registered


# --- with Recognition: the same path as typed words ----------------------------------------


@pytest.mark.parametrize("words", ["帮助", "签到", "我的上报", "帮助。", "我的上报。",
                                   "我想找个地方充电。", "我要签到！", "你好。"])
async def test_a_recognised_word_or_phrase_is_the_typed_one(bot: Bot, words: str) -> None:
    twins = Twins(bot, "o-v-typed", "o-v-said")
    await twins.both(words)  # not registered: the same answer (for 我的上报, register first)
    for openid in ("o-v-typed", "o-v-said"):
        await bot.phone(openid).register(mobile="13800138000" if "typed" in openid
                                         else "13900139000")
    await twins.both(words)


async def test_registration_answered_by_voice_is_registration_typed(bot: Bot,
                                                                    sessions) -> None:
    """Each answer as speech recognition writes it, with its full stop — and the same typed."""
    twins = Twins(bot, "o-v-reg-typed", "o-v-reg-said")
    assert T.ASK_NAME in await twins.both("注册。")
    assert await twins.both("陈七。") == T.ASK_MOBILE
    assert T.INVALID["mobile_digits"] in await twins.both("一三八。")
    assert await twins.both("13800138000。") == T.ASK_INDUSTRY
    assert await twins.both("2。") == T.ASK_PLATFORM
    assert await twins.both("美团。") == T.ASK_PARTY_STATUS
    assert await twins.both("1。") == T.ASK_CONSENT
    assert await twins.both("同意。") == T.REG_DONE.format(name="陈七")
    typed, said = [await member(sessions, o) for o in ("o-v-reg-typed", "o-v-reg-said")]
    for m in (typed, said):
        assert (m.registered, m.name, m.mobile, m.platform) == (True, "陈七", "13800138000",
                                                                 "美团")
    assert (typed.industry, typed.party_status) == (said.industry, said.party_status)
    # Changing a detail afterwards, by voice
    assert await twins.both("修改资料。") == T.EDIT_ASK_FIELD
    assert await twins.both("1。") == T.EDIT_ASK_VALUE["name"]
    assert T.INVALID["name_digits"] in await twins.both("陈七7号。")
    await twins.both("陈小七。")
    assert (await member(sessions, "o-v-reg-said")).name == "陈小七"


async def test_a_report_answered_by_voice_is_a_report_typed(district: Bot,  # noqa: F811
                                                            sessions) -> None:
    bot = district
    twins = Twins(bot, "o-v-rep-typed", "o-v-rep-said")
    await bot.phone("o-v-rep-typed").register()
    await bot.phone("o-v-rep-said").register(name="李四", mobile="13900139000")
    assert await twins.both("上报。") == T.REPORT_ASK_DESC
    assert T.REPORT_DESC_SHORT in await twins.both("灯。")
    assert await twins.both("小区门口井盖没了，好危险。") == T.REPORT_ASK_PHOTO
    assert await twins.both("跳过。") == T.REPORT_ASK_LOCATION
    assert "第4步" in await twins.both("湖塘花园街12号。")
    assert "请核对" in await twins.both("2。")
    assert TICKET.search(await twins.both("确认。"))
    assert "【我的上报】" in await twins.both("我的上报。")
    async with sessions() as s:
        found = (await s.exec(select(Report).order_by(Report.id))).all()
    assert [(r.description, r.address, r.category) for r in found] == \
        [("小区门口井盖没了，好危险", "湖塘花园街12号", found[0].category)] * 2


async def test_a_report_described_by_voice_after_a_photo(district: Bot) -> None:  # noqa: F811
    bot = district
    twins = Twins(bot, "o-v-ph-typed", "o-v-ph-said")
    await bot.phone("o-v-ph-typed").register()
    await bot.phone("o-v-ph-said").register(name="李四", mobile="13900139000")
    await twins.send_both("image")
    assert await twins.both("好的。") == join(T.REPORT_PHOTO_KEPT, T.REPORT_ASK_DESC)
    assert await twins.both("路边的树倒了挡住了路。") == T.REPORT_ASK_LOCATION
    await twins.both("取消。")
