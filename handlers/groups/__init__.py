"""云上党小组: joining and leaving, leaders' notices, 三会一课 activities and their rolls."""

from __future__ import annotations

from aiohttp import web

from bot.features import Features, Platform
from handlers.groups import api, chat, console


def _routes(app: web.Application, p: Platform) -> None:
    api.GroupApi(p.settings.api.token, p.sessions, p.clock, p.services).add_routes(app)


def setup(features: Features) -> None:
    features.chat(chat.router, chat.leaders)
    features.api.append(_routes)
    features.pages.append(console.add_routes)
