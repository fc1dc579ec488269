"""小组 in the console (admin: every group; a leader: the group they lead): the list, one
group's page (its activities, its members with search and paging), its exports and its
QR code. The forms are in console_groups.py (create, edit, leader, invite code) and
console_activities.py (三会一课: schedule, roll, move, cancel); who may see which group is
access.py's."""

from __future__ import annotations

import logging

from aiohttp import web

from bot import texts as T
from bot.clock import SHANGHAI
from bot.web.exports import export, wants_export
from bot.web.pages import (
    csv_response,
    day_text,
    now,
    page_number,
    phone_for,
    qr_response,
    render,
    require,
    sessions,
)
from handlers.groups import console_activities, console_groups
from handlers.groups.access import ROLES, activity_of, group_of
from models import activity as activities
from models import group as groups
from models import names
from models.attendance import OPENS_BEFORE
from models.profile import mask_mobile
from models.views import groups as views

log = logging.getLogger(__name__)

MEMBERS_PAGE = 20  # members a group's page lists at once
Q_MAX = 40


# --- 小组 -------------------------------------------------------------------------------------


async def group_list(request: web.Request) -> web.StreamResponse:
    user = require(request, ROLES)
    at = now(request)
    async with sessions(request)() as db:
        rows = await views.group_rows(db, await views.groups_for(db, user), at)
        shown = await names.staff_names(db, [r["leader"] for r in rows])
    for r in rows:  # the leader by display name (the login when the account has none)
        r["leader"] = shown.get(r["leader"], r["leader"])
    if wants_export(request):
        return await export(request, "小组", ["名称", "行业", "组长", "邀请码", "成员数",
                                             "下次活动"], [
            [r["group"].name, r["group"].industry, r["leader"], r["group"].code, r["members"],
             r["next"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if r["next"] else ""]
            for r in rows], title="小组")
    return await render(request, "groups_list.html", {"rows": rows})


async def _members_export(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as db:
        user, group = await group_of(request, db)
        people = await views.group_members(db, group)
    return await export(request, f"小组成员-{group.code}", [
        "姓名", "手机", "行业", "平台", "政治面貌", "积分", "入组日期"], [
        [m.name, phone_for(user, m.mobile), m.industry, m.platform, m.party_status,
         m.points, day_text(joined)] for m, joined in people], title="成员")


def _done(request: web.Request, group: groups.PartyGroup) -> str:
    done = request.query.get("done", "")
    if done == "created":
        return T.GROUP_CREATED.format(name=group.name, code=group.code)
    return T.GROUP_SAVED if done == "saved" else ""


async def group_detail(request: web.Request) -> web.StreamResponse:
    if wants_export(request):
        return await _members_export(request)
    at = now(request)
    q = request.query.get("q", "").strip()[:Q_MAX]  # the guard refused invisible characters
    page = page_number(request)
    async with sessions(request)() as db:
        user, group = await group_of(request, db)
        # A leader sees phones masked: searching longer tails would give the hidden digits
        # away one by one, so (as on the members page) only the last 4 are searched.
        tail_only = q.isascii() and q.isdigit() and user.role != "admin" and len(q) > 4
        people, found = await views.members_page(db, group, "" if tail_only else q, page,
                                                 MEMBERS_PAGE)
        total = await groups.member_count(db, group)
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
        "people": [(m, mask_mobile(m.mobile), joined) for m, joined in people],
        "total": total, "found": found, "q": q, "page": page,
        "pages": max(1, -(-found // MEMBERS_PAGE)), "done": _done(request, group),
        "none_found": T.GROUP_MEMBERS_NONE_FOUND.format(q=q) if q else "",
        "q_error": T.PHONE_TAIL_ONLY if tail_only else "",
        "upcoming": upcoming, "past": past, "rolls": rolls})


async def activity_roll_csv(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as db:
        _, _, a = await activity_of(request, db)
        roll = await activities.roll(db, a)
    rows = [[n, "到", ""] for n in roll.present] + [[n, "请假", r] for n, r in roll.leave]
    rows += [[n, "缺席", ""] for n in roll.absent]
    return csv_response(f"签到-{a.code}.csv", ["姓名", "出勤", "请假原因"], rows)


async def group_qr(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as db:
        _, group = await group_of(request, db)
    return await qr_response(request, f"grp:{group.code}", f"group-{group.code}.png")


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/groups", group_list, name="groups")
    console_groups.add_routes(r)
    r.add_get("/groups/{id:\\d{1,9}}", group_detail)
    r.add_get("/groups/{id:\\d{1,9}}/qr.png", group_qr)
    r.add_get("/groups/{id:\\d{1,9}}/activities/{aid:\\d{1,9}}.csv", activity_roll_csv)
    console_activities.add_routes(r)
