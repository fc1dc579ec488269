"""Activities' duties: reminders before each activity, the roll to the leader after it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import select

from bot import texts as T
from bot.clock import SHANGHAI
from bot.db import session_factory
from bot.scheduler import hop
from models import activity as activities
from models import group as groups
from models import outbox
from models.outbox import Push

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger(__name__)


def activity_job() -> None:
    """Every half minute: due activity reminders, and the roll for activities just ended."""
    hop(lambda services: run_activity_duties(services, services.clock.now()))


async def run_activity_duties(services: Services, now: datetime) -> tuple[int, int]:
    """Reminders at `school.reminder_offsets` before each activity, and its attendance list
    to the group's leader once it has ended. Returns (reminders, rolls) queued."""
    rolls = 0
    async with session_factory(services.engine)() as session, session.begin():
        reminded = await activities.due_reminders(
            session, services.settings.school.reminder_offsets, now, T.ACTIVITY_REMIND)
        for a in await activities.ended_without_roll(session, now, timedelta(days=1)):
            subject = f"activity:{a.id}:roll"
            if (await session.exec(select(Push.id).where(Push.subject == subject))).first():
                continue
            group = await session.get(groups.PartyGroup, a.group_id)
            leader = await groups.leader_of(session, group) if group else None
            if leader is None or not leader.openid:
                continue
            r = await activities.roll(session, a)
            text = T.ACTIVITY_ROLL.format(
                what=activities.describe(a), np=len(r.present), present="、".join(r.present)
                or "—", nl=len(r.leave), leave="、".join(f"{n}（{why}）" for n, why in r.leave)
                or "—", na=len(r.absent), absent="、".join(r.absent) or "—")
            data = {"thing1": a.topic[:20], "thing2": f"到会{len(r.present)}人",
                    "time3": a.end_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")}
            await outbox.enqueue(session, "group_activity", subject,
                                 [outbox.Outgoing(leader.openid, text, data)], now)
            rolls += 1
    if (reminded or rolls) and services.worker:
        services.worker.wake()
    return reminded, rolls


