"""A voice message's Recognition (WeChat's speech-to-text, being withdrawn) as the bot reads
it: words are words, anything else is a voice without words (`Inbound.unheard`); and a
dialog step's answer without the punctuation that ends a sentence."""

from __future__ import annotations

import pytest

from bot.dev.peer import WechatPeer
from bot.language.normalise import answer
from bot.wechat.message import parse

PEER = WechatPeer("token", "wx-app")


@pytest.mark.parametrize("recognition", [None, "", "   ", "。", "？！……", " ，。 ", "\u200b。"])
def test_a_voice_without_words_is_unheard(recognition: str | None) -> None:
    msg = parse(PEER.voice("o-1", recognition))
    assert msg.msg_type == "voice" and msg.is_input and msg.opens_service_window
    assert msg.unheard and msg.content is None and msg.text == ""


@pytest.mark.parametrize(("recognition", "text"), [
    ("帮助", "帮助"), ("我要签到。", "我要签到。"), ("１３８００１３８０００。", "13800138000。"),
    ("ok", "ok"), ("5。", "5。")])
def test_a_voice_with_words_is_those_words(recognition: str, text: str) -> None:
    msg = parse(PEER.voice("o-1", recognition))
    assert not msg.unheard and msg.content == recognition and msg.text == text


def test_only_a_voice_is_ever_unheard() -> None:
    assert not parse(PEER.text("o-1", "。")).unheard
    assert not parse(PEER.image("o-1")).unheard


@pytest.mark.parametrize(("said", "meant"), [
    ("陈七。", "陈七"), ("确认。", "确认"), ("13800138000。", "13800138000"), ("好的！！", "好的"),
    ("路灯坏了…", "路灯坏了"), ("花园街(北)", "花园街(北)"), ("「确认」", "「确认」"),
    ("?", "?"), ("。。", "。。"), ("是， ", "是"), ("湖塘，花园街", "湖塘，花园街")])
def test_an_answer_drops_the_punctuation_that_ends_the_sentence(said: str, meant: str) -> None:
    assert answer(said) == meant
