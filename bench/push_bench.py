"""Push throughput: a notice to N members through the outbox, against the sandbox.

    .venv/bin/python bench/push_bench.py [--n 10000] [--pg URL] [--profile]

Per database (SQLite in a temp file; PostgreSQL at --pg, skipped with the reason when
unreachable) and per scenario, on a fresh database and a fresh sandbox process:

1. a baseline: N raw WechatApi.send_template calls, same concurrency, no database;
2. N registered members (core insert), a notice to "all" (templates: nobody wrote
   recently), an OutboxWorker with rate_per_s=0 draining the notice. Timed from the
   notice's creation to drained; CPU is this process's (time.process_time, every
   thread, so aiosqlite's too), never the sandbox's (read from /proc separately);
3. the sandbox's deliveries checked: every recipient exactly once.

Scenarios: clean; 5% transient "system busy" (errcode -1); optionally a short probe
with 5% quota errors (45011), which pauses the worker ~60 s per error by design, so
it is capped in time and reports how far it got (see README.md).

--profile adds one cProfile run of the clean scenario per database (main thread and
aiosqlite's threads) and prints where the worker's time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import logging
import os
import pstats
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.clock import SystemClock
from bot.db import make_engine, session_factory
from bot.migrate import upgrade
from bot.push.worker import OutboxWorker
from bot.settings import PushSettings, Settings, load_settings
from bot.wechat.client import WechatApi
from bot.wechat.token import SharedToken
from models import notice as notices
from models import outbox
from models.member import Member

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/push_bench"
TITLE = "平台新规解读会"
BODY = "本周六下午两点在武进驿站举行，欢迎外卖、快递小哥参加，现场有茶歇。"
CLK_TCK = os.sysconf("SC_CLK_TCK")

log = logging.getLogger("push_bench")


# --- the sandbox process ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SandboxProc:
    proc: subprocess.Popen[bytes]
    base: str  # …/sandbox, what WechatApi takes as its base URL
    log_path: Path

    def cpu_s(self) -> float:
        """utime + stime of the sandbox process (Linux /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / CLK_TCK


@contextlib.contextmanager
def sandbox_process(workdir: Path) -> Iterator[SandboxProc]:
    port = free_port()
    log_path = workdir / f"sandbox-{port}.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot.dev.sandbox", "--port", str(port)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    sb = SandboxProc(proc, f"http://127.0.0.1:{port}/sandbox", log_path)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sandbox exited ({proc.returncode}): "
                                   f"{log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{sb.base}/control/stats", timeout=1) as r:
                    r.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("sandbox did not answer within 20 s") from None
                time.sleep(0.1)
        yield sb
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class SandboxControl:
    def __init__(self, http: aiohttp.ClientSession, base: str):
        self.http, self.base = http, base

    async def set_fault(self, fault: dict[str, Any]) -> None:
        async with self.http.post(f"{self.base}/control/faults", json=fault) as r:
            r.raise_for_status()

    async def clear_faults(self) -> None:
        async with self.http.delete(f"{self.base}/control/faults") as r:
            r.raise_for_status()

    async def per_user(self, prefix: str) -> Counter[str]:
        """Deliveries per recipient, for recipients whose openid starts with `prefix`."""
        async with self.http.get(f"{self.base}/messages") as r:
            r.raise_for_status()
            found = await r.json()
        return Counter(m["touser"] for m in found if m["touser"].startswith(prefix))

    async def template_calls(self) -> int:
        async with self.http.get(f"{self.base}/control/stats") as r:
            return (await r.json())["calls"].get("/cgi-bin/message/template/send", 0)


def check_once(per_user: Counter[str], expected: set[str], complete: bool = True) -> str:
    """'ok' when each expected openid got exactly one message (at most one if not complete)."""
    dup = sum(1 for c in per_user.values() if c > 1)
    stray = len(set(per_user) - expected)
    missing = len(expected - set(per_user))
    if not complete:
        return (f"≤1 ok ({len(per_user)}/{len(expected)} so far)" if not dup and not stray
                else f"FAIL dup={dup} stray={stray}")
    if dup or stray or missing:
        return f"FAIL missing={missing} dup={dup} stray={stray}"
    return f"ok {len(per_user)}/{len(expected)}"


# --- databases ----------------------------------------------------------------------------


def pg_problem(url: str) -> str | None:
    """None when the database at `url` is usable (created if missing), else why not."""
    parsed = make_url(url)

    async def probe(target: Any) -> None:
        engine = create_async_engine(target, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    async def create() -> None:
        engine = create_async_engine(parsed.set(database="postgres"),
                                     isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                found = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                          {"d": parsed.database})
                if not found:
                    name = (parsed.database or "").replace('"', '""')
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
                    print(f"  created database {parsed.database}")
        finally:
            await engine.dispose()

    try:
        asyncio.run(asyncio.wait_for(probe(parsed), 10))
        return None
    except Exception as first:
        try:
            asyncio.run(asyncio.wait_for(create(), 10))
            asyncio.run(asyncio.wait_for(probe(parsed), 10))
            return None
        except Exception as exc:
            where = parsed.render_as_string(hide_password=True)
            return (f"PostgreSQL at {where} unusable: {type(first).__name__}: {first}; "
                    f"creating it: {type(exc).__name__}: {exc}")


def pg_fresh(url: str) -> None:
    async def reset() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()

    asyncio.run(reset())
    upgrade(url)


async def insert_members(engine: AsyncEngine, n: int, prefix: str, now: datetime) -> None:
    """N registered, following members in one transaction (core executemany)."""
    table = Member.__table__  # type: ignore[attr-defined]

    def rows(lo: int, hi: int) -> list[dict[str, Any]]:
        return [{"openid": f"{prefix}{i:08d}", "consent_at": now, "registered_at": now,
                 "followed": True, "points": 0, "created_at": now, "kefu_used": 0,
                 "kefu_used_event": 0, "industry": "外卖送餐"} for i in range(lo, hi)]

    async with engine.begin() as conn:
        for lo in range(0, n, 5000):
            await conn.execute(insert(table), rows(lo, min(n, lo + 5000)))


# --- instrumentation ----------------------------------------------------------------------


@dataclass
class Phases:
    """Wall and CPU time of the worker's claim / record steps and of whole passes, and the
    SQL statements each step sends (the worker is sequential, so attribution is exact)."""

    wall: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    cpu: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: Counter[str] = field(default_factory=Counter)
    claim_walls: list[float] = field(default_factory=list)
    send_latency_s: float = 0.0
    sends: int = 0
    first_idle: float | None = None  # perf_counter when a pass first found nothing due
    current: str = "setup"  # whose SQL statements are counted
    statements: Counter[str] = field(default_factory=Counter)
    executemany: Counter[str] = field(default_factory=Counter)
    _worker: Any = None

    def count_sql(self, engine: AsyncEngine) -> None:
        def on_execute(_conn: Any, _cursor: Any, _stmt: str, _params: Any, _ctx: Any,
                       many: bool) -> None:
            self.statements[self.current] += 1
            self.executemany[self.current] += many

        event.listen(engine.sync_engine, "before_cursor_execute", on_execute)

    def wrap(self, worker: OutboxWorker) -> None:
        self._worker = worker
        for name in ("_claim", "_record", "run_once"):
            setattr(worker, name, self._timed(name.strip("_"), getattr(worker, name)))
        send = worker._send

        async def timed_send(push: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await send(push)
            finally:
                self.send_latency_s += time.perf_counter() - t0
                self.sends += 1

        worker._send = timed_send  # type: ignore[method-assign]

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            if name == "run_once" and self._worker._paused_until > time.monotonic():
                name_ = "paused"  # run_once only sleeps (quota pause)
            else:
                name_ = name
            w0, c0 = time.perf_counter(), time.process_time()
            result = None
            if name_ in ("claim", "record"):
                self.current = name_
            try:
                result = await fn(*args, **kwargs)
                return result
            finally:
                if name_ in ("claim", "record"):
                    self.current = "drain"
                w = time.perf_counter() - w0
                self.wall[name_] += w
                self.cpu[name_] += time.process_time() - c0
                self.calls[name_] += 1
                if name_ == "claim":
                    self.claim_walls.append(w)
                if name_ == "run_once" and result == 0 and self.first_idle is None:
                    self.first_idle = time.perf_counter()

        return timed

    def summary(self, n: int) -> list[str]:
        busy = self.calls["run_once"] and self.wall["run_once"]
        send_wall = self.wall["run_once"] - self.wall["claim"] - self.wall["record"]
        send_cpu = self.cpu["run_once"] - self.cpu["claim"] - self.cpu["record"]
        lines = []
        for name, w, c, k in (("claim", self.wall["claim"], self.cpu["claim"],
                               self.calls["claim"]),
                              ("send (gather)", send_wall, send_cpu, self.calls["run_once"]),
                              ("record", self.wall["record"], self.cpu["record"],
                               self.calls["record"])):
            share = 100 * w / busy if busy else 0
            lines.append(f"{name:>14}: wall {w:6.2f} s ({share:4.1f}% of passes), "
                         f"CPU {c:6.2f} s = {1000 * c / n:.3f} ms/push, {k} calls")
        cw = self.claim_walls
        if len(cw) >= 20:
            first, last = sum(cw[:10]) / 10, sum(cw[-10:]) / 10
            lines.append(f"{'':>14}  claim wall: first 10 avg {1000 * first:.1f} ms, "
                         f"last 10 avg {1000 * last:.1f} ms")
        if self.sends:
            mean_ms = 1000 * self.send_latency_s / self.sends
            if self.calls["paused"]:
                lines.append(f"{'':>14}  paused (quota): {self.wall['paused']:.1f} s in "
                             f"{self.calls['paused']} passes")
            lines.append(f"{'':>14}  mean send latency {mean_ms:.2f} ms over {self.sends} sends")
        sql = ", ".join(
            f"{k} {v}" + (f" ({v / self.calls[k]:.0f}/call)" if self.calls[k] else "")
            + (f" of which {self.executemany[k]} executemany" if self.executemany[k] else "")
            for k, v in self.statements.items() if k != "setup")
        lines.append(f"{'':>14}  SQL statements: {sql}")
        return lines


class ThreadProfiles:
    """cProfile for threads started while installed (aiosqlite runs each connection in one)."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []

    def _hook(self, *_: Any) -> None:
        prof = cProfile.Profile()
        self.profiles.append(prof)
        prof.enable()  # replaces this hook, for this thread

    def install(self) -> None:
        threading.setprofile(self._hook)

    def remove(self) -> None:
        threading.setprofile(None)  # type: ignore[arg-type]


# --- one scenario -------------------------------------------------------------------------


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
    template = settings.wechat.templates["notice"]
    data = notices.template_data(TITLE, BODY, SystemClock().now())

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
                counts = await outbox.counts(session, notice.subject)
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


# --- profile summary ----------------------------------------------------------------------

BUCKETS = (
    ("epoll wait (idle: sandbox / DB thread)", ("select.epoll", "selectors.py")),
    ("idle, waiting for work (DB thread)", ("'get' of '_queue.SimpleQueue'",)),
    # aiosqlite calls sqlite3 through functools.partial, which cProfile does not see as a
    # call: SQLite's own execution time is this loop's own time.
    ("aiosqlite worker loop incl. sqlite3 C", ("_connection_worker_thread", "sqlite3.")),
    ("aiosqlite glue", ("aiosqlite", "_queue.SimpleQueue")),
    ("SQLAlchemy (greenlet bridge)", ("greenlet",)),
    ("asyncpg", ("asyncpg",)),
    ("SQLAlchemy ORM", ("sqlalchemy/orm",)),
    ("SQLAlchemy core/engine/sql", ("sqlalchemy",)),
    ("sqlmodel", ("sqlmodel",)),
    ("aiohttp/yarl/multidict", ("aiohttp", "yarl", "multidict")),
    ("json", ("json",)),
    ("socket syscalls", ("_socket.socket",)),
    ("asyncio (loop, tasks, futures)", ("asyncio", "_asyncio")),
    ("bot/models code", ("/bot/", "/models/")),
)


def bucket_of(key: tuple[str, int, str]) -> str:
    filename, _, func = key
    where = f"{filename} {func}"
    for name, needles in BUCKETS:
        if any(needle in where for needle in needles):
            return name
    return "other" if filename != "~" else "other builtins"


def profile_report(title: str, stats: pstats.Stats, top: int = 18) -> list[str]:
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    by_bucket: Counter[str] = Counter()
    for key, value in raw.items():
        by_bucket[bucket_of(key)] += value[2]
    lines = [f"{title}: {total:.2f} s profiled (tottime)"]
    lines += [f"  {share:6.2f} s {100 * share / total:5.1f}%  {name}"
              for name, share in by_bucket.most_common()]
    lines.append(f"  top {top} functions by own time:")
    ranked = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in ranked:
        short = filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        lines.append(f"  {tt:6.2f} s own {ct:6.2f} s cum {nc:8d}×  {short}:{line} {func}")
    interesting = ("_claim", "_record", "_send", "drain", "run_once", "claim",
                   "members_by_openid", "close_abandoned", "has_due", "get", "call", "_raw",
                   "send_template", "create", "expand", "enqueue", "flush", "commit")
    mine = [(k, v) for k, v in raw.items()
            if ("/bot/" in k[0] or "/models/" in k[0]) and k[2].strip("<>") in interesting]
    if mine:
        lines.append("  bot/models functions, cumulative:")
    for (filename, line, func), (_cc, nc, _tt, ct, _c) in sorted(
            mine, key=lambda kv: kv[1][3], reverse=True)[:14]:
        short = filename.replace(str(ROOT) + "/", "")
        lines.append(f"  {ct:6.2f} s cum {nc:8d}×  {short}:{line} {func}")
    orm = [(k, v) for k, v in raw.items() if k[0].endswith("sqlalchemy/orm/session.py")
           and k[2] in ("_get_impl", "_autoflush", "flush", "commit", "execute")]
    if orm:
        lines.append("  SQLAlchemy session entry points, cumulative (get = SELECT + autoflush):")
    for (filename, line, func), (_cc, nc, _tt, ct, _c) in sorted(
            orm, key=lambda kv: kv[1][3], reverse=True):
        short = filename.split("site-packages/")[-1]
        lines.append(f"  {ct:6.2f} s cum {nc:8d}×  {short}:{line} {func}")
    return lines


# --- the run ------------------------------------------------------------------------------


def fmt(x: float, digits: int = 0) -> str:
    return "-" if x != x else f"{x:,.{digits}f}"  # NaN: not measured


def print_table(results: list[Result]) -> None:
    head = ["database", "scenario", "N", "seconds", "sends/s", "CPU ms/push",
            "sandbox CPU ms/push", "baseline sends/s", "ratio", "exactly-once"]
    rows = [[r.database, r.scenario, str(r.n), fmt(r.seconds, 2), fmt(r.sends_per_s),
             fmt(r.cpu_ms, 3), fmt(r.sandbox_cpu_ms, 3), fmt(r.base_per_s),
             fmt(r.sends_per_s / r.base_per_s, 2), r.check] for r in results]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    line = "  ".join("-" * w for w in widths)
    print("\n" + "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print(line)
    for r in rows:
        print("  ".join(c.rjust(w) if 2 <= i <= 8 else c.ljust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    print("ratio = outbox sends/s ÷ raw send_template sends/s at the same concurrency "
          "(1.0 = no outbox overhead)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=10_000, help="members / pushes (default 10000)")
    p.add_argument("--pg", default=DEFAULT_PG, help=f"PostgreSQL URL (default {DEFAULT_PG})")
    p.add_argument("--no-pg", action="store_true", help="SQLite only")
    p.add_argument("--concurrency", type=int, help="push.concurrency (default: config)")
    p.add_argument("--batch-size", type=int, help="push.batch_size (default: config)")
    p.add_argument("--max-attempts", type=int, default=20,
                   help="push.max_attempts (default 20)")
    p.add_argument("--quota-probe-s", type=float, default=15.0,
                   help="cap of the 45011 probe per database (0: skip; default 15)")
    p.add_argument("--profile", action="store_true",
                   help="also one cProfile'd clean run per database, summarised")
    p.add_argument("--profile-dir", type=Path, help="keep the .prof files here")
    args = p.parse_args()
    # A plain SIGTERM would skip the finally blocks that stop the sandbox process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.WARNING, format="    %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bot.push.worker").setLevel(logging.ERROR)  # quota warnings, one per error

    settings = load_settings()
    push = PushSettings(
        rate_per_s=0,
        concurrency=args.concurrency or settings.push.concurrency,
        batch_size=args.batch_size or settings.push.batch_size,
        max_attempts=args.max_attempts,
    )
    scenarios = [
        Scenario("clean"),
        Scenario("5% errcode -1", {"errcode": -1, "rate": 0.05}),
    ]
    if args.quota_probe_s > 0:
        scenarios.append(Scenario(f"5% 45011 (≤{args.quota_probe_s:.0f}s)",
                                  {"errcode": 45011, "rate": 0.05}, args.quota_probe_s))
    print(f"push bench: N={args.n}, concurrency={push.concurrency}, "
          f"batch_size={push.batch_size}, max_attempts={push.max_attempts}, rate_per_s=0, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")

    results: list[Result] = []
    profiles: list[tuple[str, cProfile.Profile, ThreadProfiles | None]] = []
    with tempfile.TemporaryDirectory(prefix="push_bench-") as tmp:
        workdir = Path(tmp)
        template = workdir / "template.db"
        upgrade(f"sqlite+aiosqlite:///{template}")
        databases: list[tuple[str, Callable[[int], str]]] = []

        def sqlite_db(k: int) -> str:
            path = workdir / f"bench-{k}.db"
            shutil.copy(template, path)
            return f"sqlite+aiosqlite:///{path}"

        def pg_db(_k: int) -> str:
            pg_fresh(args.pg)
            return args.pg

        databases.append(("sqlite", sqlite_db))
        if args.no_pg:
            print("PostgreSQL skipped: --no-pg")
        elif problem := pg_problem(args.pg):
            print(f"PostgreSQL skipped: {problem}")
        else:
            databases.append(("postgresql", pg_db))

        k = 0
        for db, make_db in databases:
            runs = [(s, False) for s in scenarios]
            if args.profile:
                runs.append((Scenario("clean (cProfile)"), True))
            for scenario, profiled in runs:
                k += 1
                url = make_db(k)
                print(f"\n[{db}] {scenario.name} …", flush=True)
                prof = cProfile.Profile() if profiled else None
                threads = ThreadProfiles() if profiled else None
                try:
                    with sandbox_process(workdir) as sb:
                        res = asyncio.run(run_scenario(db, url, sb, settings, push, args.n,
                                                       scenario, f"{k:02d}", prof, threads))
                except Exception as exc:
                    log.exception("scenario failed")
                    res = Result(db, scenario.name, args.n, check=f"ERROR {type(exc).__name__}")
                for line in res.details:
                    print(f"    {line}")
                print(f"    → {fmt(res.seconds, 2)} s, {fmt(res.sends_per_s)} sends/s, "
                      f"{fmt(res.cpu_ms, 3)} CPU ms/push, baseline {fmt(res.base_per_s)}/s, "
                      f"{res.check}", flush=True)
                if prof is not None:
                    profiles.append((db, prof, threads))
                else:
                    results.append(res)

    for db, prof, threads in profiles:
        print(f"\n=== cProfile, {db}, clean scenario (notice creation → drained; "
              "cProfile slows everything, read the shares) ===")
        main_stats = pstats.Stats(prof)
        for line in profile_report("event-loop thread", main_stats):
            print(line)
        if threads and threads.profiles:
            db_stats = pstats.Stats(threads.profiles[0])
            for extra in threads.profiles[1:]:
                db_stats.add(extra)
            for line in profile_report(f"aiosqlite threads ({len(threads.profiles)})",
                                       db_stats, top=8):
                print(line)
        if args.profile_dir:
            args.profile_dir.mkdir(parents=True, exist_ok=True)
            out = args.profile_dir / f"push_{db}.prof"
            main_stats.dump_stats(out)
            print(f"  saved {out} (snakeviz / python -m pstats)")

    print_table(results)
    return 0 if all(r.check.startswith(("ok", "≤1 ok")) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
