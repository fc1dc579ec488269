"""Stations benchmark: the nearest-station query over 10,000 stations, and check-ins
through the whole signed callback, on SQLite and PostgreSQL.

    .venv/bin/python bench/station_bench.py [--stations 10000] [--checkins 2000]
                                            [--pg postgresql+asyncpg://postgres@127.0.0.1/bench]

Each figure stands beside a baseline measured in the same run: the query beside a full
scan without the bounding-box prefilter; the check-in beside the bot answering 帮助 (a
keyword reply through the same pipeline) on the same server and load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db import make_engine, session_factory  # noqa: E402
from bot.dev.peer import WechatPeer  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from models import geo  # noqa: E402
from models import hours as opening  # noqa: E402
from models import station as stations  # noqa: E402
from models.member import Member  # noqa: E402
from models.station import Station  # noqa: E402

CENTER = geo.Point(31.70, 119.95)
SPREAD = 0.25  # degrees around Wujin: ~25 km
CONCURRENCY = 32


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def fresh(url: str) -> None:
    if url.startswith("postgresql"):
        admin = url.rsplit("/", 1)[0] + "/postgres"
        name = url.rsplit("/", 1)[1]
        engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            exists = (await conn.execute(text("SELECT 1 FROM pg_database WHERE datname=:n"),
                                         {"n": name})).first()
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        await engine.dispose()
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await asyncio.to_thread(upgrade, url)


async def seed(url: str, n_stations: int, n_members: int) -> None:
    rng = random.Random(42)
    now = datetime.now(UTC)
    hours = opening.to_json(opening.parse("24h"))
    engine = make_engine(url)
    async with engine.begin() as conn:
        rows = [{"code": f"S{i:05d}", "name": f"驿站{i}", "kind": "驿站", "address": "",
                 "lat": CENTER.lat + rng.uniform(-SPREAD, SPREAD),
                 "lng": CENTER.lng + rng.uniform(-SPREAD, SPREAD), "source_datum": "gcj02",
                 "radius_m": 200, "services": ["饮水"], "hours_text": "24h", "hours": hours,
                 "phone": "", "active": True, "updated_at": now} for i in range(n_stations)]
        for start in range(0, len(rows), 2000):
            await conn.execute(insert(Station), rows[start:start + 2000])
        members = [{"openid": f"bench-{i:06d}", "name": "测试", "mobile": "13800000000",
                    "industry": "外卖送餐", "platform": "美团", "party_status": "中共党员",
                    "consent_at": now, "registered_at": now, "created_at": now,
                    "followed": True, "points": 0, "kefu_used": 0, "kefu_used_event": 0}
                   for i in range(n_members)]
        for start in range(0, len(members), 2000):
            await conn.execute(insert(Member), members[start:start + 2000])
        if url.startswith("postgresql"):
            await conn.execute(text("ANALYZE"))
    await engine.dispose()


async def query_bench(url: str, queries: int) -> dict[str, float]:
    rng = random.Random(1)
    points = [geo.Point(CENTER.lat + rng.uniform(-SPREAD, SPREAD),
                        CENTER.lng + rng.uniform(-SPREAD, SPREAD)) for _ in range(queries)]
    engine = make_engine(url)
    sessions = session_factory(engine)
    nearest: list[float] = []
    scan: list[float] = []
    from sqlmodel import select

    async with sessions() as session:
        await stations.nearest_page(session, points[0])  # warm up
        for p in points:
            t0 = time.perf_counter()
            await stations.nearest_page(session, p)
            nearest.append((time.perf_counter() - t0) * 1e6)
        for p in points[: max(20, queries // 20)]:  # the baseline is slow: fewer of them
            t0 = time.perf_counter()
            every = (await session.exec(select(Station).where(Station.active))).all()
            sorted((geo.distance_m(p, s.point), s.code) for s in every)[:5]
            scan.append((time.perf_counter() - t0) * 1e6)
    await engine.dispose()
    return {"p50": pct(nearest, 0.5), "p99": pct(nearest, 0.99),
            "scan_p50": pct(scan, 0.5)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOGE_")}
    env.update(XIAOGE_DATABASE__URL=url, XIAOGE_SERVER__PORT=str(port),
               XIAOGE_WECHAT__MAX_CLOCK_SKEW_S="3600")
    proc = subprocess.Popen([sys.executable, "run.py", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the bot did not start")


async def callback_bench(port: int, bodies: list[str], peer: WechatPeer) -> dict[str, float]:
    url = f"http://127.0.0.1:{port}/wechat"
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal errors
        while not queue.empty():
            body = queue.get_nowait()
            req = peer.sign(body)
            t0 = time.perf_counter()
            async with http.post(url, params=req.params, data=req.body.encode()) as resp:
                reply = await resp.text()
                if resp.status != 200 or "抱歉" in reply:
                    errors += 1
            latencies.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(worker(http) for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - t0
    return {"rps": len(bodies) / elapsed, "p50_ms": pct(latencies, 0.5),
            "p99_ms": pct(latencies, 0.99), "errors": errors}


async def run_db(name: str, url: str, n_stations: int, n_checkins: int) -> dict[str, Any]:
    await fresh(url)
    await seed(url, n_stations, n_checkins)
    query = await query_bench(url, 1000)
    settings = load_settings(ROOT / "config.yaml")
    peer = WechatPeer(settings.wechat.token, settings.wechat.app_id)
    port = free_port()
    server = start_server(url, port)
    try:
        base = int(time.time())
        helps = [peer.text(f"bench-{i:06d}", "帮助") for i in range(n_checkins)]
        scans = [peer.event(f"bench-{i:06d}", "SCAN", f"st:S{i % n_stations:05d}",
                            create_time=base + i) for i in range(n_checkins)]
        keyword = await callback_bench(port, helps, peer)
        checkin = await callback_bench(port, scans, peer)
    finally:
        server.terminate()
        server.wait(timeout=15)
    return {"db": name, **query, "help": keyword, "checkin": checkin}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stations", type=int, default=10_000)
    ap.add_argument("--checkins", type=int, default=2_000)
    ap.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/bench")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(await run_db("SQLite", f"sqlite+aiosqlite:///{tmp}/bench.db",
                                    args.stations, args.checkins))
    try:
        results.append(await run_db("PostgreSQL", args.pg, args.stations, args.checkins))
    except (OSError, RuntimeError, Exception) as exc:
        print(f"PostgreSQL skipped: {type(exc).__name__}: {exc}")
    print(f"\nnearest active station over {args.stations:,} stations (1,000 queries), "
          f"and {args.checkins:,} callbacks at concurrency {CONCURRENCY}:\n")
    print(f"{'database':<11}{'nearest p50':>12}{'p99':>9}{'full scan p50':>15}{'gain':>7}"
          f"{'帮助 req/s':>12}{'check-in req/s':>16}{'ratio':>7}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'errors':>8}")
    for r in results:
        c, h = r["checkin"], r["help"]
        print(f"{r['db']:<11}{r['p50']:>10.0f}µs{r['p99']:>7.0f}µs{r['scan_p50']:>13.0f}µs"
              f"{r['scan_p50'] / r['p50']:>6.0f}×{h['rps']:>12.0f}{c['rps']:>16.0f}"
              f"{c['rps'] / h['rps']:>7.2f}{c['p50_ms']:>8.1f}{c['p99_ms']:>8.1f}"
              f"{c['errors'] + h['errors']:>8}")


if __name__ == "__main__":
    asyncio.run(main())
