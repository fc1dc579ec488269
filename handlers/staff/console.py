"""The console accounts and their roles (admin)."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.web.pages import (
    csv_response,
    day_text,
    render,
    require,
    sessions,
)
from models.staff import ROLES
from models.views import staff as staff_views

log = logging.getLogger(__name__)

UPLOAD_MAX_BYTES = 1_000_000


async def staff(request: web.Request) -> web.StreamResponse:
    require(request, ("admin",))
    async with sessions(request)() as db:
        users = await staff_views.console_users(db)
    rows = [{"username": u.username, "role": ROLES.get(u.role, u.role),
             "grid": u.grid_code or "", "group": u.group_code or "",
             "bound": u.openid is not None, "active": u.active, "created": u.created_at}
            for u in users]  # never the password hash
    if request.query.get("format") == "csv":
        return csv_response("控制台账号.csv", [
            "用户名", "角色", "网格", "小组", "已绑定微信", "启用", "创建日期"], [
            [r["username"], r["role"], r["grid"], r["group"], "是" if r["bound"] else "否",
             "是" if r["active"] else "否", day_text(r["created"])] for r in rows])
    return await render(request, "members_staff.html", {"rows": rows})


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/members/staff", staff)
