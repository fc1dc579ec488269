"""Small talk, asking for a person, and messages that are not text outside dialogs — through
the signed /wechat callback: a friendly line and the words to send; the hotline or WeChat's
transfer to the 客服 workbench; a photo offered for 上报 and kept in the report."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot import texts as T
from bot.router import join
from bot.settings import Settings
from models import geo
from models.report import Report
from tests.chat.test_reports import IN_HT
from tests.chat.test_stations import seed
from tests.conftest import Bot, BotFactory, Phone


@pytest.mark.parametrize("words", ["你好", "您好", "在吗", "Hello", "hi", "你好！"])
async def test_a_greeting_gets_a_friendly_line_and_the_top_words(bot: Bot, words: str) -> None:
    assert await bot.phone("o-hi").say(words) == join(T.GREETING, T.TOP_WORDS)


async def test_thanks_and_emoji(bot: Bot) -> None:
    p = bot.phone("o-thanks")
    for words in ("谢谢", "谢谢你", "多谢", "辛苦了", "thanks"):
        assert await p.say(words) == join(T.THANKS, T.TOP_WORDS), words
    # Emoji only, as WeChat sends them: pictographs, its faces as [名字] or as old /: codes.
    for words in ("👍", "🙏🙏", "👍🏻", "❤️", "[强]", "[微笑]", "[微笑][强]", "/::)", "/:strong",
                  ":)"):
        assert await p.say(words) == join(T.EMOJI_REPLY, T.TOP_WORDS), words
    # Words with an emoji are words: not small talk.
    assert await p.say("路灯坏了👍") != join(T.EMOJI_REPLY, T.TOP_WORDS)
    for reply in (join(T.GREETING, T.TOP_WORDS), join(T.THANKS, T.TOP_WORDS)):
        assert "「签到」" in reply and "「帮助」" in reply


async def test_small_talk_inside_a_dialog_is_not_taken_for_small_talk(bot: Bot) -> None:
    p = bot.phone("o-busy")
    await p.say("注册")
    assert await p.say("谢谢") == T.ASK_MOBILE  # a name, as far as the dialog knows
    assert await p.say("不要了。") == T.CANCELLED


async def test_asking_for_a_person_gets_the_hotline(make_bot: BotFactory,
                                                    settings: Settings) -> None:
    settings.support.hotline, settings.support.hours = "0519-12345678", "工作日 9:00-17:30"
    bot = await make_bot(settings)
    p = bot.phone("o-person")
    for words in ("人工", "客服", "找人", "转人工"):
        reply = await p.say(words)
        assert reply == join(T.HUMAN_HOTLINE.format(hotline="0519-12345678",
                                                    hours="（工作日 9:00-17:30）"), T.TOP_WORDS)


    # In the middle of a dialog too: the hotline, then the step's question again.
    await p.say("注册")
    assert await p.say("人工") == join(T.HUMAN_HOTLINE.format(
        hotline="0519-12345678", hours="（工作日 9:00-17:30）"), T.ASK_NAME)
    assert await p.say("王小明") == T.ASK_MOBILE


async def test_without_a_hotline_they_are_asked_to_leave_a_message(
        make_bot: BotFactory, settings: Settings) -> None:
    settings.support.hotline = ""
    bot = await make_bot(settings)
    assert await bot.phone("o-person").say("人工") == join(T.HUMAN_NO_HOTLINE, T.TOP_WORDS)


@pytest.mark.parametrize("mode", ["plain", "aes"])
async def test_kf_transfer_hands_the_chat_to_the_workbench(make_bot: BotFactory,
                                                          settings: Settings, mode: str) -> None:
    settings.wechat.kf_transfer = True
    bot = await make_bot(settings)
    xml = bot.peer.text("o-person", "人工", create_time=bot.now_ts)
    reply = await bot.post(xml, mode)  # type: ignore[arg-type]
    assert reply.status == 200 and reply.fields is not None
    assert reply.fields["MsgType"] == "transfer_customer_service"
    assert reply.fields["ToUserName"] == "o-person" and "Content" not in reply.fields
    again = await bot.post(xml, mode)  # WeChat's retry of the same message: the same reply
    assert again.fields is not None and again.fields["MsgType"] == "transfer_customer_service"
    # In a dialog, the dialog ends: what follows the person's help is not an answer to it.
    p = bot.phone("o-person", mode)  # type: ignore[arg-type]
    await p.say("上报")
    assert await p.say("我要人工") is None  # not text: the transfer reply (Content-less)
    assert await p.say("取消") == T.NOTHING_TO_CANCEL
    # A dialog that expired, then a person asked for in other characters: the line about
    # the expiry cannot ride on a transfer reply; the transfer still happens, never as text.
    await p.say("上报")
    bot.clock.advance(minutes=31)
    assert await p.say("轉人工") is None
    # Other words still get text.
    assert (await bot.phone("o-person", mode).say("你好")).startswith(T.GREETING)  # type: ignore


async def test_an_unheard_voice_asks_to_type_or_say_it_again(bot: Bot) -> None:
    p = bot.phone("o-voice")
    assert await p.send(bot.peer.voice("o-voice", None)) == T.VOICE_UNHEARD
    assert await p.send(bot.peer.voice("o-voice", "")) == T.VOICE_UNHEARD
    assert (await p.send(bot.peer.voice("o-voice", "你好"))).startswith(T.GREETING)


async def test_a_photo_outside_a_dialog_becomes_a_report_with_that_photo(bot: Bot,
                                                                          sessions) -> None:
    p = bot.phone("o-snap")
    await p.register()
    assert await p.send(bot.peer.image("o-snap", media_id="m-snap")) == T.REPORT_OFFER_PHOTO
    assert await p.say("上报") == join(T.REPORT_PHOTO_KEPT, T.REPORT_ASK_DESC)
    # The photo came first: no photo step.
    assert await p.say("小区门口井盖没了") == T.REPORT_ASK_LOCATION
    await p.send(bot.peer.location("o-snap", *IN_HT, label="花园街"))
    summary = await p.say("4")
    assert summary.startswith("请核对") and f"照片：{T.REPORT_PHOTO_YES}" in summary
    assert (await p.say("确认")).startswith("✅ 已受理")
    async with sessions() as s:
        [report] = (await s.exec(select(Report))).all()
    assert report.photo_media_id == "m-snap" and report.description == "小区门口井盖没了"

    # Offered but declined, or ignored: the photo goes, the next words do what they do.
    assert await p.send(bot.peer.image("o-snap", media_id="m-2")) == T.REPORT_OFFER_PHOTO
    assert await p.say("算了") == T.CANCELLED
    assert await p.send(bot.peer.image("o-snap", media_id="m-3")) == T.REPORT_OFFER_PHOTO
    assert (await p.say("我的")).startswith("【我的】")
    assert (await p.say("上报")) == T.REPORT_ASK_DESC  # a fresh report, no photo kept
    assert await p.say("路灯坏了好几天") == T.REPORT_ASK_PHOTO


async def _register_after_gate(p: Phone, name: str, mobile: str) -> str | None:
    """The registration the gate started (at its first step): the last reply."""
    for answer in (name, mobile, "2", "美团", "1"):
        await p.say(answer)
    return await p.say("同意")


async def test_an_unregistered_riders_photo_survives_registration(bot: Bot, sessions) -> None:
    p = bot.phone("o-snap-new")
    assert await p.send(bot.peer.image("o-snap-new", media_id="m-new")) == T.REPORT_OFFER_PHOTO
    assert (await p.say("上报")).startswith(T.REG_NEEDED)  # registration first
    done = await _register_after_gate(p, "赵六", "13700137001")
    assert done == join(T.REG_DONE.format(name="赵六"), T.REPORT_PHOTO_KEPT, T.REPORT_ASK_DESC)
    assert await p.say("小区门口井盖没了") == T.REPORT_ASK_LOCATION  # no photo step
    await p.send(bot.peer.location("o-snap-new", *IN_HT, label="花园街"))
    assert f"照片：{T.REPORT_PHOTO_YES}" in await p.say("4")
    assert (await p.say("确认")).startswith("✅ 已受理")

    # Answering the offer with 「上报 描述」: that description, the photo, then the place.
    q = bot.phone("o-snap-said")
    assert await q.send(bot.peer.image("o-snap-said", media_id="m-said")) == \
        T.REPORT_OFFER_PHOTO
    assert (await q.say("上报 路灯坏了好几天")).startswith(T.REG_NEEDED)
    done = await _register_after_gate(q, "钱七", "13700137002")
    assert done == join(T.REG_DONE.format(name="钱七"),
                        T.REPORT_PREFILLED.format(text="路灯坏了好几天"), T.REPORT_PHOTO_KEPT,
                        T.REPORT_ASK_LOCATION)
    await q.send(bot.peer.location("o-snap-said", *IN_HT, label="花园街"))
    assert "附近50米内已有同类上报" in await q.say("4")  # the first one, at the same place
    assert f"照片：{T.REPORT_PHOTO_YES}" in await q.say("2")  # a new one all the same
    assert (await q.say("确认")).startswith("✅ 已受理")
    # And for a registered rider, the same answer keeps the photo.
    assert await q.send(bot.peer.image("o-snap-said", media_id="m-again")) == \
        T.REPORT_OFFER_PHOTO
    assert (await q.say("上报 井盖又没了")).endswith(T.REPORT_ASK_LOCATION)
    async with sessions() as s:
        rows = (await s.exec(select(Report).order_by(Report.id))).all()
    assert [(r.photo_media_id, r.description) for r in rows] == [
        ("m-new", "小区门口井盖没了"), ("m-said", "路灯坏了好几天")]


async def test_a_video_offers_a_report_without_keeping_it(bot: Bot) -> None:
    p = bot.phone("o-film")
    await p.register()
    video = bot.peer.message("o-film", "video", MediaId="v-1", ThumbMediaId="t-1")
    assert await p.send(video) == T.REPORT_OFFER_VIDEO
    assert await p.say("好") == T.REPORT_ASK_DESC
    assert await p.say("路灯坏了好几天") == T.REPORT_ASK_PHOTO  # a photo may still come


async def test_a_location_far_from_every_station_says_how_far_and_offers_nearby(
        bot: Bot, sessions) -> None:
    await seed(sessions, bot.clock)
    p = bot.phone("o-far")
    await p.register()
    here = geo.Point(31.9, 119.95)  # about 21 km north of 湖塘
    reply = await p.send(bot.peer.location("o-far", here.lat, here.lng))
    nearest = geo.distance_m(here, geo.Point(31.7158, 119.9625))  # 万达驿站, the nearest
    assert reply == T.OUTSIDE_NONE.format(nearest=T.NEAREST_FAR.format(
        name="万达驿站", distance=geo.format_distance(nearest)))
    assert "公里" in reply and "「附近」" in reply


async def test_my_profile_lists_my_open_reports(bot: Bot) -> None:
    p = bot.phone("o-mine")
    await p.register()
    for answer in ("上报", "花园街路灯不亮，晚上很黑", "跳过", "湖塘镇花园街12号", "1", "确认"):
        reply = await p.say(answer)
    ticket = reply.split("单号 ")[1].split("。")[0]
    mine = await p.say("我的")
    assert T.PROFILE_REPORTS.format(reports=f"{ticket} 已受理") in mine
