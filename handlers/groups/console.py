"""小组 in the console (admin; a leader their own group): member counts, leader, invite
code; one group's members and its activities with the roll (present / on leave / absent)."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import SHANGHAI
from bot.web.pages import (
    csv_response,
    day_text,
    not_found,
    now,
    phone_for,
    qr_response,
    render,
    require,
    sessions,
)
from models import activity as activities
from models import group as groups
from models import names
from models.activity import Activity
from models.attendance import OPENS_BEFORE
from models.group import PartyGroup
from models.views import groups as views

log = logging.getLogger(__name__)

UPLOAD_MAX_BYTES = 1_000_000


# --- 小组 -------------------------------------------------------------------------------------


async def _group(request: web.Request, db: AsyncSession) -> PartyGroup:
    user = require(request, ("admin", "leader"))
    group = await db.get(PartyGroup, int(request.match_info["id"]))
    if group is None:
        raise not_found(request)
    if user.role != "admin":
        mine = await groups.led_by(db, user)
        if mine is None or mine.id != group.id:
            raise not_found(request)
    return group


async def group_list(request: web.Request) -> web.StreamResponse:
    user = require(request, ("admin", "leader"))
    at = now(request)
    async with sessions(request)() as db:
        rows = await views.group_rows(db, await views.groups_for(db, user), at)
        shown = await names.staff_names(db, [r["leader"] for r in rows])
    for r in rows:  # the leader by display name (the login when the account has none)
        r["leader"] = shown.get(r["leader"], r["leader"])
    if request.query.get("format") == "csv":
        return csv_response("小组.csv", ["名称", "行业", "组长", "邀请码", "成员数", "下次活动"], [
            [r["group"].name, r["group"].industry, r["leader"], r["group"].code, r["members"],
             r["next"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if r["next"] else ""]
            for r in rows])
    return await render(request, "groups_list.html", {"rows": rows})


async def group_detail(request: web.Request) -> web.StreamResponse:
    user = require(request, ("admin", "leader"))
    at = now(request)
    async with sessions(request)() as db:
        group = await _group(request, db)
        people = await views.group_members(db, group)
        if request.query.get("format") == "csv":
            return csv_response(f"小组成员-{group.code}.csv", [
                "姓名", "手机", "行业", "平台", "政治面貌", "积分", "入组日期"], [
                [m.name, phone_for(user, m.mobile), m.industry, m.platform, m.party_status,
                 m.points, day_text(joined)] for m, joined in people])
        leader = await groups.leader_of(db, group)
        leader_name = await names.staff_name(db, leader) if leader else ""
        acts = await views.group_activities(db, group)
        upcoming = sorted((a for a in acts if a.status == "scheduled" and a.end_at >= at),
                          key=lambda a: a.start_at)
        past = [a for a in acts if a not in upcoming][:20]
        rolls = {a.id: await activities.roll(db, a) for a in [*upcoming, *past]
                 if a.status == "scheduled" and a.start_at - OPENS_BEFORE <= at}
    return await render(request, "groups_detail.html", {
        "group": group, "leader": leader, "leader_name": leader_name, "at": at,
        "people": [(m, phone_for(user, m.mobile), joined) for m, joined in people],
        "upcoming": upcoming, "past": past, "rolls": rolls})


async def activity_roll_csv(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as db:
        group = await _group(request, db)
        a = await db.get(Activity, int(request.match_info["aid"]))
        if a is None or a.group_id != group.id:
            raise not_found(request)
        roll = await activities.roll(db, a)
    rows = [[n, "到", ""] for n in roll.present] + [[n, "请假", r] for n, r in roll.leave]
    rows += [[n, "缺席", ""] for n in roll.absent]
    return csv_response(f"签到-{a.code}.csv", ["姓名", "出勤", "请假原因"], rows)


async def group_qr(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as db:
        group = await _group(request, db)
    return await qr_response(request, f"grp:{group.code}", f"group-{group.code}.png")


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/groups", group_list, name="groups")
    r.add_get("/groups/{id:\\d{1,9}}", group_detail)
    r.add_get("/groups/{id:\\d{1,9}}/qr.png", group_qr)
    r.add_get("/groups/{id:\\d{1,9}}/activities/{aid:\\d{1,9}}.csv", activity_roll_csv)
