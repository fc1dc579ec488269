"""The gateway refuses any DTD, entity or notation declaration by parsing (expat's own
declaration handlers), wherever it stands: after a comment, after a processing instruction,
inside or after the root, in clear and inside the ciphertext alike — one answer for all.
A rider's text with a zero-width character in it is still answered (the character dropped)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.dev.peer import Mode
from bot.wechat.message import parse
from tests.protocol.test_callback import MODES, OPENID, _assert_refused, _assert_text_reply

MSG = ("<xml><ToUserName>gh_xiaoge_demo</ToUserName><FromUserName>{openid}</FromUserName>"
       "<CreateTime>{ts}</CreateTime><MsgType>text</MsgType><Content>帮助</Content>"
       "<MsgId>4{n}</MsgId></xml>")
DOCTYPE = "<!DOCTYPE xml>"
INTERNAL = '<!DOCTYPE xml [ <!ENTITY e "x"> ]>'

TABLE = {
    "doctype-first": DOCTYPE + MSG,
    "doctype-after-comment": "<!-- <a -->" + DOCTYPE + MSG,
    "doctype-after-comment-with-root-name": "<!-- <xml> -->\n" + INTERNAL + MSG,
    "doctype-after-pi": "<?xml-stylesheet href='a <b'?>" + DOCTYPE + MSG,
    "doctype-after-xml-declaration": '<?xml version="1.0"?>\n' + DOCTYPE + MSG,
    "doctype-after-comment-and-pi": "<!--x--><?pi <y?><!--z-->" + INTERNAL + MSG,
    "doctype-inside-root": MSG.replace("<xml>", "<xml>" + DOCTYPE),
    "doctype-after-root": MSG + DOCTYPE,
    "entity-inside-root": MSG.replace("<xml>", '<xml><!ENTITY e "x">'),
    "internal-entity": INTERNAL + MSG.replace("帮助", "&e;"),
    "parameter-entity": '<!DOCTYPE xml [ <!ENTITY % p "x"> ]>' + MSG,
    "external-entity": '<!DOCTYPE xml [ <!ENTITY x SYSTEM "file:///etc/passwd"> ]>'
                       + MSG.replace("帮助", "&x;"),
    "external-dtd": '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd">' + MSG,
    "public-dtd": '<!DOCTYPE xml PUBLIC "-//A//B" "http://127.0.0.1:9/b.dtd">' + MSG,
    "unparsed-entity": '<!DOCTYPE xml [ <!NOTATION n SYSTEM "x"> '
                       '<!ENTITY u SYSTEM "y" NDATA n> ]>' + MSG,
    "notation": '<!DOCTYPE xml [ <!NOTATION n SYSTEM "x"> ]>' + MSG,
    "lower-case": "<!doctype xml>" + MSG,
    "undeclared-entity-reference": MSG.replace("帮助", "&xxe;"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(TABLE))
async def test_declarations_refused(bot: Any, kind: str, mode: Mode) -> None:
    xml = TABLE[kind].format(openid=OPENID, ts=bot.now_ts, n=len(kind))
    reply = await bot.post(xml, mode)
    _assert_refused(reply.status, reply.body, 400)
    assert "root:" not in reply.body and "<xml>" not in reply.body
    assert reply.body.strip() in ("DTDs and entities are not accepted",
                                  "malformed message (ExpatError)")


@pytest.mark.parametrize("mode", ["plain", "aes"])
@pytest.mark.parametrize("text", ["<!DOCTYPE html> 是什么", "<![CDATA[", "<!ENTITY x>"])
async def test_declaration_words_in_text_are_answered(bot: Any, text: str, mode: Mode) -> None:
    reply = await bot.post(bot.peer.text(OPENID, text, create_time=bot.now_ts), mode)
    _assert_text_reply(bot, reply, mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("text", ["\u200b帮助", "帮\u200d助", "帮助\ufeff", "\u2060帮助\u200e"])
async def test_a_zero_width_character_in_a_riders_text(bot: Any, text: str, mode: Mode) -> None:
    plain = await bot.post(bot.peer.text(OPENID, "帮助", create_time=bot.now_ts), mode)
    expected = _assert_text_reply(bot, plain, mode)
    bot.clock.advance(seconds=1)
    reply = await bot.post(bot.peer.text(OPENID, text, create_time=bot.now_ts), mode)
    assert _assert_text_reply(bot, reply, mode) == expected


def test_parse_drops_invisible_characters_from_free_text() -> None:
    msg = parse("<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>"
                "<CreateTime>1</CreateTime><MsgType>event</MsgType><Event>CLICK</Event>"
                "<EventKey>\u200b签到\ufeff</EventKey></xml>")
    assert msg.key == "签到" and msg.text == "签到"
