"""工单 in WeChat: the grid officers' 签收 / 退单 / 延期 and the admins' 批准延期 / 驳回延期
(models/work_order.py does the work; the console offers the same steps), and `policy`,
the work-order rules from config that every way in uses."""

from __future__ import annotations

from datetime import datetime

import cn2an
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.router import Router
from bot.settings import Settings
from models import report as reports
from models import work_order as orders
from models.report import Report, ReportError
from models.staff import ConsoleUser

router = Router("orders", help=[T.HELP_ORDERS], help_roles={"officer"})

TICKET = r"(?P<ticket>[Rr]\d{8}-\d{4})"
NUMBER = r"[0-9零〇一二三四五六七八九十两]{1,4}"


def words() -> orders.Words:
    return orders.Words(
        status=T.REPORT_PUSH_STATUS, dispatched=T.ORDER_PUSH_NEW,
        ack_overdue=T.ORDER_PUSH_ACK_OVERDUE, returned=T.ORDER_PUSH_RETURNED,
        extension_asked=T.ORDER_PUSH_EXTENSION_ASKED,
        extension_approved=T.ORDER_PUSH_EXTENSION_APPROVED,
        extension_refused=T.ORDER_PUSH_EXTENSION_REFUSED, remind=T.ORDER_PUSH_REMIND,
        escalate=T.ORDER_PUSH_ESCALATE, follow_up=T.ORDER_PUSH_FOLLOW_UP,
        rate_hint=T.REPORT_RATE_HINT, reopened=T.ORDER_PUSH_REOPENED,
        merged_note=T.ORDER_MERGED_NOTE, titles=T.ORDER_TITLES)


def policy(settings: Settings) -> orders.Policy:
    """The work-order rules of config `reports.*` with the pushes' words: what the chat, the
    console, the API and the job hand to models/work_order.py."""
    r = settings.reports
    return orders.Policy(calendar=r.calendar(), ack_hours=r.ack_hours,
                         escalate_after_days=r.escalate_after_days,
                         deadlines={c.name: c.deadline for c in r.categories}, words=words())


def error_text(err: ReportError, report: Report) -> str:
    """A refused step, in words for staff."""
    text = T.ORDER_ERRORS.get(err.code, T.ORDER_ERRORS["wrong_status"])
    return text.format(**{"ticket": report.ticket, "status": report.status, **err.details})


def number(text: str) -> int | None:
    """"3", "３" (folded before), "三", "十五" → int; None for anything else."""
    try:
        return int(text) if text.isdigit() else int(cn2an.cn2an(text, "smart"))
    except (ValueError, TypeError):
        return None


async def _report(session: AsyncSession, ticket: str) -> Report | str:
    report = await reports.by_ticket(session, ticket, lock=True)
    return report if report is not None else T.TICKET_UNKNOWN.format(ticket=ticket.upper())


@router.regex(rf"签收\s*{TICKET}\s*", roles={"officer"})
async def acknowledge(ticket: str, staff: ConsoleUser, session: AsyncSession, now: datetime,
                      settings: Settings) -> str:
    report = await _report(session, ticket)
    if isinstance(report, str):
        return report
    try:
        await orders.acknowledge(session, report, staff, now, policy(settings))
    except ReportError as err:
        return error_text(err, report)
    return T.ORDER_ACKED.format(ticket=report.ticket, due=orders.local(report.due_at))


@router.regex(rf"退单\s*{TICKET}\s*(?P<reason>.*)", roles={"officer"})
async def give_back(ticket: str, reason: str, staff: ConsoleUser, session: AsyncSession,
                    now: datetime, settings: Settings) -> str:
    report = await _report(session, ticket)
    if isinstance(report, str):
        return report
    try:
        await orders.give_back(session, report, staff, reason, now, policy(settings))
    except ReportError as err:
        return error_text(err, report)
    return T.ORDER_GIVEN_BACK.format(ticket=report.ticket, reason=report.return_reason)


@router.regex(rf"延期\s*{TICKET}\s*(?P<days>{NUMBER})?\s*(?:个)?(?:工作)?[天日]?\s*(?P<reason>.*)",
              roles={"officer"})
async def extend(ticket: str, days: str | None, reason: str, staff: ConsoleUser,
                 session: AsyncSession, now: datetime, settings: Settings) -> str:
    report = await _report(session, ticket)
    if isinstance(report, str):
        return report
    n = number(days) if days else None
    if n is None:
        return T.ORDER_USAGE["延期"]
    try:
        await orders.request_extension(session, report, staff, n, reason, now,
                                       policy(settings))
    except ReportError as err:
        return error_text(err, report)
    return T.ORDER_EXTENSION_ASKED.format(ticket=report.ticket, days=n,
                                          due=orders.local(report.due_at))


@router.regex(rf"(?P<word>批准|驳回)延期\s*{TICKET}\s*(?P<note>.*)", roles={"admin"})
async def decide(word: str, ticket: str, note: str, staff: ConsoleUser, session: AsyncSession,
                 now: datetime, settings: Settings) -> str:
    report = await _report(session, ticket)
    if isinstance(report, str):
        return report
    step = orders.approve_extension if word == "批准" else orders.refuse_extension
    try:
        await step(session, report, staff, note, now, policy(settings))
    except ReportError as err:
        return error_text(err, report)
    done = T.ORDER_EXTENSION_APPROVED_REPLY if word == "批准" else \
        T.ORDER_EXTENSION_REFUSED_REPLY
    return done.format(ticket=report.ticket, due=orders.local(report.due_at))


@router.regex(r"(?P<word>签收|退单|延期)(?:\s.*)?", roles={"officer"})
async def usage(word: str) -> str:
    return T.ORDER_USAGE[word]


@router.regex(r"(?P<word>批准延期|驳回延期)(?:\s.*)?", roles={"admin"})
async def admin_usage(word: str) -> str:
    return T.ORDER_USAGE[word]
