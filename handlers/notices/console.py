"""通知: compose a notice (audience, recipient-count preview, now or at a time), the list of
notices with their delivery counts, a detail page whose counts refresh themselves, CSV.

Who may send to whom: an admin to any audience; a group leader only to their own group; an
instructor only to the enrollees of their own courses. A notice is seen by its author (and
by admins); anyone else gets a 404.
"""

from __future__ import annotations

import logging
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
    not_found,
    now,
    parse_local,
    render,
    require,
    sessions,
    text_errors,
)
from models import course as courses
from models import course_access, names, push_counts
from models import group as groups
from models import notice as notices
from models.course import Course
from models.member import INDUSTRIES, Member
from models.notice import Notice, NoticeError
from models.profile import mask_mobile
from models.staff import ConsoleUser
from models.views import members as member_views
from models.views import notices as views

log = logging.getLogger(__name__)

ROLES = ("admin", "instructor", "leader")
NOT_ALLOWED = T.AUDIENCE_NOT_ALLOWED
PICK_MEMBER = "member:"  # the choice "one member", who is then picked by name
MEMBER_CHOICES = 50  # members the picker lists at once (search narrows them)
CHANNELS = {"kefu": "客服消息", "template": "模板消息"}
STATUS = {"scheduled": "定时待发", "sent": "已发出"}


# --- who owns what ---------------------------------------------------------------------------


def author(user: ConsoleUser) -> str:
    return course_access.created_by(user)


def authors(user: ConsoleUser) -> list[str]:
    """The created_by values of the user's own notices (a leader's 小组通知 sent from WeChat
    are theirs too)."""
    return [author(user), f"leader:{user.username}"]


def own_course(course: Course, user: ConsoleUser) -> bool:
    return course_access.may_see(user, course)


def own_courses_clause(user: ConsoleUser) -> Any:
    return course_access.owned(user)


async def may_send(db: AsyncSession, user: ConsoleUser, audience: str) -> bool:
    if user.role == "admin":
        return True
    kind, _, arg = audience.strip().partition(":")
    if user.role == "leader" and kind == "group":
        group = await groups.led_by(db, user)
        return group is not None and arg.strip().upper() == group.code
    if user.role == "instructor" and kind == "course":
        course = await courses.by_code(db, arg)
        return course is not None and own_course(course, user)
    return False


async def audience_options(db: AsyncSession, user: ConsoleUser) -> list[tuple[str, str]]:
    """(value, label) of the audiences the user may pick: an admin everyone, an industry,
    any group, any course's enrollees or one member (chosen by name below the choice); a
    leader their own group; an instructor their own courses' enrollees."""
    if user.role == "leader":
        group = await groups.led_by(db, user)
        return [(f"group:{group.code}", T.AUDIENCE_MY_GROUP.format(name=group.name))
                ] if group else []
    course_opts = [(f"course:{c.code}", T.AUDIENCE_COURSE_OPTION.format(
                        name=c.title, day=f"{c.start_at.astimezone(SHANGHAI):%m-%d}"))
                   for c in await views.audience_courses(db, user)]
    if user.role == "instructor":
        return course_opts
    opts = [("all", T.AUDIENCE_ALL)]
    opts += [(f"industry:{name}", T.AUDIENCE_INDUSTRY.format(name=name)) for name in INDUSTRIES]
    opts += [(f"group:{g.code}", T.AUDIENCE_GROUP.format(name=g.name))
             for g in await views.all_groups(db)]
    opts += course_opts
    opts.append((PICK_MEMBER, T.AUDIENCE_PICK_MEMBER))
    return opts


async def audience_labels(db: AsyncSession, audiences: list[str]) -> dict[str, str]:
    """{audience: its words} for the pages (names looked up once for all of them)."""
    found = await names.audience_names(db, audiences)
    return {a: T.audience_words(a, found) for a in audiences}


async def source_labels(db: AsyncSession, sources: list[str | None]) -> dict[str | None, str]:
    """{created_by: its words}: 控制台 · 王老师, 命令行, 数据接口 …"""
    logins = [s.partition(":")[2] for s in sources if s and ":" in s]
    found = await names.staff_names(db, logins)
    return {s: T.source_words(s, found) for s in sources}


def visible(user: ConsoleUser) -> list[str] | None:
    """The authors whose notices a user sees (None: all)."""
    return None if user.role == "admin" else authors(user)


async def _own_notice(request: web.Request, db: AsyncSession, user: ConsoleUser) -> Notice:
    notice = await notices.get(db, int(request.match_info["id"]))
    if notice is None or (user.role != "admin" and notice.created_by not in authors(user)):
        raise not_found(request)
    return notice


# --- the form --------------------------------------------------------------------------------


def console_error(err: NoticeError) -> str:
    """A NoticeError in the form's words (one naming openids names none here)."""
    if err.code in ("member_missing", "member_empty"):
        return T.AUDIENCE_MEMBER_UNKNOWN
    return T.notice_error(err.code, err.details)


def field_of(err: NoticeError) -> str:
    """Which field a NoticeError speaks of."""
    return T.NOTICE_ERROR_FIELDS.get(err.code, "audience")


def _form(data: Any) -> dict[str, str]:
    form = {k: str(data.get(k, "")).strip() for k in
            ("title", "body", "url", "audience", "member_q", "member_id", "when", "send_at")}
    form["title"], form["body"] = form["title"][:200], form["body"][:5000]
    form["url"], form["member_q"] = form["url"][:2000], form["member_q"][:40]
    form["audience"], form["send_at"] = form["audience"][:2100], form["send_at"][:40]
    member_id = form["member_id"]
    form["member_id"] = member_id[:9] if member_id.isascii() and member_id.isdigit() else ""
    form["when"] = "later" if form["when"] == "later" else "now"
    return form


async def audience_of(db: AsyncSession, form: dict[str, str], errors: dict[str, str]) -> str:
    """The audience the form names: the choice as it is, or for 单个成员 the chosen
    member's (errors gains why there is none)."""
    if form["audience"] != PICK_MEMBER:
        return form["audience"]
    if not form["member_id"]:
        errors["audience"] = T.AUDIENCE_CHOOSE_MEMBER
        return PICK_MEMBER
    member = await db.get(Member, int(form["member_id"]))
    if member is None or member.consent_at is None or member.erased_at is not None:
        errors["audience"] = T.AUDIENCE_MEMBER_UNKNOWN
        return PICK_MEMBER
    return f"member:{member.openid}"


async def _member_choices(db: AsyncSession, user: ConsoleUser, form: dict[str, str]
                          ) -> list[tuple[str, str]]:
    """(member id, name and masked phone) for the admin's member picker: those whose name
    or phone's tail matches what was searched (the latest registered first), and the one
    already chosen."""
    if user.role != "admin":
        return []
    rows, _ = await member_views.members_page(
        db, user, {"q": form["member_q"], "industry": "", "party": "", "group": ""}, 1,
        MEMBER_CHOICES)
    found = [row[0] for row in rows]
    if form["member_id"] and all(str(m.id) != form["member_id"] for m in found):
        chosen = await db.get(Member, int(form["member_id"]))
        if chosen is not None and chosen.consent_at and chosen.erased_at is None:
            found.insert(0, chosen)
    return [(str(m.id), T.MEMBER_OPTION.format(name=m.name or "", phone=mask_mobile(m.mobile)))
            for m in found]


async def _show_form(request: web.Request, db: AsyncSession, user: ConsoleUser,
                     form: dict[str, str], errors: dict[str, str], preview: int | None = None,
                     status: int = 200) -> web.Response:
    options = await audience_options(db, user)
    if form["audience"] and form["audience"] not in {v for v, _ in options}:
        words = await audience_labels(db, [form["audience"]])  # keep what was asked for
        options.append((form["audience"], words[form["audience"]]))
    members = await _member_choices(db, user, form)
    return await render(request, "notices_form.html", {
        "form": form, "errors": errors, "options": options, "preview": preview,
        "members": members, "pick_member": PICK_MEMBER,
        "no_members": T.MEMBER_NONE_FOUND.format(q=form["member_q"]) if form["member_q"]
        else "",
        "min_at": now(request).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")}, status)


async def compose(request: web.Request) -> web.Response:
    user = require(request, ROLES)
    form = _form({"audience": request.query.get("audience", "")})
    async with sessions(request)() as db:
        if not form["audience"]:
            options = await audience_options(db, user)
            form["audience"] = options[0][0] if options else ""
        return await _show_form(request, db, user, form, {})


def _checked_form(form: dict[str, str], at: datetime, errors: dict[str, str]
                  ) -> datetime | None:
    """The form's own checks (errors gains what is wrong); the send time, if later."""
    if not form["title"]:
        errors["title"] = T.NOTICE_ERRORS["title_empty"]
    if not form["body"]:
        errors["body"] = T.NOTICE_ERRORS["body_empty"]
    send_at = None
    if form["when"] == "later":
        send_at = parse_local(form["send_at"])
        if send_at is None:
            errors["send_at"] = "请选择发送时间（年-月-日 时:分）"
        elif send_at <= at:
            errors["send_at"] = "定时发送的时间须晚于现在"
    return send_at


async def submit(request: web.Request) -> web.Response:
    user = require(request, ROLES)
    posted = await request.post()
    form = _form(posted)
    action = str(posted.get("action", "send"))
    errors = text_errors(posted, lines=("title", "url", "audience", "member_q", "send_at"),
                         bodies=("body",))
    if "member_q" in errors:  # shown beside the audience it belongs to
        errors["audience"] = errors.pop("member_q")
    if errors or action == "find":  # 查找成员: the form again, with the members found
        async with sessions(request)() as db:
            return await _show_form(request, db, user, form, errors,
                                    status=400 if errors else 200)
    at = now(request)
    async with sessions(request)() as db:
        audience = await audience_of(db, form, errors)
        if not audience:
            errors["audience"] = T.AUDIENCE_CHOOSE
        elif "audience" not in errors and not await may_send(db, user, audience):
            errors["audience"] = NOT_ALLOWED
        if action == "preview":
            count = None
            if not errors:
                try:
                    count = len(await notices.resolve_audience(db, audience))
                except NoticeError as exc:
                    errors["audience"] = console_error(exc)
            return await _show_form(request, db, user, form, errors, count,
                                    400 if errors else 200)
    send_at = _checked_form(form, at, errors)
    if not errors:
        try:
            async with sessions(request)() as db, db.begin():
                notice = await notices.create(
                    db, form["title"], form["body"], audience, at, url=form["url"] or None,
                    send_at=send_at, created_by=author(user))
                notice_id = notice.id
        except NoticeError as exc:
            errors[field_of(exc)] = console_error(exc)
    if errors:
        async with sessions(request)() as db:
            return await _show_form(request, db, user, form, errors, status=400)
    worker = getattr(request.app[SERVICES], "worker", None)
    if worker is not None:
        worker.wake()
    log.info("console: notice %s created by user %s", notice_id, user.id)
    raise web.HTTPSeeOther(f"/console/notices/{notice_id}")


# --- the list and one notice ------------------------------------------------------------------


def summary(counts: dict[str, Any]) -> dict[str, Any]:
    """The counts as the pages show them."""
    sent = counts["sent"]
    failed = {**counts["failed"]}
    for reason, n in counts["undeliverable"].items():
        failed[reason] = failed.get(reason, 0) + n
    worded: dict[str, int] = {}
    for reason, n in failed.items():
        words = T.push_reason_words(reason)
        worded[words] = worded.get(words, 0) + n
    failed = worded
    receipts = {r: sum(by.values()) for r, by in counts.get("receipts", {}).items()}
    return {
        "total": counts["total"], "pending": counts["pending"],
        "sent": sum(sent.values()), "kefu": sent.get("kefu", 0),
        "subscribe": sent.get("subscribe", 0), "template": sent.get("template", 0),
        "failed": sum(failed.values()),
        "reasons": sorted(failed.items(), key=lambda kv: -kv[1]),
        # WeChat's receipts of the templates and 订阅通知 sent (客服 messages get none).
        "delivered": receipts.get("delivered", 0), "blocked": receipts.get("blocked", 0),
        "receipt_failed": receipts.get("failed", 0),
        "awaiting": sent.get("subscribe", 0) + sent.get("template", 0) - sum(receipts.values()),
    }


NOTICE_HEADER = ["编号", "标题", "受众", "状态", "发送时间", "创建人", "收件人", "已送达",
                 "客服消息", "模板消息", "待发", "失败", "失败原因"]


async def listing(request: web.Request) -> web.StreamResponse:
    """通知: searched by title, filtered by status and author, a page at a time; the
    filtered list as CSV or Excel. Who is not an admin sees their own notices."""
    user = require(request, ROLES)
    where = visible(user)
    q = request.query
    f = {"q": search_text(request), "status": q.get("status", ""),
         "author": q.get("author", "")[:64]}
    if f["status"] not in ("", *STATUS):
        raise ListQueryError("参数 status 只能是 scheduled 或 sent。")
    args = list_args(request)
    async with sessions(request)() as db:
        choices = await views.notice_authors(db, where)
        if f["author"] and f["author"] not in choices:
            raise ListQueryError("参数 author 不是可选的发布人。")
        rows, total = await views.notices_page(
            db, where, None if args.export else args.page, args.size, f)
        items = [(n, summary(await push_counts.counts(db, n.subject))) for n in rows]
        audiences = await audience_labels(db, [n.audience for n in rows])
        sources = await source_labels(db, [*(n.created_by for n in rows), *choices])
    if args.export:
        return await export(request, "通知", NOTICE_HEADER, [
            [n.id, n.title, audiences[n.audience], STATUS.get(n.status, n.status),
             n.send_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"), sources[n.created_by],
             n.recipients, s["sent"], s["kefu"], s["template"], s["pending"], s["failed"],
             "；".join(f"{r}×{k}" for r, k in s["reasons"])] for n, s in items], "通知")
    return await render(request, "notices_list.html", {
        "items": items, "p": paging("/console/notices", f, args, total), "f": f,
        "authors": [(a, sources[a]) for a in choices], "status_names": STATUS,
        "audiences": audiences})


async def detail(request: web.Request) -> web.Response:
    user = require(request, ROLES)
    async with sessions(request)() as db:
        notice = await _own_notice(request, db, user)
        counts = summary(await push_counts.counts(db, notice.subject))
        audience = (await audience_labels(db, [notice.audience]))[notice.audience]
        source = (await source_labels(db, [notice.created_by]))[notice.created_by]
    return await render(request, "notices_detail.html", {
        "notice": notice, "c": counts, "status_names": STATUS, "audience": audience,
        "source": source})


async def counts_json(request: web.Request) -> web.Response:
    user = require(request, ROLES)
    async with sessions(request)() as db:
        notice = await _own_notice(request, db, user)
        counts = summary(await push_counts.counts(db, notice.subject))
    return web.json_response({"status": notice.status, "recipients": notice.recipients,
                              "status_name": STATUS.get(notice.status, notice.status),
                              **counts})


def add_routes(console: web.Application) -> None:
    console.router.add_get("/notices", listing, name="notices")
    console.router.add_get("/notices/new", compose)
    console.router.add_post("/notices/new", submit)
    # Ids are 32-bit integers in the database: longer numbers are simply not found.
    console.router.add_get("/notices/{id:\\d{1,9}}", detail)
    console.router.add_get("/notices/{id:\\d{1,9}}/counts.json", counts_json)
