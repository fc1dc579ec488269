"""Neighbourhood reports (随手拍): a ticket from a rider's photo to a fixed street.

已受理 → 已派单 → 处理中 → 已办结, or → 已关闭 with a reason. Every change is an event
(who, when, the step's `action`, note) and a push to the reporter and backers. The
work-order steps (派单, 签收, 退单, 延期, 催办, 督办, 回访, 合并) are in models/work_order.py.
Modelled on FixMyStreet and Open311: "fixed" (已办结) is kept apart from "closed" (已关闭).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Index, Text, UniqueConstraint, func, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geo, outbox
from models.base import SHANGHAI, UTCDateTime, insert_for
from models.errors import DomainError
from models.grid import Grid, officers_of
from models.member import Member
from models.push_values import ORDER_TITLE_MAX, RATE_HINT_MAX, iso_time
from models.text import fit, long_text

ACCEPTED, DISPATCHED, IN_PROGRESS = "已受理", "已派单", "处理中"
RESOLVED, CLOSED = "已办结", "已关闭"
OPEN = (ACCEPTED, DISPATCHED, IN_PROGRESS)
CLOSE_REASONS = ("重复", "非职责范围", "无法处理")
ALLOWED = {
    ACCEPTED: {DISPATCHED, IN_PROGRESS, RESOLVED, CLOSED},
    DISPATCHED: {IN_PROGRESS, RESOLVED, CLOSED},
    IN_PROGRESS: {RESOLVED, CLOSED},
    RESOLVED: {IN_PROGRESS},
    CLOSED: set(),
}
POINTS_ACCEPTED = 2
POINTS_RESOLVED = 3
DUPLICATE_RADIUS_M = 50
DUPLICATE_WINDOW = timedelta(days=7)
REOPEN_WINDOW = timedelta(days=7)
RATING_PROMPT_WINDOW = timedelta(days=7)
# Text maximums, in characters: a rider's description (refused past it), a place's label or
# typed address and an officer's note (cut with … when typed in the chat).
DESCRIPTION_MAX = 500
ADDRESS_MAX = 200
NOTE_MAX = 500
REASON_MAX = 200  # a 退单 or 延期 reason, cut with …
# ReportEvent.action: the step an event records (models/work_order.py names the others).
CHANGED, FILED, DISPATCH, RATED = "状态变更", "受理", "派单", "评价"


class ReportError(DomainError):
    """A rule of the report lifecycle was broken (a code, see models/errors.py)."""


class Report(SQLModel, table=True):
    __tablename__ = "report"
    __table_args__ = (Index("ix_report_lat_lng", "lat", "lng"),
                      Index("ix_report_status_due", "status", "due_at"))

    id: int | None = Field(default=None, primary_key=True)
    ticket: str = Field(max_length=20, unique=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    category: str = Field(max_length=16)
    description: str = Field(sa_type=Text, sa_column_kwargs=long_text(DESCRIPTION_MAX))
    lat: float | None = None  # GCJ-02
    lng: float | None = None
    address: str | None = Field(default=None, max_length=ADDRESS_MAX)
    grid_code: str | None = Field(default=None, max_length=32, index=True)  # None: default queue
    status: str = Field(default=ACCEPTED, max_length=8)
    close_reason: str | None = Field(default=None, max_length=16)
    photo_media_id: str | None = Field(default=None, max_length=128)
    photo_status: str = Field(default="none", max_length=8)  # none, pending, saved, failed
    photo_path: str | None = Field(default=None, max_length=255)
    photo_attempts: int = 0
    photo_next_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rating: int | None = None
    rated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reopened: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    due_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # The work-order cycle (models/work_order.py). The district queue: grid_code None.
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ack_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # 签收 by then
    acked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    returned: bool = False  # back in the queue: 退单, or not acknowledged in time
    return_reason: str | None = Field(default=None, max_length=REASON_MAX)
    priority: bool = False  # reopened after a 1–2 rating or 未解决: handle first
    extension_state: str | None = Field(default=None, max_length=8)  # pending/approved/refused
    extension_days: int | None = None
    extension_reason: str | None = Field(default=None, max_length=REASON_MAX)
    extension_by: str | None = Field(default=None, max_length=64)  # the officer's username
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # 催办 (this due_at)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # 督办
    followed_up_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # 回访 push
    merged_into_id: int | None = Field(default=None, foreign_key="report.id")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def overdue(self, now: datetime) -> bool:
        return self.is_open and self.due_at < now


class ReportEvent(SQLModel, table=True):
    __tablename__ = "report_event"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=80)  # member, officer:<username>, api, system
    from_status: str | None = Field(default=None, max_length=8)
    to_status: str = Field(max_length=8)
    action: str = Field(default=CHANGED, max_length=8,
                        sa_column_kwargs={"server_default": CHANGED})  # the step: 派单, 签收…
    note: str = Field(default="", sa_type=Text, sa_column_kwargs=long_text(NOTE_MAX))


class ReportBacker(SQLModel, table=True):
    __tablename__ = "report_backer"
    __table_args__ = (UniqueConstraint("report_id", "member_id", name="uq_backer_once"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


class TicketCounter(SQLModel, table=True):
    __tablename__ = "ticket_counter"

    day: date = Field(sa_type=Date, primary_key=True)
    last: int = 0


@dataclass
class Draft:
    description: str
    category: str
    media_id: str | None = None
    point: geo.Point | None = None
    address: str | None = None


# --- categories and tickets ----------------------------------------------------------------


def guess_category(text: str, categories: Sequence[Any]) -> str | None:
    """The category whose keywords the text names most (None when no keyword matches)."""
    best, hits = None, 0
    for cat in categories:
        n = sum(1 for k in cat.keywords if k and k in text)
        if n > hits:
            best, hits = cat.name, n
    return best


async def next_ticket(session: AsyncSession, now: datetime) -> str:
    """R + local date + '-' + the day's sequence. The counter row is locked by the UPDATE
    until the transaction ends, so concurrent reports get consecutive numbers; a report
    rolled back gives its number back."""
    day = now.astimezone(SHANGHAI).date()
    await session.exec(insert_for(session, TicketCounter).values(day=day, last=0)
                       .on_conflict_do_nothing(index_elements=["day"]))
    result = await session.exec(update(TicketCounter).where(col(TicketCounter.day) == day)
                                .values(last=TicketCounter.last + 1)
                                .returning(col(TicketCounter.last)))
    return format_ticket(day, result.scalar_one())


def format_ticket(day: date, seq: int) -> str:
    """R + the local date + '-' + the day's sequence, four digits: R20261201-0007."""
    return f"R{day:%Y%m%d}-{seq:04d}"


def _local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%m-%d %H:%M")


def check_move(status: str, to_status: str, close_reason: str | None = None) -> None:
    """ReportError unless a report in `status` may move to `to_status` (a close needs one
    of CLOSE_REASONS; an officer never takes back 已办结: the reporter reopens it)."""
    if to_status not in ALLOWED[status] or (to_status == IN_PROGRESS and status == RESOLVED):
        raise ReportError("not_allowed", status=status)
    if to_status == CLOSED and close_reason not in CLOSE_REASONS:
        raise ReportError("close_reason")


def check_rating(report: Report, member_id: int | None, stars: int) -> None:
    """ReportError unless this member may rate this report with these stars (1–5)."""
    if report.member_id != member_id:
        raise ReportError("not_yours")
    if report.status != RESOLVED:
        raise ReportError("not_resolved", status=report.status)
    if report.rating is not None:
        raise ReportError("rated", rating=report.rating)
    if not 1 <= stars <= 5:
        raise ReportError("stars")


def check_reopen(report: Report, member_id: int | None, now: datetime) -> None:
    """ReportError unless this member may reopen (未解决) the report now: their own, 已办结,
    within REOPEN_WINDOW."""
    if report.member_id != member_id:
        raise ReportError("not_yours")
    if report.status != RESOLVED or report.resolved_at is None:
        raise ReportError("not_resolved", status=report.status)
    if now - report.resolved_at > REOPEN_WINDOW:
        raise ReportError("too_late")


# --- reading -------------------------------------------------------------------------------


async def by_ticket(session: AsyncSession, ticket: str, lock: bool = False) -> Report | None:
    """A report by its ticket; `lock` holds its row until the transaction ends (two officers
    acting at once then take turns instead of both moving it)."""
    stmt = select(Report).where(Report.ticket == ticket.strip().upper())
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.exec(stmt)).first()


async def find_duplicate(session: AsyncSession, category: str, point: geo.Point,
                         now: datetime, member_id: int | None = None) -> Report | None:
    """An open report of the same category within 50 m, made in the last 7 days by someone
    else (one's own report is not offered for backing)."""
    min_lat, max_lat, min_lng, max_lng = geo.bbox(point, DUPLICATE_RADIUS_M)
    stmt = select(Report).where(
        col(Report.status).in_(OPEN), Report.category == category,
        col(Report.created_at) >= now - DUPLICATE_WINDOW,
        col(Report.lat).between(min_lat, max_lat), col(Report.lng).between(min_lng, max_lng))
    if member_id is not None:
        stmt = stmt.where(Report.member_id != member_id)
    near = [(geo.distance_m(point, geo.Point(r.lat or 0, r.lng or 0)), r)
            for r in (await session.exec(stmt)).all()]
    near = [(d, r) for d, r in near if d <= DUPLICATE_RADIUS_M]
    return min(near, key=lambda x: x[0])[1] if near else None


async def backer_count(session: AsyncSession, report_id: int) -> int:
    return (await session.exec(select(func.count()).select_from(ReportBacker)
                               .where(ReportBacker.report_id == report_id))).one()


async def history(session: AsyncSession, report_id: int) -> Sequence[ReportEvent]:
    return (await session.exec(select(ReportEvent).where(ReportEvent.report_id == report_id)
                               .order_by(col(ReportEvent.id)))).all()


async def of_member(session: AsyncSession, member_id: int, limit: int = 10
                    ) -> list[tuple[Report, bool]]:
    """The member's reports and the reports they backed (True), newest first."""
    own = (await session.exec(select(Report).where(Report.member_id == member_id)
                              .order_by(col(Report.id).desc()).limit(limit))).all()
    backed = (await session.exec(
        select(Report).join(ReportBacker, col(ReportBacker.report_id) == Report.id)
        .where(ReportBacker.member_id == member_id)
        .order_by(col(Report.id).desc()).limit(limit))).all()
    both = [(r, False) for r in own] + [(r, True) for r in backed]
    return sorted(both, key=lambda x: x[0].id or 0, reverse=True)[:limit]


async def open_in_grids(session: AsyncSession, grid_codes: set[str] | None, now: datetime,
                        limit: int = 20) -> list[Report]:
    """Open reports of these grids (None: every grid and the default queue): 督办 first,
    then priority (reopened after a low rating), then overdue, then by deadline."""
    stmt = select(Report).where(col(Report.status).in_(OPEN))
    if grid_codes is not None:
        stmt = stmt.where(col(Report.grid_code).in_(grid_codes or {"-"}))
    found = (await session.exec(stmt.order_by(col(Report.due_at)))).all()
    return sorted(found, key=lambda r: (r.escalated_at is None, not r.priority,
                                        not r.overdue(now), r.due_at))[:limit]


async def overdue(session: AsyncSession, now: datetime) -> Sequence[Report]:
    return (await session.exec(select(Report).where(col(Report.status).in_(OPEN),
                                                    col(Report.due_at) < now)
                               .order_by(col(Report.due_at)))).all()


# --- changes and their pushes --------------------------------------------------------------


def order_values(report: Report, event: ReportEvent, title: str, note: str = "",
                 count: int = 1) -> dict[str, str]:
    """A work-order push to staff, as values (models/push_values.py, kind work_order)."""
    return {"order.title": fit(title, ORDER_TITLE_MAX), "order.count": str(count),
            "order.ticket": report.ticket, "order.category": report.category,
            "order.action": event.action, "order.deadline": iso_time(report.due_at),
            "order.note": note or event.note, "event.time": iso_time(event.at)}


def push_values(report: Report, event: ReportEvent, rate_hint: str = "") -> dict[str, str]:
    """A change of the report, as values (models/push_values.py); config maps them to the
    template's fields. `rate_hint`: how to rate, for 已办结 only."""
    return {"report.ticket": report.ticket, "report.status": event.to_status,
            "report.note": event.note or report.category, "report.category": report.category,
            "report.rate_hint": fit(rate_hint, RATE_HINT_MAX)
            if event.to_status == RESOLVED else "",
            "event.time": iso_time(event.at)}


async def _notify(session: AsyncSession, report: Report, event: ReportEvent, text: str,
                  openids: Sequence[str], now: datetime, rate_hint: str = "") -> None:
    items = [outbox.Outgoing(o, text, push_values(report, event, rate_hint)) for o in openids
             if o and not o.startswith("erased:")]
    if items:
        await outbox.enqueue(session, "report_status", f"report:{report.id}:{event.id}",
                             items, now)


async def reporter_and_backers(session: AsyncSession, report: Report) -> list[str]:
    reporter = await session.get(Member, report.member_id)
    backers = (await session.exec(
        select(Member.openid).join(ReportBacker, col(ReportBacker.member_id) == Member.id)
        .where(ReportBacker.report_id == report.id))).all()
    return ([reporter.openid] if reporter else []) + list(backers)


async def officer_openids(session: AsyncSession, report: Report) -> list[str]:
    return [u.openid for u in await officers_of(session, report.grid_code) if u.openid]


async def _event(session: AsyncSession, report: Report, to_status: str, actor: str, note: str,
                 now: datetime, action: str = CHANGED) -> ReportEvent:
    event = ReportEvent(report_id=report.id or 0, at=now, actor=actor,
                        from_status=report.status, to_status=to_status, action=action,
                        note=fit(note, NOTE_MAX))
    session.add(event)
    report.status, report.updated_at = to_status, now
    session.add(report)
    await session.flush()
    return event


async def create(session: AsyncSession, member: Member, draft: Draft, due_at: datetime,
                 now: datetime, grid: Grid | None, new_text: str,
                 ack_due_at: datetime | None = None, new_title: str = DISPATCH) -> Report:
    """File a report: ticket, points, and — when its point lies in a grid — 派单 by the
    system to that grid (签收 due by `ack_due_at`) with word to its officers (a work_order
    push). `due_at`: the category's deadline (work_order.Policy.due)."""
    assert member.id is not None
    report = Report(
        ticket=await next_ticket(session, now), member_id=member.id, category=draft.category,
        description=draft.description, lat=draft.point.lat if draft.point else None,
        lng=draft.point.lng if draft.point else None,
        address=fit(draft.address, ADDRESS_MAX) if draft.address else None,
        grid_code=grid.code if grid else None, photo_media_id=draft.media_id,
        photo_status="pending" if draft.media_id else "none",
        photo_next_at=now if draft.media_id else None,
        created_at=now, due_at=due_at, updated_at=now)
    session.add(report)
    await session.flush()
    session.add(ReportEvent(report_id=report.id or 0, at=now, actor="member", from_status=None,
                            to_status=ACCEPTED, action=FILED, note=""))
    member.points += POINTS_ACCEPTED
    session.add(member)
    if grid is not None:
        report.dispatched_at, report.ack_due_at = now, ack_due_at
        event = await _event(session, report, DISPATCHED, "system", grid.name, now, DISPATCH)
        text = new_text.format(ticket=report.ticket, category=report.category,
                               text=report.description[:40], due=_local(report.due_at),
                               ack_due=_local(ack_due_at or now))
        await outbox.enqueue(session, "work_order", f"order:{report.id}:{event.id}", [
            outbox.Outgoing(o, text, order_values(report, event, new_title, grid.name))
            for o in await officer_openids(session, report)], now)
    return report


async def back(session: AsyncSession, report: Report, member: Member, now: datetime) -> bool:
    """附议: the member backs an open report (once); they hear of its changes from now on."""
    assert member.id is not None and report.id is not None
    if report.member_id == member.id:
        return False
    stmt = insert_for(session, ReportBacker).values(report_id=report.id, member_id=member.id,
                                                    created_at=now)
    result = await session.exec(stmt.on_conflict_do_nothing(
        index_elements=["report_id", "member_id"]).returning(ReportBacker.id))
    return result.first() is not None


async def move(session: AsyncSession, report: Report, to_status: str, actor: str, note: str,
               now: datetime, push_text: str, close_reason: str | None = None,
               rate_hint: str = "") -> ReportEvent:
    """An officer (or the API) moves a report; the reporter and backers are told (with
    `rate_hint`, how to rate, when it is 已办结)."""
    check_move(report.status, to_status, close_reason)
    if to_status == CLOSED:
        report.close_reason, report.closed_at = close_reason, now
    if to_status == IN_PROGRESS and report.acked_at is None:
        report.acked_at = now  # 处理 counts as 签收
    if to_status == RESOLVED:  # rated and followed up (回访) afresh
        report.resolved_at, report.rating, report.rated_at = now, None, None
        report.followed_up_at = None
        reporter = await session.get(Member, report.member_id)
        if reporter is not None and report.reopened == 0:  # +3 once, however often reopened
            reporter.points += POINTS_RESOLVED
            session.add(reporter)
    event = await _event(session, report, to_status, actor, note, now)
    await _notify(session, report, event, push_text.format(
        ticket=report.ticket, status=to_status, note=note or "—"),
        await reporter_and_backers(session, report), now, rate_hint)
    return event


async def rate(session: AsyncSession, report: Report, member: Member, stars: int,
               now: datetime) -> None:
    check_rating(report, member.id, stars)
    report.rating, report.rated_at, report.updated_at = stars, now, now
    session.add(report)
    session.add(ReportEvent(report_id=report.id or 0, at=now, actor="member",
                            from_status=RESOLVED, to_status=RESOLVED, action=RATED,
                            note=f"评价 {stars} 星"))


async def awaiting_rating(session: AsyncSession, member: Member, now: datetime
                          ) -> Report | None:
    """The member's latest resolved, unrated report of the last 7 days (a bare 1–5 rates it)."""
    stmt = select(Report).where(Report.member_id == member.id, Report.status == RESOLVED,
                                col(Report.rating).is_(None),
                                col(Report.resolved_at) >= now - RATING_PROMPT_WINDOW)
    return (await session.exec(stmt.order_by(col(Report.resolved_at).desc()))).first()


async def reopen(session: AsyncSession, report: Report, member: Member, now: datetime,
                 officer_text: str) -> ReportEvent:
    """未解决: back to 处理中 within 7 days of 已办结; the officers are told."""
    check_reopen(report, member.id, now)
    report.reopened += 1
    report.rating = report.rated_at = None  # the next 已办结 is rated afresh
    report.resolved_at = None
    event = await _event(session, report, IN_PROGRESS, "member", "居民反馈未解决", now)
    await _notify(session, report, event, officer_text.format(ticket=report.ticket),
                  await officer_openids(session, report), now)
    return event


# --- numbers -------------------------------------------------------------------------------


async def numbers(session: AsyncSession, start: datetime, end: datetime, now: datetime,
                  grid_code: str | None = None, grid_codes: set[str] | None = None
                  ) -> dict[str, Any]:
    """For reports made in [start, end) (of one grid, or of a set of grids): counts by
    status; 办结率 = 已办结 / (all except those 已关闭 as 重复); 满意率 = ratings of 4–5 / all
    ratings; median hours from report to 已办结; open reports past their deadline."""
    stmt = select(Report).where(col(Report.created_at) >= start, col(Report.created_at) < end)
    if grid_code is not None:
        stmt = stmt.where(Report.grid_code == (grid_code or None))
    if grid_codes is not None:
        stmt = stmt.where(col(Report.grid_code).in_(grid_codes or {""}))
    rows = (await session.exec(stmt)).all()
    by_status = {s: 0 for s in (*OPEN, RESOLVED, CLOSED)}
    for r in rows:
        by_status[r.status] += 1
    counted = [r for r in rows if not (r.status == CLOSED and r.close_reason == "重复")]
    resolved = [r for r in rows if r.status == RESOLVED]
    ratings = [r.rating for r in rows if r.rating is not None]
    hours = [(r.resolved_at - r.created_at).total_seconds() / 3600 for r in resolved
             if r.resolved_at]
    return {
        "reports": len(rows),
        "by_status": by_status,
        "resolution_rate": round(len(resolved) / len(counted), 4) if counted else None,
        "satisfaction_rate": round(sum(1 for x in ratings if x >= 4) / len(ratings), 4)
        if ratings else None,
        "ratings": len(ratings),
        "median_hours_to_resolve": round(statistics.median(hours), 2) if hours else None,
        "overdue": sum(1 for r in rows if r.overdue(now)),
    }
