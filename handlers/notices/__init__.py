"""Notices: to an audience, now or at a time, through the outbox; their delivery counts."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.features import Features, MenuEntry, Platform
from handlers.notices import api, console, demo, openapi
from models import notice as notices

TEMPLATES = Path(__file__).with_name("templates")


def _routes(app: web.Application, p: Platform) -> None:
    api.NoticeApi(p.settings.api.token, p.sessions, p.clock, p.services).add_routes(app)


def setup(features: Features) -> None:
    features.api.append(_routes)
    features.openapi.append(openapi.part)
    features.console(console.add_routes, TEMPLATES,
                     MenuEntry("/console/notices", "通知",
                               frozenset({"admin", "instructor", "leader"}), 20))
    features.due[notices.DUE_KIND] = lambda _: notices.expand_scheduled  # when due
    features.seeds.append(demo.seed)
