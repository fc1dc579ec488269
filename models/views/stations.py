"""Reads for the console's 驿站 pages: the filtered list with 30 days' check-ins, and the
check-ins flagged for review."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geo
from models.checkin import Checkin
from models.member import Member
from models.station import KINDS, Station


def _where(f: dict[str, str]) -> list[Any]:
    where: list[Any] = []
    if f["q"]:
        where.append(col(Station.name).contains(f["q"], autoescape=True)
                     | col(Station.code).contains(f["q"].upper(), autoescape=True)
                     | col(Station.address).contains(f["q"], autoescape=True))
    if f["kind"] in KINDS:
        where.append(col(Station.kind) == f["kind"])
    if f["active"] in ("1", "0"):
        where.append(col(Station.active) == (f["active"] == "1"))
    return where


async def station_list(db: AsyncSession, f: dict[str, str], since: date,
                       offset: int = 0, limit: int | None = None
                       ) -> tuple[list[tuple[Station, int]], int, int]:
    """(station, check-ins since `since`) by code, filtered by q (name, code or address),
    kind and active ("1"/"0"), `limit` of them from `offset` (None: all); how many match;
    and how many check-ins are flagged in all."""
    where = _where(f)
    total = (await db.exec(select(func.count()).select_from(Station).where(*where))).one()
    found = (await db.exec(select(Station).where(*where).order_by(col(Station.code))
                           .offset(offset).limit(limit))).all()
    ids = [s.id for s in found if s.id is not None]
    counts = dict((await db.exec(
        select(Checkin.station_id, func.count())
        .where(col(Checkin.day) >= since, col(Checkin.station_id).in_(ids or [-1]))
        .group_by(col(Checkin.station_id)))).all())
    flagged = (await db.exec(select(func.count()).select_from(Checkin)
                             .where(col(Checkin.flagged)))).one()
    rows: list[tuple[Station, int]] = []
    for s in found:
        assert s.id is not None  # read from the table
        rows.append((s, int(counts.get(s.id, 0))))
    return rows, total, flagged


async def flagged_checkins(db: AsyncSession, limit: int = 500) -> list[Any]:
    """(check-in, station name, member name) of flagged check-ins, latest first."""
    return list((await db.exec(
        select(Checkin, Station.name, Member.name)
        .join(Station, col(Station.id) == Checkin.station_id)
        .join(Member, col(Member.id) == Checkin.member_id)
        .where(col(Checkin.flagged)).order_by(col(Checkin.at).desc()).limit(limit))).all())


async def nearest_active(db: AsyncSession, point: geo.Point) -> tuple[Station, float] | None:
    """The nearest active station at any distance, and how far it is (m): what the chat says
    to a rider far from every station. Only coordinates travel; a district has a few hundred."""
    rows = (await db.exec(select(Station.id, Station.lat, Station.lng).where(
        col(Station.active)))).all()
    if not rows:
        return None
    d, sid = min((geo.distance_m(point, geo.Point(lat, lng)), sid) for sid, lat, lng in rows)
    station = await db.get(Station, sid)
    return (station, d) if station is not None else None
