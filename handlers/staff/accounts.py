"""控制台账号 (admin): make an account, and for each one a new password, its role and scope
(an officer's grid, a leader's group, chosen from lists), disable or enable, end all its
sessions, and a fresh one-time 绑定 code shown as text and as a QR code.

The rules are models/staff.py's, as `run.py create-user` / `edit-user` use them; a role
change and a disable there also queue the WeChat tag change. Passwords are hashed in the
login's hashing pool (bot/web/login.py), never on the event loop."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.web.login import GATE
from bot.web.pages import forbid, not_found, now, render, sessions, text_errors, user_of
from models import names, staff
from models.staff import ROLES, ConsoleUser
from models.views import members as member_views
from models.views import reports as report_views

log = logging.getLogger(__name__)

ADMIN = ("admin",)
FIELD_OF = {"unknown_role": "role", "bad_username": "username", "username_taken": "username",
            "short_password": "password", "long_display_name": "name"}
DONE = {"role": "角色与范围已保存，该账号的所有登录会话已结束。",
        "password": "新密码已设置，该账号的所有登录会话已结束。",
        "enabled": "账号已启用。", "disabled": "账号已停用（已解除微信绑定），所有登录会话已结束。",
        "sessions": "该账号在所有设备上的登录会话已结束。"}


async def _choices(db: AsyncSession) -> dict[str, Any]:
    grids = sorted((await report_views.grid_names(db)).items())
    return {"roles": list(ROLES.items()), "grids": grids,
            "groups": await member_views.group_options(db)}


def _scope(form: dict[str, str], choices: dict[str, Any]) -> tuple[
        str | None, str | None, dict[str, str]]:
    """The grid (an officer's) and group (a leader's) the form chose, each checked against
    the lists it was offered."""
    errors: dict[str, str] = {}
    grid = form.get("grid") or None if form.get("role") == "officer" else None
    group = form.get("group") or None if form.get("role") == "leader" else None
    if grid and grid not in {code for code, _ in choices["grids"]}:
        errors["grid"] = T.staff_error_text("no_grid")
    if group and group not in {code for code, _ in choices["groups"]}:
        errors["group"] = T.staff_error_text("no_group")
    if form.get("role") not in ROLES:
        errors["role"] = T.staff_error_text("no_role")
    return grid, group, errors


async def _bind_qr(code: str) -> str:
    """The QR code of 「绑定 CODE」 as a data: URI (the page's only image)."""
    import segno

    def draw() -> str:
        return str(segno.make(f"绑定 {code}", error="m").png_data_uri(scale=5, border=4))

    return await asyncio.to_thread(draw)


async def _bind_context(code: str, expires_at: datetime) -> dict[str, Any]:
    return {"code": code, "expires": expires_at, "qr": await _bind_qr(code),
            "how": T.BIND_CODE_SHOWN.format(code=code)}


# --- a new account ---------------------------------------------------------------------------


async def new_form(request: web.Request) -> web.StreamResponse:
    forbid(request, ADMIN)
    async with sessions(request)() as db:
        choices = await _choices(db)
    return await render(request, "staff_new.html", {
        **choices, "form": {"role": request.query.get("role", "")}, "errors": {}})


async def create(request: web.Request) -> web.StreamResponse:
    admin = forbid(request, ADMIN)
    data = await request.post()
    form = {k: str(data.get(k, ""))[:200] for k in ("username", "name", "role", "grid",
                                                     "group")}
    form["username"], form["name"] = form["username"].strip(), form["name"].strip()
    password, again = str(data.get("password", ""))[:200], str(data.get("password2", ""))[:200]
    async with sessions(request)() as db:
        choices = await _choices(db)
    grid, group, errors = _scope(form, choices)
    errors |= text_errors(form, lines=("username", "name"))
    if password != again:
        errors["password2"] = T.staff_error_text("password_mismatch")
    hashed = None
    if not errors:
        hashed = await request.app[GATE].run(staff.hash_password, password)
        try:
            async with sessions(request)() as db, db.begin():
                user = await staff.create_user(db, form["username"], form["role"], password,
                                               now(request), grid, group, hashed=hashed,
                                               display_name=form["name"])
                code = await staff.issue_bind_code(db, user, now(request))
                user_id = user.id
        except staff.StaffError as exc:
            errors[FIELD_OF.get(exc.reason, "username")] = T.staff_error_text(exc.reason)
    if errors:
        return await render(request, "staff_new.html", {  # nothing typed is lost
            **choices, "form": {**form, "password": password, "password2": again},
            "errors": errors}, 400)
    log.info("console: admin %s made console account %s (%s)", admin.id, user_id, form["role"])
    return await _account_page(request, int(user_id or 0), {
        "created": True, "bind": await _bind_context(code, now(request) + staff.BIND_CODE_TTL)})


# --- one account -----------------------------------------------------------------------------


async def _account(request: web.Request, db: AsyncSession) -> ConsoleUser:
    forbid(request, ADMIN)
    user = await db.get(ConsoleUser, int(request.match_info["id"]))
    if user is None:
        raise not_found(request)
    return user


async def _account_page(request: web.Request, user_id: int, extra: dict[str, Any],
                        status: int = 200) -> web.Response:
    async with sessions(request)() as db:
        user = await db.get(ConsoleUser, user_id)
        if user is None:
            raise not_found(request)
        choices = await _choices(db)
        shown = (await names.staff_names(db, [user.username])).get(user.username, "")
    form = {"role": user.role, "grid": user.grid_code or "", "group": user.group_code or ""}
    context = {"u": user, "name": shown, "form": form, "errors": {}, "done": "",
               "own": user.id == user_of(request).id, **choices, **extra}
    return await render(request, "staff_account.html", context, status)


async def account(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as db:
        user = await _account(request, db)
    done = DONE.get(request.query.get("done", ""), "")
    return await _account_page(request, int(user.id or 0), {"done": done})


def _done(user_id: int, what: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/console/members/staff/{user_id}?done={what}")


async def set_role(request: web.Request) -> web.StreamResponse:
    admin = forbid(request, ADMIN)
    data = await request.post()
    form = {k: str(data.get(k, ""))[:64] for k in ("role", "grid", "group")}
    async with sessions(request)() as db, db.begin():
        user = await _account(request, db)
        choices = await _choices(db)
        grid, group, errors = _scope(form, choices)
        if user.id == admin.id and form["role"] != user.role:
            errors["role"] = "不能更改自己的角色（请另一位管理员操作）。"
        if not errors:
            await staff.set_role(db, user, form["role"], grid, group, now(request))
        user_id = int(user.id or 0)
    if errors:
        return await _account_page(request, user_id, {"form": form, "errors": errors}, 400)
    log.info("console: admin %s changed the role of console account %s", admin.id, user_id)
    raise _done(user_id, "role")


async def set_password(request: web.Request) -> web.StreamResponse:
    admin = forbid(request, ADMIN)
    data = await request.post()
    password, again = str(data.get("password", ""))[:200], str(data.get("password2", ""))[:200]
    errors: dict[str, str] = {}
    if password != again:
        errors["password2"] = T.staff_error_text("password_mismatch")
    async with sessions(request)() as db, db.begin():
        user = await _account(request, db)
        user_id = int(user.id or 0)
        if not errors:
            try:
                await staff.set_password(db, user, password)  # hashed off the loop
            except staff.StaffError as exc:
                errors["password"] = T.staff_error_text(exc.reason)
    if errors:
        return await _account_page(request, user_id, {"errors": errors}, 400)
    log.info("console: admin %s set a new password for console account %s", admin.id, user_id)
    raise _done(user_id, "password")


async def set_active(request: web.Request) -> web.StreamResponse:
    admin = forbid(request, ADMIN)
    active = (await request.post()).get("active") == "1"
    async with sessions(request)() as db, db.begin():
        user = await _account(request, db)
        user_id = int(user.id or 0)
        if user.id == admin.id and not active:
            refused = {"active": "不能停用自己的账号（请另一位管理员操作）。"}
        else:
            refused = {}
            await staff.set_active(db, user, active, now(request))
    if refused:
        return await _account_page(request, user_id, {"errors": refused}, 400)
    log.info("console: admin %s %s console account %s", admin.id,
             "enabled" if active else "disabled", user_id)
    raise _done(user_id, "enabled" if active else "disabled")


async def end_sessions(request: web.Request) -> web.StreamResponse:
    admin = forbid(request, ADMIN)
    async with sessions(request)() as db, db.begin():
        user = await _account(request, db)
        user_id = int(user.id or 0)
        await staff.end_sessions(db, user_id)
    log.info("console: admin %s ended the sessions of console account %s", admin.id, user_id)
    if user_id == admin.id:
        raise web.HTTPSeeOther("/console/login")
    raise _done(user_id, "sessions")


async def bind_code(request: web.Request) -> web.StreamResponse:
    admin = forbid(request, ADMIN)
    async with sessions(request)() as db, db.begin():
        user = await _account(request, db)
        user_id = int(user.id or 0)
        if not user.active:
            refused: dict[str, str] = {"bind": "账号已停用，先启用再生成绑定码。"}
            code = ""
        else:
            refused = {}
            code = await staff.issue_bind_code(db, user, now(request))
    if refused:
        return await _account_page(request, user_id, {"errors": refused}, 400)
    log.info("console: admin %s issued a bind code for console account %s", admin.id, user_id)
    return await _account_page(request, user_id, {
        "bind": await _bind_context(code, now(request) + staff.BIND_CODE_TTL)})


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/members/staff/new", new_form)
    r.add_post("/members/staff/new", create)
    one = "/members/staff/{id:\\d{1,9}}"
    r.add_get(one, account)
    r.add_post(one + "/role", set_role)
    r.add_post(one + "/password", set_password)
    r.add_post(one + "/active", set_active)
    r.add_post(one + "/sessions", end_sessions)
    r.add_post(one + "/bind", bind_code)
