"""Work orders, as a 12345 hotline handles them: each step one function, one event, its pushes.

派单 dispatch → 已派单 (签收 due within `ack_hours` working hours) → 签收 acknowledge → 处理中
→ 已办结 (report.move) → 回访 follow_up the day after → a rating of 1–2 or 未解决 reopens it
to the same grid as a priority. Besides: 退单 give_back (back to the district queue, with a
reason), 延期 request/approve/refuse_extension, 催办 remind at the deadline, 督办 escalate
`escalate_after_days` working days after it, 合并 merge a duplicate into its original.

Decisions (12345 practice): a dispatched order stays 已派单 until the officer's 签收, which
moves it to 处理中 (the existing 处理 word counts as 签收); an order not acknowledged in time,
or given back, returns to 已受理 in the district queue (grid_code None, `returned` set, the
reason kept) for an admin to dispatch again. Deadlines count working days (models/workdays.py).
The 回访 is sent on the calendar day after 已办结, from the opening of working hours (no
pushes at night), to the reporter only, if they have not rated yet.

Every function expects the report's row locked (report.by_ticket(lock=True), or `locked`)
and re-checks its rule, so double taps, retried callbacks and two officers at once give one
event. Rules broken raise ReportError(code) (words in bot/texts/orders.py). Pushes: kind
`work_order` to staff (subject `order:<report>:<event>`), `report_status` to the reporter and
backers (subject `report:<report>:<event>`): each at most once per recipient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import outbox
from models import report as R
from models.base import SHANGHAI
from models.grid import Grid, codes_of_officer
from models.member import Member
from models.report import Report, ReportBacker, ReportError, ReportEvent
from models.staff import ConsoleUser
from models.text import fit
from models.workdays import Calendar

# ReportEvent.action of each step (status changes by hand keep report.CHANGED: 状态变更).
DISPATCH, ACK, GIVE_BACK, ACK_OVERDUE = "派单", "签收", "退单", "签收超时"
ASK_EXTENSION, APPROVE_EXTENSION, REFUSE_EXTENSION = "申请延期", "批准延期", "驳回延期"
REMIND, ESCALATE, FOLLOW_UP, MERGE, REOPEN = "催办", "督办", "回访", "合并", "重新打开"
PENDING, APPROVED, REFUSED = "pending", "approved", "refused"  # Report.extension_state
EXTENSION_DAYS = (1, 30)  # a 延期 asks for this many working days, inclusive
REASON_MIN = 2  # characters, for a 退单 or 延期 reason
ACK_OVERDUE_REASON = "超时未签收"
LOW_RATING = 2  # a rating of this or less reopens the report


@dataclass(frozen=True)
class Words:
    """The pushes' texts (bot/texts/orders.py), given by the caller: models import no bot."""

    status: str  # to the reporter/backers: {ticket} {status} {note}
    dispatched: str  # to officers: {ticket} {category} {text} {ack_due} {due}
    ack_overdue: str  # to admins: {ticket} {grid}
    returned: str  # to admins: {ticket} {grid} {reason}
    extension_asked: str  # to admins: {ticket} {grid} {days} {reason}
    extension_approved: str  # to the officer: {ticket} {due} {note}
    extension_refused: str  # to the officer: {ticket} {due} {note}
    remind: str  # to officers: {ticket} {category} {due}
    escalate: str  # to admins: {ticket} {grid} {due} {days}
    follow_up: str  # to the reporter: {ticket}
    rate_hint: str  # report.rate_hint of the 回访 push
    reopened: str  # to officers: {ticket} {why} {due}
    merged_note: str  # the duplicate's 已关闭 note: {original}
    titles: Mapping[str, str]  # order.title per action


@dataclass(frozen=True)
class Policy:
    """The counting rules (config `reports.*`) and the words of the pushes."""

    calendar: Calendar
    ack_hours: float
    escalate_after_days: int
    deadlines: Mapping[str, timedelta]  # category → deadline (days: working days)
    words: Words

    def due(self, category: str, start: datetime) -> datetime:
        """The handling deadline of a report of `category` dispatched at `start`."""
        span = self.deadlines.get(category, timedelta(days=3))
        return self.calendar.add_deadline(start, span)

    def ack_due(self, start: datetime) -> datetime:
        return self.calendar.add_working_hours(start, self.ack_hours)

    def escalate_at(self, due_at: datetime) -> datetime:
        return self.calendar.add_working_days(due_at, self.escalate_after_days)

    def follow_up_at(self, resolved_at: datetime) -> datetime:
        """The opening of working hours on the calendar day after 已办结."""
        day = resolved_at.astimezone(SHANGHAI).date() + timedelta(days=1)
        return datetime.combine(day, self.calendar.opens, tzinfo=SHANGHAI)


# --- reading -------------------------------------------------------------------------------


async def locked(session: AsyncSession, report_id: int) -> Report | None:
    """The report by id, its row locked until the transaction ends (fresh from the row)."""
    stmt = (select(Report).where(Report.id == report_id).with_for_update()
            .execution_options(populate_existing=True))
    return (await session.exec(stmt)).first()


def actor_of(user: ConsoleUser) -> str:
    return f"{user.role}:{user.username}"


async def in_grid(session: AsyncSession, report: Report, user: ConsoleUser) -> bool:
    """Whether the officer works the report's grid."""
    return report.grid_code is not None and report.grid_code in await codes_of_officer(
        session, user)


async def admin_openids(session: AsyncSession) -> list[str]:
    return [o for o in (await session.exec(select(ConsoleUser.openid).where(
        ConsoleUser.active, ConsoleUser.role == "admin",
        col(ConsoleUser.openid).is_not(None)))).all() if o]


async def grid_name(session: AsyncSession, code: str | None) -> str:
    grid = (await session.exec(select(Grid).where(Grid.code == code))).first() if code else None
    return grid.name if grid else (code or "区级")


def local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%m-%d %H:%M")


# --- pushes --------------------------------------------------------------------------------


async def _tell_staff(session: AsyncSession, report: Report, event: ReportEvent, text: str,
                      openids: Sequence[str], now: datetime, policy: Policy) -> None:
    title = policy.words.titles.get(event.action, event.action)
    data = R.order_values(report, event, title)
    await outbox.enqueue(session, "work_order", f"order:{report.id}:{event.id}",
                         [outbox.Outgoing(o, text, data) for o in dict.fromkeys(openids) if o],
                         now)


async def _tell_reporters(session: AsyncSession, report: Report, event: ReportEvent,
                          note: str, now: datetime, policy: Policy) -> None:
    text = policy.words.status.format(ticket=report.ticket, status=event.to_status,
                                      note=note or "—")
    await R._notify(session, report, event, text, await R.reporter_and_backers(session, report),
                    now)


async def _step(session: AsyncSession, report: Report, action: str, actor: str, note: str,
                now: datetime, to_status: str | None = None) -> ReportEvent:
    return await R._event(session, report, to_status or report.status, actor, note, now, action)


# --- 派单, 签收, 退单 ----------------------------------------------------------------------


async def dispatch(session: AsyncSession, report: Report, grid: Grid, actor: ConsoleUser,
                   now: datetime, policy: Policy) -> ReportEvent:
    """派单: an admin sends an open report to `grid` (from the district queue, or on to
    another grid). 已派单; 签收 due by now + ack_hours working hours; the handling deadline
    restarts: the category's working days from now. The grid's officers are told, and the
    reporter and backers."""
    if actor.role != "admin":
        raise ReportError("admin_only")
    if not report.is_open:
        raise ReportError("not_open", status=report.status)
    if report.grid_code == grid.code:
        raise ReportError("same_grid", grid=grid.name)
    report.grid_code, report.returned, report.return_reason = grid.code, False, None
    report.dispatched_at, report.ack_due_at, report.acked_at = now, policy.ack_due(now), None
    report.due_at, report.reminded_at, report.escalated_at = policy.due(report.category, now),\
        None, None
    if report.extension_state == PENDING:
        report.extension_state = None
    event = await _step(session, report, DISPATCH, actor_of(actor), grid.name, now, R.DISPATCHED)
    text = policy.words.dispatched.format(
        ticket=report.ticket, category=report.category, text=report.description[:40],
        ack_due=local(report.ack_due_at), due=local(report.due_at))
    await _tell_staff(session, report, event, text, await R.officer_openids(session, report),
                      now, policy)
    await _tell_reporters(session, report, event, grid.name, now, policy)
    return event


async def _check_officer(session: AsyncSession, report: Report, officer: ConsoleUser) -> None:
    if not await in_grid(session, report, officer):
        raise ReportError("not_your_grid")


async def acknowledge(session: AsyncSession, report: Report, officer: ConsoleUser,
                      now: datetime, policy: Policy) -> ReportEvent:
    """签收: an officer of the report's grid takes the dispatched order: 处理中, acked_at.
    The reporter and backers are told."""
    await _check_officer(session, report, officer)
    if report.acked_at is not None and report.is_open:
        raise ReportError("already_acked", status=report.status)
    if report.status != R.DISPATCHED:
        raise ReportError("wrong_status", status=report.status)
    report.acked_at = now
    event = await _step(session, report, ACK, actor_of(officer), "", now, R.IN_PROGRESS)
    await _tell_reporters(session, report, event, await grid_name(session, report.grid_code),
                          now, policy)
    return event


def _to_queue(report: Report, reason: str) -> None:
    report.grid_code, report.returned, report.return_reason = None, True, fit(reason,
                                                                              R.REASON_MAX)
    report.ack_due_at = report.acked_at = None
    if report.extension_state == PENDING:
        report.extension_state = None


def _reason(reason: str) -> str:
    text = reason.strip()
    if len(text) < REASON_MIN:
        raise ReportError("no_reason")
    return text


async def give_back(session: AsyncSession, report: Report, officer: ConsoleUser, reason: str,
                    now: datetime, policy: Policy) -> ReportEvent:
    """退单: the officer returns the order (a reason required): back to 已受理 in the
    district queue, flagged returned with the reason; the admins are told."""
    await _check_officer(session, report, officer)
    if report.status not in (R.DISPATCHED, R.IN_PROGRESS):
        raise ReportError("wrong_status", status=report.status)
    text = _reason(reason)
    name = await grid_name(session, report.grid_code)
    _to_queue(report, text)
    event = await _step(session, report, GIVE_BACK, actor_of(officer), f"{name}：{text}", now,
                        R.ACCEPTED)
    await _tell_staff(session, report, event, policy.words.returned.format(
        ticket=report.ticket, grid=name, reason=text), await admin_openids(session), now, policy)
    return event


async def time_out_ack(session: AsyncSession, report: Report, now: datetime, policy: Policy
                       ) -> ReportEvent | None:
    """The job: a dispatched order not acknowledged by its ack_due_at goes back up to the
    district queue (flagged returned, 超时未签收) and the admins are reminded. None when
    it is not (or no longer) due."""
    if (report.status != R.DISPATCHED or report.acked_at is not None
            or report.ack_due_at is None or report.ack_due_at > now):
        return None
    name = await grid_name(session, report.grid_code)
    _to_queue(report, ACK_OVERDUE_REASON)
    event = await _step(session, report, ACK_OVERDUE, "system", f"{name}：{ACK_OVERDUE_REASON}",
                        now, R.ACCEPTED)
    await _tell_staff(session, report, event, policy.words.ack_overdue.format(
        ticket=report.ticket, grid=name), await admin_openids(session), now, policy)
    return event


# --- 延期 ----------------------------------------------------------------------------------


async def request_extension(session: AsyncSession, report: Report, officer: ConsoleUser,
                            days: int, reason: str, now: datetime, policy: Policy
                            ) -> ReportEvent:
    """申请延期: the officer asks for `days` (1–30) more working days, with a reason; it
    waits for an admin (extension_state pending); the admins are told."""
    await _check_officer(session, report, officer)
    if report.status not in (R.DISPATCHED, R.IN_PROGRESS):
        raise ReportError("wrong_status", status=report.status)
    if report.extension_state == PENDING:
        raise ReportError("extension_pending", days=report.extension_days or 0)
    if not EXTENSION_DAYS[0] <= days <= EXTENSION_DAYS[1]:
        raise ReportError("days_range", low=EXTENSION_DAYS[0], high=EXTENSION_DAYS[1])
    text = _reason(reason)
    report.extension_state, report.extension_days = PENDING, days
    report.extension_reason, report.extension_by = fit(text, R.REASON_MAX), officer.username
    event = await _step(session, report, ASK_EXTENSION, actor_of(officer),
                        f"{days}个工作日：{text}", now)
    await _tell_staff(session, report, event, policy.words.extension_asked.format(
        ticket=report.ticket, grid=await grid_name(session, report.grid_code), days=days,
        reason=text), await admin_openids(session), now, policy)
    return event


async def _decide(session: AsyncSession, report: Report, admin: ConsoleUser, note: str,
                  now: datetime, policy: Policy, approve: bool) -> ReportEvent:
    if admin.role != "admin":
        raise ReportError("admin_only")
    if report.extension_state != PENDING:
        raise ReportError("no_extension")
    if not report.is_open:
        raise ReportError("not_open", status=report.status)
    days = report.extension_days or 0
    if approve:
        # Counted from now when the order is already late: an extension is time ahead.
        report.due_at = policy.calendar.add_working_days(max(report.due_at, now), days)
        report.reminded_at = report.escalated_at = None  # 催办 and 督办 count afresh
    report.extension_state = APPROVED if approve else REFUSED
    action = APPROVE_EXTENSION if approve else REFUSE_EXTENSION
    head = f"{days}个工作日，期限至{local(report.due_at)}" if approve else f"{days}个工作日"
    event = await _step(session, report, action, actor_of(admin),
                        f"{head}{'：' + note.strip() if note.strip() else ''}", now)
    officer = (await session.exec(select(ConsoleUser).where(
        ConsoleUser.username == (report.extension_by or "")))).first()
    words = policy.words.extension_approved if approve else policy.words.extension_refused
    text = words.format(ticket=report.ticket, due=local(report.due_at), note=note.strip())
    await _tell_staff(session, report, event, text,
                      [officer.openid] if officer and officer.openid else [], now, policy)
    return event


async def approve_extension(session: AsyncSession, report: Report, admin: ConsoleUser,
                            note: str, now: datetime, policy: Policy) -> ReportEvent:
    """批准延期: due_at moves on by the asked working days; the officer is told."""
    return await _decide(session, report, admin, note, now, policy, approve=True)


async def refuse_extension(session: AsyncSession, report: Report, admin: ConsoleUser,
                           note: str, now: datetime, policy: Policy) -> ReportEvent:
    """驳回延期: the deadline stays; the officer is told (with the admin's note)."""
    return await _decide(session, report, admin, note, now, policy, approve=False)


# --- 催办, 督办, 回访 (the job) ------------------------------------------------------------


async def remind(session: AsyncSession, report: Report, now: datetime, policy: Policy
                 ) -> ReportEvent | None:
    """催办: at its deadline an open order of a grid is pushed to the grid's officers, once
    per deadline (reminded_at). None when not due."""
    if (not report.is_open or report.grid_code is None or report.reminded_at is not None
            or report.due_at > now):
        return None
    report.reminded_at = now
    event = await _step(session, report, REMIND, "system", f"期限 {local(report.due_at)}", now)
    await _tell_staff(session, report, event, policy.words.remind.format(
        ticket=report.ticket, category=report.category, due=local(report.due_at)),
        await R.officer_openids(session, report), now, policy)
    return event


async def escalate(session: AsyncSession, report: Report, now: datetime, policy: Policy
                   ) -> ReportEvent | None:
    """督办: still open `escalate_after_days` working days after its deadline: escalated_at
    set (shown as 督办), the admins told once. None when not due."""
    if (not report.is_open or report.escalated_at is not None
            or policy.escalate_at(report.due_at) > now):
        return None
    report.escalated_at = now
    days = policy.calendar.working_days_between(report.due_at, now)
    event = await _step(session, report, ESCALATE, "system", f"超期{days}个工作日", now)
    await _tell_staff(session, report, event, policy.words.escalate.format(
        ticket=report.ticket, grid=await grid_name(session, report.grid_code),
        due=local(report.due_at), days=days), await admin_openids(session), now, policy)
    return event


async def follow_up(session: AsyncSession, report: Report, now: datetime, policy: Policy
                    ) -> ReportEvent | None:
    """回访: the day after 已办结 the reporter is asked to rate (a bare 1–5 answers it), once,
    unless they rated already. None when not due."""
    if (report.status != R.RESOLVED or report.rating is not None or report.resolved_at is None
            or report.followed_up_at is not None
            or policy.follow_up_at(report.resolved_at) > now):
        return None
    report.followed_up_at = now
    event = await _step(session, report, FOLLOW_UP, "system", "", now)
    reporter = await session.get(Member, report.member_id)
    if reporter is not None:
        text = policy.words.follow_up.format(ticket=report.ticket)
        await R._notify(session, report, event, text, [reporter.openid], now,
                        policy.words.rate_hint)
    return event


async def due_ids(session: AsyncSession, now: datetime) -> dict[str, list[int]]:
    """Reports the job may have to act on, by step (each step re-checks on the locked row)."""
    def ids(found: Sequence[int | None]) -> list[int]:
        return [i for i in found if i is not None]

    q = select(Report.id)
    ack = await session.exec(q.where(Report.status == R.DISPATCHED, col(Report.acked_at)
                                     .is_(None), col(Report.ack_due_at) <= now))
    late = col(Report.status).in_(R.OPEN)
    rem = await session.exec(q.where(late, col(Report.reminded_at).is_(None),
                                     col(Report.grid_code).is_not(None),
                                     col(Report.due_at) <= now))
    esc = await session.exec(q.where(late, col(Report.escalated_at).is_(None),
                                     col(Report.due_at) <= now))
    fol = await session.exec(q.where(Report.status == R.RESOLVED, col(Report.rating).is_(None),
                                     col(Report.followed_up_at).is_(None),
                                     col(Report.resolved_at) <= now,
                                     col(Report.resolved_at) >= now - R.RATING_PROMPT_WINDOW))
    return {"ack": ids(ack.all()), "remind": ids(rem.all()), "escalate": ids(esc.all()),
            "follow_up": ids(fol.all())}


# --- 评价, 未解决: reopening as a priority ------------------------------------------------


async def _reopen(session: AsyncSession, report: Report, actor: str, why: str, now: datetime,
                  policy: Policy) -> ReportEvent:
    report.reopened += 1
    report.priority, report.resolved_at = True, None
    report.due_at = policy.due(report.category, now)
    report.reminded_at = report.escalated_at = None
    event = await _step(session, report, REOPEN, actor, why, now, R.IN_PROGRESS)
    officers = await R.officer_openids(session, report)
    await _tell_staff(session, report, event, policy.words.reopened.format(
        ticket=report.ticket, why=why, due=local(report.due_at)),
        officers or await admin_openids(session), now, policy)
    return event


async def rate(session: AsyncSession, report: Report, member: Member, stars: int,
               now: datetime, policy: Policy) -> ReportEvent | None:
    """评价: the reporter rates 已办结 1–5; 1–2 reopens it to the same grid as a priority
    (the rating is kept; the next 已办结 is rated afresh). The reopening event, or None."""
    R.check_rating(report, member.id, stars)
    await R.rate(session, report, member, stars, now)
    if stars > LOW_RATING:
        return None
    return await _reopen(session, report, "member", f"评价{stars}星", now, policy)


async def reopen(session: AsyncSession, report: Report, member: Member, now: datetime,
                 policy: Policy) -> ReportEvent:
    """未解决: within 7 days of 已办结 the reporter reopens it: 处理中 at the same grid, as a
    priority with a new deadline; the officers (or, with no grid, the admins) are told."""
    R.check_reopen(report, member.id, now)
    return await _reopen(session, report, "member", "反馈未解决", now, policy)


# --- 合并 ----------------------------------------------------------------------------------


async def merge(session: AsyncSession, duplicate: Report, original: Report, actor: ConsoleUser,
                now: datetime, policy: Policy) -> tuple[ReportEvent, ReportEvent]:
    """合并: staff (an admin, or an officer of the duplicate's grid) merge an open duplicate
    into its original (not 已关闭): the duplicate is 已关闭 as 重复 with merged_into_id; its
    reporter and backers back the original (and hear of its changes from now on); both get
    an event; the duplicate's reporter and backers are told. Locks both rows (id order)."""
    if duplicate.id == original.id:
        raise ReportError("merge_self")
    for report_id in sorted((duplicate.id or 0, original.id or 0)):
        await locked(session, report_id)  # refreshes both objects from their locked rows
    if actor.role != "admin" and not await in_grid(session, duplicate, actor):
        raise ReportError("not_your_grid")
    if not duplicate.is_open:
        raise ReportError("merge_closed", status=duplicate.status)
    if original.status == R.CLOSED or original.merged_into_id is not None:
        raise ReportError("merge_target", status=original.status)
    assert original.id is not None and duplicate.id is not None
    members = [duplicate.member_id, *(await session.exec(select(ReportBacker.member_id).where(
        ReportBacker.report_id == duplicate.id))).all()]
    for member_id in dict.fromkeys(members):
        member = await session.get(Member, member_id)
        if member is not None:
            await R.back(session, original, member, now)  # once; never the original's reporter
    duplicate.close_reason, duplicate.closed_at = "重复", now
    duplicate.merged_into_id = original.id
    note = policy.words.merged_note.format(original=original.ticket)
    gone = await _step(session, duplicate, MERGE, actor_of(actor), note, now, R.CLOSED)
    kept = await _step(session, original, MERGE, actor_of(actor),
                       f"并入 {duplicate.ticket}", now)
    await _tell_reporters(session, duplicate, gone, note, now, policy)
    return gone, kept
