"""The sandbox's 订阅通知 (/cgi-bin/message/subscribe/bizsend) and delivery receipts.

WeChat's rules: a send needs the user's grant for the template (a one-time grant is used
up by the send; a long-term one stays), else 43101; keyword values within their type's
limits, else 47003. bizsend returns no msgid: WeChat reports the outcome later with a
subscribe_msg_sent_event. Templates sent to a user who refused this account's template
messages are accepted and then fail ("failed:user block" in TEMPLATESENDJOBFINISH).

The sandbox does not call the bot: each delivered message carries the receipt WeChat would
send (`receipt`), and whoever plays WeChat's part (a test, the simulator) posts it to the
bot's callback. Grants and template blocks are set with control calls, as a user's taps
would set them:

    POST /sandbox/control/subscribe        {"openid", "template_id", "accept", "long_term"}
    POST /sandbox/control/template-block   {"openid", "blocked"}
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from bot.dev.sandbox.core import STATE, Grant, deliver, err, read_json

# A keyword value's limit by its type (the field name's prefix), as WeChat documents them.
LIMITS = {"thing": 20, "character_string": 32, "number": 32, "letter": 32, "symbol": 5,
          "phrase": 5, "name": 10, "phone_number": 17, "car_number": 8, "amount": 32,
          "time": 32, "date": 32}
FIELD = re.compile(r"([a-z_]+?)(\d+)")


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_post("/cgi-bin/message/subscribe/bizsend", bizsend)
    r.add_post("/control/subscribe", grant)
    r.add_post("/control/template-block", template_block)


def _bad_value(data: dict[str, Any]) -> str | None:
    """What is wrong with the keyword values, if anything."""
    for name, box in data.items():
        m = FIELD.fullmatch(name)
        if m is None or m.group(1) not in LIMITS:
            return f"unknown keyword {name}"
        if not isinstance(box, dict) or not isinstance(box.get("value"), str):
            return f"{name}: value missing"
        value = box["value"]
        if not value or len(value) > LIMITS[m.group(1)] or "\n" in value:
            return f"{name}: value breaks its type's rule"
    return None


async def bizsend(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await read_json(request)
    if data is None or not isinstance(data.get("touser"), str):
        return err(44002, "empty post data")
    openid, template_id = data["touser"], data.get("template_id")
    if not openid.strip():
        return err(40003, "invalid openid")
    if not isinstance(template_id, str) or not template_id:
        return err(40037, "invalid template_id")
    payload = data.get("data")
    if not isinstance(payload, dict) or (problem := _bad_value(payload)):
        return err(47003, f"argument invalid! data.{problem if payload else 'data'}")
    held = state.grants.get((openid, template_id))
    if held is None or not (held.long_term or held.one_time > 0):
        return err(43101, "user refuse to accept the msg")
    if not held.long_term:
        held.one_time -= 1
    msgid = next(state._msgids)
    deliver(state, openid, "subscribe", type="subscribe", template_id=template_id,
            data=payload, page=data.get("page"),
            receipt={"event": "subscribe_msg_sent_event", "TemplateId": template_id,
                     "MsgID": msgid, "ErrorCode": 0, "ErrorStatus": "success"})
    return err(0, "ok")


async def grant(request: web.Request) -> web.Response:
    data = await read_json(request) or {}
    openid, template_id = data.get("openid"), data.get("template_id")
    if not isinstance(openid, str) or not isinstance(template_id, str):
        raise web.HTTPBadRequest(text="need openid, template_id, accept, long_term")
    held = request.app[STATE].grants.setdefault((openid, template_id), Grant())
    if not data.get("accept", True):
        held.one_time, held.long_term = 0, False
    elif data.get("long_term"):
        held.long_term = True
    else:
        held.one_time += 1
    return web.json_response({"ok": True, "one_time": held.one_time,
                              "long_term": held.long_term})


async def template_block(request: web.Request) -> web.Response:
    data = await read_json(request) or {}
    openid = data.get("openid")
    if not isinstance(openid, str):
        raise web.HTTPBadRequest(text="need openid and blocked")
    blocked = request.app[STATE].template_blocked
    if data.get("blocked", True):
        blocked.add(openid)
    else:
        blocked.discard(openid)
    return web.json_response({"ok": True})
