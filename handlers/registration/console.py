"""成员 in the console (admin, instructor, leader): search and filter registered members; a
leader sees their group's members, an instructor the members enrolled in their courses.
Phones are masked except for admins."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from bot.web.exports import export
from bot.web.listing import list_args, paging, search_text
from bot.web.pages import (
    day_text,
    phone_for,
    render,
    require,
    sessions,
)
from models import group as groups
from models.member import INDUSTRIES, PARTY_STATUSES
from models.staff import ConsoleUser
from models.views import members as views

log = logging.getLogger(__name__)

UPLOAD_MAX_BYTES = 1_000_000


# --- 成员 -------------------------------------------------------------------------------------


def _member_filters(request: web.Request, user: ConsoleUser) -> tuple[dict[str, str],
                                                                      dict[str, str]]:
    q = request.query
    f = {"q": search_text(request), "industry": q.get("industry", ""),
         "group": q.get("group", "").strip().upper()[:16], "party": q.get("party", "")}
    errors = {}
    if f["industry"] not in ("", *INDUSTRIES):
        errors["industry"], f["industry"] = "没有这个行业", ""
    if f["party"] not in ("", *PARTY_STATUSES):
        errors["party"], f["party"] = "没有这个政治面貌", ""
    if f["q"].isascii() and f["q"].isdigit() and user.role != "admin" and len(f["q"]) > 4:
        errors["q"] = "只能按手机尾号后4位搜索"
    return f, errors


HEADER = ["姓名", "手机", "行业", "平台", "政治面貌", "小组", "积分", "登记日期"]


async def members(request: web.Request) -> web.StreamResponse:
    """成员: searched by name or a phone's tail, filtered by industry, group and party
    status, a page at a time; the filtered list as CSV or Excel (phones masked but for
    admins)."""
    user = require(request, ("admin", "instructor", "leader"))
    f, errors = _member_filters(request, user)
    args = list_args(request)
    async with sessions(request)() as db:
        rows: list[Any]
        if errors:
            rows, total = [], 0
        else:
            rows, total = await views.members_page(
                db, user, f, None if args.export else args.page, args.size)
        group_options = [] if user.role == "leader" else await views.group_options(db)
        led = await groups.led_by(db, user) if user.role == "leader" else None
    if args.export and not errors:
        return await export(request, "成员", HEADER, [
            [m.name, phone_for(user, m.mobile), m.industry, m.platform, m.party_status,
             gname or "", m.points, day_text(m.registered_at)] for m, gname, _ in rows], "成员")
    return await render(request, "members_list.html", {
        "rows": [(m, phone_for(user, m.mobile), gname, gcode) for m, gname, gcode in rows],
        "f": f, "errors": errors, "p": paging("/console/members", f, args, total),
        "industries": INDUSTRIES, "parties": PARTY_STATUSES, "group_options": group_options,
        "led": led}, 400 if errors else 200)


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/members", members, name="members")
