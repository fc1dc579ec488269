"""Prometheus metrics at /metrics: callbacks by kind and outcome, handler latency, retries
met by their claim, the outbox's depth and its sends by channel and result, token refreshes,
and the scheduler's periodic jobs (by their fixed ids) and their lateness. Labels stay few and
bounded (no openids, no course ids)."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.db import session_factory
from bot.settings import MetricsSettings
from models import due, push_counts

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger(__name__)

CALLBACKS = Counter("xiaoge_callbacks_total", "WeChat callbacks answered",
                    ["kind", "outcome"])
HANDLER_SECONDS = Histogram(
    "xiaoge_handler_seconds", "Time from a parsed callback to its answer", ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8))
DEDUP_HITS = Counter("xiaoge_dedup_hits_total",
                     "Retried callbacks answered from the first attempt's claim")
REJECTED = Counter("xiaoge_callbacks_rejected_total",
                   "Callbacks refused before parsing (signature, time, size, format)",
                   ["status"])
OUTBOX_DEPTH = Gauge("xiaoge_outbox_depth", "Outbox rows by status (read at scrape time)",
                     ["status"])
DUE_ROWS = Gauge("xiaoge_due_pushes", "Pushes due later (reminders, rolls, scheduled notices) "
                 "by status (read at scrape time)", ["status"])
DUE_LATE = Gauge("xiaoge_due_oldest_late_seconds", "How long the oldest pending due push has "
                 "been due (0 when none is; read at scrape time)")
PUSHES = Counter("xiaoge_pushes_total", "Push outcomes recorded by the outbox worker",
                 ["channel", "result"])
TOKEN_REFRESHES = Counter("xiaoge_token_refreshes_total", "Access-token refreshes",
                          ["result"])
JOBS = Counter("xiaoge_scheduler_jobs_total", "Scheduled jobs by job and result",
               ["job", "result"])
HANGUPS = Counter("xiaoge_http_hangups_total",
                  "Requests the client broke off or never finished: hangup (gone mid-body), "
                  "bad_body (a body the parser refused), head_timeout, body_timeout, "
                  "bad_head (an unparseable request head)",
                  ["reason"])
JOB_LATENESS = Histogram(
    "xiaoge_scheduler_lateness_seconds", "From a job's due time to its start", ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 3600))

KINDS = {"text", "image", "voice", "video", "shortvideo", "location", "link", "event"}


def kind_of(msg_type: str, event: str | None) -> str:
    """A bounded label: the message type, or event:NAME for the events the bot knows."""
    if msg_type == "event" and event:
        return f"event:{event.lower()[:24]}" if event.isascii() else "event:other"
    return msg_type if msg_type in KINDS else "other"


def observe_job(job_id: str, result: str, scheduled: datetime | None = None) -> None:
    """A periodic job's run: result "started" (with its lateness), "ok", "error", "missed"."""
    label = job_id[:40]  # PeriodicJob ids are fixed names, a handful
    JOBS.labels(label, result).inc()
    if scheduled is not None:
        late = (datetime.now(UTC) - scheduled).total_seconds()
        JOB_LATENESS.labels(label).observe(max(0.0, late))


class Timer:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.started


def refusal(access: MetricsSettings, remote: str | None, authorization: str | None
            ) -> web.HTTPException | None:
    """Who may scrape: a caller with the bearer token `metrics.token`, or one from an
    address in `metrics.allow`; None when this one may. A wrong or unexpected token is a
    401, any other caller a 403."""
    if authorization is not None:
        scheme, _, given = authorization.partition(" ")
        if (access.token and scheme.lower() == "bearer"
                and hmac.compare_digest(given.strip().encode(), access.token.encode())):
            return None
        return web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                                    text="metrics: wrong token")
    if remote and _allowed(access.allow, remote):
        return None
    return web.HTTPForbidden(text="metrics: not from this address")


def _allowed(allow: list[str], remote: str) -> bool:
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 on a dual-stack socket
    return any(address in ipaddress.ip_network(net, strict=False) for net in allow)


def endpoint(engine: AsyncEngine, clock: Clock,
             access: MetricsSettings | None = None) -> Handler:
    """GET /metrics: everything counted in this process, and read from the database at
    scrape time: the outbox's depth and the due pushes by status, and how late the oldest
    pending due push is (a stuck expander shows here). Only for `refusal`'s callers."""
    sessions = session_factory(engine)
    rules = access or MetricsSettings()

    async def metrics(request: web.Request) -> web.Response:
        if (refused := refusal(rules, request.remote,
                               request.headers.get("Authorization"))) is not None:
            log.warning("metrics: a scrape from %s was refused (%d)", request.remote,
                        refused.status)
            raise refused
        try:
            async with sessions() as session:
                counts = await push_counts.depth(session)
                later = await due.depth(session)
                oldest = await due.oldest_pending(session)
            for status in ("pending", "sending", "sent", "failed", "undeliverable"):
                OUTBOX_DEPTH.labels(status).set(counts.get(status, 0))
            for status in due.STATUSES:
                DUE_ROWS.labels(status).set(later.get(status, 0))
            late = (clock.now() - oldest).total_seconds() if oldest else 0.0
            DUE_LATE.set(max(0.0, late))
        except Exception:  # the database is down: the other metrics still answer
            OUTBOX_DEPTH.labels("pending").set(float("nan"))
            DUE_ROWS.labels("pending").set(float("nan"))
        return web.Response(body=generate_latest(),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    return metrics
