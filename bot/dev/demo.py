"""Demo data for dev mode (`make run`): loaded at every dev start, idempotently.

Clearly demo: nothing here is real. Later features add their own demo sets here
(stations, groups, courses).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from sqlmodel import select

from bot.clock import SystemClock
from bot.db import lock_key, make_engine, session_factory
from bot.settings import Settings
from models import staff
from models.grid import import_grids
from models.staff import ConsoleUser
from models.station_import import import_stations

DEMO_STATIONS = Path(__file__).with_name("demo_stations.yaml")
DEMO_GRIDS = Path(__file__).with_name("demo_grids.geojson")
DEMO_OFFICER = "demo-officer"

DEMO_ADMIN = "demo-admin"
DEMO_ADMIN_PASSWORD = "xiaoge-demo"


async def load_demo(settings: Settings) -> None:
    if not settings.is_dev:
        raise RuntimeError("demo data is for dev mode only")
    engine = make_engine(settings.database.url)
    try:
        async with session_factory(engine)() as session, session.begin():
            # Several instances starting at once load the demo data one after the other.
            await lock_key(session, "xiaoge:demo-data")
            now = SystemClock().now()
            query = select(ConsoleUser).where(ConsoleUser.username == DEMO_ADMIN)
            admin = (await session.exec(query)).first()
            if admin is None:
                admin = await staff.create_user(
                    session, DEMO_ADMIN, "admin", DEMO_ADMIN_PASSWORD, now
                )
            code = await staff.issue_bind_code(session, admin, now)
            officer = (await session.exec(select(ConsoleUser).where(
                ConsoleUser.username == DEMO_OFFICER))).first()
            if officer is None:
                officer = await staff.create_user(session, DEMO_OFFICER, "officer",
                                                  DEMO_ADMIN_PASSWORD, now)
            officer_code = await staff.issue_bind_code(session, officer, now)
            collection = json.loads(DEMO_GRIDS.read_text(encoding="utf-8"))
            grid_report = await import_grids(session, collection, now)
            if grid_report.rejected:
                raise RuntimeError(f"demo grids broken: {grid_report.rejected}")
            rows = yaml.safe_load(DEMO_STATIONS.read_text(encoding="utf-8"))
            report = await import_stations(session, enumerate(rows, 1),
                                           settings.checkin.default_radius_m, now)
            if report.rejected:
                raise RuntimeError(f"demo stations broken: {report.rejected}")
    finally:
        await engine.dispose()
    print(f"演示数据已就绪：{len(rows)} 个演示驿站（湖塘驿站 HT01 在 31.7093,119.9512，"
          f"聊天里发「:loc 31.7093,119.9512」或「:scan st:HT01」签到）。\n"
          f"演示管理员 {DEMO_ADMIN}（密码 {DEMO_ADMIN_PASSWORD}）"
          f"的绑定码：{code}；演示网格员 {DEMO_OFFICER} 的绑定码：{officer_code}。"
          f"10分钟内在聊天中发送「绑定 绑定码」试试。\n"
          f"控制台：http://{settings.server.host}:{settings.server.port}/console/ · "
          f"模拟器：http://{settings.server.host}:{settings.server.port}/simulator/")
