"""云上党小组: joining and leaving, leaders' notices, 三会一课 activities and their rolls."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.features import DueExpander, Features, MenuEntry, Platform
from handlers.groups import api, chat, console, demo, openapi
from models import activity as activities
from models.due import DuePush

TEMPLATES = Path(__file__).with_name("templates")


def _routes(app: web.Application, p: Platform) -> None:
    api.GroupApi(p.settings.api.token, p.sessions, p.clock, p.services).add_routes(app)


def reminder(p: Platform) -> DueExpander:
    """Activity reminders, due: the group's members at that moment. An offset no longer in
    school.reminder_offsets is dropped, as configured now."""

    async def remind(session: AsyncSession, row: DuePush, now: datetime) -> int | None:
        if timedelta(seconds=int(row.slot)) not in p.settings.school.reminder_offsets:
            return None
        return await activities.expand_reminder(session, row, now, T.ACTIVITY_REMIND)

    return remind


def roll(p: Platform) -> DueExpander:
    """An activity's attendance list to the group's leader, once it has ended."""

    async def send_roll(session: AsyncSession, row: DuePush, now: datetime) -> int | None:
        return await activities.expand_roll(session, row, now, T.ACTIVITY_ROLL)

    return send_roll


def setup(features: Features) -> None:
    features.chat(chat.router, chat.leaders)
    features.api.append(_routes)
    features.openapi.append(openapi.part)
    features.console(console.add_routes, TEMPLATES,
                     MenuEntry("/console/groups", "小组", frozenset({"admin", "leader"}), 50))
    features.due[activities.REMIND_KIND] = reminder
    features.due[activities.ROLL_KIND] = roll
    features.seeds.append(demo.seed)
