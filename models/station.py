"""Red stations (龙城红色驿站) and service bars (红色服务吧): where they are, what they offer,
when they are open, and how to find the nearest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Float, Index, bindparam, func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geo
from models.base import UTCDateTime
from models.hours import Hours, from_json, is_open, today_text

KINDS = ("驿站", "服务吧")
NEARBY_RADIUS_M = 5000
NEARBY_PAGE = 5


class Station(SQLModel, table=True):
    __tablename__ = "station"
    __table_args__ = (
        Index("ix_station_lat_lng", "lat", "lng"),
        Index("ix_station_radius", "radius_m"),  # max(radius_m) without a scan
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=60)
    kind: str = Field(max_length=8)
    address: str = Field(default="", max_length=200)
    lat: float  # GCJ-02
    lng: float
    source_datum: str = Field(default="gcj02", max_length=8)  # what the import file said
    radius_m: int
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    hours_text: str = Field(max_length=120)
    hours: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    phone: str = Field(default="", max_length=32)
    active: bool = True
    updated_at: datetime = Field(sa_type=UTCDateTime)

    @property
    def point(self) -> geo.Point:
        return geo.Point(self.lat, self.lng)

    def opening(self) -> Hours:
        return from_json(self.hours)

    def is_open(self, local_now: datetime) -> bool:
        return is_open(self.opening(), local_now)

    def today(self, local_now: datetime) -> str:
        return today_text(self.opening(), local_now)


@dataclass(frozen=True)
class Nearby:
    station: Station
    distance_m: float


async def by_code(session: AsyncSession, code: str) -> Station | None:
    return (await session.exec(select(Station).where(Station.code == code.strip().upper())
                               )).first()


async def _candidates(session: AsyncSession, point: geo.Point, radius_m: float
                      ) -> list[tuple[float, int, int]]:
    """(distance, id, radius) of the active stations within `radius_m`, nearest first: a
    bounding box in SQL on the lat/lng index, then the exact distance here. Only four
    columns travel, however many stations the box holds."""
    min_lat, max_lat, min_lng, max_lng = geo.bbox(point, radius_m)
    stmt = select(Station.id, Station.lat, Station.lng, Station.radius_m).where(
        Station.active,
        col(Station.lat).between(min_lat, max_lat),
        col(Station.lng).between(min_lng, max_lng),
    )
    found: list[tuple[float, int, int]] = []
    for sid, lat, lng, reach in (await session.exec(stmt)).all():
        assert sid is not None  # a primary key read from the table
        d = geo.distance_m(point, geo.Point(lat, lng))
        if d <= radius_m:
            found.append((d, sid, reach))
    found.sort()
    return found


async def _load(session: AsyncSession, picked: list[tuple[float, int, int]]) -> list[Nearby]:
    if not picked:
        return []
    rows = (await session.exec(select(Station).where(
        col(Station.id).in_([sid for _, sid, _ in picked])))).all()
    by_id = {s.id: s for s in rows}
    return [Nearby(by_id[sid], d) for d, sid, _ in picked if sid in by_id]


async def around(session: AsyncSession, point: geo.Point, radius_m: float,
                 limit: int | None = None) -> list[Nearby]:
    """Active stations within `radius_m`, nearest first (at most `limit`)."""
    found = await _candidates(session, point, radius_m)
    return await _load(session, found[:limit] if limit else found)


async def nearest_page(session: AsyncSession, point: geo.Point, page: int = 0
                       ) -> tuple[list[Nearby], bool]:
    """One page of the active stations within 5 km, and whether there are more."""
    found = await _candidates(session, point, NEARBY_RADIUS_M)
    start = page * NEARBY_PAGE
    return await _load(session, found[start : start + NEARBY_PAGE]), \
        len(found) > start + NEARBY_PAGE


# The active stations in the box around a point that the largest geofence could reach: one
# query (the largest radius is an uncorrelated subquery, computed once; the box still uses
# the lat/lng index). Parameters: the point and the degrees per metre at its latitude.
_REACH = select(func.max(Station.radius_m)).where(Station.active).scalar_subquery()
_LAT, _LNG = bindparam("lat", type_=Float()), bindparam("lng", type_=Float())
_DLAT, _DLNG = bindparam("dlat", type_=Float()), bindparam("dlng", type_=Float())
_IN_REACH = select(Station).where(
    Station.active,
    col(Station.lat).between(_LAT - _REACH * _DLAT, _LAT + _REACH * _DLAT),
    col(Station.lng).between(_LNG - _REACH * _DLNG, _LNG + _REACH * _DLNG),
)


async def containing(session: AsyncSession, point: geo.Point) -> Nearby | None:
    """The nearest active station whose geofence holds the point."""
    min_lat, _, min_lng, _ = geo.bbox(point, 1.0)  # degrees per metre here
    rows = (await session.exec(_IN_REACH, params={
        "lat": point.lat, "lng": point.lng, "dlat": point.lat - min_lat,
        "dlng": point.lng - min_lng})).all()
    hits = [(geo.distance_m(point, s.point), s.id or 0, s) for s in rows]
    inside = sorted((d, sid, s) for d, sid, s in hits if d <= s.radius_m)
    return Nearby(inside[0][2], inside[0][0]) if inside else None


async def all_active(session: AsyncSession) -> Sequence[Station]:
    return (await session.exec(select(Station).where(Station.active).order_by(Station.code))
            ).all()
