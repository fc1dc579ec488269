"""The demo stations of dev mode (`make run`), from demo_stations.yaml beside this file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import yaml
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models.station_import import import_stations

DEMO_STATIONS = Path(__file__).with_name("demo_stations.yaml")


async def seed(session: AsyncSession, settings: Settings, now: datetime) -> str:
    rows = yaml.safe_load(DEMO_STATIONS.read_text(encoding="utf-8"))
    report = await import_stations(session, enumerate(rows, 1),
                                   settings.checkin.default_radius_m, now)
    if report.rejected:
        raise RuntimeError(f"demo stations broken: {report.rejected}")
    return (f"演示数据已就绪：{len(rows)} 个演示驿站（湖塘驿站 HT01 在 31.7093,119.9512，"
            f"聊天里发「:loc 31.7093,119.9512」或「:scan st:HT01」签到）。")
