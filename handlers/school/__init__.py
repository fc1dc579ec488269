"""小哥党校: courses, enrolment and its waitlist, attendance, reminders."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.features import DueExpander, Features, MenuEntry, Platform
from handlers.school import api, chat, console, demo, openapi
from models import course as courses
from models import course_reminders as reminders
from models.due import DuePush

log = logging.getLogger(__name__)


TEMPLATES = Path(__file__).with_name("templates")


def _routes(app: web.Application, p: Platform) -> None:
    api.CourseApi(p.settings.api.token, p.sessions, p.clock, p.services).add_routes(app)


def reminder(p: Platform) -> DueExpander:
    """Course reminders, due (planned when the course was published or moved): every
    enrollee at that moment, once (the outbox key holds course, offset and start time).
    An offset no longer in school.reminder_offsets is dropped, as configured now."""

    async def remind(session: AsyncSession, row: DuePush, now: datetime) -> int | None:
        if timedelta(seconds=int(row.slot)) not in p.settings.school.reminder_offsets:
            sent = None
        else:
            sent = await reminders.expand_reminder(session, row, now, T.COURSE_REMIND)
        log.info("course reminder %s/%ss: %s", row.subject.split(":")[1], row.slot,
                 "dropped" if sent is None else f"{sent} queued")
        return sent

    return remind


def setup(features: Features) -> None:
    features.chat(chat.router, chat.instructors)
    features.api.append(_routes)
    features.openapi.append(openapi.part)
    features.console(console.add_routes, TEMPLATES,
                     MenuEntry("/console/courses", "课程", frozenset({"admin", "instructor"}), 10))
    features.due[courses.PUSH_KIND] = reminder
    features.seeds.append(demo.seed)
