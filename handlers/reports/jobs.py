"""随手拍's periodic job: the daily digest of overdue reports to officers and admins
(registered in handlers/reports/__init__.py; the scheduler's leader runs it on the loop)."""

from __future__ import annotations

import logging
from datetime import datetime

from bot import texts as T
from bot.clock import SHANGHAI
from bot.db import session_factory
from bot.features import Runtime
from models import grid as grids
from models import outbox
from models import report as reports
from models.views import reports as views

log = logging.getLogger(__name__)

DIGEST_JOB = "reports.digest"


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
            data = {"thing1": "逾期上报日报", "character_string2": str(len(mine)),
                    "time3": now.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")}
            await outbox.enqueue(session, "report_status", subject,
                                 [outbox.Outgoing(user.openid or "", text, data)], now)
            queued += 1
    if queued and services.worker:
        services.worker.wake()
    log.info("overdue digest: %d reports, %d digests", len(late), queued)
    return queued
