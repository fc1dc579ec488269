"""The QR scenes there are: what a phone could scan today (the simulator's scan buttons,
dev mode), and every code `run.py qrcodes` prints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI
from models.course import Course
from models.group import PartyGroup
from models.station import all_active


@dataclass
class Scannable:
    """What a phone could scan today, for the simulator's scan buttons."""

    stations: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    courses: list[dict[str, Any]]


async def scannable(session: AsyncSession, now: datetime) -> Scannable:
    """Open stations, up to 100 groups, and the published courses of the last week on."""
    since = now - timedelta(days=7)
    stations = [{"code": s.code, "name": s.name, "kind": s.kind, "address": s.address,
                 "lat": s.lat, "lng": s.lng} for s in await all_active(session)]
    groups = [{"code": g.code, "name": g.name} for g in (await session.exec(
        select(PartyGroup).order_by(col(PartyGroup.name)).limit(100))).all()]
    courses = [{"code": c.code, "title": c.title,
                "start": c.start_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M")}
               for c in (await session.exec(
                   select(Course).where(Course.status == "published",
                                        col(Course.end_at) >= since)
                   .order_by(col(Course.start_at)).limit(50))).all()]
    return Scannable(stations, groups, courses)


async def printable(session: AsyncSession) -> list[tuple[str, str]]:
    """(scene, file name) of every code `run.py qrcodes` makes: each open station, each
    group, each published course."""
    targets = [(f"st:{s.code}", f"station-{s.code}.png") for s in await all_active(session)]
    targets += [(f"grp:{g.code}", f"group-{g.code}.png")
                for g in (await session.exec(select(PartyGroup))).all()]
    targets += [(f"crs:{c.code}", f"course-{c.code}.png")
                for c in (await session.exec(select(Course).where(
                    Course.status == "published").order_by(col(Course.code)))).all()]
    return targets

