"""Whole chats through the real signed /wechat callback, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select

from bot import texts as T
from models.claim import InboundClaim
from models.dialog_store import DialogRow
from models.member import Member
from tests.conftest import Bot, BotFactory


async def member_rows(sessions, openid: str | None = None) -> list[Member]:
    async with sessions() as s:
        q = select(Member) if openid is None else select(Member).where(Member.openid == openid)
        return list((await s.exec(q)).all())


async def test_registration_with_wrong_answers(bot: Bot, sessions) -> None:
    p = bot.phone("o-rider")
    assert T.ASK_NAME in await p.say("注册")
    # Every wrong answer is explained and the same question asked again.
    reply = await p.say("12")
    assert T.INVALID["name_digits"] in reply and T.ASK_NAME in reply
    reply = await p.say("我的")
    assert "不像是答案" in reply and T.ASK_NAME in reply
    assert await p.say("李 四") == T.ASK_MOBILE
    reply = await p.say("1380013800")
    assert T.INVALID["mobile_length"] in reply and T.ASK_MOBILE in reply
    reply = await p.say("12800138000")
    assert T.INVALID["mobile_prefix"] in reply
    assert await p.say("138 0013 8000") == T.ASK_INDUSTRY
    reply = await p.say("9")
    assert T.INVALID["choice_range"] in reply and T.ASK_INDUSTRY in reply
    assert await p.say("外卖") == T.ASK_PLATFORM  # a name (or part of one) works too
    assert await p.say("美团") == T.ASK_PARTY_STATUS
    reply = await p.say("五")
    assert T.INVALID["choice_range"] in reply
    assert await p.say("２") == T.ASK_CONSENT  # a full-width digit
    assert await p.say("也许") == T.ASK_CONSENT_AGAIN
    assert await p.say("同意") == T.REG_DONE.format(name="李 四")

    [m] = await member_rows(sessions, "o-rider")
    assert (m.name, m.mobile, m.industry, m.platform, m.party_status) == (
        "李 四", "13800138000", "外卖送餐", "美团", "预备党员")
    assert m.consent_at is not None
    profile = await p.say("我的")
    assert "138****8000" in profile and "13800138000" not in profile
    assert await p.say("注册") == T.REG_ALREADY


async def test_declining_consent_stores_nothing(bot: Bot, sessions) -> None:
    p = bot.phone("o-shy")
    for answer in ("注册", "王五", "13900001111", "1", "顺丰", "4"):
        await p.say(answer)
    assert await p.say("不同意") == T.REG_DECLINED
    [m] = await member_rows(sessions, "o-shy")
    assert m.name is None and m.mobile is None and not m.registered
    async with sessions() as s:
        assert await s.get(DialogRow, "o-shy") is None


async def test_cancel_always_leaves_the_dialog(bot: Bot, sessions) -> None:
    p = bot.phone("o-cancel")
    assert await p.say("取消") == T.NOTHING_TO_CANCEL
    await p.say("注册")
    await p.say("赵六")
    assert await p.say(" /取消 ") == T.CANCELLED  # spaces and a leading slash are ignored
    after = await p.say("13800138000")  # no longer an answer to the dialog's question
    assert T.ASK_INDUSTRY not in after and T.ASK_MOBILE not in after
    for phrase in ("算了", "不要了。", "不注册了啦", "那算了吧"):  # "never mind", at any step
        await p.say("注册")
        await p.say("赵六")
        assert await p.say(phrase) == T.CANCELLED
    [m] = await member_rows(sessions, "o-cancel")
    assert m.name is None


async def test_a_non_text_message_inside_a_dialog_repeats_the_question(bot: Bot) -> None:
    p = bot.phone("o-photo")
    await p.say("注册")
    reply = await p.send(bot.peer.image("o-photo"))
    assert T.DIALOG_NEEDS_TEXT in reply and T.ASK_NAME in reply
    # A voice message's recognised text is an answer like any other (the full stop speech
    # recognition ends it with, like a typed one, is not part of the answer).
    assert await p.send(bot.peer.voice("o-photo", "陈-七。")) == T.INVALID["name_chars"] + "\n" \
        + T.ASK_NAME
    assert await p.send(bot.peer.voice("o-photo", "陈七。")) == T.ASK_MOBILE


async def test_dialog_survives_a_restart(make_bot: BotFactory, sessions) -> None:
    first = await make_bot()
    p = first.phone("o-restart")
    await p.say("注册")
    await p.say("孙八")
    await first.client.close()  # the process goes away mid-dialog

    second = await make_bot()
    p = second.phone("o-restart")
    assert await p.say("13600001111") == T.ASK_INDUSTRY
    for answer in ("3", "滴滴", "1"):
        await p.say(answer)
    assert await p.say("同意") == T.REG_DONE.format(name="孙八")
    [m] = await member_rows(sessions, "o-restart")
    assert m.registered and m.industry == "网约车"


async def test_dialog_expires_after_30_idle_minutes(bot: Bot, sessions) -> None:
    p = bot.phone("o-slow")
    await p.say("注册")
    bot.clock.advance(minutes=29)
    assert await p.say("周九") == T.ASK_MOBILE  # 29 minutes: still there, and the timer restarts
    bot.clock.advance(minutes=31)
    reply = await p.say("13700001111")
    assert reply.startswith(T.DIALOG_EXPIRED)
    assert T.LOW_MENU.split("「")[0] + "「13700001111」" in reply  # a short menu, not 没看懂
    async with sessions() as s:
        assert await s.get(DialogRow, "o-slow") is None


async def test_needing_a_profile_registers_first_then_resumes(bot: Bot) -> None:
    p = bot.phone("o-new")
    reply = await p.say("我的")
    assert reply.startswith(T.REG_NEEDED) and T.ASK_NAME in reply
    for answer in ("吴十", "15000001111", "1", "中通", "3"):
        await p.say(answer)
    reply = await p.say("同意")
    assert reply.startswith(T.REG_DONE.format(name="吴十"))
    assert "【我的】" in reply and "150****1111" in reply  # the 我的 that was asked for


async def test_menu_click_does_what_its_word_does(bot: Bot) -> None:
    p = bot.phone("o-menu")
    await p.register()
    assert await p.event("CLICK", "我的") == await p.say("我的")
    assert await p.event("CLICK", "帮助") == await p.say("帮助")


async def test_help_and_unknown_input(bot: Bot) -> None:
    p = bot.phone("o-help")
    for word in ("帮助", "?", "？", "菜单", "／帮助", "　帮助　"):
        reply = await p.say(word)
        assert reply.startswith(T.HELP_HEADER) and "注册" in reply and "取消" in reply
    assert (await p.say("你好呀")).startswith(T.GREETING)  # small talk: handlers/common
    long_reply = await p.say("很" * 50)
    assert "…" in long_reply and "「帮助」" in long_reply and "没看懂" not in long_reply
    assert len(long_reply.encode()) < 2048
    assert await p.send(bot.peer.image("o-help")) == T.REPORT_OFFER_PHOTO


async def test_edit_profile(bot: Bot, sessions) -> None:
    p = bot.phone("o-edit")
    await p.register()
    assert T.EDIT_ASK_FIELD in await p.say("修改资料")
    reply = await p.say("8")
    assert T.INVALID["choice_range"] in reply
    assert await p.say("2") == T.EDIT_ASK_VALUE["mobile"]
    reply = await p.say("123")
    assert T.INVALID["mobile_length"] in reply
    assert await p.say("18912345678") == T.EDIT_DONE.format(field="手机", value="189****5678")
    await p.say("修改资料")
    await p.say("行业")
    assert await p.say("4") == T.EDIT_DONE.format(field="行业", value="道路货运")
    [m] = await member_rows(sessions, "o-edit")
    assert (m.mobile, m.industry) == ("18912345678", "道路货运")


async def test_erase_asks_then_anonymises(bot: Bot, sessions) -> None:
    p = bot.phone("o-erase")
    assert await p.say("注销") == T.ERASE_NOTHING
    await p.register()
    assert await p.say("注销") == T.ERASE_CONFIRM
    assert await p.say("好") == T.ERASE_ASK_AGAIN
    assert await p.say("确认注销") == T.ERASE_DONE
    rows = await member_rows(sessions)
    [old] = [m for m in rows if m.erased_at is not None]
    assert old.openid.startswith("erased:") and old.name is None and old.mobile is None
    assert old.industry is None and old.party_status is None and old.platform is None
    # The same WeChat user is a stranger now.
    assert (await p.say("我的")).startswith(T.REG_NEEDED)


async def test_follow_and_unfollow(bot: Bot, sessions) -> None:
    p = bot.phone("o-follow")
    assert await p.event("subscribe") == T.WELCOME
    [m] = await member_rows(sessions, "o-follow")
    assert m.followed
    await p.register()
    bot.clock.advance(seconds=1)
    assert await p.event("unsubscribe") is None
    [m] = await member_rows(sessions, "o-follow")
    assert not m.followed
    bot.clock.advance(seconds=1)
    assert await p.event("subscribe", "qrscene_unknown:1") == T.WELCOME_BACK.format(name="张三")
    [m] = await member_rows(sessions, "o-follow")
    assert m.followed
    bot.clock.advance(seconds=1)
    assert await p.event("SCAN", "nothing:here") == T.UNKNOWN_SCENE


async def test_retry_three_times_gives_one_effect(bot: Bot, sessions) -> None:
    p = bot.phone("o-retry")
    await p.say("注册")
    await p.say("郑一")
    xml = bot.peer.text("o-retry", "13800001111", msg_id=777001, create_time=bot.now_ts)
    replies = [await p.send(xml) for _ in range(3)]
    # Handled once: the 2nd and 3rd get the stored reply, not "没有这个序号" from the next step.
    assert replies == [T.ASK_INDUSTRY] * 3
    assert await p.say("1") == T.ASK_PLATFORM
    async with sessions() as s:
        claims = (await s.exec(select(InboundClaim))).all()
    assert len(claims) == 4  # 注册, name, mobile (once), 1


async def test_event_retries_are_deduplicated_too(bot: Bot, sessions) -> None:
    p = bot.phone("o-evt")
    xml = bot.peer.event("o-evt", "subscribe", create_time=bot.now_ts)
    assert [await p.send(xml) for _ in range(3)] == [T.WELCOME] * 3
    async with sessions() as s:
        assert len((await s.exec(select(InboundClaim))).all()) == 1


async def test_concurrent_identical_retries_give_one_effect(bot: Bot) -> None:
    p = bot.phone("o-race")
    await p.say("注册")
    await p.say("冯二")
    xml = bot.peer.text("o-race", "13800002222", msg_id=888001, create_time=bot.now_ts)
    replies = await asyncio.gather(*(p.send(xml) for _ in range(2)))
    assert replies == [T.ASK_INDUSTRY, T.ASK_INDUSTRY]
    assert await p.say("2") == T.ASK_PLATFORM


async def test_two_users_at_once_do_not_disturb_each_other(bot: Bot, sessions) -> None:
    phones = [bot.phone(f"o-crowd-{i}") for i in range(5)]
    replies = await asyncio.gather(*(ph.register(name=f"用户{'甲乙丙丁戊'[i]}")
                                     for i, ph in enumerate(phones)))
    assert all(r.startswith("登记完成") for r in replies)
    assert sum(m.registered for m in await member_rows(sessions)) == 5


async def test_48h_window_is_tracked_from_messages_not_events(bot: Bot, sessions) -> None:
    p = bot.phone("o-window")
    await p.event("subscribe")
    [m] = await member_rows(sessions, "o-window")
    assert m.last_inbound_at is None
    await p.say("帮助")
    [m] = await member_rows(sessions, "o-window")
    assert m.last_inbound_at == bot.clock.now()


async def test_clock_skew_uses_the_injected_clock(bot: Bot) -> None:
    bot.clock.advance(timedelta(hours=1))
    reply = await bot.post(bot.peer.text("o-skew", "帮助"), timestamp=bot.now_ts - 3600)
    assert reply.status == 403
