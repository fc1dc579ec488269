"""One push_bench scenario: the raw-API baseline, then a notice to N members drained by an
OutboxWorker into the sandbox, timed, and the deliveries checked exactly once."""

from __future__ import annotations

import asyncio
import cProfile
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.push_db import insert_members
from bench.push_instrument import Phases, ThreadProfiles
from bench.push_sandbox import SandboxControl, SandboxProc, check_once
from bot.clock import SystemClock
from bot.db import make_engine, session_factory
from bot.push.worker import OutboxWorker
from bot.settings import PushSettings, Settings
from bot.wechat.client import WechatApi
from bot.wechat.templates import fill
from bot.wechat.token import SharedToken
from models import notice as notices
from models import push_counts

TITLE = "平台新规解读会"
BODY = "本周六下午两点在武进驿站举行，欢迎外卖、快递小哥参加，现场有茶歇。"


@dataclass
class Scenario:
    name: str
    fault: dict[str, Any] | None = None
    cap_s: float | None = None  # stop draining after this long (the quota probe)


@dataclass
class Result:
    database: str
    scenario: str
    n: int
    seconds: float = float("nan")
    sends_per_s: float = float("nan")
    cpu_ms: float = float("nan")
    sandbox_cpu_ms: float = float("nan")
    base_per_s: float = float("nan")
    base_cpu_ms: float = float("nan")
    check: str = "-"
    details: list[str] = field(default_factory=list)


class Token:
    """A token source for the baseline: fetched once, no database."""

    def __init__(self, api_ref: list[WechatApi], settings: Settings):
        self._api, self._s, self._token = api_ref, settings, ""

    async def get(self) -> str:
        if not self._token:
            self._token, _ = await self._api[0].fetch_token(self._s.wechat.app_id,
                                                            self._s.wechat.app_secret)
        return self._token

    async def invalidate(self, bad_token: str) -> str:
        self._token = ""
        return await self.get()


async def baseline(http: aiohttp.ClientSession, base: str, settings: Settings, n: int,
                   concurrency: int, prefix: str) -> tuple[float, float]:
    """N raw template sends, `concurrency` in flight: (sends/s, CPU ms/send)."""
    ref: list[WechatApi] = []
    api = WechatApi(base, http, Token(ref, settings))
    ref.append(api)
    await api.tokens.get()
    mapping = settings.wechat.templates["notice"]
    template = mapping.id
    values = notices.template_data(TITLE, BODY, SystemClock().now())
    data = {k: v["value"] for k, v in fill(mapping, values, template=True).items()}

    async def lanes(count: int, who: str) -> None:
        todo = iter(range(count))

        async def lane() -> None:
            for i in todo:
                await api.send_template(f"{who}{i:08d}", template, data, None)

        await asyncio.gather(*(lane() for _ in range(concurrency)))

    await lanes(min(n, 1000), f"oWarm{prefix}")  # connections, caches: not measured
    w0, c0 = time.perf_counter(), time.process_time()
    await lanes(n, prefix)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return n / wall, 1000 * cpu / n


async def run_scenario(db: str, url: str, sb: SandboxProc, settings: Settings,
                       push: PushSettings, n: int, scenario: Scenario, tag: str,
                       profile: cProfile.Profile | None = None,
                       threads: ThreadProfiles | None = None) -> Result:
    res = Result(db, scenario.name, n)
    clock = SystemClock()
    prefix = f"oBench{tag}-"
    engine = make_engine(url)
    try:
        await insert_members(engine, n, prefix, clock.now())
        if threads is not None:
            await engine.dispose()  # new connections, so their threads get profiled
            threads.install()
        sessions = session_factory(engine)
        async with aiohttp.ClientSession() as http:
            control = SandboxControl(http, sb.base)
            res.base_per_s, res.base_cpu_ms = await baseline(
                http, sb.base, settings, n, push.concurrency, f"oBase{tag}-")

            async def fetch() -> tuple[str, int]:
                return await api.fetch_token(settings.wechat.app_id, settings.wechat.app_secret)

            tokens = SharedToken(sessions, settings.wechat.app_id, fetch, clock)
            api = WechatApi(sb.base, http, tokens)
            await tokens.get()  # the first token fetch is not what is measured
            worker = OutboxWorker(sessions, api, push, settings.wechat.templates, clock)
            phases = Phases()
            phases.wrap(worker)
            phases.count_sql(engine)
            if scenario.fault:
                await control.set_fault(scenario.fault)
            calls0 = await control.template_calls()
            timeout = scenario.cap_s or max(120.0, n / 50)

            sb_cpu0 = sb.cpu_s()
            w0, c0 = time.perf_counter(), time.process_time()
            if profile is not None:
                profile.enable()
            phases.current = "notice"
            async with sessions() as session, session.begin():
                notice = await notices.create(session, TITLE, BODY, "all", clock.now())
            created = time.perf_counter()
            phases.current = "drain"
            drained = await worker.drain(notice.subject, timeout_s=timeout)
            if profile is not None:
                profile.disable()
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            phases.current = "setup"
            sb_cpu = sb.cpu_s() - sb_cpu0

            await control.clear_faults()
            calls = await control.template_calls() - calls0
            async with sessions() as session:
                counts = await push_counts.counts(session, notice.subject)
            per_user = await control.per_user(prefix)
            expected = {f"{prefix}{i:08d}" for i in range(n)}
            delivered = sum(per_user.values())
            res.seconds = wall
            res.sends_per_s = delivered / wall
            res.cpu_ms = 1000 * cpu / max(delivered, 1)
            res.sandbox_cpu_ms = 1000 * sb_cpu / max(delivered, 1)
            res.check = check_once(per_user, expected, complete=drained)
            if not drained and not scenario.cap_s:
                res.check += f" (drain timed out after {timeout:.0f} s)"
            main_pass = (phases.first_idle or time.perf_counter()) - w0
            res.details += [
                f"notice created (outbox rows written) in {created - w0:.2f} s; "
                f"first idle pass at {main_pass:.2f} s; drained={drained} at {wall:.2f} s",
                f"delivered {delivered}, template API calls {calls}, worker stats "
                f"{dict(sorted(worker.stats.items()))}",
                f"outbox counts {json.dumps(counts, ensure_ascii=False)}",
                f"baseline CPU {res.base_cpu_ms:.3f} ms/send",
                *phases.summary(max(delivered, 1)),
            ]
            if scenario.cap_s and not drained:
                paused = worker._paused_until - time.monotonic()
                res.details.append(f"capped at {scenario.cap_s:.0f} s; worker still paused "
                                   f"for {max(paused, 0):.0f} s more (quota pause)")
    finally:
        await engine.dispose()  # aiosqlite's connection threads end here
        if threads is not None:
            threads.remove()
    return res
