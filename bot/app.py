"""The aiohttp application: one factory that wires settings, database, router and routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock, SystemClock
from bot.db import make_engine, ping, session_factory
from bot.gateway import WechatGateway
from bot.pipeline import DeferredSink, Pipeline, log_deferred_reply
from bot.router import Dispatcher, ProfileGate, Router
from bot.settings import Settings
from models import dialog as dialogs
from models import inbound as claims

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
PIPELINE = web.AppKey("pipeline", Pipeline)
CLOCK = web.AppKey("clock", Clock)

# WeChat retries within seconds; a day of claims is far more than enough.
CLAIM_RETENTION = timedelta(days=1)
HOUSEKEEPING_EVERY_S = 600


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    router: Router | None = None,
    profile_gate: ProfileGate | None = None,
    deferred_sink: DeferredSink = log_deferred_reply,
) -> web.Application:
    """The bot as an aiohttp app. Tests pass a FakeClock, or a router of their own."""
    if router is None or profile_gate is None:
        from handlers import build_router, require_profile

        router = router or build_router()
        profile_gate = profile_gate or require_profile
    clock = clock or SystemClock()
    engine = make_engine(settings.database.url)
    sessions = session_factory(engine)
    pipeline = Pipeline(sessions, Dispatcher(router, profile_gate), settings, clock, deferred_sink)

    app = web.Application()
    app[SETTINGS] = settings
    app[ENGINE] = engine
    app[PIPELINE] = pipeline
    app[CLOCK] = clock
    WechatGateway(settings, clock, pipeline).add_routes(app)
    app.router.add_get("/healthz", healthz)
    app.cleanup_ctx.append(_housekeeping)
    app.on_cleanup.append(_shutdown)
    return app


async def healthz(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(ping(request.app[ENGINE]), timeout=3)
    except Exception as exc:  # any database failure is "not healthy", never a 500
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


async def _housekeeping(app: web.Application) -> AsyncIterator[None]:
    """Forget old retry claims and dead dialogs, now and then."""

    async def loop() -> None:
        sessions = session_factory(app[ENGINE])
        settings, clock = app[SETTINGS], app[CLOCK]
        while True:
            try:
                async with sessions() as session, session.begin():
                    now = clock.now()
                    await claims.purge(session, now - CLAIM_RETENTION)
                    await dialogs.purge_expired(session, now - settings.dialog.idle_timeout)
            except Exception:
                log.exception("housekeeping failed; will try again")
            await asyncio.sleep(HOUSEKEEPING_EVERY_S)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _shutdown(app: web.Application) -> None:
    await app[PIPELINE].drain()
    await app[ENGINE].dispose()
