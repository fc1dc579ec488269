"""The /wechat callback: verify, decrypt, parse, hand to the pipeline, reply.

Plaintext, compatible and safe (AES) modes; with wechat.require_safe_mode only a valid
Encrypt is accepted (compatible mode: its Encrypt part alone). A signature is good for one
body: the same (timestamp, nonce, signature) again with the same body is WeChat retrying
(the pipeline's dedup answers it), with another body a replay, refused (models/replay.py).
Bad input is answered with a 4xx and a one-line reason, never a 500 or a traceback.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from typing import Any
from xml.parsers import expat

from aiohttp import web
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from bot import logs, metrics
from bot.clock import Clock
from bot.settings import Settings
from bot.wechat.message import Inbound, MalformedMessage, parse
from bot.wechat.pipeline import Pipeline, Replayed, Signed, is_transfer, render_transfer
from models import replay

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
_TIMESTAMP = re.compile(r"[1-9]\d{0,11}")  # no leading zero: one spelling per second


def _reason(status: type[web.HTTPException], reason: str, **kw: Any) -> web.HTTPException:
    metrics.REJECTED.labels(str(status.status_code)).inc()
    return status(text=reason + "\n", content_type="text/plain", **kw)


def _too_large() -> web.HTTPException:
    return _reason(web.HTTPRequestEntityTooLarge, "body over 64 KiB", max_size=MAX_BODY_BYTES)


class _Declaration(Exception):
    """The body declares a DTD, an entity or a notation."""


def _declared(*_: Any) -> int:
    raise _Declaration


def _screen(xml: str) -> None:
    """Parse the body once with expat before wechatpy sees it: a document type, entity or
    notation declaration anywhere (after comments or processing instructions too) raises
    _Declaration from expat's own handlers, so no text scan can be fooled. A body expat
    cannot read (a DOCTYPE inside the root, junk) raises ExpatError. Words like
    "<!DOCTYPE" inside a user's text are character data and pass."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _declared
    parser.EntityDeclHandler = _declared
    parser.UnparsedEntityDeclHandler = _declared
    parser.NotationDeclHandler = _declared
    parser.ExternalEntityRefHandler = _declared
    parser.Parse(xml, True)


def _refuse_declarations(xml: str) -> None:
    """One answer for every body with a DTD or an entity: 400 with the same reason; one
    for bodies that are not well-formed XML: 400 malformed."""
    try:
        _screen(xml)
    except _Declaration:
        raise _reason(web.HTTPBadRequest, "DTDs and entities are not accepted") from None
    except expat.ExpatError:
        raise _reason(web.HTTPBadRequest, "malformed message (ExpatError)") from None


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_text_reply(msg: Inbound, content: str, create_time: int) -> str:
    if is_transfer(content):  # not text: hand the chat to the 客服 workbench
        return render_transfer(msg, create_time)
    return (
        f"<xml><ToUserName>{cdata(msg.openid)}</ToUserName>"
        f"<FromUserName>{cdata(msg.account)}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime>"
        f"<MsgType>{cdata('text')}</MsgType>"
        f"<Content>{cdata(content)}</Content></xml>"
    )


class WechatGateway:
    def __init__(self, settings: Settings, clock: Clock, pipeline: Pipeline):
        w = settings.wechat
        self._token = w.token
        self._max_skew = w.max_clock_skew_s
        self._budget_s = w.reply_budget_s
        self._safe_only = settings.require_safe_mode
        self._clock = clock
        self._pipeline = pipeline
        keys = [k for k in (w.encoding_aes_key, w.previous_encoding_aes_key) if k]
        # Current key first; during a rotation the previous key still opens old messages.
        self._cryptos = [WeChatCrypto(w.token, k, w.app_id) for k in keys]

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/wechat", self.verify_url)
        app.router.add_post("/wechat", self.callback)

    def _check_signature(self, request: web.Request) -> tuple[str, str, str]:
        q = request.query
        signature, timestamp, nonce = q.get("signature"), q.get("timestamp"), q.get("nonce")
        if not signature or not timestamp or not nonce:
            raise _reason(web.HTTPForbidden, "missing signature")
        try:
            check_signature(self._token, signature, timestamp, nonce)
        except InvalidSignatureException:
            raise _reason(web.HTTPForbidden, "bad signature") from None
        return timestamp, nonce, signature

    async def verify_url(self, request: web.Request) -> web.Response:
        """WeChat's URL check: echo `echostr` when the signature is right."""
        self._check_signature(request)
        echostr = request.query.get("echostr")
        if echostr is None:
            raise _reason(web.HTTPForbidden, "missing echostr")
        return web.Response(text=echostr, content_type="text/plain")

    async def callback(self, request: web.Request) -> web.Response:
        logs.new_request_id()  # every line this callback logs carries it
        started = time.monotonic()
        timestamp, nonce, signature = self._check_signature(request)
        if not _TIMESTAMP.fullmatch(timestamp):
            raise _reason(web.HTTPForbidden, "bad timestamp")
        if abs(self._clock.now().timestamp() - int(timestamp)) > self._max_skew:
            raise _reason(web.HTTPForbidden, "timestamp outside the allowed clock skew")
        body, crypto = self._open(request, await self._read_body(request), timestamp, nonce)
        try:
            msg = parse(body)
        except MalformedMessage as exc:
            raise _reason(web.HTTPBadRequest, f"malformed message ({exc})") from None
        # Plaintext: the signature does not cover the body; it is noted with the body's
        # digest in the callback's own transaction, and another body under it is refused.
        signed = None if crypto is not None else Signed(
            replay.digest(signature.lower()), replay.digest(body),
            datetime.fromtimestamp(int(timestamp) + self._max_skew, UTC))
        left = self._budget_s - (time.monotonic() - started)
        try:
            reply = await self._pipeline.handle(msg, budget_s=left, signed=signed)
        except Replayed:
            log.warning("callback refused: a signature already used for another body (replay)")
            raise _reason(web.HTTPForbidden, "signature already used") from None
        if reply is None:
            return web.Response(text="success", content_type="text/plain")
        xml = render_text_reply(msg, reply, int(self._clock.now().timestamp()))
        if crypto is not None:
            xml = crypto.encrypt_message(xml, nonce, timestamp)
        return web.Response(text=xml, content_type="application/xml")

    def _open(self, request: web.Request, body: str, timestamp: str, nonce: str
              ) -> tuple[str, WeChatCrypto | None]:
        """The message itself: the body in plaintext mode, else its Encrypt part decrypted
        (compatible mode's plaintext fields are ignored). With wechat.require_safe_mode a
        callback without encrypt_type=aes is refused like a bad signature."""
        if request.query.get("encrypt_type", "raw").lower() != "aes":
            if self._safe_only:
                log.warning("callback refused: not encrypted, and wechat.require_safe_mode "
                            "is on (set the platform's message mode to safe)")
                raise _reason(web.HTTPForbidden, "safe mode required: plaintext refused")
            return body, None
        msg_signature = request.query.get("msg_signature")
        if not msg_signature:
            raise _reason(web.HTTPForbidden, "missing msg_signature")
        return self._decrypt(body, msg_signature, timestamp, nonce)

    async def _read_body(self, request: web.Request) -> str:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise _too_large()
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(16384):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _too_large()
            chunks.append(chunk)
        try:
            text = b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError:
            raise _reason(web.HTTPBadRequest, "body is not UTF-8") from None
        if not text.strip():
            raise _reason(web.HTTPBadRequest, "empty body")
        _refuse_declarations(text)
        return text

    def _decrypt(
        self, body: str, msg_signature: str, timestamp: str, nonce: str
    ) -> tuple[str, WeChatCrypto]:
        for crypto in self._cryptos:
            try:
                plain = crypto.decrypt_message(body, msg_signature, timestamp, nonce)
            except InvalidSignatureException:
                raise _reason(web.HTTPForbidden, "bad msg_signature") from None
            except KeyError:  # no <Encrypt> in the body (or no <xml> root)
                raise _reason(web.HTTPBadRequest, "no Encrypt in the message") from None
            except Exception:  # wrong key, bad padding, bad base64, foreign app id
                continue
            _refuse_declarations(plain)
            return plain, crypto
        raise _reason(web.HTTPBadRequest, "cannot decrypt message")
