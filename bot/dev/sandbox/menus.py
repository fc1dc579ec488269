"""The sandbox's menus and user tags, as WeChat has them.

- menu/create, menu/get, menu/delete: the default menu; get also lists the conditional
  menus (`conditionalmenu`), delete removes every menu.
- menu/addconditional: a conditional menu, matched by `matchrule.tag_id` (the only rule
  WeChat still honours: gender, region and language are refused with 65320). It needs a
  default menu (65303) and a rule (65304); an unknown tag is 45159. Answers a menuid.
- menu/delconditional {menuid} (65301 for an unknown one), menu/trymatch {user_id}: the
  menu this user sees, the newest conditional menu whose tag they carry, else the default.
- tags/create (names unique 45157, at most 30 bytes 45158, at most 100 tags 45056),
  tags/get, tags/members/batchtagging and batchuntagging (at most 50 openids 40032, an
  unknown tag 45159, at most 20 tags a user 45059; tagging twice is no error),
  tags/getidlist {openid} → {tagid_list}.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.dev.sandbox.core import STATE, SandboxState, err, read_json

MAX_TOP, MAX_SUB = 3, 5
MAX_TAGS = 100
TAG_NAME_MAX_BYTES = 30
TAGS_PER_USER = 20
BATCH_MAX = 50
PRIVATE_RULES = {"sex", "country", "province", "city", "language"}
OPENID_MAX = 64


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_post("/cgi-bin/menu/create", menu_create)
    r.add_get("/cgi-bin/menu/get", menu_get)
    r.add_get("/cgi-bin/menu/delete", menu_delete)
    r.add_post("/cgi-bin/menu/addconditional", add_conditional)
    r.add_post("/cgi-bin/menu/delconditional", del_conditional)
    r.add_post("/cgi-bin/menu/trymatch", try_match)
    r.add_post("/cgi-bin/tags/create", tag_create)
    r.add_get("/cgi-bin/tags/get", tags_get)
    r.add_post("/cgi-bin/tags/members/batchtagging", batch_tagging)
    r.add_post("/cgi-bin/tags/members/batchuntagging", batch_untagging)
    r.add_post("/cgi-bin/tags/getidlist", tag_id_list)


def _buttons_problem(data: dict[str, Any] | None) -> web.Response | None:
    buttons = data.get("button") if data else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_TOP:
        return err(40016, "invalid button size")
    for b in buttons:
        if not isinstance(b, dict):
            return err(40016, "invalid button size")
        if len(b.get("sub_button") or []) > MAX_SUB:
            return err(40023, "invalid sub button size")
    return None


# --- menus ---------------------------------------------------------------------------------


async def menu_create(request: web.Request) -> web.Response:
    data = await read_json(request)
    if problem := _buttons_problem(data):
        return problem
    assert data is not None
    request.app[STATE].menu = {"button": data["button"]}
    return err(0, "ok")


async def menu_get(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.menu is None:
        return err(46003, "menu no exist")
    answer: dict[str, Any] = {"menu": state.menu}
    if state.conditional_menus:
        answer["conditionalmenu"] = state.conditional_menus
    return web.json_response(answer)


async def menu_delete(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.menu = None
    state.conditional_menus.clear()  # the default menu takes the conditional ones along
    return err(0, "ok")


async def add_conditional(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await read_json(request)
    if problem := _buttons_problem(data):
        return problem
    assert data is not None
    if state.menu is None:
        return err(65303, "there is no selfmenu, please create selfmenu first")
    rule = data.get("matchrule")
    if not isinstance(rule, dict) or not any(v not in (None, "") for v in rule.values()):
        return err(65304, "match rule empty")
    if PRIVATE_RULES & {k for k, v in rule.items() if v not in (None, "")}:
        return err(65320, "matchrule contains private information")
    tag_id = _tag_id(rule.get("tag_id"))
    if tag_id is None or tag_id not in state.tags:
        return err(45159, "invalid tag id")
    menuid = str(next(state._ids) + 400_000_000)
    state.conditional_menus.append({"button": data["button"], "matchrule": rule,
                                    "menuid": menuid})
    return web.json_response({"menuid": menuid})


async def del_conditional(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await read_json(request) or {}
    menuid = str(data.get("menuid", ""))
    kept = [m for m in state.conditional_menus if m["menuid"] != menuid]
    if len(kept) == len(state.conditional_menus):
        return err(65301, "menuid not exist")
    state.conditional_menus[:] = kept
    return err(0, "ok")


async def try_match(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await read_json(request) or {}
    user_id = data.get("user_id")
    if not isinstance(user_id, str) or not user_id or user_id not in state.users:
        return err(65302, "user not exist")
    if state.menu is None:
        return err(46003, "menu no exist")
    carried = state.user_tags.get(user_id, set())
    for menu in reversed(state.conditional_menus):  # the newest first, as WeChat matches
        if _tag_id(menu["matchrule"].get("tag_id")) in carried:
            return web.json_response({"button": menu["button"]})
    return web.json_response({"button": state.menu["button"]})


# --- user tags -----------------------------------------------------------------------------


def _tag_id(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


async def tag_create(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await read_json(request) or {}
    name = (data.get("tag") or {}).get("name") if isinstance(data.get("tag"), dict) else None
    if not isinstance(name, str) or not name.strip() or name in state.tags.values():
        return err(45157, "invalid tag name")
    if len(name.encode()) > TAG_NAME_MAX_BYTES:
        return err(45158, "tag name too long")
    if len(state.tags) >= MAX_TAGS:
        return err(45056, "too many tags now, no need to add new")
    tag_id = next(state._ids)
    state.tags[tag_id] = name
    return web.json_response({"tag": {"id": tag_id, "name": name}})


async def tags_get(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({"tags": [
        {"id": tag_id, "name": name,
         "count": sum(tag_id in ids for ids in state.user_tags.values())}
        for tag_id, name in sorted(state.tags.items())]})


async def _batch(request: web.Request) -> tuple[SandboxState, int, list[str]] | web.Response:
    state = request.app[STATE]
    data = await read_json(request) or {}
    openids, tag_id = data.get("openid_list"), _tag_id(data.get("tagid"))
    if not isinstance(openids, list) or not openids:
        return err(40003, "invalid openid")
    if len(openids) > BATCH_MAX:
        return err(40032, "invalid openid list size")
    if any(not isinstance(o, str) or not o.strip() or len(o) > OPENID_MAX for o in openids):
        return err(40003, "invalid openid")
    if tag_id is None or tag_id not in state.tags:
        return err(45159, "invalid tag id")
    return state, tag_id, openids


async def batch_tagging(request: web.Request) -> web.Response:
    checked = await _batch(request)
    if isinstance(checked, web.Response):
        return checked
    state, tag_id, openids = checked
    if any(len(state.user_tags.get(o, set()) | {tag_id}) > TAGS_PER_USER for o in openids):
        return err(45059, "tag count of a user is over limit")
    for openid in openids:
        state.user(openid)  # WeChat knows its followers
        state.user_tags.setdefault(openid, set()).add(tag_id)
    return err(0, "ok")


async def batch_untagging(request: web.Request) -> web.Response:
    checked = await _batch(request)
    if isinstance(checked, web.Response):
        return checked
    state, tag_id, openids = checked
    for openid in openids:
        state.user_tags.get(openid, set()).discard(tag_id)
    return err(0, "ok")


async def tag_id_list(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = await read_json(request) or {}
    openid = data.get("openid")
    if not isinstance(openid, str) or not openid.strip() or len(openid) > OPENID_MAX:
        return err(40003, "invalid openid")
    return web.json_response({"tagid_list": sorted(state.user_tags.get(openid, set()))})
