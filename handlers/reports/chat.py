"""随手拍: the 上报 dialog, 我的上报, 评价, 未解决, and the grid officers' words."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.clock import SHANGHAI
from bot.dialogs import DialogContext, State, StatesGroup
from bot.router import Redispatch, Router, join, message, regex, text_input, words
from bot.settings import Settings
from bot.wechat.message import Inbound
from handlers.reports import orders
from models import geo
from models import grid as grids
from models import report as reports
from models import work_order as work_orders
from models.member import Member
from models.profile import InvalidAnswer, parse_choice
from models.report import Draft, Report, ReportError
from models.staff import ConsoleUser

router = Router("reports", help=[T.HELP_REPORT, T.HELP_MY_REPORTS])
officers = Router("officers", help=[T.HELP_OFFICER], help_roles={"officer"})

TICKET = r"(?P<ticket>[Rr]\d{8}-\d{4})"
DESCRIBED = r"(?:上报|随手拍)\s+(?P<description>.+)"
# Inbound.extra: the photo offered before 上报 was said. It rides on the message, so it
# survives the registration gate (the stopped message is stored and handled once registered).
PHOTO = "report_photo"
DESC_MIN, DESC_MAX = 4, reports.DESCRIPTION_MAX


class Reporting(StatesGroup):
    description = State(T.REPORT_ASK_DESC, unheard=T.REPORT_VOICE_UNHEARD)
    photo = State(T.REPORT_ASK_PHOTO, wants_text=False)
    location = State(T.REPORT_ASK_LOCATION, wants_text=False)
    category = State(T.REPORT_ASK_CATEGORY_AGAIN)
    duplicate = State(T.REPORT_ASK_DUPLICATE)
    confirm = State(T.REPORT_ASK_CONFIRM)
    # A photo (or video) sent outside a dialog: 上报 it? Anything else gives way.
    offer = State(T.REPORT_OFFER_PHOTO, soft=True)


def _names(settings: Settings) -> list[str]:
    return [c.name for c in settings.reports.categories]


def _options(settings: Settings) -> str:
    return T.numbered(_names(settings))


def _short(text: str, n: int = 24) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# --- the 上报 dialog -----------------------------------------------------------------------


@router.words("上报", "随手拍", "我要上报", "报告问题", needs_profile=True)
async def start(msg: Inbound, dialog: DialogContext) -> str:
    if photo := msg.extra.get(PHOTO):  # offered before (offer_taken), kept
        dialog.start(Reporting.description, media_id=photo)
        return join(T.REPORT_PHOTO_KEPT, Reporting.description.prompt)
    dialog.start(Reporting.description)
    return Reporting.description.prompt


@router.regex(DESCRIBED, needs_profile=True)
async def start_described(description: str, msg: Inbound, dialog: DialogContext) -> str:
    """上报 with the problem already said ("上报 路灯坏了", or a problem the intent matcher
    spotted in free text): that is the description, and the dialog goes on at the photo
    (or at the place, when the photo was offered first)."""
    text = description.strip()
    photo = msg.extra.get(PHOTO)
    if not DESC_MIN <= len(text) <= DESC_MAX:
        dialog.start(Reporting.description, **({"media_id": photo} if photo else {}))
        return Reporting.description.prompt
    said = T.REPORT_PREFILLED.format(text=_short(text, 60))
    if photo:
        dialog.start(Reporting.location, description=text, media_id=photo)
        return join(said, T.REPORT_PHOTO_KEPT, Reporting.location.prompt)
    dialog.start(Reporting.photo, description=text)
    return join(said, Reporting.photo.prompt)


@router.on(message("image", "video", "shortvideo"))
async def offer_report(msg: Inbound, dialog: DialogContext) -> str:
    """A photo outside a dialog is most likely something to report: offer 上报, keeping it."""
    photo = msg.media_id if msg.msg_type == "image" else None
    dialog.start(Reporting.offer, media_id=photo)
    return T.REPORT_OFFER_PHOTO if photo else T.REPORT_OFFER_VIDEO


def _with_photo(msg: Inbound, dialog: DialogContext, said: str) -> Redispatch:
    """The offer taken: handled as `said` with the photo on the message, so that an
    unregistered rider's photo waits through registration with it."""
    photo = dialog.data.get("media_id")
    dialog.finish()
    extra = {**msg.extra, PHOTO: photo} if photo else msg.extra
    return Redispatch("", replace(msg, msg_type="text", event=None, key=None, content=said,
                                  extra=extra))


@router.state(Reporting.offer, words("上报", "随手拍", "我要上报", "是", "好", "好的", "要", "对",
                                     "嗯", "可以", "确认"))
async def offer_taken(msg: Inbound, dialog: DialogContext) -> Redispatch:
    return _with_photo(msg, dialog, "上报")


@router.state(Reporting.offer, regex(DESCRIBED))
async def offer_described(description: str, msg: Inbound, dialog: DialogContext
                          ) -> Redispatch:
    """「上报 井盖没了」 as the answer: that description, with the photo."""
    return _with_photo(msg, dialog, f"上报 {description.strip()}")


@router.state(Reporting.description, text_input())
async def got_description(msg: Inbound, dialog: DialogContext) -> str:
    text = (msg.content or "").strip() if msg.msg_type in ("text", "voice") else msg.text
    if len(text) < DESC_MIN:
        return join(T.REPORT_DESC_SHORT, T.REPORT_ASK_DESC)
    if len(text) > DESC_MAX:
        return join(T.REPORT_DESC_LONG, Reporting.description.prompt)
    if dialog.data.get("media_id"):  # the photo came first (offer_report)
        dialog.go(Reporting.location, description=text)
        return Reporting.location.prompt
    dialog.go(Reporting.photo, description=text)
    return T.REPORT_ASK_PHOTO


@router.state(Reporting.photo, message("image"))
async def got_photo(msg: Inbound, dialog: DialogContext) -> str:
    dialog.go(Reporting.location, media_id=msg.media_id)
    return T.REPORT_ASK_LOCATION


@router.state(Reporting.photo, words("跳过", "没有", "不拍", "无"))
async def skip_photo(dialog: DialogContext) -> str:
    dialog.go(Reporting.location, media_id=None)
    return T.REPORT_ASK_LOCATION


async def _ask_category(dialog: DialogContext, settings: Settings) -> str:
    guess = reports.guess_category(dialog.data["description"], settings.reports.categories)
    dialog.go(Reporting.category, guess=guess)
    if guess:
        return T.REPORT_GUESS.format(category=guess, options=_options(settings))
    return T.REPORT_ASK_CATEGORY.format(options=_options(settings))


@router.state(Reporting.location, message("location"))
async def got_location(msg: Inbound, dialog: DialogContext, settings: Settings) -> str:
    try:
        point = geo.incoming(msg.lat, msg.lng, settings.wechat.location_datum)
    except geo.BadPoint:
        return join(T.BAD_LOCATION, T.REPORT_ASK_LOCATION)
    dialog.update(lat=point.lat, lng=point.lng, address=msg.label or None)
    return await _ask_category(dialog, settings)


@router.state(Reporting.location, text_input())
async def got_address(msg: Inbound, dialog: DialogContext, settings: Settings) -> str:
    if len(msg.text) < 4:
        return join(T.REPORT_ADDRESS_SHORT, Reporting.location.prompt)
    dialog.update(lat=None, lng=None, address=msg.text)  # cut with … where it is stored
    return await _ask_category(dialog, settings)


def _summary(dialog: DialogContext) -> str:
    d = dialog.data
    place = d.get("address") or (f"{d['lat']:.5f}, {d['lng']:.5f}" if d.get("lat") else "—")
    return T.REPORT_SUMMARY.format(category=d["category"], text=_short(d["description"], 60),
                                   photo=T.REPORT_PHOTO_YES if d.get("media_id")
                                   else T.REPORT_PHOTO_NO, place=place)


@router.state(Reporting.category, text_input())
async def got_category(msg: Inbound, dialog: DialogContext, settings: Settings,
                       session: AsyncSession, now: datetime, member: Member) -> str:
    guess = dialog.data.get("guess")
    if guess and msg.text in ("确认", "是", "对", "好"):
        category = guess
    else:
        try:
            category = parse_choice(msg.text, _names(settings))
        except InvalidAnswer as wrong:
            return join(T.INVALID[wrong.reason],
                        T.REPORT_ASK_CATEGORY.format(options=_options(settings)))
    dialog.update(category=category)
    if dialog.data.get("lat") is not None:
        point = geo.Point(dialog.data["lat"], dialog.data["lng"])
        same = await reports.find_duplicate(session, category, point, now, member.id)
        if same is not None:
            dialog.go(Reporting.duplicate, duplicate=same.ticket)
            return T.REPORT_DUPLICATE.format(ticket=same.ticket, status=same.status,
                                             text=_short(same.description))
    dialog.go(Reporting.confirm)
    return _summary(dialog)


@router.state(Reporting.duplicate, words("1", "附议"))
async def chose_backing(dialog: DialogContext, session: AsyncSession, member: Member,
                        now: datetime) -> str:
    ticket = dialog.data["duplicate"]
    report = await reports.by_ticket(session, ticket)
    if report is None or not report.is_open:  # it closed meanwhile: file a new one instead
        dialog.go(Reporting.confirm)
        return _summary(dialog)
    dialog.finish()
    if not await reports.back(session, report, member, now):
        return T.REPORT_ALREADY_BACKED.format(ticket=ticket)
    assert report.id is not None
    return T.REPORT_BACKED.format(ticket=ticket,
                                  count=await reports.backer_count(session, report.id))


@router.state(Reporting.duplicate, words("2", "新建", "仍然新建"))
async def chose_new(dialog: DialogContext) -> str:
    dialog.go(Reporting.confirm)
    return _summary(dialog)


@router.state(Reporting.confirm, words("确认", "提交", "是"))
async def confirm(dialog: DialogContext, session: AsyncSession, member: Member,
                  settings: Settings, now: datetime) -> str:
    d = dialog.data
    point = geo.Point(d["lat"], d["lng"]) if d.get("lat") is not None else None
    grid = await grids.containing(session, point) if point else None
    rules = orders.policy(settings)
    draft = Draft(description=d["description"], category=d["category"],
                  media_id=d.get("media_id"), point=point, address=d.get("address"))
    report = await reports.create(session, member, draft, rules.due(d["category"], now), now,
                                  grid, T.ORDER_PUSH_NEW, rules.ack_due(now),
                                  T.ORDER_TITLES[work_orders.DISPATCH])
    dialog.finish()
    routing = T.REPORT_ROUTED.format(grid=grid.name) if grid else T.REPORT_QUEUED
    return T.REPORT_FILED.format(ticket=report.ticket, routing=routing)


# --- the reporter afterwards ---------------------------------------------------------------


@router.words("我的上报", "上报记录", needs_profile=True)
async def my_reports(member: Member, session: AsyncSession) -> str:
    assert member.id is not None
    found = await reports.of_member(session, member.id)
    if not found:
        return T.MY_REPORTS_NONE
    lines = [T.MY_REPORTS_LINE.format(ticket=r.ticket, status=r.status, category=r.category,
                                      text=_short(r.description, 14),
                                      backed=T.MY_REPORTS_BACKED if backed else "")
             for r, backed in found]
    return join(T.MY_REPORTS_HEADER, *lines)


async def _own(session: AsyncSession, ticket: str, lock: bool = False) -> Report | str:
    report = await reports.by_ticket(session, ticket, lock=lock)
    return report if report is not None else T.TICKET_UNKNOWN.format(ticket=ticket.upper())


def _rate_error(err: ReportError, report: Report, reopening: bool = False) -> str:
    """Why a rating or a 未解决 was refused, and what to send instead."""
    if err.reason == "not_resolved" and report.status == reports.CLOSED:
        return T.REPORT_IS_CLOSED.format(ticket=report.ticket)
    if err.reason == "not_resolved" and reopening:
        return T.REOPEN_STILL_OPEN.format(ticket=report.ticket, status=report.status)
    return T.RATE_ERRORS[err.reason].format(ticket=report.ticket, **err.info)


async def _rate(session: AsyncSession, report: Report, member: Member, stars: int,
                now: datetime, settings: Settings) -> str:
    """Rate; a rating of 1–2 reopens it to its grid as a priority (models/work_order.py)."""
    reopened = await work_orders.rate(session, report, member, stars, now,
                                      orders.policy(settings))
    return (T.RATED_REOPENED if reopened else T.RATED).format(ticket=report.ticket, stars=stars)


@router.regex(rf"评价\s*{TICKET}\s*(?P<stars>\d+)\s*星?", needs_profile=True)
async def rate(ticket: str, stars: str, member: Member, session: AsyncSession,
               now: datetime, settings: Settings) -> str:
    report = await _own(session, ticket, lock=True)
    if isinstance(report, str):
        return report
    try:
        return await _rate(session, report, member, int(stars), now, settings)
    except ReportError as err:
        return _rate_error(err, report)


@router.regex(r"(?P<stars>\d)")
async def rate_by_reply(stars: str, member: Member, session: AsyncSession,
                        now: datetime, settings: Settings) -> str:
    """A bare 1–5 after the 已办结 push (or the 回访 the day after) rates that report;
    another digit is told 1–5."""
    found = await reports.awaiting_rating(session, member, now) if member.id else None
    report = await reports.by_ticket(session, found.ticket, lock=True) if found else None
    if report is None:
        return T.NO_RATING_PENDING
    if not 1 <= int(stars) <= 5:
        return T.RATE_RANGE
    try:
        return await _rate(session, report, member, int(stars), now, settings)
    except ReportError as err:
        return _rate_error(err, report)


@router.regex(rf"未解决\s*{TICKET}", needs_profile=True)
async def not_fixed(ticket: str, member: Member, session: AsyncSession, now: datetime,
                    settings: Settings) -> str:
    report = await _own(session, ticket, lock=True)
    if isinstance(report, str):
        return report
    try:
        await work_orders.reopen(session, report, member, now, orders.policy(settings))
    except ReportError as err:
        return _rate_error(err, report, reopening=True)
    return T.REOPENED.format(ticket=report.ticket)


@router.regex(rf"(?:查询|查|进度)\s*{TICKET}", needs_profile=True)
async def status_of(ticket: str, member: Member, session: AsyncSession) -> str:
    """查询 TICKET: where my report (or one I backed) stands."""
    report = await _own(session, ticket)
    if isinstance(report, str):
        return report
    assert member.id is not None
    if report.id not in {r.id for r, _ in await reports.of_member(session, member.id, 100)}:
        return T.RATE_ERRORS["not_yours"]
    return T.REPORT_STATUS.format(
        ticket=report.ticket, status=report.status, category=report.category,
        text=_short(report.description, 60),
        when=report.updated_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M"))


@router.regex(r"(?P<word>评价|未解决|查询)(?:\s.*)?")
async def reporter_usage(word: str) -> str:
    return {"评价": T.RATE_USAGE, "未解决": T.REOPEN_USAGE}.get(word, T.QUERY_USAGE)



# --- grid officers -------------------------------------------------------------------------


async def _officer_report(session: AsyncSession, staff: ConsoleUser, ticket: str
                          ) -> Report | str:
    report = await reports.by_ticket(session, ticket, lock=True)
    if report is None:
        return T.TICKET_UNKNOWN.format(ticket=ticket.upper())
    if staff.role != "admin" and report.grid_code not in await grids.codes_of_officer(
            session, staff):
        return T.NOT_YOUR_GRID.format(ticket=report.ticket)
    return report


async def _move(session: AsyncSession, staff: ConsoleUser, ticket: str, to: str, note: str,
                now: datetime, close_reason: str | None = None) -> str:
    report = await _officer_report(session, staff, ticket)
    if isinstance(report, str):
        return report
    push = T.REPORT_PUSH_RESOLVED if to == reports.RESOLVED else T.REPORT_PUSH_STATUS
    try:
        await reports.move(session, report, to, f"officer:{staff.username}", note.strip(), now,
                           push, close_reason, rate_hint=T.REPORT_RATE_HINT)
    except ReportError as err:
        if err.reason == "close_reason":
            return T.CLOSE_REASON.format(ticket=report.ticket)
        return T.CANNOT_MOVE.format(ticket=report.ticket, status=report.status, to=to)
    assert report.id is not None
    n = await reports.backer_count(session, report.id)
    return T.MOVED.format(ticket=report.ticket, status=to,
                          backers=T.MOVED_BACKERS.format(n=n) if n else "")


@officers.regex(rf"处理\s*{TICKET}\s*(?P<note>.*)", roles={"officer"})
async def take(ticket: str, note: str, staff: ConsoleUser, session: AsyncSession,
               now: datetime) -> str:
    return await _move(session, staff, ticket, reports.IN_PROGRESS, note, now)


@officers.regex(rf"办结\s*{TICKET}\s*(?P<note>.*)", roles={"officer"})
async def resolve(ticket: str, note: str, staff: ConsoleUser, session: AsyncSession,
                  now: datetime) -> str:
    return await _move(session, staff, ticket, reports.RESOLVED, note, now)


@officers.regex(rf"关闭\s*{TICKET}\s*(?P<note>.*)", roles={"officer"})
async def close(ticket: str, note: str, staff: ConsoleUser, session: AsyncSession,
                now: datetime) -> str:
    reason = next((r for r in reports.CLOSE_REASONS if note.strip().startswith(r)), None)
    return await _move(session, staff, ticket, reports.CLOSED, note, now, close_reason=reason)


@officers.regex(r"(?P<word>处理|办结|关闭)(?:\s.*)?", roles={"officer"})
async def usage(word: str) -> str:
    what = {"处理": "说明", "办结": "说明", "关闭": "原因"}[word]
    return T.TICKET_USAGE.format(word=word, what=what)


def _marks(r: reports.Report, now: datetime) -> str:
    return "".join(mark for on, mark in ((r.escalated_at is not None, T.TODO_ESCALATED),
                                         (r.priority, T.TODO_PRIORITY),
                                         (r.overdue(now), T.TODO_OVERDUE)) if on)


@officers.words("待办", roles={"officer"})
async def todo(staff: ConsoleUser, session: AsyncSession, now: datetime) -> str:
    codes = None if staff.role == "admin" else await grids.codes_of_officer(session, staff)
    found = await reports.open_in_grids(session, codes, now)
    if not found:
        return T.TODO_NONE
    lines = [T.TODO_LINE.format(mark=_marks(r, now), ticket=r.ticket,
                                status=T.TODO_UNACKED if r.status == reports.DISPATCHED
                                and r.acked_at is None else r.status,
                                category=r.category, text=_short(r.description, 12),
                                due=r.due_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M前"))
             for r in found]
    return join(T.TODO_HEADER.format(n=len(found)), *lines)
