"""What every console page uses: the app's keys, the logged-in user and role checks, the
layout (`render`) with the role's menu, 404s that hide what a user may not see, paging,
masked phones, QR codes and CSV downloads."""


from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.clock import SHANGHAI, Clock
from bot.settings import Settings
from bot.web.auth import CSRF_FIELD, USER, Auth
from bot.web.cards import label_tables
from bot.wechat.client import WechatError
from models import qr
from models.names import staff_name
from models.profile import mask_mobile
from models.redact import redact
from models.staff import ROLES, ConsoleUser
from models.text import is_clean

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
ALL_ROLES = frozenset(ROLES)
PAGE_SIZE = 100  # rows a list page shows

AUTH = web.AppKey("console_auth", Auth)
MENU = web.AppKey("console_menu", list)
SESSIONS = web.AppKey("console_sessions", async_sessionmaker)
CLOCK = web.AppKey("console_clock", Clock)
SETTINGS = web.AppKey("console_settings", Settings)
SERVICES = web.AppKey("console_services", object)

PUBLIC = ("/console/login", "/console/static/")
STALE_FORM = "这个表单已过期或不是从本站提交的。请返回、刷新页面后重试。"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def user_of(request: web.Request) -> ConsoleUser:
    """The logged-in user (the middleware guarantees one on every non-public page)."""
    user = request.get(USER)
    assert isinstance(user, ConsoleUser)
    return user


def require(request: web.Request, roles: Iterable[str]) -> ConsoleUser:
    """The user, if their role may see this; otherwise the page does not exist for them."""
    user = user_of(request)
    if user.role not in roles:
        raise not_found(request)
    return user


def forbid(request: web.Request, roles: Iterable[str]) -> ConsoleUser:
    """The user, if their role may use this page; otherwise the 403 page (没有权限): for
    the admins' tool pages, whose addresses say nothing about anyone's data."""
    user = user_of(request)
    if user.role not in roles:
        raise web.HTTPForbidden()
    return user


def not_found(request: web.Request) -> web.HTTPException:
    """The console's 404 (the guard renders it in the layout, like every error page)."""
    return web.HTTPNotFound()


async def error_page(request: web.Request, status: int, title: str | None = None,
                     message: str | None = None,
                     headers: dict[str, str] | None = None) -> web.Response:
    """An error page in the same layout and context as every page (user, role, menu, the
    CSRF token of the header's 退出 form), with the way back (bot/texts/console.py)."""
    response = await render(request, "error.html", error_context(
        request, status, title, message), status)
    if headers:
        response.headers.update(headers)
    return response


def error_context(request: web.Request, status: int, title: str | None = None,
                  message: str | None = None) -> dict[str, Any]:
    """What error.html shows: the status's heading and explanation (or the page's own),
    and where 返回上一页 goes: the page the user came from on this site, else the home."""
    known_title, known_message = T.ERROR_PAGES.get(status, T.ERROR_OTHER)
    return {"code": str(status), "title": title or known_title,
            "message": message or known_message, "back": _back(request)}


def _back(request: web.Request) -> str:
    """The referring page's path when it is one of this site's console pages (and not this
    very page); the console's home otherwise. Never a link to elsewhere."""
    referer = request.headers.get("Referer", "")
    try:
        parts = urlsplit(referer)
    except ValueError:
        return "/console/"
    same_site = parts.netloc == request.host and parts.scheme in ("http", "https")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if (same_site and parts.path.startswith("/console/") and parts.path != request.path
            and is_clean(path)):
        return path
    return "/console/"


BAD_TEXT = "不能含有控制字符或不可见字符（如零宽空格、换行），请删除后重试。"
BAD_BODY = "不能含有控制字符或不可见字符（如零宽空格），请删除后重试。"


def text_errors(form: Any, lines: Iterable[str] = (), bodies: Iterable[str] = ()
                ) -> dict[str, str]:
    """A form's text fields checked with models/text.py before anything trims them:
    {field: the message shown beside it} for each that holds a control or invisible
    character (`lines` single-line, `bodies` multi-line: tab and line breaks allowed)."""
    errors: dict[str, str] = {}
    for names, multiline, message in ((lines, False, BAD_TEXT), (bodies, True, BAD_BODY)):
        for name in names:
            value = form.get(name)
            if isinstance(value, str) and not is_clean(value, multiline=multiline):
                errors[name] = message
    return errors


def bad_query(request: web.Request) -> str | None:
    """The name of the first query parameter holding a control or invisible character."""
    for name, value in request.query.items():
        if not (is_clean(name) and is_clean(value)):
            return name if is_clean(name) else "?"
    return None


PRIVATE_PREFIXES = ("/api/v1/", "/console")
PUBLIC_ASSETS = ("/console/static/",)


async def no_store(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every /api/v1 and /console answer — pages, errors raised as
    HTTPException, aiohttp's own 404/405, exports — is personal: no cache keeps it. The
    console's stylesheet is the one thing there that is not."""
    path = request.path
    if path.startswith(PRIVATE_PREFIXES) and not path.startswith(PUBLIC_ASSETS):
        response.headers["Cache-Control"] = "no-store"


def sessions(request: web.Request) -> async_sessionmaker[AsyncSession]:
    return request.app[SESSIONS]


def now(request: web.Request) -> Any:
    return request.app[CLOCK].now()


async def render(request: web.Request, template: str, context: dict[str, Any],
                 status: int = 200) -> web.Response:
    """A page in the layout: the user, the menu for their role, the CSRF token."""
    page = aiohttp_jinja2.render_string(template, request, {
        **context, **await layout(request, request.app)})
    return web.Response(text=label_tables(page), status=status, content_type="text/html",
                        charset="utf-8")  # list tables become cards on a phone (cards.py)


async def layout(request: web.Request, console: web.Application) -> dict[str, Any]:
    """What base.html needs: the user (shown by display name), the menu for their role, the
    CSRF token of the 退出 form. `console` is the console's application (an error page
    outside /console/ is drawn with it too)."""
    user = request.get(USER)
    names = {r.canonical for r in console.router.resources()}
    nav = [(e.path, e.label, request.path == e.path or (
                e.path != "/console/" and request.path.startswith(e.path)))
           for e in console[MENU] if user is not None and user.role in e.roles
           and e.path in names]
    csrf = await console[AUTH].csrf_token(request)
    return {"user": user, "user_name": request.get(USER_NAME) or (user.username if user else ""),
            "nav": nav, "csrf": csrf, "csrf_field": CSRF_FIELD,
            "role_name": ROLES.get(user.role, user.role) if user else ""}


USER_NAME: web.RequestKey[str] = web.RequestKey("console_user_name")


async def find_user_name(request: web.Request, sessions_: async_sessionmaker[AsyncSession]
                         ) -> None:
    """The header's name for the logged-in user, found before the page opens a session of
    its own (the layout is drawn inside it): their display name (models/names.py), else
    their login, also when the database cannot say (an error page must still be drawn)."""
    user = request.get(USER)
    if user is not None and user.display_name:
        request[USER_NAME] = user.display_name
    if user is None or not user.openid or USER_NAME in request:
        return
    try:
        async with sessions_() as db:
            request[USER_NAME] = await staff_name(db, user)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        log.warning("console: the header's name was not found: %s", type(exc).__name__)


def parse_local(value: str) -> datetime | None:
    """A datetime-local value (Asia/Shanghai) as an aware time; None if not one."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is not None or not 2000 <= when.year <= 2100:
        return None
    return when.replace(tzinfo=SHANGHAI)


def page_number(request: web.Request) -> int:
    try:
        return max(1, min(int(request.query.get("page", "1")), 100_000))
    except ValueError:
        return 1


def day_text(value: Any) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d") if value else ""


def phone_for(user: ConsoleUser, mobile: str | None) -> str:
    return (mobile or "") if user.role == "admin" else mask_mobile(mobile)


def text_for(user: ConsoleUser, text: str | None) -> str:
    """Free text typed by a resident, as this user may see it: phone, ID-card and landline
    numbers in it masked (models/redact.py) for every role that may not see phones."""
    return (text or "") if user.role == "admin" else redact(text)


async def qr_png(scene: str) -> bytes:
    import segno

    def draw() -> bytes:
        buf = io.BytesIO()
        segno.make(scene, error="m").save(buf, kind="png", scale=10, border=4)
        return buf.getvalue()

    return await asyncio.to_thread(draw)


async def qr_response(request: web.Request, scene: str, filename: str) -> web.Response:
    """A QR code PNG: drawn here in dev mode (the scene as its text, which the simulator
    scans); in production a permanent code made through WeChat's API."""
    if request.app[SETTINGS].is_dev:
        image = await qr_png(scene)
    else:
        api = getattr(request.app[SERVICES], "api", None)
        try:
            if api is None:
                raise WechatError(-1, "not started")
            made = await api.create_qrcode(scene)
            image = await api.qrcode_image(made["ticket"])
        except (WechatError, OSError, KeyError) as exc:
            log.warning("console: QR code for %s failed: %s", scene, exc)
            return await error_page(request, 502, "二维码生成失败",
                                    "微信接口暂时不可用，请稍后再试。")
        async with sessions(request)() as db, db.begin():
            await qr.remember(db, scene, made["ticket"], made["url"], now(request))
    return web.Response(body=image, content_type="image/png", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable[Any]]
                 ) -> web.Response:
    """A list as CSV for Excel: UTF-8 with a BOM (so Chinese shows), one file download.
    Cells that a spreadsheet would run as a formula are quoted as text."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return web.Response(body=("\ufeff" + out.getvalue()).encode(), headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
