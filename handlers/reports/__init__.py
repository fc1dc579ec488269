"""随手拍: reports from riders, the officers' work on them, Open311, the daily digest."""

from __future__ import annotations

from aiohttp import web

from bot.features import Features, Platform
from handlers.reports import api, chat, console, open311, photos


def _routes(app: web.Application, p: Platform) -> None:
    api.ReportApi(p.settings.api.token, p.sessions, p.clock, p.services).add_routes(app)
    open311.add_open311_routes(app, p.sessions, p.settings, p.clock)


def setup(features: Features) -> None:
    features.chat(chat.router, chat.officers)
    features.api.append(_routes)
    features.pages.append(console.add_routes)
    features.loops["photos"] = photos.fetcher
