"""Grids (GeoJSON in, point in polygon) and the scheduler's daily digest job."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

import handlers
from bot.app import SERVICES, Services
from bot.clock import SHANGHAI, SystemClock
from bot.db import make_engine
from bot.scheduler import Scheduler, SchedulerLeader, first_run
from handlers.reports.jobs import DIGEST_JOB
from models import geo, staff
from models import grid as grids
from tests.conftest import BotFactory
from tests.processes.test_command_line import env_for, free_port, run

SQUARE = [[119.94, 31.70], [119.96, 31.70], [119.96, 31.72], [119.94, 31.72], [119.94, 31.70]]
HOLE = [[119.948, 31.708], [119.952, 31.708], [119.952, 31.712], [119.948, 31.712],
        [119.948, 31.708]]
FAR = [[120.07, 31.51], [120.09, 31.51], [120.09, 31.53], [120.07, 31.53], [120.07, 31.51]]


def feature(code: str, geometry: dict[str, Any], officers: list[str] | None = None,
            **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry,
            "properties": {"code": code, "name": f"{code}网格", "officers": officers or [],
                           **props}}


def fc(*features: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features), **extra}


async def test_point_in_polygon_with_holes_and_multipolygons(sessions, clock) -> None:
    data = fc(feature("DONUT", {"type": "Polygon", "coordinates": [SQUARE, HOLE]}),
              feature("TWO", {"type": "MultiPolygon", "coordinates": [[FAR]]}),
              datum="gcj02")
    async with sessions() as s, s.begin():
        report = await grids.import_grids(s, data, clock.now())
    assert report.added == ["DONUT", "TWO"]
    async with sessions() as s:
        assert (await grids.containing(s, geo.Point(31.702, 119.942))).code == "DONUT"
        assert await grids.containing(s, geo.Point(31.710, 119.950)) is None  # in the hole
        assert (await grids.containing(s, geo.Point(31.52, 120.08))).code == "TWO"
        assert await grids.containing(s, geo.Point(31.60, 119.80)) is None


async def test_wgs84_grids_are_stored_in_gcj02(sessions, clock) -> None:
    async with sessions() as s, s.begin():
        await grids.import_grids(s, fc(feature("W", {"type": "Polygon",
                                                     "coordinates": [SQUARE]})), clock.now())
    async with sessions() as s:
        grid = await grids.by_code(s, "W")
    assert grid is not None
    lng, lat = grid.polygons[0][0][0]
    moved = geo.distance_m(geo.Point(lat, lng), geo.Point(31.70, 119.94))
    assert 300 < moved < 700


async def test_broken_collections_import_nothing(sessions, clock) -> None:
    async with sessions() as s, s.begin():
        await staff.create_user(s, "officer-a", "officer", "password-123", clock.now())
    open_ring = SQUARE[:-1]
    bad = fc(
        feature("OK", {"type": "Polygon", "coordinates": [SQUARE]}, ["officer-a"]),
        feature("GHOST", {"type": "Polygon", "coordinates": [SQUARE]}, ["nobody"]),
        feature("PT", {"type": "Point", "coordinates": [119.9, 31.7]}),
        feature("OPEN", {"type": "Polygon", "coordinates": [[*open_ring, [119.9, 31.7]]]}),
        feature("OK", {"type": "Polygon", "coordinates": [SQUARE]}),
        {"type": "Feature", "properties": {}, "geometry": None},
    )
    async with sessions() as s, s.begin():
        report = await grids.import_grids(s, bad, clock.now())
    reasons = " | ".join(r for _, r in report.rejected)
    assert "没有这些控制台用户：nobody" in reasons and "Polygon or MultiPolygon" in reasons
    assert "end where it starts" in reasons and "code 重复" in reasons
    assert "需要 code 和 name" in reasons
    async with sessions() as s:
        assert await grids.by_code(s, "OK") is None
    for not_a_collection in ({"type": "Feature"}, {"type": "FeatureCollection",
                                                   "features": []}, []):
        async with sessions() as s, s.begin():
            report = await grids.import_grids(s, not_a_collection, clock.now())
        assert report.rejected and not report.added


def test_import_grids_from_the_command_line(tmp_path: Path, db_url: str) -> None:
    env = env_for(db_url, free_port())
    made = run(["create-user", "officer-b", "--role", "officer"], env, stdin="password-123\n")
    assert made.returncode == 0, made.stderr
    good = tmp_path / "grids.geojson"
    good.write_text(json.dumps(fc(feature("HT", {"type": "Polygon", "coordinates": [SQUARE]},
                                          ["officer-b"]), datum="gcj02"), ensure_ascii=False),
                    encoding="utf-8")
    first = run(["import-grids", str(good)], env)
    assert first.returncode == 0 and "新增 1，更新 0，未变 0" in first.stdout, first.stderr
    again = run(["import-grids", str(good)], env)
    assert "新增 0，更新 0，未变 1" in again.stdout
    (tmp_path / "bad.geojson").write_text("{nope", encoding="utf-8")
    bad = run(["import-grids", str(tmp_path / "bad.geojson")], env)
    assert bad.returncode == 2 and "不是有效的 JSON" in bad.stderr


def test_the_demo_grids_cover_every_demo_station() -> None:
    import yaml

    root = Path(__file__).resolve().parents[2] / "handlers"
    grids_file = root / "reports" / "demo_grids.geojson"
    collection = json.loads(grids_file.read_text(encoding="utf-8"))
    polys = [f["geometry"]["coordinates"] for f in collection["features"]]
    stations_file = root / "stations" / "demo_stations.yaml"
    stations = yaml.safe_load(stations_file.read_text(encoding="utf-8"))
    for st in stations:
        point = geo.Point(st["lat"], st["lng"])
        assert any(grids._in_polygon(point, p) for p in polys), st["code"]


async def test_the_daily_digest_runs_on_the_bots_loop(make_bot: BotFactory, settings) -> None:
    """A leader started after today's digest time runs the digest at once (no instance may
    have run then), then daily at digest_at; on the bot's own loop, with its services."""
    bot = await make_bot(background=False)
    settings.reports.digest_at = "00:00"  # always passed today
    errors = REGISTRY.get_sample_value("xiaoge_scheduler_jobs_total",
                                       {"job": DIGEST_JOB, "result": "error"}) or 0.0
    scheduler = Scheduler(bot.client.server.app[SERVICES], handlers.install().jobs)
    scheduler.start()
    try:
        assert DIGEST_JOB in scheduler.job_ids()  # with the other features' jobs
        for _ in range(100):  # nothing overdue: no digest, no error
            if DIGEST_JOB in scheduler.last_ok:
                break
            await asyncio.sleep(0.05)
        assert DIGEST_JOB in scheduler.last_ok
        nxt = scheduler.next_runs()[DIGEST_JOB]
        assert nxt is not None and nxt.astimezone(SHANGHAI).time().isoformat() == "00:00:00"
        assert nxt.astimezone(SHANGHAI).date() == (
            datetime.now(SHANGHAI) + timedelta(days=1)).date()
    finally:
        scheduler.shutdown()
    assert (REGISTRY.get_sample_value("xiaoge_scheduler_jobs_total",
                                      {"job": DIGEST_JOB, "result": "error"}) or 0.0) == errors


def test_a_daily_job_missed_today_runs_when_a_leader_starts() -> None:
    at_0830 = datetime(2026, 11, 28, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
    assert first_run("08:00", at_0830) == at_0830  # missed while no instance ran: now
    assert first_run("08:30", at_0830) == at_0830
    assert first_run("09:00", at_0830) is None  # still to come today: at its time
    assert first_run(None, at_0830) is None  # interval jobs: a period after the start


async def test_one_scheduler_among_several_instances(settings) -> None:
    import time

    engine = make_engine(settings.database.url)
    services = Services(settings, engine, SystemClock())
    first, second = SchedulerLeader(services, [], 0.3), SchedulerLeader(services, [], 0.3)
    try:
        first.start()
        await asyncio.wait_for(first.leading.wait(), 10)
        second.start()
        await asyncio.sleep(1.0)
        assert first.role() == "leader" and second.role() == "standby"
        started = time.monotonic()
        await first.stop()  # the leader goes away
        await asyncio.wait_for(second.leading.wait(), 10)
        assert time.monotonic() - started < 5
        assert second.role() == "leader"
    finally:
        await first.stop()
        await second.stop()
        await engine.dispose()
