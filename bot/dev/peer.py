"""WeChat's side of the callback protocol: build messages and events as WeChat's
servers send them, sign them (and encrypt them in safe mode), read the replies.

Used by the terminal chat, the tests and the benchmarks, so all of them speak to
the bot exactly as WeChat does.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import xmltodict
from wechatpy.crypto import WeChatCrypto

from bot.wechat.gateway import cdata

Mode = Literal["plain", "compat", "aes"]

ACCOUNT = "gh_xiaoge_demo"


def _sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _xml(fields: dict[str, Any]) -> str:
    out = ["<xml>"]
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, dict):
            out.append(f"<{key}>{_xml(value)[5:-6]}</{key}>")
        elif isinstance(value, list):  # the element repeated, once per entry
            out.extend(f"<{key}>{_xml(v)[5:-6]}</{key}>" for v in value)
        elif isinstance(value, int | float):
            out.append(f"<{key}>{value}</{key}>")
        else:
            out.append(f"<{key}>{cdata(str(value))}</{key}>")
    out.append("</xml>")
    return "".join(out)


@dataclass
class SignedRequest:
    params: dict[str, str]
    body: str
    mode: Mode


class WechatPeer:
    def __init__(self, token: str, app_id: str, aes_key: str | None = None,
                 account: str = ACCOUNT):
        self.token = token
        self.app_id = app_id
        self.account = account
        self.crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None
        self._ids = itertools.count(random.randrange(10**15, 9 * 10**15))

    # --- messages, as WeChat sends them ----------------------------------------------------

    def _base(self, openid: str, msg_type: str, create_time: int | None) -> dict[str, Any]:
        return {
            "ToUserName": self.account,
            "FromUserName": openid,
            "CreateTime": create_time or int(time.time()),
            "MsgType": msg_type,
        }

    def message(self, openid: str, msg_type: str, *, msg_id: int | None = None,
                create_time: int | None = None, **fields: Any) -> str:
        data = self._base(openid, msg_type, create_time)
        data.update(fields)
        data["MsgId"] = msg_id if msg_id is not None else next(self._ids)
        return _xml(data)

    def text(self, openid: str, content: str, **kw: Any) -> str:
        return self.message(openid, "text", Content=content, **kw)

    def location(self, openid: str, lat: float, lng: float, label: str = "", **kw: Any) -> str:
        return self.message(openid, "location", Location_X=lat, Location_Y=lng, Scale=15,
                            Label=label, **kw)

    def image(self, openid: str, media_id: str = "media-demo", **kw: Any) -> str:
        return self.message(openid, "image", PicUrl="http://example.invalid/p.jpg",
                            MediaId=media_id, **kw)

    def voice(self, openid: str, recognition: str | None, **kw: Any) -> str:
        return self.message(openid, "voice", MediaId="voice-demo", Format="amr",
                            Recognition=recognition, **kw)

    def event(self, openid: str, event: str, key: str | None = None, *,
              create_time: int | None = None, **fields: Any) -> str:
        data = self._base(openid, "event", create_time)
        data["Event"] = event
        if key is not None:
            data["EventKey"] = key
        data.update(fields)
        return _xml(data)

    def subscribe_popup(self, openid: str, answers: dict[str, str], **kw: Any) -> str:
        """The member answered a 订阅通知 popup: template id → "accept" or "reject"."""
        return self.event(openid, "subscribe_msg_popup_event", SubscribeMsgPopupEvent={
            "List": [{"TemplateId": t, "SubscribeStatusString": a, "PopupScene": 2}
                     for t, a in answers.items()]}, **kw)

    def subscribe_change(self, openid: str, rejected: list[str], **kw: Any) -> str:
        """The member turned 订阅通知 templates off in their settings."""
        return self.event(openid, "subscribe_msg_change_event", SubscribeMsgChangeEvent={
            "List": [{"TemplateId": t, "SubscribeStatusString": "reject"} for t in rejected]},
            **kw)

    def receipt(self, openid: str, receipt: dict[str, Any], **kw: Any) -> str:
        """The receipt WeChat sends for a delivered push, from what the sandbox noted with
        the message (its "receipt"): TEMPLATESENDJOBFINISH or subscribe_msg_sent_event."""
        if receipt["event"] == "TEMPLATESENDJOBFINISH":
            return self.event(openid, "TEMPLATESENDJOBFINISH", MsgID=receipt["MsgID"],
                              Status=receipt["Status"], **kw)
        entry = {k: receipt[k] for k in ("TemplateId", "MsgID", "ErrorCode", "ErrorStatus")}
        return self.event(openid, "subscribe_msg_sent_event",
                          SubscribeMsgSentEvent={"List": [entry]}, **kw)

    # --- the envelope ----------------------------------------------------------------------

    def sign(self, xml: str, mode: Mode = "plain", timestamp: int | None = None) -> SignedRequest:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = secrets.token_hex(5)
        params = {"signature": _sign(self.token, ts, nonce), "timestamp": ts, "nonce": nonce,
                  "openid": "hidden"}
        if mode == "plain":
            return SignedRequest(params, xml, mode)
        if self.crypto is None:
            raise ValueError("AES modes need the EncodingAESKey")
        envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, ts))["xml"]
        encrypt = envelope["Encrypt"]
        params.update(encrypt_type="aes", msg_signature=_sign(self.token, ts, nonce, encrypt))
        if mode == "aes":
            body = _xml({"ToUserName": self.account, "Encrypt": encrypt})
        else:  # compatible mode: the plaintext fields and the ciphertext side by side
            body = xml.replace("</xml>", f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>")
        return SignedRequest(params, body, mode)

    def read_reply(self, body: str, mode: Mode = "plain") -> dict[str, Any] | None:
        """The reply as a dict of its fields; None for "success" or an empty body."""
        if body.strip() in ("", "success"):
            return None
        data = xmltodict.parse(body)["xml"]
        if mode != "plain" and "Encrypt" in data:
            assert self.crypto is not None
            plain = self.crypto.decrypt_message(body, data["MsgSignature"], data["TimeStamp"],
                                                data["Nonce"])
            data = xmltodict.parse(plain)["xml"]
        return dict(data)

    def url_check(self, echostr: str) -> dict[str, str]:
        ts, nonce = str(int(time.time())), secrets.token_hex(5)
        return {"signature": _sign(self.token, ts, nonce), "timestamp": ts, "nonce": nonce,
                "echostr": echostr}
