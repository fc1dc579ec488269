"""小哥党校 courses in the console: the list (filters, CSV), create and edit, publish, move
and cancel, and a course's page with its QR code, enrollees, attendance and waitlist.

Admins see every course; an instructor the courses they teach or created here (see
models.course_access). Any other course is a 404, like a code that does not exist.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.clock import SHANGHAI
from bot.web.exports import export
from bot.web.listing import ListQueryError, list_args, paging, search_text
from bot.web.pages import (
    SERVICES,
    SETTINGS,
    csv_response,
    not_found,
    now,
    render,
    require,
    sessions,
)
from handlers.school.wording import COURSE_TEXTS
from models import course as courses
from models import course_access as access
from models import course_lifecycle as lifecycle
from models import names, qr
from models.course import Course, CourseError
from models.course_import import COLUMNS, BadRow, parse_row, reason
from models.member import INDUSTRIES
from models.profile import mask_mobile
from models.staff import ConsoleUser
from models.views import courses as course_views
from models.views import members as member_views

log = logging.getLogger(__name__)

CODE = "{code:[A-Z0-9][A-Z0-9-]{1,15}}"
FIELDS = [*COLUMNS, "description"]
LABELS = {
    "code": "课程代码", "title": "课程名称", "instructor": "讲师", "description": "课程简介",
    "start": "开始时间", "end": "结束时间", "place": "地点", "lat": "纬度", "lng": "经度",
    "radius_m": "签到半径（米）", "online_url": "线上课链接", "capacity": "名额",
    "hours": "学时", "audience": "面向", "status": "状态",
}
STATUS_NAMES = {"draft": "草稿", "published": "已发布", "cancelled": "已取消"}
WHEN_NAMES = {"upcoming": "未结束", "past": "已结束"}
METHODS = {"qr": "扫码", "code": "签到码", "location": "定位"}
DONE = {
    "created": "课程已创建。",
    "saved": "已保存。",
    "unchanged": "没有改动。",
    "published": "课程已发布：学员可以报名，报名后会按时收到课前提醒。",
    "moved": "已改期，报名和候补的学员会收到通知，提醒按新时间发送。",
    "cancelled": "课程已取消，报名和候补的学员会收到通知。",
}
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> shows and sends
_KEY_RE = re.compile(r"(?<![A-Za-z_])(" + "|".join(
    sorted(LABELS, key=len, reverse=True)) + r")(?![A-Za-z_])")


# --- helpers ------------------------------------------------------------------------------


def _in_chinese(message: str) -> str:
    """A reason from the course rules with the file's column names as the form's labels."""
    return _KEY_RE.sub(lambda m: LABELS[m.group(1)], message).replace("lat/lng", "经纬度")


def field_errors(message: str, fields: Mapping[str, str] = LABELS) -> dict[str, str]:
    """A reason (BadRow or CourseError text) beside the field it names first; one naming no
    field of this form goes on top of the form ("form")."""
    if message.startswith("缺少 "):
        missing = [k.strip() for k in message[3:].split(",")]
        found = {k: "必填" for k in missing if k in fields}
        if found:
            return found
    named = [(m.start(), m.group(1)) for m in _KEY_RE.finditer(message)
             if m.group(1) in fields]
    text = _in_chinese(message)
    if not named:
        return {"form": text}
    return {min(named)[1]: text}


async def audience_name(db: AsyncSession, audience: str) -> str:
    """A course's audience in words: 全体成员, 行业：外卖送餐, 小组：<its name>."""
    return T.audience_words(audience, await names.audience_names(db, [audience]))


async def instructor_names(db: AsyncSession, found: list[Course]) -> dict[str, str]:
    """{Course.instructor: what pages show}: the display name of the console account it
    names, else the name as it was given."""
    shown = await names.staff_names(db, [c.instructor for c in found])
    return {c.instructor: shown.get(c.instructor, c.instructor) for c in found}


async def _instructor_choices(db: AsyncSession, chosen: str) -> list[tuple[str, str]]:
    """(value, words) for 讲师: nobody yet, or an instructor account by its display name; a
    name given otherwise (an import, the API) stays a choice as it was given."""
    choices = [("", "未指定"), *await names.instructor_choices(db)]
    if chosen and chosen not in {v for v, _ in choices}:
        choices.append((chosen, chosen))
    return choices


async def _audience_choices(db: AsyncSession, chosen: str) -> list[tuple[str, str]]:
    """(value, words) a course may be for: everyone, an industry, a group (what was chosen
    stays a choice, in words, even when it is no longer offered)."""
    choices = [("all", T.AUDIENCE_ALL)]
    choices += [(f"industry:{i}", T.AUDIENCE_INDUSTRY.format(name=i)) for i in INDUSTRIES]
    choices += [(f"group:{code}", T.AUDIENCE_GROUP.format(name=name))
                for code, name in await member_views.group_options(db)]
    if chosen and chosen not in {v for v, _ in choices}:
        choices.append((chosen, await audience_name(db, chosen)))
    return choices


def _local_input(dt: datetime | None) -> str:
    return dt.astimezone(SHANGHAI).strftime(LOCAL_INPUT) if dt else ""


def _number(value: float | None) -> str:
    """A number as typed: whole numbers without ".0", others exactly (coordinates keep every
    digit, so saving a form unchanged changes nothing)."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _values_of(c: Course) -> dict[str, str]:
    """A course as the form's fields."""
    return {
        "code": c.code, "title": c.title, "instructor": c.instructor,
        "description": c.description, "start": _local_input(c.start_at),
        "end": _local_input(c.end_at), "place": c.place, "lat": _number(c.lat),
        "lng": _number(c.lng), "radius_m": str(c.radius_m), "online_url": c.online_url or "",
        "capacity": str(c.capacity), "hours": _number(c.hours), "audience": c.audience,
        "status": "draft" if c.status == "draft" else "published",
    }


async def _form_values(request: web.Request) -> dict[str, str]:
    form = await request.post()
    most = {"description": courses.DESCRIPTION_MAX}  # the textarea's maxlength too
    return {k: str(form.get(k, "")).strip()[:most.get(k, 600)] for k in FIELDS}


def _default_radius(request: web.Request) -> int:
    return request.app[SETTINGS].checkin.default_radius_m


async def _changed(request: web.Request) -> None:
    """After a commit: the outbox worker woken for the pushes just queued (the reminders
    were planned as due rows in the same transaction)."""
    worker = getattr(request.app[SERVICES], "worker", None)
    if worker is not None:
        worker.wake()


def _offsets(request: web.Request) -> Any:
    return request.app[SETTINGS].school.reminder_offsets


def _to_course(code: str, done: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/console/courses/{code}?done={done}")


async def _course(request: web.Request, db: Any, user: ConsoleUser, *, lock: bool = False
                  ) -> Course:
    c = await access.visible_by_code(db, user, request.match_info["code"], lock=lock)
    if c is None:
        raise not_found(request)
    return c


# --- the list -----------------------------------------------------------------------------


COURSE_HEADER = ["课程代码", "课程名称", "讲师", "状态", "开始", "结束", "地点或链接", "已报名",
                 "名额", "候补", "到课", "学时", "面向"]


async def course_list(request: web.Request) -> web.StreamResponse:
    """课程: searched by code or title, filtered by status and 未结束/已结束, a page at a
    time; the filtered list as CSV or Excel. An instructor sees their own courses."""
    user = require(request, access.COURSE_ROLES)
    q = request.query
    status, when, text = q.get("status", ""), q.get("when", ""), search_text(request)
    if status not in ("", *courses.STATUSES):
        raise ListQueryError("参数 status 不是课程的状态。")
    if when not in ("", *access.WHEN):
        raise ListQueryError("参数 when 只能是 upcoming 或 past。")
    args = list_args(request)
    at = now(request)
    async with sessions(request)() as db:
        found, total = await course_views.courses_page(
            db, user, at, status=status, when=when, text=text,
            offset=0 if args.export else args.offset, limit=None if args.export else args.size)
        counts = await access.counts(db, [c.id for c in found if c.id is not None])
        teachers = await instructor_names(db, found)
        audiences = {a: await audience_name(db, a) for a in {c.audience for c in found}}
    empty = access.Counts()
    if args.export:
        return await export(request, "课程列表", COURSE_HEADER, (
            [c.code, c.title, teachers[c.instructor], STATUS_NAMES.get(c.status, c.status),
             _local_input(c.start_at).replace("T", " "),
             _local_input(c.end_at).replace("T", " "), c.online_url or c.place,
             counts.get(c.id or 0, empty).enrolled, c.capacity,
             counts.get(c.id or 0, empty).waitlist, counts.get(c.id or 0, empty).present,
             _number(c.hours), audiences[c.audience]] for c in found), "课程")
    filters = {"status": status, "when": when, "q": text}
    return await render(request, "courses_list.html", {
        "rows": [(c, counts.get(c.id or 0, empty)) for c in found], "status": status,
        "when": when, "q": text, "statuses": STATUS_NAMES, "whens": WHEN_NAMES,
        "p": paging("/console/courses", filters, args, total), "now": at,
        "teachers": teachers})


# --- create and edit ------------------------------------------------------------------------


async def _form_context(values: dict[str, str], errors: dict[str, str], *,
                        course: Course | None, db: AsyncSession) -> dict[str, Any]:
    return {"values": values, "errors": errors, "course": course, "labels": LABELS,
            "audiences": await _audience_choices(db, values.get("audience", "")),
            "instructors": await _instructor_choices(db, values.get("instructor", "")),
            "statuses": STATUS_NAMES}


async def new_form(request: web.Request) -> web.Response:
    user = require(request, access.COURSE_ROLES)
    values = dict.fromkeys(FIELDS, "")
    values.update(instructor=user.username if user.role == "instructor" else "",
                  radius_m=str(_default_radius(request)), capacity="50", hours="1",
                  audience="all", status="draft")
    async with sessions(request)() as db:
        context = await _form_context(values, {}, course=None, db=db)
    return await render(request, "courses_form.html", context)


async def create(request: web.Request) -> web.Response:
    user = require(request, access.COURSE_ROLES)
    values = await _form_values(request)
    values["code"] = values["code"].upper()
    try:
        data = parse_row(values, _default_radius(request))
        async with sessions(request)() as db, db.begin():
            c = await lifecycle.create(db, data, now(request), by=access.created_by(user),
                                     offsets=_offsets(request))
            code = c.code
    except (BadRow, CourseError) as err:
        message = reason(err) if isinstance(err, CourseError) else str(err)
        async with sessions(request)() as db:
            context = await _form_context(values, field_errors(message), course=None, db=db)
        return await render(request, "courses_form.html", context, 400)
    log.info("console: course %s created by user %s", code, user.id)
    await _changed(request)
    raise _to_course(code, "created")


async def edit_form(request: web.Request) -> web.Response:
    user = require(request, access.COURSE_ROLES)
    async with sessions(request)() as db:
        c = await _course(request, db, user)
        errors = {"form": reason(CourseError("cancelled"))} if c.status == "cancelled" else {}
        context = await _form_context(_values_of(c), errors, course=c, db=db)
    return await render(request, "courses_form.html", context)


async def edit(request: web.Request) -> web.Response:
    user = require(request, access.COURSE_ROLES)
    values = await _form_values(request)
    try:
        async with sessions(request)() as db, db.begin():
            c = await _course(request, db, user, lock=True)
            values["code"] = c.code
            data = parse_row(values, _default_radius(request))
            changed = await lifecycle.update_course(db, c, data, now(request), COURSE_TEXTS,
                                                  offsets=_offsets(request))
            code = c.code
    except (BadRow, CourseError) as err:
        message = reason(err) if isinstance(err, CourseError) else str(err)
        async with sessions(request)() as db:
            c = await _course(request, db, user)
            context = await _form_context(values, field_errors(message), course=c, db=db)
        return await render(request, "courses_form.html", context, 400)
    log.info("console: course %s edited by user %s (%s)", code, user.id,
             ",".join(changed) or "nothing")
    await _changed(request)
    done = ("moved" if "moved" in changed else "published" if "published" in changed
            else "saved" if changed else "unchanged")
    raise _to_course(code, done)


# --- a course -----------------------------------------------------------------------------


async def _detail(request: web.Request, user: ConsoleUser, *, status: int = 200,
                  error: str = "", move: dict[str, str] | None = None,
                  move_errors: dict[str, str] | None = None) -> web.Response:
    at = now(request)
    async with sessions(request)() as db:
        c = await _course(request, db, user)
        people = await access.enrollees(db, c)
        remembered = await db.get(qr.QrCode, f"crs:{c.code}")
        audience = await audience_name(db, c.audience)
        instructor = (await instructor_names(db, [c]))[c.instructor]
    enrolled = [p for p in people if p.status == "enrolled"]
    waitlist = [p for p in people if p.status == "waitlist"]
    started = at >= c.start_at
    present = sum(1 for p in enrolled if p.attended_at is not None)
    is_dev = request.app[SETTINGS].is_dev
    return await render(request, "courses_detail.html", {
        "c": c, "enrolled": enrolled, "waitlist": waitlist, "started": started,
        "ended": at >= c.end_at, "present": present, "absent": len(enrolled) - present,
        "statuses": STATUS_NAMES, "methods": METHODS, "admin": user.role == "admin",
        "mask": mask_mobile, "done": DONE.get(request.query.get("done", ""), ""),
        "error": error, "qr_scene": T.scene_words("crs:", c.title),
        "qr_png": is_dev or remembered is not None, "instructor": instructor,
        "move": move or {"start": _local_input(c.start_at), "end": _local_input(c.end_at)},
        "move_errors": move_errors or {}, "labels": LABELS,
        "audience": audience}, status)


async def detail(request: web.Request) -> web.StreamResponse:
    user = require(request, access.COURSE_ROLES)
    if request.query.get("format") == "csv":
        return await _enrollees_csv(request, user)
    return await _detail(request, user)


async def _enrollees_csv(request: web.Request, user: ConsoleUser) -> web.Response:
    at = now(request)
    async with sessions(request)() as db:
        c = await _course(request, db, user)
        people = await access.enrollees(db, c)
    admin = user.role == "admin"

    def state(p: access.Enrollee) -> str:
        if p.status == "waitlist":
            return "候补"
        if p.attended_at is not None:
            return "到课"
        return "未到" if at >= c.start_at else "已报名"

    return csv_response(f"课程{c.code}学员.csv", [
        "姓名", "手机", "状态", "报名时间", "到课时间", "签到方式"], (
        [p.name, (p.mobile or "") if admin else mask_mobile(p.mobile), state(p),
         _local_input(p.queued_at).replace("T", " "),
         _local_input(p.attended_at).replace("T", " "), METHODS.get(p.method, p.method)]
        for p in people))


async def qr_png(request: web.Request) -> web.Response:
    """The course's attendance code as a PNG: in dev mode drawn with the scene as its text
    (what the simulator and the chat scan); in prod the WeChat code made by `run.py
    qrcodes`, if it was made."""
    user = require(request, access.COURSE_ROLES)
    async with sessions(request)() as db:
        c = await _course(request, db, user)
        remembered = await db.get(qr.QrCode, f"crs:{c.code}")
    if request.app[SETTINGS].is_dev:
        content = f"crs:{c.code}"
    elif remembered is not None:
        content = remembered.url
    else:
        raise not_found(request)

    def draw() -> bytes:
        import segno

        buf = io.BytesIO()
        segno.make(content, error="m").save(buf, kind="png", scale=10, border=4)
        return buf.getvalue()

    return web.Response(body=await asyncio.to_thread(draw), content_type="image/png",
                        headers={"Content-Disposition":
                                 f'inline; filename="course-{c.code}.png"'})


# --- actions ------------------------------------------------------------------------------


async def publish(request: web.Request) -> web.Response:
    user = require(request, access.COURSE_ROLES)
    try:
        async with sessions(request)() as db, db.begin():
            c = await _course(request, db, user, lock=True)
            await lifecycle.publish(db, c, now(request), offsets=_offsets(request))
            code = c.code
    except CourseError as err:
        return await _detail(request, user, status=400, error=_in_chinese(reason(err)))
    log.info("console: course %s published by user %s", code, user.id)
    await _changed(request)
    raise _to_course(code, "published")


async def move(request: web.Request) -> web.Response:
    user = require(request, access.COURSE_ROLES)
    form = await request.post()
    given = {k: str(form.get(k, "")).strip()[:40] for k in ("start", "end")}
    try:
        async with sessions(request)() as db, db.begin():
            c = await _course(request, db, user, lock=True)
            data = parse_row({**_values_of(c), **given}, _default_radius(request))
            await lifecycle.move(db, c, data.start, data.end, now(request), T.COURSE_MOVED,
                               offsets=_offsets(request))
            code = c.code
    except (BadRow, CourseError) as err:
        message = reason(err) if isinstance(err, CourseError) else str(err)
        errors = field_errors(message, {"start": "", "end": ""})
        form_error = errors.pop("form", "")
        return await _detail(request, user, status=400, error=form_error, move=given,
                             move_errors=errors)
    log.info("console: course %s moved by user %s", code, user.id)
    await _changed(request)
    raise _to_course(code, "moved")


async def cancel_form(request: web.Request) -> web.Response:
    user = require(request, access.COURSE_ROLES)
    async with sessions(request)() as db:
        c = await _course(request, db, user)
        counts = (await access.counts(db, [c.id or 0])).get(c.id or 0, access.Counts())
    return await render(request, "courses_cancel.html", {"c": c, "counts": counts})


async def cancel(request: web.Request) -> web.Response:
    user = require(request, access.COURSE_ROLES)
    form = await request.post()
    if form.get("confirm") != "yes":
        raise web.HTTPSeeOther(f"/console/courses/{request.match_info['code']}/cancel")
    try:
        async with sessions(request)() as db, db.begin():
            c = await _course(request, db, user, lock=True)
            await lifecycle.cancel(db, c, now(request), T.COURSE_CANCELLED)
            code = c.code
    except CourseError as err:
        return await _detail(request, user, status=400, error=_in_chinese(reason(err)))
    log.info("console: course %s cancelled by user %s", code, user.id)
    await _changed(request)
    raise _to_course(code, "cancelled")


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/courses", course_list, name="courses")
    r.add_get("/courses/new", new_form)
    r.add_post("/courses/new", create)
    r.add_get(f"/courses/{CODE}", detail)
    r.add_get(f"/courses/{CODE}/edit", edit_form)
    r.add_post(f"/courses/{CODE}/edit", edit)
    r.add_get(f"/courses/{CODE}/qr.png", qr_png)
    r.add_post(f"/courses/{CODE}/publish", publish)
    r.add_post(f"/courses/{CODE}/move", move)
    r.add_get(f"/courses/{CODE}/cancel", cancel_form)
    r.add_post(f"/courses/{CODE}/cancel", cancel)
