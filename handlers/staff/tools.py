"""管理 (admin): the admins' tools in one place — the custom menu from config (checked against
WeChat's rules, 检查, and pushed, 推送, through the app's WeChat API client: the sandbox in
dev mode), and every station, group and course QR code as one zip (what `run.py qrcodes`
makes, bot/qrcodes.py), beside links to the accounts, grids, member import and stations."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from bot import texts as T
from bot.qrcodes import scene_image, zip_of
from bot.web.pages import CLOCK, SERVICES, SETTINGS, error_page, forbid, now, render, sessions
from bot.wechat.client import WechatError
from bot.wechat.menu import MenuError, validate_all
from bot.wechat.menu_push import push_menus
from bot.wechat.menu_settings import MenuButton, MenuSettings
from models.staff import ROLES
from models.views import scenes

log = logging.getLogger(__name__)

ADMIN = ("admin",)
SCENE_KINDS = {"st": "驿站", "grp": "小组", "crs": "课程"}


async def hub(request: web.Request) -> web.StreamResponse:
    forbid(request, ADMIN)
    return await render(request, "admin_hub.html", {})


# --- 菜单 ------------------------------------------------------------------------------------


def _buttons(buttons: list[MenuButton]) -> list[dict[str, Any]]:
    def one(b: MenuButton) -> dict[str, Any]:
        return {"name": b.name, "type": b.type or "", "key": b.key or "", "url": b.url or "",
                "subs": [one(s) for s in b.sub_button]}

    return [one(b) for b in buttons]


def _menus(menu: MenuSettings) -> list[dict[str, Any]]:
    """The default menu, then each role's conditional menu with its user tag."""
    shown = [{"title": "默认菜单（所有关注者）", "tag": "", "buttons": _buttons(menu.button)}]
    for role, cmenu in menu.conditional.items():
        shown.append({"title": f"{ROLES.get(role, role)}菜单", "tag": menu.tag_of(role) or role,
                      "buttons": _buttons(cmenu.button)})
    return shown


async def _menu_page(request: web.Request, extra: dict[str, Any], status: int = 200
                     ) -> web.Response:
    menu = request.app[SETTINGS].menu
    return await render(request, "admin_menu.html", {
        "menus": _menus(menu), "problems": [], "checked": False, "pushed": [],
        "menuids": [], "failed": "", **extra}, status)


async def menu_page(request: web.Request) -> web.StreamResponse:
    forbid(request, ADMIN)
    return await _menu_page(request, {})


async def menu_check(request: web.Request) -> web.StreamResponse:
    forbid(request, ADMIN)
    try:
        validate_all(request.app[SETTINGS].menu)
    except MenuError as exc:
        return await _menu_page(request, {"problems": str(exc).splitlines()}, 400)
    return await _menu_page(request, {"checked": True})


async def menu_push(request: web.Request) -> web.StreamResponse:
    admin = forbid(request, ADMIN)
    api = getattr(request.app[SERVICES], "api", None)
    try:
        if api is None:
            raise WechatError(-1, "the WeChat API client is not started")
        done = await push_menus(api, sessions(request), request.app[SETTINGS].menu,
                                now(request))
    except MenuError as exc:
        return await _menu_page(request, {"problems": str(exc).splitlines()}, 400)
    except WechatError as exc:
        log.warning("console: menu push failed: %s", exc.errcode)
        failed = T.MENU_PUSH_FAILED.format(error=T.wechat_api_words(exc.errcode, exc.errmsg))
        return await _menu_page(request, {"failed": failed}, 502)
    menuids = [(ROLES.get(role, role), tag, menuid)
               for role, (tag, _tag_id, menuid, _menu) in done.conditional.items()]
    log.info("console: admin %s pushed the menus (%d conditional)", admin.id, len(menuids))
    return await _menu_page(request, {"pushed": done.lines(), "menuids": menuids})


# --- 二维码 ----------------------------------------------------------------------------------


async def qrcodes_page(request: web.Request) -> web.StreamResponse:
    forbid(request, ADMIN)
    async with sessions(request)() as db:
        targets = await scenes.printable(db)
    counts = {label: sum(1 for scene, _ in targets if scene.startswith(kind + ":"))
              for kind, label in SCENE_KINDS.items()}
    return await render(request, "admin_qrcodes.html", {
        "targets": [(SCENE_KINDS.get(s.partition(":")[0], ""), s, f) for s, f in targets],
        "counts": counts, "dev": request.app[SETTINGS].is_dev})


async def qrcodes_zip(request: web.Request) -> web.StreamResponse:
    """Every code as one zip, made in memory (the images and the zip off the event loop)."""
    import asyncio

    admin = forbid(request, ADMIN)
    settings = request.app[SETTINGS]
    api = getattr(request.app[SERVICES], "api", None)
    async with sessions(request)() as db:
        targets = await scenes.printable(db)

    def clock() -> datetime:
        return request.app[CLOCK].now()

    files: list[tuple[str, bytes]] = []
    for scene, filename in targets:
        try:
            files.append((filename, await scene_image(settings.is_dev, api, sessions(request),
                                                      scene, clock)))
        except (WechatError, OSError, KeyError) as exc:
            code = exc.errcode if isinstance(exc, WechatError) else -2
            log.warning("console: QR code %s failed: %s", scene, code)
            return await error_page(request, 502, "二维码生成失败", (
                f"{T.scene_words(scene)} {scene.partition(':')[2]}："
                f"{T.wechat_api_words(code, getattr(exc, 'errmsg', ''))}。已生成的不会重复生成，"
                "请稍后再试。"))
    archive = await asyncio.to_thread(zip_of, files)
    log.info("console: admin %s downloaded %d QR codes", admin.id, len(files))
    return web.Response(body=archive, content_type="application/zip", headers={
        "Content-Disposition": 'attachment; filename="qrcodes.zip"'})


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/admin", hub)
    r.add_get("/admin/menu", menu_page)
    r.add_post("/admin/menu/check", menu_check)
    r.add_post("/admin/menu/push", menu_push)
    r.add_get("/admin/qrcodes", qrcodes_page)
    r.add_get("/admin/qrcodes.zip", qrcodes_zip)
