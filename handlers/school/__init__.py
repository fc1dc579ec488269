"""小哥党校: courses, enrolment and its waitlist, attendance, reminders."""

from __future__ import annotations

from aiohttp import web

from bot.features import Features, Platform
from handlers.school import api, chat, console


def _routes(app: web.Application, p: Platform) -> None:
    api.CourseApi(p.settings.api.token, p.sessions, p.clock, p.services).add_routes(app)


def setup(features: Features) -> None:
    features.chat(chat.router, chat.instructors)
    features.api.append(_routes)
    features.pages.append(console.add_routes)
