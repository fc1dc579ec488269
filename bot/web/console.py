"""/console/: server-rendered pages for instructors, group leaders, grid officers and admins.

Jinja2 templates and one stylesheet ship with the project (nothing is fetched from the
internet). Every page checks the user's role on the server; an object the user may not see
is a 404, so ids cannot be probed. Every form carries the session's CSRF token.

Each feature adds its pages with a function `add_routes(console)` handed to
`create_console` by the app factory.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import SHANGHAI, Clock
from bot.features import Features
from bot.settings import Settings
from bot.web import login
from bot.web.auth import CSRF_FIELD, CSRF_HEADER, EXPIRED, Auth
from bot.web.pages import (
    AUTH,
    CLOCK,
    HERE,
    MENU,
    PUBLIC,
    SERVICES,
    SESSIONS,
    SETTINGS,
    STALE_FORM,
    Handler,
    bad_query,
    error_page,
    no_store,
)
from models.text import TooLong

log = logging.getLogger(__name__)



@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Logged in (else to the login page), no control or invisible character in the query,
    CSRF on every form, the session saved; every error (raised by a page, or aiohttp's own
    404/405) answered as a page in the layout, with the user, role, menu and CSRF token.
    `Cache-Control: no-store` is set on every answer by pages.no_store."""
    auth = request.app[AUTH]
    public = request.path.startswith(PUBLIC)
    if not public and await auth.user(request) is None:
        target = "/console/login?next=" + quote(request.path_qs, safe="")
        if request.get(EXPIRED):
            target += "&expired=1"
        raise web.HTTPSeeOther(target)
    if (name := bad_query(request)) is not None and not public:
        return await error_page(request, 400, "参数有误",
                                f"参数 {name} 含有控制字符或不可见字符。请检查链接后重试。")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type in ("application/x-www-form-urlencoded",
                                                      "multipart/form-data"):
            field = (await request.post()).get(CSRF_FIELD)
            given = field if isinstance(field, str) else None
        if not await auth.csrf_ok(request, given):
            log.warning("console: a form without a valid CSRF token was refused")
            refused = await error_page(request, 403, "表单已失效", STALE_FORM)
            await auth.save_if_changed(request, refused)
            return refused
    response: web.StreamResponse
    try:
        response = await handler(request)
    except TooLong as err:  # found only when written (models/text.py guard): say which limit
        response = await error_page(
            request, 400, "内容过长",
            f"有一项内容超过了 {err.limit} 个字（{err.length} 个）。请删减后重试。")
    except web.HTTPException as exc:
        if exc.status < 400:
            await auth.save_if_changed(request, exc)
            raise
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        response = await error_page(request, exc.status, headers=allow)
    await auth.save_if_changed(request, response)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _local(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(SHANGHAI).strftime(fmt) if value else "—"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def create_console(settings: Settings, sessions_: async_sessionmaker[AsyncSession],
                   clock: Clock, services: Any, features: Features) -> web.Application:
    """The console sub-application: login and the features' pages, with their templates
    and their menu entries."""
    console = web.Application(middlewares=[_guard])
    console.on_response_prepare.append(no_store)
    console[MENU] = sorted(features.menu, key=lambda e: e.rank)
    console[AUTH] = Auth(settings, sessions_, clock)
    console[SESSIONS] = sessions_
    console[CLOCK] = clock
    console[SETTINGS] = settings
    console[SERVICES] = services
    env = aiohttp_jinja2.setup(
        console, loader=jinja2.FileSystemLoader([HERE / "templates", *features.templates]),
        autoescape=jinja2.select_autoescape(default=True))
    env.filters["local"] = _local
    env.filters["percent"] = _percent
    console.router.add_static("/static/", HERE / "static", name="static")
    login.add_routes(console)
    for add_routes in features.pages:
        add_routes(console)
    return console
