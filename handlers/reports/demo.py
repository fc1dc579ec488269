"""The demo grids of dev mode (`make run`), from demo_grids.geojson beside this file: every
demo station lies in one, so a demo report reaches the demo officer."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models.grid import import_grids

DEMO_GRIDS = Path(__file__).with_name("demo_grids.geojson")


async def seed(session: AsyncSession, settings: Settings, now: datetime) -> None:
    collection = json.loads(DEMO_GRIDS.read_text(encoding="utf-8"))
    report = await import_grids(session, collection, now)
    if report.rejected:
        raise RuntimeError(f"demo grids broken: {report.rejected}")
