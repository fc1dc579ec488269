"""The /wechat callback as WeChat's servers use it: URL check, every message and event
type in plaintext, compatible and safe (AES) mode, hostile input, AES key rotation,
and retries of one message.

Every test here goes through the real aiohttp app (the `bot` fixture) on SQLite and
on PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot import texts as T
from bot.dev.peer import ACCOUNT, Mode, WechatPeer
from bot.wechat.message import parse

OPENID = "oXiaoge_protocol_user_0001"
MODES: list[Mode] = ["plain", "compat", "aes"]
ENCRYPTED: list[Mode] = ["compat", "aes"]
NEW_KEY = "RotatedEncodingAesKey0123456789abcdefghijkl"
THIRD_KEY = "UnrelatedEncodingAesKeyZYXWVUTSRQ9876543210"
MAX_BODY = 64 * 1024


def _sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


async def _raw(bot: Any, params: dict[str, str], body: bytes | Any,
               method: str = "POST") -> tuple[int, str]:
    """A request to /wechat exactly as given: no signing, no parsing."""
    if method == "GET":
        resp = await bot.client.get("/wechat", params=params)
    else:
        resp = await bot.client.post("/wechat", params=params, data=body,
                                     headers={"Content-Type": "text/xml"})
    return resp.status, await resp.text()


def _assert_refused(status: int, body: str, expected: int) -> None:
    assert status != 500, body
    assert "Traceback" not in body
    assert status == expected, (status, body)


def _assert_text_reply(bot: Any, reply: Any, mode: Mode, openid: str = OPENID) -> str:
    """A passive text reply to `openid`, from the account, encrypted in AES modes."""
    assert reply.status == 200, reply.body
    assert reply.fields is not None, f"expected a text reply, got {reply.body!r}"
    assert reply.fields["MsgType"] == "text"
    assert reply.fields["ToUserName"] == openid
    assert reply.fields["FromUserName"] == ACCOUNT
    assert reply.fields["CreateTime"] == str(bot.now_ts)
    assert reply.text
    if mode == "plain":
        assert "<Encrypt>" not in reply.body
    else:
        # An encrypted envelope: nothing of the reply in clear.
        assert "<Encrypt>" in reply.body
        assert "<MsgSignature>" in reply.body
        assert "<Content>" not in reply.body
        assert reply.text not in reply.body
    return reply.text


# --- GET: URL verification ------------------------------------------------------------------


@pytest.mark.parametrize("echostr", ["1234567890123456789", "a b+c/d=e&f?g", "中文回显", "x" * 200])
async def test_url_check_echoes_echostr(bot: Any, echostr: str) -> None:
    status, body = await _raw(bot, bot.peer.url_check(echostr), b"", method="GET")
    assert status == 200
    assert body == echostr


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda p: p.update(signature="0" * 40), id="wrong-signature"),
        pytest.param(lambda p: p.update(nonce=p["nonce"] + "x"), id="nonce-changed"),
        pytest.param(lambda p: p.pop("signature"), id="no-signature"),
        pytest.param(lambda p: p.pop("timestamp"), id="no-timestamp"),
        pytest.param(lambda p: p.pop("nonce"), id="no-nonce"),
        pytest.param(lambda p: p.pop("echostr"), id="no-echostr"),
        pytest.param(lambda p: p.clear(), id="no-params"),
    ],
)
async def test_url_check_refused(bot: Any, spoil: Callable[[dict[str, str]], Any]) -> None:
    params = bot.peer.url_check("echo-me-please")
    spoil(params)
    status, body = await _raw(bot, params, b"", method="GET")
    _assert_refused(status, body, 403)
    assert "echo-me-please" not in body


# --- POST: every message and event type, in every mode ----------------------------------------

Build = Callable[[WechatPeer, int], str]

# name -> (builder, expectation, expected reply content or None)
# expectation: "text" = a passive text reply, "success" = exactly "success", None = either.
TYPES: dict[str, tuple[Build, str | None, str | None]] = {
    "text": (lambda p, ts: p.text(OPENID, "你好呀", create_time=ts), "text", None),
    "image": (lambda p, ts: p.image(OPENID, create_time=ts), "text", T.REPORT_OFFER_PHOTO),
    "voice-recognised": (lambda p, ts: p.voice(OPENID, "帮助", create_time=ts), "text", None),
    "voice-unrecognised": (lambda p, ts: p.voice(OPENID, None, create_time=ts), None, None),
    "video": (lambda p, ts: p.message(OPENID, "video", MediaId="vid-1",
                                      ThumbMediaId="thumb-1", create_time=ts), None, None),
    "shortvideo": (lambda p, ts: p.message(OPENID, "shortvideo", MediaId="svid-1",
                                           ThumbMediaId="thumb-2", create_time=ts), None, None),
    "location": (lambda p, ts: p.location(OPENID, 31.7036, 119.9542, "武进区湖塘镇",
                                          create_time=ts), None, None),
    "link": (lambda p, ts: p.message(OPENID, "link", Title="标题", Description="描述",
                                     Url="https://example.invalid/a?b=1&c=2",
                                     create_time=ts), None, None),
    "subscribe": (lambda p, ts: p.event(OPENID, "subscribe", create_time=ts), "text",
                  T.WELCOME),
    "subscribe-qr": (lambda p, ts: p.event(OPENID, "subscribe", "qrscene_xyz",
                                           Ticket="gQH47joAAAAA", create_time=ts),
                     "text", T.WELCOME),
    "unsubscribe": (lambda p, ts: p.event(OPENID, "unsubscribe", create_time=ts), "success",
                    None),
    "SCAN": (lambda p, ts: p.event(OPENID, "SCAN", "xyz", Ticket="gQH47joAAAAA",
                                   create_time=ts), "text", T.UNKNOWN_SCENE),
    "LOCATION": (lambda p, ts: p.event(OPENID, "LOCATION", Latitude=31.7036,
                                       Longitude=119.9542, Precision=65.0, create_time=ts),
                 "success", None),
    "CLICK-help": (lambda p, ts: p.event(OPENID, "CLICK", "帮助", create_time=ts), "text",
                   None),
    "VIEW": (lambda p, ts: p.event(OPENID, "VIEW", "https://example.invalid/page",
                                   MenuId="1", create_time=ts), "success", None),
    "scancode_push": (lambda p, ts: p.event(OPENID, "scancode_push", "扫码签到",
                                            ScanCodeInfo={"ScanType": "qrcode",
                                                          "ScanResult": "station-001"},
                                            create_time=ts), None, None),
    "scancode_waitmsg": (lambda p, ts: p.event(OPENID, "scancode_waitmsg", "扫码签到",
                                               ScanCodeInfo={"ScanType": "qrcode",
                                                             "ScanResult": "station-001"},
                                               create_time=ts), None, None),
    "location_select": (lambda p, ts: p.event(OPENID, "location_select", "位置签到",
                                              SendLocationInfo={
                                                  "Location_X": 31.7036,
                                                  "Location_Y": 119.9542,
                                                  "Scale": 15,
                                                  "Label": "江苏省常州市武进区",
                                                  "Poiname": "湖塘驿站",
                                              }, create_time=ts), None, None),
    "pic_sysphoto": (lambda p, ts: p.event(OPENID, "pic_sysphoto", "拍照",
                                           SendPicsInfo={"Count": 1, "PicList": {
                                               "item": {"PicMd5Sum": "1b5f7c23b5bf75"}}},
                                           create_time=ts), None, None),
    "pic_photo_or_album": (lambda p, ts: p.event(OPENID, "pic_photo_or_album", "相册",
                                                 SendPicsInfo={"Count": 1, "PicList": {
                                                     "item": {"PicMd5Sum": "5a75aaca956d"}}},
                                                 create_time=ts), None, None),
    "pic_weixin": (lambda p, ts: p.event(OPENID, "pic_weixin", "微信相册",
                                         SendPicsInfo={"Count": 1, "PicList": {
                                             "item": {"PicMd5Sum": "5a75aaca956d"}}},
                                         create_time=ts), None, None),
    "TEMPLATESENDJOBFINISH": (lambda p, ts: p.event(OPENID, "TEMPLATESENDJOBFINISH",
                                                    MsgID=200163836, Status="success",
                                                    create_time=ts), "success", None),
    "MASSSENDJOBFINISH": (lambda p, ts: p.event(OPENID, "MASSSENDJOBFINISH",
                                                MsgID=1988, Status="send success",
                                                TotalCount=100, FilterCount=80, SentCount=75,
                                                ErrorCount=5, create_time=ts),
                          "success", None),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(TYPES))
async def test_every_type_in_every_mode(bot: Any, kind: str, mode: Mode) -> None:
    build, expect, content = TYPES[kind]
    reply = await bot.post(build(bot.peer, bot.now_ts), mode)
    assert reply.status == 200, reply.body
    if expect == "success" or (expect is None and reply.body == "success"):
        assert reply.body == "success"
        assert reply.fields is None
        return
    text = _assert_text_reply(bot, reply, mode)
    if content is not None:
        assert text == content
    if kind in ("CLICK-help", "voice-recognised"):
        assert text.startswith(T.HELP_HEADER)


# What each type parses to: the fields the handlers rely on (no database involved).
PARSED: dict[str, dict[str, Any]] = {
    "text": {"msg_type": "text", "content": "你好呀"},
    "image": {"msg_type": "image", "media_id": "media-demo"},
    "voice-recognised": {"msg_type": "voice", "content": "帮助", "text": "帮助"},
    "voice-unrecognised": {"msg_type": "voice", "content": None, "text": ""},
    "video": {"msg_type": "video", "media_id": "vid-1"},
    "shortvideo": {"msg_type": "shortvideo", "media_id": "svid-1"},
    "location": {"msg_type": "location", "lat": 31.7036, "lng": 119.9542,
                 "label": "武进区湖塘镇"},
    "link": {"msg_type": "link", "url": "https://example.invalid/a?b=1&c=2", "title": "标题"},
    "subscribe": {"event": "subscribe", "key": None, "scene": None},
    "subscribe-qr": {"event": "subscribe_scan", "key": "xyz", "scene": "xyz"},
    "unsubscribe": {"event": "unsubscribe"},
    "SCAN": {"event": "scan", "key": "xyz", "scene": "xyz"},
    "LOCATION": {"event": "location", "lat": 31.7036, "lng": 119.9542},
    "CLICK-help": {"event": "click", "key": "帮助", "text": "帮助"},
    "VIEW": {"event": "view", "key": "https://example.invalid/page", "text": ""},
    "scancode_push": {"event": "scancode_push", "content": "station-001", "key": "扫码签到",
                      "extra": {"ScanType": "qrcode"}},
    "scancode_waitmsg": {"event": "scancode_waitmsg", "content": "station-001"},
    "location_select": {"event": "location_select", "lat": 31.7036, "lng": 119.9542,
                        "label": "江苏省常州市武进区", "key": "位置签到"},
    "pic_sysphoto": {"event": "pic_sysphoto"},
    "pic_photo_or_album": {"event": "pic_photo_or_album"},
    "pic_weixin": {"event": "pic_weixin"},
    "TEMPLATESENDJOBFINISH": {"event": "templatesendjobfinish"},
    "MASSSENDJOBFINISH": {"event": "masssendjobfinish"},
}


@pytest.mark.parametrize("kind", list(TYPES))
def test_every_type_parses(kind: str) -> None:
    peer = WechatPeer("xiaogeDemoToken", "wxd0000000000demo")
    msg = parse(TYPES[kind][0](peer, 1_800_000_000))
    assert msg.openid == OPENID
    assert msg.account == ACCOUNT
    assert msg.create_time == 1_800_000_000
    assert msg.is_known
    assert msg.is_event == ("event" in PARSED[kind])
    for name, value in PARSED[kind].items():
        assert getattr(msg, name) == value, name


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("msg_type", ["miniprogrampage_x", "weird", "miniprogrampage"])
async def test_unknown_message_type_is_success(bot: Any, msg_type: str, mode: Mode) -> None:
    xml = bot.peer.message(OPENID, msg_type, Title="?", Foo="bar", create_time=bot.now_ts)
    reply = await bot.post(xml, mode)
    assert (reply.status, reply.body) == (200, "success")


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_event_is_success(bot: Any, mode: Mode) -> None:
    xml = bot.peer.event(OPENID, "some_future_event", "k", create_time=bot.now_ts)
    reply = await bot.post(xml, mode)
    assert (reply.status, reply.body) == (200, "success")


@pytest.mark.parametrize("mode", MODES)
async def test_reply_survives_cdata_terminator(bot: Any, mode: Mode) -> None:
    """The unknown-word reply echoes the text; a "]]>" in it must not break the XML."""
    reply = await bot.post(bot.peer.text(OPENID, "a]]><b>&c", create_time=bot.now_ts), mode)
    text = _assert_text_reply(bot, reply, mode)
    assert "a]]><b>&c" in text


# --- POST: bad input --------------------------------------------------------------------------


def _good_xml(bot: Any) -> str:
    return bot.peer.text(OPENID, "帮助", create_time=bot.now_ts)


@pytest.mark.parametrize("missing", ["signature", "timestamp", "nonce"])
async def test_missing_signature_params(bot: Any, missing: str) -> None:
    req = bot.peer.sign(_good_xml(bot), "plain", timestamp=bot.now_ts)
    del req.params[missing]
    _assert_refused(*await _raw(bot, req.params, req.body.encode()), 403)


@pytest.mark.parametrize("mode", MODES)
async def test_wrong_signature(bot: Any, mode: Mode) -> None:
    req = bot.peer.sign(_good_xml(bot), mode, timestamp=bot.now_ts)
    req.params["signature"] = _sha1("not-the-token", req.params["timestamp"], req.params["nonce"])
    _assert_refused(*await _raw(bot, req.params, req.body.encode()), 403)


async def test_signature_from_another_token(bot: Any) -> None:
    stranger = WechatPeer("someOtherToken", bot.settings.wechat.app_id)
    req = stranger.sign(_good_xml(bot), "plain", timestamp=bot.now_ts)
    _assert_refused(*await _raw(bot, req.params, req.body.encode()), 403)


@pytest.mark.parametrize("mode", MODES)
async def test_stale_timestamp(bot: Any, mode: Mode) -> None:
    reply = await bot.post(_good_xml(bot), mode, timestamp=bot.now_ts - 301)
    _assert_refused(reply.status, reply.body, 403)


async def test_timestamp_at_the_skew_limit_is_accepted(bot: Any) -> None:
    reply = await bot.post(_good_xml(bot), "plain",
                           timestamp=bot.now_ts - bot.settings.wechat.max_clock_skew_s)
    assert reply.status == 200, reply.body
    assert reply.text


@pytest.mark.parametrize("ts", ["abc", "", "1.7e9", "17000000OO", " "])
async def test_non_numeric_timestamp(bot: Any, ts: str) -> None:
    reply = await bot.post(_good_xml(bot), "plain", timestamp=ts)
    _assert_refused(reply.status, reply.body, 403)


async def test_absurdly_large_timestamp_is_not_a_500(bot: Any) -> None:
    reply = await bot.post(_good_xml(bot), "plain", timestamp="9" * 400)
    _assert_refused(reply.status, reply.body, 403)


def _padded_text(bot: Any, size: int) -> bytes:
    """A valid text message of exactly `size` bytes."""
    xml = bot.peer.text(OPENID, "", msg_id=4242, create_time=bot.now_ts)
    head, tail = xml.split("<Content><![CDATA[")
    body = f"{head}<Content><![CDATA[{'x' * (size - len(xml.encode()))}{tail}"
    assert len(body.encode()) == size
    return body.encode()


async def test_body_of_exactly_64_kib_is_accepted(bot: Any) -> None:
    body = _padded_text(bot, MAX_BODY)
    req = bot.peer.sign("", "plain", timestamp=bot.now_ts)
    status, text = await _raw(bot, req.params, body)
    assert status == 200, text



async def test_body_over_64_kib(bot: Any) -> None:
    body = _padded_text(bot, MAX_BODY + 1)
    req = bot.peer.sign("", "plain", timestamp=bot.now_ts)
    _assert_refused(*await _raw(bot, req.params, body), 413)


async def test_body_over_64_kib_chunked(bot: Any) -> None:
    """No Content-Length: the limit holds while reading."""
    body = _padded_text(bot, MAX_BODY + 4096)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 8192):
            yield body[i:i + 8192]

    req = bot.peer.sign("", "plain", timestamp=bot.now_ts)
    _assert_refused(*await _raw(bot, req.params, chunks()), 413)


MALFORMED = {
    "truncated": "<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName>",
    "not-xml": "hello, this is not xml",
    "mismatched-tags": "<xml><MsgType>text</MsgType></yml>",
    "wrong-root": "<foo><MsgType>text</MsgType></foo>",
    "empty-root": "<xml/>",
    "root-is-text": "<xml>text</xml>",
    "no-msgtype": "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName></xml>",
    "json": '{"MsgType": "text"}',
    "two-msgtypes": "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>"
                    "<MsgType>text</MsgType><MsgType>image</MsgType></xml>",
    "bad-createtime": "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>"
                      "<CreateTime>yesterday</CreateTime><MsgType>text</MsgType>"
                      "<Content>hi</Content><MsgId>1</MsgId></xml>",
    "bad-msgid": "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>"
                 "<CreateTime>1</CreateTime><MsgType>text</MsgType>"
                 "<Content>hi</Content><MsgId>x1</MsgId></xml>",
    "bad-latitude": "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName>"
                    "<CreateTime>1</CreateTime><MsgType>event</MsgType><Event>LOCATION</Event>"
                    "<Latitude>north</Latitude><Longitude>1</Longitude></xml>",
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(MALFORMED))
async def test_malformed_xml(bot: Any, kind: str, mode: Mode) -> None:
    reply = await bot.post(MALFORMED[kind], mode)
    _assert_refused(reply.status, reply.body, 400)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("missing", ["FromUserName", "ToUserName"])
async def test_missing_user_names(bot: Any, mode: Mode, missing: str) -> None:
    fields = {
        "ToUserName": f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>",
        "FromUserName": f"<FromUserName><![CDATA[{OPENID}]]></FromUserName>",
    }
    del fields[missing]
    xml = ("<xml>" + "".join(fields.values()) + f"<CreateTime>{bot.now_ts}</CreateTime>"
           "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[帮助]]></Content>"
           "<MsgId>77</MsgId></xml>")
    reply = await bot.post(xml, mode)
    _assert_refused(reply.status, reply.body, 400)


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-16", "latin-1-bytes"])
async def test_non_utf8_body(bot: Any, encoding: str) -> None:
    xml = bot.peer.text(OPENID, "你好，我要签到", create_time=bot.now_ts)
    if encoding == "latin-1-bytes":
        body = xml.replace("你好，我要签到", "caf\xe9").encode("latin-1")
    else:
        body = xml.encode(encoding)
    req = bot.peer.sign("", "plain", timestamp=bot.now_ts)
    _assert_refused(*await _raw(bot, req.params, body), 400)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE xml [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml><ToUserName>gh_xiaoge_demo</ToUserName><FromUserName>{openid}</FromUserName>
<CreateTime>{ts}</CreateTime><MsgType>text</MsgType><Content>&lol9;</Content>
<MsgId>1</MsgId></xml>"""

XXE = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE xml [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<xml><ToUserName>gh_xiaoge_demo</ToUserName><FromUserName>{openid}</FromUserName>
<CreateTime>{ts}</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content>
<MsgId>2</MsgId></xml>"""

LOWER_CASE_DTD = """<!doctype xml><xml><ToUserName>gh_xiaoge_demo</ToUserName>
<FromUserName>{openid}</FromUserName><CreateTime>{ts}</CreateTime>
<MsgType>text</MsgType><Content>hi</Content><MsgId>3</MsgId></xml>"""


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("template", [BILLION_LAUGHS, XXE, LOWER_CASE_DTD],
                         ids=["billion-laughs", "external-entity", "lower-case-doctype"])
async def test_dtd_and_entities_refused(bot: Any, template: str, mode: Mode) -> None:
    """Refused in clear and inside the ciphertext alike."""
    xml = template.format(openid=OPENID, ts=bot.now_ts)
    reply = await bot.post(xml, mode)
    _assert_refused(reply.status, reply.body, 400)
    assert "root:" not in reply.body


@pytest.mark.parametrize("mode", ["plain", "aes"])
async def test_text_mentioning_doctype_is_answered(bot: Any, mode: Mode) -> None:
    reply = await bot.post(bot.peer.text(OPENID, "<!DOCTYPE html> 是什么",
                                         create_time=bot.now_ts), mode)
    _assert_text_reply(bot, reply, mode)


@pytest.mark.parametrize("body", [b"", b"   \n\t  "], ids=["empty", "blank"])
@pytest.mark.parametrize("encrypt_type", [None, "aes"])
async def test_empty_body(bot: Any, body: bytes, encrypt_type: str | None) -> None:
    req = bot.peer.sign("", "plain", timestamp=bot.now_ts)
    if encrypt_type:
        req.params.update(encrypt_type=encrypt_type,
                          msg_signature=_sha1(bot.peer.token, req.params["timestamp"],
                                              req.params["nonce"], ""))
    _assert_refused(*await _raw(bot, req.params, body), 400)


@pytest.mark.parametrize("mode", ENCRYPTED)
async def test_aes_missing_msg_signature(bot: Any, mode: Mode) -> None:
    req = bot.peer.sign(_good_xml(bot), mode, timestamp=bot.now_ts)
    del req.params["msg_signature"]
    _assert_refused(*await _raw(bot, req.params, req.body.encode()), 403)


@pytest.mark.parametrize("mode", ENCRYPTED)
async def test_aes_wrong_msg_signature(bot: Any, mode: Mode) -> None:
    req = bot.peer.sign(_good_xml(bot), mode, timestamp=bot.now_ts)
    req.params["msg_signature"] = _sha1(bot.peer.token, req.params["timestamp"],
                                        req.params["nonce"], "another ciphertext")
    _assert_refused(*await _raw(bot, req.params, req.body.encode()), 403)


GARBAGE = {
    "not-base64": "!!!this is not base64 at all!!!",
    "random-bytes": None,  # valid base64 of random bytes, a multiple of the block size
    "short": "QUJD",
    "empty": "",
}


@pytest.mark.parametrize("kind", list(GARBAGE))
async def test_aes_garbage_in_encrypt(bot: Any, kind: str) -> None:
    """A correctly signed envelope whose ciphertext is not a message from WeChat."""
    encrypt = GARBAGE[kind]
    if encrypt is None:
        encrypt = base64.b64encode(secrets.token_bytes(96)).decode()
    ts, nonce = str(bot.now_ts), secrets.token_hex(5)
    params = {"signature": _sha1(bot.peer.token, ts, nonce), "timestamp": ts, "nonce": nonce,
              "encrypt_type": "aes",
              "msg_signature": _sha1(bot.peer.token, ts, nonce, encrypt)}
    body = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
    _assert_refused(*await _raw(bot, params, body.encode()), 400)


async def test_aes_envelope_without_encrypt(bot: Any) -> None:
    req = bot.peer.sign(_good_xml(bot), "plain", timestamp=bot.now_ts)
    req.params.update(encrypt_type="aes", msg_signature="0" * 40)
    _assert_refused(*await _raw(bot, req.params, req.body.encode()), 400)


# --- AES key rotation -------------------------------------------------------------------------


def _rotated(settings: Any, current: str, previous: str | None) -> Any:
    wechat = settings.wechat.model_copy(
        update={"encoding_aes_key": current, "previous_encoding_aes_key": previous})
    return settings.model_copy(update={"wechat": wechat})


async def _post_with(bot: Any, peer: WechatPeer, xml: str, mode: Mode) -> tuple[int, str]:
    req = peer.sign(xml, mode, timestamp=bot.now_ts)
    return await _raw(bot, req.params, req.body.encode())


@pytest.mark.parametrize("mode", ENCRYPTED)
async def test_key_rotation(make_bot: Any, settings: Any, mode: Mode) -> None:
    old_key = settings.wechat.encoding_aes_key
    assert old_key != NEW_KEY
    bot = await make_bot(app_settings=_rotated(settings, NEW_KEY, old_key))
    w = bot.settings.wechat
    old_peer = WechatPeer(w.token, w.app_id, old_key)
    new_peer = WechatPeer(w.token, w.app_id, NEW_KEY)
    stranger = WechatPeer(w.token, w.app_id, THIRD_KEY)

    for peer in (old_peer, new_peer):
        status, body = await _post_with(bot, peer, peer.text(OPENID, "帮助",
                                                            create_time=bot.now_ts), mode)
        assert status == 200, body
        assert "<Encrypt>" in body
        fields = peer.read_reply(body, mode)  # answered under the key it came in
        assert fields is not None
        assert fields["ToUserName"] == OPENID
        assert fields["Content"].startswith(T.HELP_HEADER)

    xml = stranger.text(OPENID, "帮助", create_time=bot.now_ts)
    _assert_refused(*await _post_with(bot, stranger, xml, mode), 400)


async def test_previous_key_refused_once_rotation_is_over(make_bot: Any, settings: Any) -> None:
    old_key = settings.wechat.encoding_aes_key
    bot = await make_bot(app_settings=_rotated(settings, NEW_KEY, None))
    w = bot.settings.wechat
    old_peer = WechatPeer(w.token, w.app_id, old_key)
    xml = old_peer.text(OPENID, "帮助", create_time=bot.now_ts)
    _assert_refused(*await _post_with(bot, old_peer, xml, "aes"), 400)


async def test_message_for_another_app_id_refused(bot: Any) -> None:
    w = bot.settings.wechat
    other_app = WechatPeer(w.token, "wx_some_other_app", w.encoding_aes_key)
    xml = other_app.text(OPENID, "帮助", create_time=bot.now_ts)
    _assert_refused(*await _post_with(bot, other_app, xml, "aes"), 400)


# --- retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_retries_of_one_message_get_the_same_reply(bot: Any, mode: Mode) -> None:
    """注册 starts a dialog, so running it twice would answer differently."""
    xml = bot.peer.text(OPENID, "注册", msg_id=6_100_000_000_000_000_001,
                        create_time=bot.now_ts)
    replies = [await bot.post(xml, mode) for _ in range(3)]
    texts = [_assert_text_reply(bot, r, mode) for r in replies]
    assert texts[0] == texts[1] == texts[2]
    assert T.ASK_NAME in texts[0]
    # The same words as a new message (new MsgId) are handled afresh.
    fresh = await bot.post(bot.peer.text(OPENID, "注册", create_time=bot.now_ts), mode)
    assert _assert_text_reply(bot, fresh, mode) != texts[0]


@pytest.mark.parametrize("mode", MODES)
async def test_retries_of_one_event_get_the_same_reply(bot: Any, mode: Mode) -> None:
    """Events have no MsgId: FromUserName + CreateTime + Event identify a retry."""
    xml = bot.peer.event(OPENID, "subscribe", create_time=bot.now_ts)
    replies = [await bot.post(xml, mode) for _ in range(3)]
    texts = [_assert_text_reply(bot, r, mode) for r in replies]
    assert texts == [T.WELCOME] * 3
