"""The aiohttp application: one factory that wires settings, database, router and routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.api import NoticeApi
from bot.clock import Clock, SystemClock
from bot.console import create_console
from bot.course_api import CourseApi
from bot.db import make_engine, ping, session_factory
from bot.gateway import WechatGateway
from bot.group_api import GroupApi
from bot.inbound import Inbound
from bot.jobs import bind_runtime
from bot.metrics import metrics
from bot.open311 import add_open311_routes
from bot.openapi import add_openapi_routes
from bot.outbox import OutboxWorker
from bot.photos import PhotoFetcher
from bot.pipeline import Pipeline
from bot.report_api import ReportApi
from bot.router import Dispatcher, ProfileGate, Router
from bot.sandbox import create_sandbox
from bot.scheduler import SchedulerLeader
from bot.settings import Settings
from bot.tokens import SharedToken
from bot.wechat_api import WechatApi
from models import dialog as dialogs
from models import inbound as claims
from models import notice as notices
from models import outbox

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
PIPELINE = web.AppKey("pipeline", Pipeline)
CLOCK = web.AppKey("clock", Clock)
SERVICES = web.AppKey("services", "Services")
LEADER = web.AppKey("scheduler_leading", threading.Event)

# WeChat retries within seconds; a day of claims is far more than enough.
CLAIM_RETENTION = timedelta(days=1)
HOUSEKEEPING_EVERY_S = 600


class Services:
    """What talks to WeChat: the HTTP session, the shared token, the API client, the worker.
    Made at start-up (they need the running loop) and closed at shutdown."""

    def __init__(self, settings: Settings, engine: AsyncEngine, clock: Clock):
        self.settings, self.engine, self.clock = settings, engine, clock
        self.http: aiohttp.ClientSession | None = None
        self.worker: OutboxWorker | None = None
        self.api: WechatApi | None = None
        self.tokens: SharedToken | None = None
        self.photos: PhotoFetcher | None = None

    async def start(self) -> None:
        s = self.settings
        sessions = session_factory(self.engine)
        self.http = aiohttp.ClientSession()
        http = self.http

        async def fetch() -> tuple[str, int]:
            assert self.api is not None
            return await self.api.fetch_token(s.wechat.app_id, s.wechat.app_secret)

        self.tokens = SharedToken(sessions, s.wechat.app_id, fetch, self.clock)
        self.api = WechatApi(s.api_base_url, http, self.tokens)
        self.worker = OutboxWorker(sessions, self.api, s.push, s.wechat.templates, self.clock,
                                   producers=[notices.expand_due])
        self.photos = PhotoFetcher(sessions, self.api, s.reports.photo_dir, self.clock)

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


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    router: Router | None = None,
    profile_gate: ProfileGate | None = None,
    background: bool = True,
    scheduler: bool | None = None,
    sandbox: bool | None = None,
) -> web.Application:
    """The bot as an aiohttp app. Tests pass a FakeClock, or a router of their own."""
    if router is None or profile_gate is None:
        from handlers import build_router, require_profile

        router = router or build_router()
        profile_gate = profile_gate or require_profile
    clock = clock or SystemClock()
    engine = make_engine(settings.database.url)
    sessions = session_factory(engine)
    services = Services(settings, engine, clock)
    pipeline = Pipeline(sessions, Dispatcher(router, profile_gate), settings, clock,
                        services.push_reply)

    app = web.Application()
    app[SETTINGS] = settings
    app[ENGINE] = engine
    app[PIPELINE] = pipeline
    app[CLOCK] = clock
    app[SERVICES] = services
    WechatGateway(settings, clock, pipeline).add_routes(app)
    NoticeApi(settings.api.token, sessions, clock, services).add_routes(app)
    ReportApi(settings.api.token, sessions, clock, services).add_routes(app)
    GroupApi(settings.api.token, sessions, clock, services).add_routes(app)
    CourseApi(settings.api.token, sessions, clock, services).add_routes(app)
    add_open311_routes(app, sessions, settings, clock)
    add_openapi_routes(app)
    app.router.add_get("/console", _to_console)
    app.add_subapp("/console", create_console(settings, sessions, clock, services))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    if settings.is_dev if sandbox is None else sandbox:
        app.add_subapp("/sandbox", create_sandbox(settings.wechat.app_id,
                                                  settings.wechat.app_secret))
        from bot import simulator  # dev only: it signs callbacks as any user

        simulator.mount(app, settings, clock, sessions)
    with_scheduler = background if scheduler is None else scheduler
    app.cleanup_ctx.append(_services(background, with_scheduler))
    app.cleanup_ctx.append(_housekeeping)
    app.on_cleanup.append(_shutdown)
    return app


async def _to_console(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/console/")


async def healthz(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(ping(request.app[ENGINE]), timeout=3)
    except Exception as exc:  # any database failure is "not healthy", never a 500
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    leading = request.app.get(LEADER)
    role = "off" if leading is None else ("leader" if leading.is_set() else "standby")
    return web.json_response({"status": "ok", "database": "ok", "scheduler": role})


def _services(background: bool, with_scheduler: bool):
    """Start what talks to WeChat; with `background`, also the outbox worker, the photo
    fetcher and the scheduler (tests drive those themselves)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        services = app[SERVICES]
        await services.start()
        loops: list[tuple[OutboxWorker | PhotoFetcher, asyncio.Task[None]]] = []
        scheduler = None
        if background and services.worker and services.photos:
            for part in (services.worker, services.photos):
                loops.append((part, asyncio.create_task(part.run_forever())))
        if with_scheduler:
            bind_runtime(asyncio.get_running_loop(), services)
            scheduler = SchedulerLeader(app[SETTINGS], app[SETTINGS].server.scheduler_takeover_s)
            scheduler.start()
            app[LEADER] = scheduler.leading
        yield
        if scheduler:
            await asyncio.to_thread(scheduler.stop)
        for part, _ in loops:
            part.stop()  # let a pass in flight record what it did
        for _, task in loops:
            try:
                await asyncio.wait_for(task, timeout=15)
            except (TimeoutError, asyncio.CancelledError):
                pass
        await services.close()

    return ctx


async def _housekeeping(app: web.Application) -> AsyncIterator[None]:
    """Forget old retry claims and dead dialogs, now and then."""

    async def loop() -> None:
        sessions = session_factory(app[ENGINE])
        settings, clock = app[SETTINGS], app[CLOCK]
        while True:
            # Sleep first: an app stopped right after it started never leaves a purge half-done.
            await asyncio.sleep(HOUSEKEEPING_EVERY_S)
            try:
                async with sessions() as session, session.begin():
                    now = clock.now()
                    await claims.purge(session, now - CLAIM_RETENTION)
                    await dialogs.purge_expired(session, now - settings.dialog.idle_timeout)
            except Exception:
                log.exception("housekeeping failed; will try again")

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _shutdown(app: web.Application) -> None:
    await app[PIPELINE].drain()
    await app[ENGINE].dispose()
