"""The demo grids of dev mode (`make run`), from demo_grids.geojson beside this file (every
demo station lies in one, so a demo report reaches the demo officer), and the demo reports
(demo_reports.py): every state of the work-order cycle, over the last 60 days."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from handlers.reports import demo_reports
from models.grid import import_grids

DEMO_GRIDS = Path(__file__).with_name("demo_grids.geojson")


async def seed(session: AsyncSession, settings: Settings, now: datetime) -> str:
    collection = json.loads(DEMO_GRIDS.read_text(encoding="utf-8"))
    report = await import_grids(session, collection, now)
    if report.rejected:
        raise RuntimeError(f"demo grids broken: {report.rejected}")
    if settings.dev.demo_data != "full":
        return f"{len(collection['features'])} 个网格"
    count = await demo_reports.seed(session, settings, now)
    return f"{len(collection['features'])} 个网格 · {count} 件上报（工单各环节）"
