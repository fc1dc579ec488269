"""Grids (GeoJSON in, point in polygon) and the scheduler's persistent daily job."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.app import SERVICES
from bot.scheduler import (
    ACTIVITY_JOB,
    DIGEST_JOB,
    JOBS_TABLE,
    PLAN_JOB,
    Scheduler,
    bind_runtime,
    sync_url,
)
from handlers.reports.jobs import digest_job
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

    root = Path(__file__).resolve().parents[2] / "bot" / "dev"
    collection = json.loads((root / "demo_grids.geojson").read_text(encoding="utf-8"))
    polys = [f["geometry"]["coordinates"] for f in collection["features"]]
    stations = yaml.safe_load((root / "demo_stations.yaml").read_text(encoding="utf-8"))
    for st in stations:
        point = geo.Point(st["lat"], st["lng"])
        assert any(grids._in_polygon(point, p) for p in polys), st["code"]


async def test_the_digest_job_is_kept_in_the_database(make_bot: BotFactory, settings,
                                                      sessions) -> None:
    bot = await make_bot(background=False)
    first = Scheduler(settings)
    await asyncio.to_thread(first.start)
    assert sorted(first.job_ids()) == [ACTIVITY_JOB, DIGEST_JOB, PLAN_JOB]
    await asyncio.to_thread(first.shutdown)

    def stored() -> list[str]:
        engine = create_engine(sync_url(settings.database.url))
        with engine.connect() as conn:
            ids = [r[0] for r in conn.execute(text(f"SELECT id FROM {JOBS_TABLE}"))]
        engine.dispose()
        return ids

    assert sorted(await asyncio.to_thread(stored)) == [ACTIVITY_JOB, DIGEST_JOB, PLAN_JOB]  # kept
    second = Scheduler(settings)  # a restart: the job is taken up again, not doubled
    await asyncio.to_thread(second.start)
    assert sorted(second.job_ids()) == [ACTIVITY_JOB, DIGEST_JOB, PLAN_JOB]
    await asyncio.to_thread(second.shutdown)

    # The job itself runs in the scheduler's thread and hops onto the bot's loop.
    services = bot.client.server.app[SERVICES]
    bind_runtime(asyncio.get_running_loop(), services)
    await asyncio.to_thread(digest_job)  # nothing overdue: no digest, no error


@pytest.mark.parametrize("url,expected", [
    ("sqlite+aiosqlite:///data/x.db", "sqlite:///data/x.db"),
    ("postgresql+asyncpg://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
])
def test_sync_url(url: str, expected: str) -> None:
    assert sync_url(url) == expected


async def test_one_scheduler_among_several_instances(settings) -> None:
    import time

    from bot.scheduler import SchedulerLeader

    first, second = SchedulerLeader(settings, 0.3), SchedulerLeader(settings, 0.3)
    first.start()
    assert await asyncio.to_thread(first.leading.wait, 10)
    second.start()
    await asyncio.sleep(1.0)
    assert first.leading.is_set() and not second.leading.is_set()
    started = time.monotonic()
    await asyncio.to_thread(first.stop)  # the leader goes away
    assert await asyncio.to_thread(second.leading.wait, 10)
    assert time.monotonic() - started < 5
    await asyncio.to_thread(second.stop)
