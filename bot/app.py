"""The composition root: one factory that wires settings, database, the WeChat gateway and
every feature (handlers/) into one aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import language, metrics
from bot.clock import Clock, SystemClock
from bot.db import make_console_engine, make_engine, ping, session_factory
from bot.dev.sandbox import create_sandbox
from bot.features import Features, Loop, PeriodicJob, Platform, Runtime
from bot.push import receipts
from bot.push.worker import OutboxWorker
from bot.router import Dispatcher, ProfileGate, Router
from bot.scheduler import SchedulerLeader
from bot.settings import Settings
from bot.web.api import too_long_is_400
from bot.web.console import create_console, site_errors
from bot.web.hangups import guard_bodies
from bot.web.headers import security_headers
from bot.web.openapi import add_openapi_routes
from bot.wechat.client import WechatApi
from bot.wechat.gateway import WechatGateway
from bot.wechat.message import Inbound
from bot.wechat.pipeline import Pipeline
from bot.wechat.token import SharedToken, token_fetchers
from models import claim, dialog_store, login_throttle, outbox, replay

FAVICON = Path(__file__).with_name("web") / "static" / "favicon.ico"

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
# The console's, /api/v1's and the login's (bot/db.py make_console_engine): on SQLite
# the same as ENGINE.
CONSOLE_ENGINE = web.AppKey("console_engine", AsyncEngine)
PIPELINE = web.AppKey("pipeline", Pipeline)
CLOCK = web.AppKey("clock", Clock)
LEADER = web.AppKey("scheduler", SchedulerLeader)

# WeChat retries within seconds; a day of claims is far more than enough.
CLAIM_RETENTION = timedelta(days=1)
HOUSEKEEPING_JOB = "platform.housekeeping"
HOUSEKEEPING_EVERY_S = 600


class Services:
    """What talks to WeChat: the HTTP session, the shared token, the API client, the worker.
    Made at start-up (they need the running loop) and closed at shutdown."""

    def __init__(self, settings: Settings, engine: AsyncEngine, clock: Clock,
                 features: Features | None = None):
        self.settings, self.engine, self.clock = settings, engine, clock
        self.features = features or Features()
        self.http: aiohttp.ClientSession | None = None
        self.worker: OutboxWorker | None = None
        self.api: WechatApi | None = None
        self.tokens: SharedToken | None = None
        self.loops: dict[str, Loop] = {}  # the features' background loops, by name

    async def start(self) -> None:
        s = self.settings
        sessions = session_factory(self.engine)
        self.http = aiohttp.ClientSession()
        http = self.http

        fetch, force_fetch = token_fetchers(lambda: self.api, s.wechat.app_id,
                                            s.wechat.app_secret, s.wechat.token_endpoint)
        self.tokens = SharedToken(sessions, s.wechat.app_id, fetch, self.clock,
                                  force_fetch=force_fetch)
        self.api = WechatApi(s.api_base_url, http, self.tokens)
        platform = Platform(s, sessions, self.clock, self)
        self.worker = OutboxWorker(sessions, self.api, s.push, s.wechat.templates, self.clock,
                                   expanders={kind: make(platform)
                                              for kind, make in self.features.due.items()},
                                   subscriptions=s.wechat.subscribe)
        self.loops = {name: make(platform) for name, make in self.features.loops.items()}

    async def close(self) -> None:
        if self.http:
            await self.http.close()

    async def push_reply(self, msg: Inbound, reply: str, session: AsyncSession | None) -> None:
        """A reply that missed the callback's deadline goes out as a push: queued in the
        handler's transaction when given, else in one of its own."""
        item = outbox.Outgoing(msg.openid, reply, {})
        if session is not None:
            await outbox.enqueue(session, "reply", msg.dedup_key[:40], [item], self.clock.now())
            return  # the worker finds it at its next poll, after the commit
        async with session_factory(self.engine)() as own, own.begin():
            await outbox.enqueue(own, "reply", msg.dedup_key[:40], [item], self.clock.now())
        if self.worker:
            self.worker.wake()


SERVICES = web.AppKey("services", Services)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    router: Router | None = None,
    profile_gate: ProfileGate | None = None,
    features: Features | None = None,
    background: bool = True,
    scheduler: bool | None = None,
    sandbox: bool | None = None,
) -> web.Application:
    """The bot as an aiohttp app, with every feature of handlers/ unless `features` says
    otherwise. Tests pass a FakeClock, or a router of their own."""
    if features is None:
        import handlers

        features = handlers.install()
    router = router or features.root_router(receipts.router)
    gate = profile_gate or features.profile_gate
    assert gate is not None, "a feature must register the profile gate"
    clock = clock or SystemClock()
    engine = make_engine(settings.database.url)
    db = settings.database  # console, API and login load never drains the callbacks' pool
    console_engine = make_console_engine(engine, db.url, db.console_pool_size,
                                         db.console_statement_timeout_s)
    console_sessions = session_factory(console_engine)
    sessions = session_factory(engine)
    services = Services(settings, engine, clock, features)
    dispatcher = Dispatcher(router, gate)
    # What riders type in their own words, read once (bot/language; never a staff word).
    language.install(language.build(
        features.intents, dispatcher.staff_words,
        things=[k for c in settings.reports.categories for k in c.keywords]))
    pipeline = Pipeline(sessions, dispatcher, settings, clock, services.push_reply)
    platform = Platform(settings, console_sessions, clock, services)  # the /api/v1 routes

    app = web.Application()
    app.middlewares.append(guard_bodies(settings.server.body_timeout_s))  # on every route
    app.middlewares.append(too_long_is_400)  # /api/v1: over-long text is a 400, not a 500
    app.on_response_prepare.append(security_headers)  # CSP, nosniff, …: every answer
    app[SETTINGS] = settings
    app[ENGINE] = engine
    app[CONSOLE_ENGINE] = console_engine
    app[PIPELINE] = pipeline
    app[CLOCK] = clock
    app[SERVICES] = services
    WechatGateway(settings, clock, pipeline).add_routes(app)
    for add_routes in features.api:
        add_routes(app, platform)
    add_openapi_routes(app, features.openapi)
    app.router.add_get("/console", _to_console)
    app.router.add_get("/favicon.ico", _favicon)  # bot/web/static/favicon.ico
    console = create_console(settings, console_sessions, clock, services, features)
    app.middlewares.append(site_errors(console))  # /nope, /api/v1/nope: not aiohttp's bare 404
    app.add_subapp("/console", console)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics.endpoint(engine, clock, settings.metrics))
    if settings.is_dev if sandbox is None else sandbox:
        app.add_subapp("/sandbox", create_sandbox(settings.wechat.app_id,
                                                  settings.wechat.app_secret))
        from bot.dev import simulator  # dev only: it signs callbacks as any user
        from models.views import scenes

        simulator.mount(app, settings, clock, sessions, scenes.scannable)
    with_scheduler = background if scheduler is None else scheduler
    if with_scheduler:  # the features' periodic jobs and the platform's own housekeeping
        app[LEADER] = SchedulerLeader(services, [*features.jobs, PeriodicJob(
            HOUSEKEEPING_JOB, _housekeeping, every_s=HOUSEKEEPING_EVERY_S)])
    app.cleanup_ctx.append(_services(background))
    app.on_cleanup.append(_shutdown)
    return app


async def _to_console(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/console/")


async def _favicon(request: web.Request) -> web.FileResponse:
    return web.FileResponse(FAVICON, headers={"Cache-Control": "public, max-age=86400"})


async def healthz(request: web.Request) -> web.Response:
    """200 while the database answers, else 503. "scheduler" is "leader", "standby", "off"
    (not started here) or "stalled" (a periodic job has not succeeded for two periods, or
    the leadership task died); the leader adds "jobs", each job's last success. A stalled
    scheduler keeps the 200: this instance still answers callbacks, so taking it out of the
    load balancer would help nobody. Alert on "stalled" instead."""
    leader = request.app.get(LEADER)
    scheduler = leader.health() if leader is not None else {"scheduler": "off"}
    try:
        await asyncio.wait_for(ping(request.app[ENGINE]), timeout=3)
    except Exception as exc:  # any database failure is "not healthy", never a 500
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return web.json_response({"status": "error", "database": "unreachable",
                                  "scheduler": scheduler["scheduler"]}, status=503)
    return web.json_response({"status": "ok", "database": "ok", **scheduler})


def _services(background: bool):
    """Start what talks to WeChat; with `background`, also the outbox worker and the
    features' loops; and the scheduler's leadership task when the app has one (tests
    drive those themselves)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        services = app[SERVICES]
        await services.start()
        loops: list[tuple[Loop, asyncio.Task[None]]] = []
        scheduler = app.get(LEADER)
        if background and services.worker:
            for part in (services.worker, *services.loops.values()):
                loops.append((part, asyncio.create_task(part.run_forever())))
        if scheduler:
            scheduler.start()
        yield
        if scheduler:
            await scheduler.stop()
        for part, _ in loops:
            part.stop()  # let a pass in flight record what it did
        for _, task in loops:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=15)
        await services.close()

    return ctx


async def _housekeeping(services: Runtime, now: datetime) -> None:
    """Forget old retry claims, dead dialogs and aged callback signatures (a periodic job
    of the scheduler's leader)."""
    async with session_factory(services.engine)() as session, session.begin():
        await claim.purge(session, now - CLAIM_RETENTION)
        await dialog_store.purge_expired(session, now - services.settings.dialog.idle_timeout)
        await login_throttle.purge(session, now - services.settings.console.login_window)
        await replay.purge(session, now)  # signatures whose timestamp is refused by now


async def _shutdown(app: web.Application) -> None:
    await app[PIPELINE].drain()
    await app[ENGINE].dispose()
    if app[CONSOLE_ENGINE] is not app[ENGINE]:
        await app[CONSOLE_ENGINE].dispose()
