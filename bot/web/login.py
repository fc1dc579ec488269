"""Login and logout: the console's only public pages."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.web.pages import AUTH, SETTINGS, now, render, sessions
from models import login_throttle

log = logging.getLogger(__name__)
WRONG = "用户名或密码不正确。"


def _next(value: str | None) -> str:
    """Only a page of the console (no open redirect to somewhere else)."""
    if value and value.startswith("/console/") and not value.startswith("//"):
        return value
    return "/console/"


async def login_form(request: web.Request) -> web.Response:
    if await request.app[AUTH].user(request) is not None:
        raise web.HTTPSeeOther(_next(request.query.get("next")))
    notice = "登录已过期，请重新登录。" if request.query.get("expired") else ""
    return await render(request, "login.html", {
        "next": _next(request.query.get("next")), "username": "", "errors": {},
        "notice": notice})


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:256]
    target = _next(str(form.get("next", "")))
    errors = {}
    if not username:
        errors["username"] = "请输入用户名。"
    if not password:
        errors["password"] = "请输入密码。"
    if errors:
        return await render(request, "login.html", {
            "next": target, "username": username, "errors": errors, "notice": ""}, 400)
    settings = request.app[SETTINGS].console
    keys = [f"user:{username.lower()}", f"ip:{request.remote or '-'}"]
    at = now(request)
    async with sessions(request)() as db, db.begin():
        if await login_throttle.locked(db, keys, at, settings.login_max_failures,
                               settings.login_lockout):
            minutes = int(settings.login_lockout.total_seconds() // 60)
            log.warning("console login refused: too many failures")
            return await render(request, "login.html", {
                "next": target, "username": username, "errors": {},
                "notice": f"尝试次数过多，请 {minutes} 分钟后再试。"}, 429)
        user = await login_throttle.authenticate(db, username, password)
        if user is None:
            await login_throttle.note_failure(db, keys, at, settings.login_lockout)
        else:
            await login_throttle.forget(db, keys[:1])
    if user is None:
        log.info("console login failed")
        return await render(request, "login.html", {
            "next": target, "username": username, "errors": {"form": WRONG}, "notice": ""},
            401)
    response = web.HTTPSeeOther(target)
    await request.app[AUTH].login(request, response, user)
    log.info("console login: user %s (%s)", user.id, user.role)
    raise response


async def logout(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther("/console/login")
    await request.app[AUTH].logout(request, response)
    raise response


def add_routes(console: web.Application) -> None:
    console.router.add_get("/login", login_form, name="login")
    console.router.add_post("/login", login)
    console.router.add_post("/logout", logout, name="logout")
