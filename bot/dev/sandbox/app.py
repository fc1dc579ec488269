"""A stand-in for WeChat's API, for dev mode, tests and benchmarks.

Same paths and JSON as https://api.weixin.qq.com/cgi-bin/..., WeChat's error codes,
and WeChat's rules: tokens expire (7,200 s; a new one leaves the old valid for a
5-minute overlap), 客服 messages only inside the 48 h window and at most 5 there
(3 within a minute after a menu click, scan or follow), templates only to followers.
It records every message it "delivered" (GET /sandbox/messages?touser=OPENID) and
can be told to misbehave (POST /sandbox/control/faults, JSON only).

It is not a mock: the real client talks to it over HTTP. Mounted at /sandbox in the
dev server; `python -m bot.dev.sandbox --port N` runs it alone. State and what the route
modules share are in core.py.
"""
from __future__ import annotations

import asyncio
import io
import secrets
from datetime import timedelta
from typing import Any

import segno
from aiohttp import web

from bot.clock import Clock, SystemClock
from bot.dev.sandbox import menus
from bot.dev.sandbox import subscribe as subscribe_messages
from bot.dev.sandbox import tokens as stable_tokens
from bot.dev.sandbox.core import (
    EVENT_MESSAGES,
    EVENT_WINDOW,
    STATE,
    TOKEN_TTL_S,
    WINDOW,
    WINDOW_MESSAGES,
    Faults,
    SandboxState,
    deliver,
    err,
    read_json,
)


def create_sandbox(app_id: str, app_secret: str, clock: Clock | None = None) -> web.Application:
    app = web.Application(middlewares=[_api_middleware])
    app[STATE] = SandboxState(app_id, app_secret, clock or SystemClock())
    r = app.router
    r.add_get("/cgi-bin/token", token)
    r.add_post("/cgi-bin/message/custom/send", custom_send)
    r.add_post("/cgi-bin/message/template/send", template_send)
    r.add_post("/cgi-bin/qrcode/create", qrcode_create)
    r.add_get("/cgi-bin/showqrcode", qrcode_show)
    r.add_get("/cgi-bin/media/get", media_get)
    r.add_get("/cgi-bin/user/info", user_info)
    r.add_get("/messages", messages)
    r.add_post("/control/faults", faults_set)
    r.add_delete("/control/faults", faults_clear)
    r.add_post("/control/interaction", interaction)
    r.add_post("/control/expire-tokens", expire_tokens)
    r.add_get("/control/stats", stats)
    # The newer parts of WeChat's API, one module each (they add their routes here).
    stable_tokens.add_routes(r)
    subscribe_messages.add_routes(r)
    menus.add_routes(r)  # the menus, conditional ones included, and user tags
    return app


# A template message's keyword value at most (WeChat's own number, apart from ours).
TEMPLATE_VALUE_MAX = 20


@web.middleware
async def _api_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Token check and injected faults for the API calls (not for /control or /messages).
    The control calls take JSON only: a web page cannot send that without the browser
    asking first (CORS), so no page a developer visits can inject faults or expire tokens
    with a plain form or a text/plain post."""
    if ("/control/" in request.path and request.method not in ("GET", "HEAD", "DELETE")
            and request.content_type != "application/json"):
        raise web.HTTPUnsupportedMediaType(text="the sandbox's control calls take "
                                                "Content-Type: application/json")
    state = request.app[STATE]
    at = request.path.find("/cgi-bin/")
    if at < 0:
        return await handler(request)
    path = request.path[at:]
    state.calls[path] = state.calls.get(path, 0) + 1
    if path not in ("/cgi-bin/token", "/cgi-bin/stable_token", "/cgi-bin/showqrcode") and (
            problem := state.token_error(request.query.get("access_token"))):
        return web.json_response(problem)
    if state.faults and any(fault.applies(path) for fault in state.faults):
        # WeChat has the request once its bytes are in: read the body now, so a sender
        # that dies during an injected delay still gets its message delivered.
        await request.read()
        for fault in state.faults:
            if fault.applies(path) and fault.fire() and (
                    answer := await _injected(request, state, fault)):
                return answer
    return await handler(request)


async def _injected(request: web.Request, state: SandboxState, fault: Faults
                    ) -> web.StreamResponse | None:
    """What a fault that fired does to a send call: delay it, then drop it or answer it
    with an HTTP error or an errcode (None: a delay alone, the call goes on)."""
    if fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    if fault.drop:
        state.count_fault("drop")
        if request.transport:
            request.transport.close()
        raise web.HTTPServiceUnavailable()
    if fault.http_status:
        state.count_fault(f"http {fault.http_status}")
        return web.Response(status=fault.http_status, text="sandbox fault")
    if fault.errcode:
        state.count_fault(f"errcode {fault.errcode}")
        return err(fault.errcode, "sandbox injected fault")
    return None


async def token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    q = request.query
    if q.get("grant_type") != "client_credential":
        return err(40002, "invalid grant_type")
    if q.get("appid") != state.app_id:
        return err(40013, "invalid appid")
    if q.get("secret") != state.app_secret:
        return err(40001, "invalid credential, secret is invalid")
    return web.json_response({"access_token": state.new_token(), "expires_in": TOKEN_TTL_S})


async def custom_send(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await read_json(request)
    if data is None or not isinstance(data.get("touser"), str):
        return err(44002, "empty post data")
    openid, msgtype = data["touser"], data.get("msgtype")
    if not openid.strip():
        return err(40003, "invalid openid")
    user = state.user(openid)
    if not user.followed:
        return err(43004, "require subscribe")
    now = state.clock.now()
    in_event = user.last_event_at is not None and now - user.last_event_at < EVENT_WINDOW
    in_window = user.last_message_at is not None and now - user.last_message_at < WINDOW
    if in_event and user.used_since_event < EVENT_MESSAGES:
        user.used_since_event += 1
    elif in_window and user.used_since_message < WINDOW_MESSAGES:
        user.used_since_message += 1
    elif in_window or in_event:
        return err(45047, "out of response count limit")
    else:
        return err(45015, "response out of time limit or subscription is canceled")
    if msgtype == "text":
        content = (data.get("text") or {}).get("content")
        if not isinstance(content, str) or not content:
            return err(44003, "empty content")
        if len(content.encode()) > 2048:
            return err(45002, "content size out of limit")
        deliver(state, openid, "kefu", type="text", content=content)
    elif msgtype == "news":
        articles = (data.get("news") or {}).get("articles") or []
        if len(articles) != 1:
            return err(45008, "article size out of limit")
        deliver(state, openid, "kefu", type="news", content=articles[0])
    else:
        return err(40008, "invalid message type")
    return err(0, "ok")


async def template_send(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await read_json(request)
    if data is None or not isinstance(data.get("touser"), str):
        return err(44002, "empty post data")
    openid = data["touser"]
    if not openid.strip():
        return err(40003, "invalid openid")
    if not state.user(openid).followed:
        return err(43004, "require subscribe")
    template_id, payload = data.get("template_id"), data.get("data")
    if not isinstance(template_id, str) or not template_id:
        return err(40037, "invalid template_id")
    if not isinstance(payload, dict) or any(
        not isinstance(v, dict) or "value" not in v for v in payload.values()
    ):
        return err(47001, "data format error")
    # WeChat since 2023: every keyword value at most 20 characters, on one line.
    if any(not isinstance(v["value"], str) or len(v["value"]) > TEMPLATE_VALUE_MAX
           or "\n" in v["value"] or "\r" in v["value"] for v in payload.values()):
        return err(47003, "argument invalid!")
    msgid = deliver(state, openid, "template", type="template", template_id=template_id,
                     data=payload, url=data.get("url"))
    # The TEMPLATESENDJOBFINISH WeChat sends later (bot/dev/sandbox/subscribe.py).
    blocked = openid in state.template_blocked
    state.messages[-1]["receipt"] = {"event": "TEMPLATESENDJOBFINISH", "MsgID": msgid,
                                     "Status": "failed:user block" if blocked else "success"}
    return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": msgid})


async def qrcode_create(request: web.Request) -> web.Response:
    data = await read_json(request) or {}
    action = data.get("action_name")
    scene = ((data.get("action_info") or {}).get("scene") or {}).get("scene_str")
    if action != "QR_LIMIT_STR_SCENE":
        return err(40097, "invalid args: only QR_LIMIT_STR_SCENE is supported here")
    if not isinstance(scene, str) or not 1 <= len(scene) <= 64:
        return err(40097, "invalid args: scene_str must be 1-64 characters")
    ticket = secrets.token_urlsafe(24)
    request.app[STATE].qrcodes[ticket] = scene
    return web.json_response({"ticket": ticket, "url": f"http://weixin.qq.com/q/{ticket}"})


async def qrcode_show(request: web.Request) -> web.Response:
    ticket = request.query.get("ticket", "")
    if ticket not in request.app[STATE].qrcodes:
        return web.Response(status=404, text="no such ticket")
    buf = io.BytesIO()
    segno.make(f"http://weixin.qq.com/q/{ticket}", error="m").save(buf, kind="png", scale=8)
    return web.Response(body=buf.getvalue(), content_type="image/png")


async def media_get(request: web.Request) -> web.Response:
    media_id = request.query.get("media_id", "")
    if not media_id or media_id.startswith("expired"):
        return err(40007, "invalid media_id")
    buf = io.BytesIO()
    segno.make(media_id, error="l").save(buf, kind="png", scale=4)
    return web.Response(body=buf.getvalue(), content_type="image/png")


async def user_info(request: web.Request) -> web.Response:
    openid = request.query.get("openid", "")
    if not openid:
        return err(40003, "invalid openid")
    user = request.app[STATE].user(openid)
    return web.json_response({"subscribe": int(user.followed), "openid": openid,
                              "language": "zh_CN"})


async def messages(request: web.Request) -> web.Response:
    touser = request.query.get("touser")
    found = [m for m in request.app[STATE].messages if touser is None or m["touser"] == touser]
    return web.json_response(found)


async def faults_set(request: web.Request) -> web.Response:
    data = await read_json(request)
    if data is None:
        raise web.HTTPBadRequest(text="JSON object expected")
    try:
        fault = Faults(**data)
    except TypeError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    request.app[STATE].faults.append(fault)
    return web.json_response({"ok": True, "faults": len(request.app[STATE].faults)})


async def faults_clear(request: web.Request) -> web.Response:
    request.app[STATE].faults.clear()
    return web.json_response({"ok": True})


async def interaction(request: web.Request) -> web.Response:
    """Tell the sandbox what a user did (the chat and the simulator play WeChat's part)."""
    data = await read_json(request) or {}
    openid, kind = data.get("openid"), data.get("kind")
    if not isinstance(openid, str) or kind not in ("message", "event", "subscribe",
                                                   "unsubscribe"):
        raise web.HTTPBadRequest(text="need openid and kind message|event|subscribe|unsubscribe")
    request.app[STATE].interact(openid, kind)
    return web.json_response({"ok": True})


async def expire_tokens(request: web.Request) -> web.Response:
    state = request.app[STATE]
    past = state.clock.now() - timedelta(seconds=1)
    state.tokens = dict.fromkeys(state.tokens, past)
    return web.json_response({"ok": True})


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({"token_fetches": state.token_fetches, "calls": state.calls,
                              "stable_token_fetches": state.stable.fetches,
                              "force_refreshes": state.stable.force_refreshes,
                              "faulted": state.faulted, "messages": len(state.messages)})
