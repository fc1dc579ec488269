"""Parametric QR codes made through WeChat's API: which scene each code URL carries, so a
code scanned with the menu's scan button (which gives us the URL) finds its scene."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import SHANGHAI, UTCDateTime

SCENE_PREFIXES = ("st:", "grp:", "crs:", "act:")


class QrCode(SQLModel, table=True):
    __tablename__ = "qr_code"

    scene: str = Field(primary_key=True, max_length=64)
    ticket: str = Field(max_length=255)
    url: str = Field(max_length=255, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


def is_scene(text: str) -> bool:
    return text.startswith(SCENE_PREFIXES) and 1 <= len(text) <= 64


async def scene_for(session: AsyncSession, scanned: str) -> str | None:
    """The scene a scanned code carries: the text itself (codes drawn in dev mode carry the
    scene), or the scene of a WeChat code URL we made."""
    scanned = scanned.strip()
    if is_scene(scanned):
        return scanned
    row = (await session.exec(select(QrCode).where(QrCode.url == scanned))).first()
    return row.scene if row else None


async def remember(session: AsyncSession, scene: str, ticket: str, url: str,
                   now: datetime) -> None:
    row = await session.get(QrCode, scene)
    if row is None:
        session.add(QrCode(scene=scene, ticket=ticket, url=url, created_at=now))
    else:
        row.ticket, row.url = ticket, url
        session.add(row)


@dataclass
class Scannable:
    """What a phone could scan today, for the simulator's scan buttons."""

    stations: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    courses: list[dict[str, Any]]


async def scannable(session: AsyncSession, now: datetime) -> Scannable:
    """Open stations, up to 100 groups, and the published courses of the last week on."""
    from models.course import Course
    from models.group import PartyGroup
    from models.station import all_active

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
