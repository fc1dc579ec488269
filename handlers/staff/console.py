"""The console accounts and their roles (admin), with the accounts the login throttle has
locked (too many wrong passwords from every address) and the button that lifts a lock."""

from __future__ import annotations

import logging
from urllib.parse import quote

from aiohttp import web

from bot.web.exports import export, wants_export
from bot.web.login import rules_of
from bot.web.pages import (
    SETTINGS,
    day_text,
    now,
    render,
    require,
    sessions,
)
from models import login_throttle, names
from models.staff import ROLES
from models.views import reports as report_views
from models.views import staff as staff_views

log = logging.getLogger(__name__)

UPLOAD_MAX_BYTES = 1_000_000


async def staff(request: web.Request) -> web.StreamResponse:
    require(request, ("admin",))
    rules = rules_of(request.app[SETTINGS].console)
    async with sessions(request)() as db:
        users = await staff_views.console_users(db)
        locks = await login_throttle.locked_accounts(db, rules, now(request))
        shown = await names.staff_names(db, [u.username for u in users])
        grids = await report_views.grid_names(db)
        groups = await names.audience_names(db, [f"group:{u.group_code}" for u in users
                                                 if u.group_code])
    rows = [{"id": u.id, "username": u.username, "name": shown.get(u.username, ""),
             "role": ROLES.get(u.role, u.role),
             "grid": grids.get(u.grid_code, u.grid_code) if u.grid_code else "",
             "group": groups.get(f"group:{u.group_code}", u.group_code or ""),
             "bound": u.openid is not None, "active": u.active, "created": u.created_at,
             "lock": locks.get(u.username.strip().lower())}
            for u in users]  # never the password hash
    if wants_export(request):
        return await export(request, "控制台账号", [
            "用户名", "角色", "网格", "小组", "已绑定微信", "启用", "创建日期", "姓名"], [
            [r["username"], r["role"], r["grid"], r["group"],
             "是" if r["bound"] else "否", "是" if r["active"] else "否",
             day_text(r["created"]), r["name"]] for r in rows], title="控制台账号")
    unlocked = request.query.get("unlocked", "")
    return await render(request, "members_staff.html", {
        "rows": rows, "locked": [r for r in rows if r["lock"]],
        "window": f"{rules.window.total_seconds() / 3600:g} 小时",
        "unlocked": unlocked if any(r["username"] == unlocked for r in rows) else ""})


async def unlock(request: web.Request) -> web.StreamResponse:
    """解除锁定: an admin lifts the login lock of an account (its failure counts from every
    address are forgotten)."""
    admin = require(request, ("admin",))
    username = str((await request.post()).get("username", "")).strip()[:64]
    async with sessions(request)() as db, db.begin():
        account = await login_throttle.account_named(db, username) if username else None
        if account is None:
            raise web.HTTPNotFound()
        await login_throttle.unlock(db, account.username)
    log.info("console: admin %s lifted the login lock of user %s", admin.id, account.id)
    raise web.HTTPSeeOther(f"/console/members/staff?unlocked={quote(account.username)}")


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/members/staff", staff)
    r.add_post("/members/staff/unlock", unlock)
