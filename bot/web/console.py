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
from aiohttp.typedefs import Middleware
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.clock import SHANGHAI, Clock
from bot.features import Features
from bot.settings import Settings
from bot.web import login
from bot.web.auth import CSRF_FIELD, CSRF_HEADER, EXPIRED, Auth
from bot.web.hangups import BROKEN_BODY, BodyTimeout
from bot.web.listing import ListQueryError
from bot.web.pages import (
    AUTH,
    CLOCK,
    HERE,
    MENU,
    PUBLIC,
    PUBLIC_ASSETS,
    SERVICES,
    SESSIONS,
    SETTINGS,
    STALE_FORM,
    Handler,
    bad_query,
    error_context,
    error_page,
    find_user_name,
    layout,
    no_store,
)
from models.staff import ConsoleUser
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
    if request.match_info.http_exception is not None:  # no such page (or not this method)
        await _who(request)  # the layout shows who is logged in, if anyone
        missing = await _error_answer(request, request.match_info.http_exception)
        await auth.save_if_changed(request, missing)
        return missing
    if not public and await _who(request) is None:
        target = "/console/login?next=" + quote(request.path_qs, safe="")
        if request.get(EXPIRED):
            target += "&expired=1"
        raise web.HTTPSeeOther(target)
    if (name := bad_query(request)) is not None and not public:
        return await error_page(request, 400, "参数有误",
                                f"参数 {name} 含有控制字符或不可见字符。请检查链接后重试。")
    if request.method not in ("GET", "HEAD", "OPTIONS") and (
            refused := await _refused(request)) is not None:
        await auth.save_if_changed(request, refused)
        return refused
    response = await _answer(request, handler)
    await auth.save_if_changed(request, response)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


async def _refused(request: web.Request) -> web.Response | None:
    """A write without the session's CSRF token (header or form field): the stale-form page;
    a form too large to read: the 413 page."""
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in ("application/x-www-form-urlencoded",
                                                  "multipart/form-data"):
        try:
            field = (await request.post()).get(CSRF_FIELD)
        except web.HTTPException as exc:  # 413: past the server's client_max_size
            return await _error_answer(request, exc)
        given = field if isinstance(field, str) else None
    if await request.app[AUTH].csrf_ok(request, given):
        return None
    log.warning("console: a form without a valid CSRF token was refused")
    return await error_page(request, 403, "表单已失效", STALE_FORM)


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The page's answer, or the error page for what it raised."""
    if request.path.startswith(PUBLIC_ASSETS) and not _asset(request.match_info.get("filename")):
        await _who(request)  # the layout shows who is logged in, if anyone
        return await error_page(request, 404)  # aiohttp's own would be an empty body
    try:
        return await handler(request)
    except TooLong as err:  # found only when written (models/text.py guard): say which limit
        return await error_page(
            request, 400, "内容过长",
            f"有一项内容超过了 {err.limit} 个字（{err.length} 个）。请删减后重试。")
    except ListQueryError as err:  # a list's page, size or format it cannot take
        return await error_page(request, 400, "参数有误", f"{err}请检查链接后重试。")
    except web.HTTPException as exc:
        if exc.status < 400:
            await request.app[AUTH].save_if_changed(request, exc)
            raise
        return await _error_answer(request, exc)
    except _NOT_OURS:
        raise  # the client's body broke off: bot/web/hangups.py answers it
    except Exception:  # a fault of ours: the 500 page, never a traceback; logged
        log.exception("console: %s %s failed", request.method, request.path)
        return await error_page(request, 500)


async def _who(request: web.Request) -> ConsoleUser | None:
    """The logged-in user, and the name the layout shows for them."""
    user = await request.app[AUTH].user(request)
    await find_user_name(request, request.app[SESSIONS])
    return user


def _asset(name: str | None) -> bool:
    """A file of the console's static folder (not a folder, not outside it)."""
    folder = (HERE / "static").resolve()
    try:
        path = (folder / (name or "")).resolve()
    except (OSError, ValueError):
        return False
    return path.is_relative_to(folder) and path.is_file()


# A client's body that broke off or came too slowly: bot/web/hangups.py answers those.
_NOT_OURS: tuple[type[BaseException], ...] = (*BROKEN_BODY, BodyTimeout)


async def _error_answer(request: web.Request, exc: web.HTTPException) -> web.Response:
    """aiohttp's or a page's 4xx/5xx as a console page (405 keeps its Allow header)."""
    allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return await error_page(request, exc.status, headers=allow)


# Where the site's own error pages do not go: WeChat's callback and the dev stand-in for
# WeChat's API answer as WeChat would; the console's pages have the guard above.
NOT_PAGES = ("/wechat", "/sandbox/", "/console/", "/simulator/api/")
API = "/api/"


def site_errors(console: web.Application) -> Middleware:
    """The root application's middleware: a path no route matches outside the console — the
    site's root (/nope) in the console's layout (the user, if logged in, with their menu;
    else the login link), /api/v1 as JSON with a reason."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        missing = request.match_info.http_exception
        if missing is None or request.path.startswith(NOT_PAGES):
            return await handler(request)
        allow = {"Allow": missing.headers["Allow"]} if "Allow" in missing.headers else {}
        if request.path.startswith(API):
            reason = (T.API_NOT_FOUND if missing.status == 404
                      else T.API_NOT_ALLOWED.format(method=request.method[:16]))
            return web.json_response({"error": reason}, status=missing.status, headers=allow)
        auth = console[AUTH]
        await auth.user(request)
        await find_user_name(request, console[SESSIONS])
        context = {**error_context(request, missing.status), **await layout(request, console)}
        html = aiohttp_jinja2.get_env(console).get_template("error.html").render(context)
        response = web.Response(text=html, status=missing.status, content_type="text/html",
                                charset="utf-8", headers=allow)
        await auth.save_if_changed(request, response)
        return response

    return middleware



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
