"""随手拍: reports from riders, the officers' work on them, Open311, the daily digest."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.features import Features, MenuEntry, PeriodicJob, Platform
from handlers.reports import (
    api,
    chat,
    console,
    demo,
    grids_console,
    jobs,
    numbers,
    open311,
    openapi,
    orders,
    photos,
    steps,
)

TEMPLATES = Path(__file__).with_name("templates")


def _routes(app: web.Application, p: Platform) -> None:
    api.ReportApi(p.settings.api.token, p.sessions, p.clock, p.services).add_routes(app)
    open311.add_open311_routes(app, p.sessions, p.settings, p.clock)


def _console_routes(app: web.Application) -> None:
    console.add_routes(app)
    steps.add_routes(app)  # the work-order steps (派单, 签收, 退单, 延期, 合并)


def setup(features: Features) -> None:
    features.chat(chat.router, chat.officers, orders.router)
    features.api.append(_routes)
    features.openapi.append(openapi.part)
    features.console(_console_routes, TEMPLATES,
                     MenuEntry("/console/reports", "上报", frozenset({"admin", "officer"}), 30))
    features.console(grids_console.add_routes, TEMPLATES)  # 网格 (admin)
    features.console(numbers.add_routes, TEMPLATES,  # 数据 (the numbers; admin, officer)
                     MenuEntry("/console/numbers", "数据", frozenset({"admin", "officer"}), 35))
    features.seeds.append(demo.seed)
    features.loops["photos"] = photos.fetcher
    features.jobs.append(PeriodicJob(jobs.DIGEST_JOB, jobs.send_digest,
                                     daily_at=lambda s: s.reports.digest_at))
    features.jobs.append(PeriodicJob(jobs.ORDERS_JOB, jobs.run_orders,
                                     every_s=jobs.ORDERS_EVERY_S))
