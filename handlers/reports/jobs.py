"""随手拍's periodic jobs (registered in handlers/reports/__init__.py; the scheduler's leader
runs them on the loop): the daily digest of overdue reports to officers and admins, and the
work-order clock every few minutes (签收 timeouts, 催办, 督办, 回访)."""

from __future__ import annotations

import logging
from datetime import datetime

from bot import texts as T
from bot.clock import SHANGHAI
from bot.db import session_factory
from bot.features import Runtime
from handlers.reports import orders
from models import grid as grids
from models import outbox, work_order
from models import report as reports
from models.push_values import iso_time
from models.views import reports as views

log = logging.getLogger(__name__)

DIGEST_JOB = "reports.digest"
ORDERS_JOB = "reports.orders"
ORDERS_EVERY_S = 300.0
_STEPS = {"ack": work_order.time_out_ack, "remind": work_order.remind,
          "escalate": work_order.escalate, "follow_up": work_order.follow_up}


async def run_orders(services: Runtime, now: datetime) -> int:
    """The work-order clock: each report due for a step is locked and the step re-checked
    in its own transaction (models/work_order.py), so a second run, or two instances, act
    once. Returns how many steps were taken."""
    rules = orders.policy(services.settings)
    factory = session_factory(services.engine)
    async with factory() as session:
        due = await work_order.due_ids(session, now)
    taken = 0
    for step, ids in due.items():
        for report_id in ids:
            async with factory() as session, session.begin():
                report = await work_order.locked(session, report_id)
                if report is not None and await _STEPS[step](session, report, now, rules):
                    taken += 1
    if taken and services.worker:
        services.worker.wake()
    if taken:
        log.info("work orders: %d steps taken", taken)
    return taken


async def send_digest(services: Runtime, now: datetime) -> int:
    """Tell each officer the overdue reports of their grids and each admin all of them,
    once a day (the outbox key holds the day). Returns how many digests were queued."""
    day = now.astimezone(SHANGHAI).date().isoformat()
    subject = f"digest:{day}"
    queued = 0
    async with session_factory(services.engine)() as session, session.begin():
        late = list(await reports.overdue(session, now))
        if not late:
            return 0
        names = await views.grid_names(session)
        for user in await views.digest_recipients(session, subject):
            mine = late if user.role == "admin" else [
                r for r in late if r.grid_code in await grids.codes_of_officer(session, user)]
            if not mine:
                continue
            lines = [T.DIGEST_LINE.format(ticket=r.ticket, status=r.status,
                                          grid=names.get(r.grid_code or "", "待分派"),
                                          days=max(1, (now - r.due_at).days + 1))
                     for r in mine[:20]]
            text = "\n".join([T.DIGEST_HEADER.format(n=len(mine)), *lines])
            data = {"order.title": T.DIGEST_TITLE, "order.count": str(len(mine)),
                    "order.ticket": mine[0].ticket, "order.category": mine[0].category,
                    "event.time": iso_time(now)}
            await outbox.enqueue(session, "work_order", subject,
                                 [outbox.Outgoing(user.openid or "", text, data)], now)
            queued += 1
    if queued and services.worker:
        services.worker.wake()
    log.info("overdue digest: %d reports, %d digests", len(late), queued)
    return queued
