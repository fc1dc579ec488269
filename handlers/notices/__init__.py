"""Notices: to an audience, now or at a time, through the outbox; their delivery counts."""

from __future__ import annotations

from aiohttp import web

from bot.features import Features, Platform
from handlers.notices import api, console
from models import notice as notices


def _routes(app: web.Application, p: Platform) -> None:
    api.NoticeApi(p.settings.api.token, p.sessions, p.clock, p.services).add_routes(app)


def setup(features: Features) -> None:
    features.api.append(_routes)
    features.pages.append(console.add_routes)
    features.producers.append(notices.expand_due)  # scheduled notices, when due
