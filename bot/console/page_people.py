"""成员, 小组 and 驿站: the people and places of the console.

- 成员 (admin, instructor, leader): search and filter registered members; a leader sees their
  group's members, an instructor the members enrolled in their courses. Phones are masked
  except for admins. Admins also see the console accounts and their roles.
- 小组 (admin; a leader their own group): member counts, leader, invite code; one group's
  members and its activities with the roll (present / on leave / absent).
- 驿站 (admin): the list with 30-day check-ins, editing, an all-or-nothing CSV import, a QR code
  per station, and the check-ins flagged for review.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import and_
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import SHANGHAI
from bot.console import (
    SERVICES,
    SETTINGS,
    csv_response,
    not_found,
    now,
    render,
    require,
    sessions,
)
from bot.console.page_notices import own_courses_clause
from models import activity as activities
from models import group as groups
from models import qr
from models import station_import as imports
from models.activity import Activity
from models.attendance import OPENS_BEFORE
from models.checkin import Checkin, local_day
from models.course import Course, Enrolment
from models.group import GroupMembership, PartyGroup
from models.member import INDUSTRIES, PARTY_STATUSES, Member
from models.profile import mask_mobile
from models.staff import ROLES, ConsoleUser
from models.station import KINDS, Station

log = logging.getLogger(__name__)

PAGE_SIZE = 100
UPLOAD_MAX_BYTES = 1_000_000


def _page(request: web.Request) -> int:
    try:
        return max(1, min(int(request.query.get("page", "1")), 100_000))
    except ValueError:
        return 1


def _day(value: Any) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d") if value else ""


def _phone(user: ConsoleUser, mobile: str | None) -> str:
    return (mobile or "") if user.role == "admin" else mask_mobile(mobile)


async def _png(scene: str) -> bytes:
    import segno

    def draw() -> bytes:
        buf = io.BytesIO()
        segno.make(scene, error="m").save(buf, kind="png", scale=10, border=4)
        return buf.getvalue()

    return await asyncio.to_thread(draw)


async def _qr_response(request: web.Request, scene: str, filename: str) -> web.Response:
    """A QR code PNG: drawn here in dev mode (the scene as its text, which the simulator
    scans); in production a permanent code made through WeChat's API."""
    if request.app[SETTINGS].is_dev:
        image = await _png(scene)
    else:
        from bot.wechat_api import WechatError

        api = getattr(request.app[SERVICES], "api", None)
        try:
            if api is None:
                raise WechatError(-1, "not started")
            made = await api.create_qrcode(scene)
            image = await api.qrcode_image(made["ticket"])
        except (WechatError, OSError, KeyError) as exc:
            log.warning("console: QR code for %s failed: %s", scene, exc)
            return await render(request, "error.html", {
                "code": "502", "title": "二维码生成失败",
                "message": "微信接口暂时不可用，请稍后再试。"}, 502)
        async with sessions(request)() as db, db.begin():
            await qr.remember(db, scene, made["ticket"], made["url"], now(request))
    return web.Response(body=image, content_type="image/png", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


# --- 成员 -------------------------------------------------------------------------------------


def _member_filters(request: web.Request, user: ConsoleUser) -> tuple[dict[str, str],
                                                                      dict[str, str]]:
    q = request.query
    f = {"q": q.get("q", "").strip()[:40], "industry": q.get("industry", ""),
         "group": q.get("group", "").strip().upper()[:16], "party": q.get("party", "")}
    errors = {}
    if f["industry"] not in ("", *INDUSTRIES):
        errors["industry"], f["industry"] = "没有这个行业", ""
    if f["party"] not in ("", *PARTY_STATUSES):
        errors["party"], f["party"] = "没有这个政治面貌", ""
    if f["q"].isdigit() and user.role != "admin" and len(f["q"]) > 4:
        errors["q"] = "只能按手机尾号后4位搜索"
    return f, errors


async def _member_rows(db: AsyncSession, user: ConsoleUser, f: dict[str, str],
                       page: int | None) -> tuple[list[Any], int]:
    """(member, group name, group code) rows the user may see, and how many in all."""
    current = and_(col(GroupMembership.member_id) == Member.id,
                   col(GroupMembership.left_at).is_(None))
    where = [col(Member.consent_at).is_not(None), col(Member.erased_at).is_(None)]
    if user.role == "leader":
        mine = await groups.led_by(db, user)
        where.append(col(PartyGroup.id) == (mine.id if mine else -1))
    elif user.role == "instructor":
        enrolled = (select(Enrolment.member_id)
                    .join(Course, col(Course.id) == Enrolment.course_id)
                    .where(col(Enrolment.status) != "cancelled", own_courses_clause(user)))
        where.append(col(Member.id).in_(enrolled))
    elif user.role != "admin":
        where.append(col(Member.id) == -1)
    if f["q"].isdigit():
        where.append(col(Member.mobile).endswith(f["q"], autoescape=True))
    elif f["q"]:
        where.append(col(Member.name).contains(f["q"], autoescape=True))
    if f["industry"]:
        where.append(col(Member.industry) == f["industry"])
    if f["party"]:
        where.append(col(Member.party_status) == f["party"])
    if f["group"]:
        where.append(col(PartyGroup.code) == f["group"])

    def joined(stmt: Any) -> Any:
        return (stmt.outerjoin(GroupMembership, current)
                .outerjoin(PartyGroup, col(PartyGroup.id) == GroupMembership.group_id)
                .where(*where))

    total = (await db.exec(joined(select(func.count()).select_from(Member)))).one()
    stmt = joined(select(Member, PartyGroup.name, PartyGroup.code)).order_by(
        col(Member.registered_at).desc(), col(Member.id).desc())
    if page is not None:
        stmt = stmt.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    return list((await db.exec(stmt)).all()), total


async def members(request: web.Request) -> web.StreamResponse:
    user = require(request, ("admin", "instructor", "leader"))
    f, errors = _member_filters(request, user)
    csv_ = request.query.get("format") == "csv"
    page = _page(request)
    async with sessions(request)() as db:
        if errors:
            rows, total = [], 0
        else:
            rows, total = await _member_rows(db, user, f, None if csv_ else page)
        group_options = [] if user.role == "leader" else [(g.code, g.name) for g in (
            await db.exec(select(PartyGroup).order_by(col(PartyGroup.name)))).all()]
        led = await groups.led_by(db, user) if user.role == "leader" else None
    if csv_:
        return csv_response("成员.csv", [
            "姓名", "手机", "行业", "平台", "政治面貌", "小组", "积分", "登记日期"], [
            [m.name, _phone(user, m.mobile), m.industry, m.platform, m.party_status,
             gname or "", m.points, _day(m.registered_at)] for m, gname, _ in rows])
    query = urlencode({k: v for k, v in f.items() if v})
    return await render(request, "members_list.html", {
        "rows": [(m, _phone(user, m.mobile), gname, gcode) for m, gname, gcode in rows],
        "f": f, "errors": errors, "total": total, "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)), "industries": INDUSTRIES,
        "parties": PARTY_STATUSES, "group_options": group_options, "led": led,
        "query": query}, 400 if errors else 200)


async def staff(request: web.Request) -> web.StreamResponse:
    require(request, ("admin",))
    async with sessions(request)() as db:
        users = (await db.exec(select(ConsoleUser).order_by(
            col(ConsoleUser.role), col(ConsoleUser.username)))).all()
    rows = [{"username": u.username, "role": ROLES.get(u.role, u.role),
             "grid": u.grid_code or "", "group": u.group_code or "",
             "bound": u.openid is not None, "active": u.active, "created": u.created_at}
            for u in users]  # never the password hash
    if request.query.get("format") == "csv":
        return csv_response("控制台账号.csv", [
            "用户名", "角色", "网格", "小组", "已绑定微信", "启用", "创建日期"], [
            [r["username"], r["role"], r["grid"], r["group"], "是" if r["bound"] else "否",
             "是" if r["active"] else "否", _day(r["created"])] for r in rows])
    return await render(request, "members_staff.html", {"rows": rows})


# --- 小组 -------------------------------------------------------------------------------------


async def _groups_for(db: AsyncSession, user: ConsoleUser) -> list[PartyGroup]:
    if user.role == "admin":
        return list((await db.exec(select(PartyGroup).order_by(col(PartyGroup.name)))).all())
    mine = await groups.led_by(db, user)
    return [mine] if mine else []


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
        found = await _groups_for(db, user)
        leaders = {u.id: u.username for u in (await db.exec(select(ConsoleUser).where(
            col(ConsoleUser.id).in_([g.leader_id for g in found if g.leader_id])))).all()}
        nexts = dict((await db.exec(
            select(Activity.group_id, func.min(Activity.start_at))
            .where(col(Activity.status) == "scheduled", col(Activity.start_at) >= at)
            .group_by(col(Activity.group_id)))).all())
        rows = [{"group": g, "members": await groups.member_count(db, g),
                 "leader": leaders.get(g.leader_id, ""), "next": nexts.get(g.id)}
                for g in found]
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
        people = (await db.exec(
            select(Member, GroupMembership.joined_at)
            .join(GroupMembership, col(GroupMembership.member_id) == Member.id)
            .where(GroupMembership.group_id == group.id, col(GroupMembership.left_at).is_(None),
                   col(Member.erased_at).is_(None))
            .order_by(col(GroupMembership.joined_at)))).all()
        if request.query.get("format") == "csv":
            return csv_response(f"小组成员-{group.code}.csv", [
                "姓名", "手机", "行业", "平台", "政治面貌", "积分", "入组日期"], [
                [m.name, _phone(user, m.mobile), m.industry, m.platform, m.party_status,
                 m.points, _day(joined)] for m, joined in people])
        leader = await groups.leader_of(db, group)
        acts = (await db.exec(select(Activity).where(Activity.group_id == group.id)
                              .order_by(col(Activity.start_at).desc()))).all()
        upcoming = sorted((a for a in acts if a.status == "scheduled" and a.end_at >= at),
                          key=lambda a: a.start_at)
        past = [a for a in acts if a not in upcoming][:20]
        rolls = {a.id: await activities.roll(db, a) for a in [*upcoming, *past]
                 if a.status == "scheduled" and a.start_at - OPENS_BEFORE <= at}
    return await render(request, "groups_detail.html", {
        "group": group, "leader": leader, "at": at,
        "people": [(m, _phone(user, m.mobile), joined) for m, joined in people],
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
    return await _qr_response(request, f"grp:{group.code}", f"group-{group.code}.png")


# --- 驿站 -------------------------------------------------------------------------------------

FIELDS = ("name", "address", "radius_m", "hours", "services", "phone")
FIELD_NAMES = {"name": "名称", "address": "地址", "radius_m": "半径", "hours": "营业时间",
               "phone": "电话"}


async def station_list(request: web.Request) -> web.StreamResponse:
    require(request, ("admin",))
    q = request.query
    f = {"q": q.get("q", "").strip()[:40], "kind": q.get("kind", ""),
         "active": q.get("active", "")}
    first = local_day(now(request)) - timedelta(days=29)
    async with sessions(request)() as db:
        stmt = select(Station).order_by(col(Station.code))
        if f["q"]:
            stmt = stmt.where(col(Station.name).contains(f["q"], autoescape=True)
                              | col(Station.code).contains(f["q"].upper(), autoescape=True))
        if f["kind"] in KINDS:
            stmt = stmt.where(col(Station.kind) == f["kind"])
        if f["active"] in ("1", "0"):
            stmt = stmt.where(col(Station.active) == (f["active"] == "1"))
        found = (await db.exec(stmt)).all()
        counts = dict((await db.exec(
            select(Checkin.station_id, func.count()).where(col(Checkin.day) >= first)
            .group_by(col(Checkin.station_id)))).all())
        flagged = (await db.exec(select(func.count()).select_from(Checkin)
                                 .where(col(Checkin.flagged)))).one()
    rows = [(s, int(counts.get(s.id, 0))) for s in found]
    if q.get("format") == "csv":
        return csv_response("驿站.csv", [
            "code", "name", "kind", "address", "lat", "lng", "radius_m", "services", "hours",
            "phone", "active", "checkins_30d"], [
            [s.code, s.name, s.kind, s.address, s.lat, s.lng, s.radius_m, "、".join(s.services),
             s.hours_text, s.phone, "是" if s.active else "否", n] for s, n in rows])
    query = urlencode({k: v for k, v in f.items() if v})
    return await render(request, "stations_list.html", {
        "rows": rows, "f": f, "kinds": KINDS, "flagged": flagged, "query": query})


async def _station(request: web.Request, db: AsyncSession) -> Station:
    require(request, ("admin",))
    station = await db.get(Station, int(request.match_info["id"]))
    if station is None:
        raise not_found(request)
    return station


def _station_form(s: Station) -> dict[str, str]:
    return {"name": s.name, "address": s.address, "radius_m": str(s.radius_m),
            "hours": s.hours_text, "services": "、".join(s.services), "phone": s.phone,
            "active": "1" if s.active else ""}


def _raw(s: Station, form: dict[str, str]) -> dict[str, Any]:
    """A station-file row of the station with the form's values (the import's rules judge
    it)."""
    return {"code": s.code, "kind": s.kind, "lat": s.lat, "lng": s.lng, "datum": "gcj02",
            **{k: form[k] for k in FIELDS}}


def _why(field: str, message: str) -> str:
    if message.startswith("缺少"):
        return "必填"
    if message.startswith("address") or message.startswith("phone"):
        return {"address": "地址最长200字", "phone": "电话最长32个字符"}.get(field, message)
    for column, name in (("radius_m", "半径"), ("hours: ", "营业时间："), ("name", "名称")):
        message = message.replace(column, name)
    return message


def _check_station(s: Station, form: dict[str, str], default_radius: int
                   ) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The clean fields, or each field's error (each field judged alone against the
    station's other values, so every wrong field is named)."""
    errors: dict[str, str] = {}
    base = _raw(s, _station_form(s))
    for field in FIELDS:
        try:
            imports.clean_row({**base, field: form[field]}, default_radius)
        except imports.BadRow as exc:
            errors[field] = _why(field, str(exc))
    if not form["radius_m"].strip():
        errors["radius_m"] = "必填"
    if errors:
        return None, errors
    try:
        return imports.clean_row(_raw(s, form), default_radius), {}
    except imports.BadRow as exc:
        return None, {"form": str(exc)}


async def station_edit(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as db:
        station = await _station(request, db)
        saved = request.query.get("saved") == "1"
        return await render(request, "stations_edit.html", {
            "s": station, "form": _station_form(station), "errors": {}, "saved": saved})


async def station_save(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    form = {k: str(data.get(k, "")).strip()[:300] for k in FIELDS}
    form["active"] = "1" if data.get("active") else ""
    default_radius = request.app[SETTINGS].checkin.default_radius_m
    async with sessions(request)() as db, db.begin():
        station = await _station(request, db)
        clean, errors = _check_station(station, form, default_radius)
        if clean is None:
            return await render(request, "stations_edit.html", {
                "s": station, "form": form, "errors": errors, "saved": False}, 400)
        station.name, station.address = clean["name"], clean["address"]
        station.radius_m, station.phone = clean["radius_m"], clean["phone"]
        station.services, station.hours_text = clean["services"], clean["hours_text"]
        station.hours, station.active = clean["hours"], bool(form["active"])
        station.updated_at = now(request)
        db.add(station)
        station_id = station.id
    log.info("console: station %s edited", station_id)
    raise web.HTTPSeeOther(f"/console/stations/{station_id}/edit?saved=1")


async def station_qr(request: web.Request) -> web.StreamResponse:
    async with sessions(request)() as db:
        station = await _station(request, db)
    return await _qr_response(request, f"st:{station.code}", f"station-{station.code}.png")


class NotCsv(ValueError):
    pass


def read_csv(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """The rows of an uploaded station CSV with their line numbers; NotCsv when the file as
    a whole is not one (binary, wrong encoding, wrong header, no rows)."""
    if not data.strip():
        raise NotCsv("文件是空的。")
    if b"\x00" in data or data[:4] == b"PK\x03\x04":
        raise NotCsv("这不是 CSV 文件（像是 Excel 等二进制文件）。请在 Excel 中“另存为”CSV 格式。")
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in Chinese saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise NotCsv("无法识别文件编码，请保存为 UTF-8 编码的 CSV。")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [(h or "").strip() for h in (reader.fieldnames or [])]
        if missing := [c for c in imports.REQUIRED if c not in header]:
            raise NotCsv(f"表头缺少列：{', '.join(missing)}。表头应为："
                         f"{','.join(imports.COLUMNS)}")
        rows = []
        for row in reader:
            clean = {(k or "").strip(): v for k, v in row.items() if k is not None}
            if None in row:
                clean["__extra__"] = True
            rows.append((reader.line_num, clean))
    except csv.Error as exc:
        raise NotCsv(f"不是有效的 CSV：{exc}") from None
    if not rows:
        raise NotCsv("文件里只有表头，没有驿站。")
    return rows


async def import_form(request: web.Request) -> web.StreamResponse:
    require(request, ("admin",))
    return await render(request, "stations_import.html", {
        "columns": imports.COLUMNS, "error": "", "rejected": [], "report": None})


async def import_upload(request: web.Request) -> web.StreamResponse:
    require(request, ("admin",))
    data = await request.post()
    upload = data.get("file")
    ctx: dict[str, Any] = {"columns": imports.COLUMNS, "error": "", "rejected": [],
                           "report": None}
    if not isinstance(upload, web.FileField):
        ctx["error"] = "请选择要上传的 CSV 文件。"
        return await render(request, "stations_import.html", ctx, 400)
    content = await asyncio.to_thread(upload.file.read, UPLOAD_MAX_BYTES + 1)
    if len(content) > UPLOAD_MAX_BYTES:
        ctx["error"] = "文件太大（最多1MB）。"
        return await render(request, "stations_import.html", ctx, 400)
    try:
        rows = read_csv(content)
    except NotCsv as exc:
        ctx["error"] = str(exc)
        return await render(request, "stations_import.html", ctx, 400)
    extra = [(line, "这一行的列数比表头多（地址或服务里的逗号请用引号括起来）")
             for line, row in rows if row.pop("__extra__", False)]
    default_radius = request.app[SETTINGS].checkin.default_radius_m
    async with sessions(request)() as db:
        report = await imports.import_stations(db, rows, default_radius, now(request))
        rejected = sorted([*extra, *report.rejected])
        if rejected:
            await db.rollback()  # all or nothing
        else:
            await db.commit()
    if rejected:
        ctx["rejected"] = rejected
        ctx["error"] = f"未导入任何驿站：{len(rejected)} 行有误，请改正后重新上传。"
        return await render(request, "stations_import.html", ctx, 400)
    log.info("console: stations imported: %d added, %d changed", len(report.added),
             len(report.changed))
    ctx["report"] = report
    return await render(request, "stations_import.html", ctx)


async def flagged(request: web.Request) -> web.StreamResponse:
    require(request, ("admin",))
    async with sessions(request)() as db:
        rows = (await db.exec(
            select(Checkin, Station.name, Member.name)
            .join(Station, col(Station.id) == Checkin.station_id)
            .join(Member, col(Member.id) == Checkin.member_id)
            .where(col(Checkin.flagged)).order_by(col(Checkin.at).desc()).limit(500))).all()
    if request.query.get("format") == "csv":
        return csv_response("待复核签到.csv", ["时间", "驿站", "成员", "方式", "原因"], [
            [c.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"), sname, mname or "（已注销）",
             "扫码" if c.method == "qr" else "位置", c.flag_reason] for c, sname, mname in rows])
    return await render(request, "stations_flagged.html", {"rows": rows})


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/members", members, name="members")
    r.add_get("/members/staff", staff)
    r.add_get("/groups", group_list, name="groups")
    r.add_get("/groups/{id:\\d{1,9}}", group_detail)
    r.add_get("/groups/{id:\\d{1,9}}/qr.png", group_qr)
    r.add_get("/groups/{id:\\d{1,9}}/activities/{aid:\\d{1,9}}.csv", activity_roll_csv)
    r.add_get("/stations", station_list, name="stations")
    r.add_get("/stations/import", import_form)
    r.add_post("/stations/import", import_upload)
    r.add_get("/stations/flagged", flagged)
    r.add_get("/stations/{id:\\d{1,9}}/edit", station_edit)
    r.add_post("/stations/{id:\\d{1,9}}/edit", station_save)
    r.add_get("/stations/{id:\\d{1,9}}/qr.png", station_qr)
