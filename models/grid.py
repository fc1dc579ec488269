"""Grids (网格): polygons with a name and their officers; a report goes to the grid that
holds its point. Imported from GeoJSON; stored in GCJ-02 like every other point."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geo
from models.base import UTCDateTime
from models.staff import ConsoleUser

# [polygon][ring][vertex] = (lng, lat), GeoJSON's order; ring 0 is the outline, others holes.
Polygons = list[list[list[list[float]]]]
CODE_MAX, NAME_MAX = 32, 60  # a grid's code and name, in characters


class Grid(SQLModel, table=True):
    __tablename__ = "grid"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=CODE_MAX, unique=True)
    name: str = Field(max_length=NAME_MAX)
    polygons: Polygons = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    officers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    min_lat: float = Field(index=True)
    max_lat: float
    min_lng: float
    max_lng: float
    updated_at: datetime = Field(sa_type=UTCDateTime)

    def contains(self, p: geo.Point) -> bool:
        return any(_in_polygon(p, poly) for poly in self.polygons)


def _in_ring(p: geo.Point, ring: list[list[float]]) -> bool:
    inside = False
    n = len(ring)
    for i in range(n):
        x1, y1 = ring[i]
        x2, y2 = ring[(i + 1) % n]
        if (y1 > p.lat) != (y2 > p.lat):
            x = x1 + (p.lat - y1) * (x2 - x1) / (y2 - y1)
            if p.lng < x:
                inside = not inside
    return inside


def _in_polygon(p: geo.Point, rings: list[list[list[float]]]) -> bool:
    return bool(rings) and _in_ring(p, rings[0]) and not any(_in_ring(p, h) for h in rings[1:])


async def containing(session: AsyncSession, p: geo.Point) -> Grid | None:
    stmt = select(Grid).where(col(Grid.min_lat) <= p.lat, col(Grid.max_lat) >= p.lat,
                              col(Grid.min_lng) <= p.lng, col(Grid.max_lng) >= p.lng)
    for grid in (await session.exec(stmt.order_by(col(Grid.code)))).all():
        if grid.contains(p):
            return grid
    return None


async def by_code(session: AsyncSession, code: str) -> Grid | None:
    return (await session.exec(select(Grid).where(Grid.code == code))).first()


async def codes_of_officer(session: AsyncSession, user: ConsoleUser) -> set[str]:
    """The grids an officer works: named in a grid's officers, or their account's grid."""
    codes = {g.code for g in (await session.exec(select(Grid))).all()
             if user.username in g.officers}
    if user.grid_code:
        codes.add(user.grid_code)
    return codes


async def officers_of(session: AsyncSession, grid_code: str | None) -> Sequence[ConsoleUser]:
    """Console accounts responsible for a grid (officers named there, or bound to it)."""
    users = (await session.exec(select(ConsoleUser).where(ConsoleUser.active))).all()
    grid = await by_code(session, grid_code) if grid_code else None
    names = set(grid.officers) if grid else set()
    return [u for u in users if u.role == "officer" and grid_code is not None
            and (u.username in names or u.grid_code == grid_code)]


# --- import --------------------------------------------------------------------------------


@dataclass
class GridImport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (feature, reason)


class BadGeoJSON(ValueError):
    pass


def _ring(raw: Any, datum: str) -> list[list[float]]:
    if not isinstance(raw, list) or len(raw) < 4:
        raise BadGeoJSON("a ring needs at least 4 positions")
    ring = []
    for pos in raw:
        if not (isinstance(pos, list) and len(pos) >= 2
                and all(isinstance(v, int | float) for v in pos[:2])):
            raise BadGeoJSON("a position is [lng, lat]")
        try:
            p = geo.to_gcj02(geo.check(float(pos[1]), float(pos[0])), datum)
        except geo.BadPoint:
            raise BadGeoJSON(f"position {pos[:2]} is not a place") from None
        ring.append([round(p.lng, 7), round(p.lat, 7)])
    if ring[0] != ring[-1]:
        raise BadGeoJSON("a ring must end where it starts")
    return ring


def polygons_of(geometry: Any, datum: str) -> Polygons:
    if not isinstance(geometry, dict):
        raise BadGeoJSON("geometry missing")
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    polys: Any
    if kind == "Polygon":
        polys = [coords]
    elif kind == "MultiPolygon":
        polys = coords
    else:
        raise BadGeoJSON(f"geometry must be Polygon or MultiPolygon, not {kind}")
    if not isinstance(polys, list) or not polys:
        raise BadGeoJSON("no coordinates")
    out: Polygons = []
    for poly in polys:
        if not isinstance(poly, list) or not poly:
            raise BadGeoJSON("a polygon needs at least its outline")
        out.append([_ring(r, datum) for r in poly])
    return out


async def import_grids(session: AsyncSession, collection: Any, now: datetime) -> GridImport:
    """Upsert grids by code from a FeatureCollection; all or nothing. Coordinates are
    WGS-84 as GeoJSON says, unless the collection or a feature has "datum": "gcj02"."""
    report = GridImport()
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        report.rejected.append(("(file)", "应为 GeoJSON FeatureCollection"))
        return report
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        report.rejected.append(("(file)", "features 为空"))
        return report
    known = {u.username for u in (await session.exec(select(ConsoleUser))).all()}
    default_datum = str(collection.get("datum") or "wgs84").lower()
    clean: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, feature in enumerate(features, 1):
        where, row = _grid_row(feature, f"第{i}个要素", default_datum, known, seen)
        if isinstance(row, str):
            report.rejected.append((where, row))
        else:
            clean.append(row)
    if report.rejected:
        return report
    existing = {g.code: g for g in (await session.exec(select(Grid))).all()}
    for row in clean:
        grid = existing.get(row["code"])
        if grid is None:
            session.add(Grid(**row, updated_at=now))
            report.added.append(row["code"])
        elif all(getattr(grid, k) == v for k, v in row.items()):
            report.unchanged.append(row["code"])
        else:
            for k, v in row.items():
                setattr(grid, k, v)
            grid.updated_at = now
            session.add(grid)
            report.changed.append(row["code"])
    return report


def _grid_row(feature: Any, where: str, default_datum: str, known: set[str],
              seen: set[str]) -> tuple[str, dict[str, Any] | str]:
    """One feature as a grid's fields, or the reason it is refused; with where it is (its
    code added once known). Adds its code to `seen`."""
    props = (feature or {}).get("properties") or {} if isinstance(feature, dict) else {}
    code = str(props.get("code") or "").strip().upper()
    name = str(props.get("name") or "").strip()
    officers = props.get("officers", [])
    datum = str(props.get("datum") or default_datum).lower()
    if not code or not name:
        return where, "properties 需要 code 和 name"
    if len(code) > CODE_MAX or len(name) > NAME_MAX:
        return where, f"code 最长{CODE_MAX}个字符，name 最长{NAME_MAX}个字"
    where = f"{where}（{code}）"
    if code in seen:
        return where, "code 重复"
    seen.add(code)
    if not isinstance(officers, list) or not all(isinstance(o, str) for o in officers):
        return where, "officers 应为控制台用户名的列表"
    if missing := [o for o in officers if o not in known]:
        return where, f"没有这些控制台用户：{', '.join(missing)}（先用 run.py create-user 创建）"
    if datum not in ("wgs84", "gcj02"):
        return where, "datum 须为 wgs84 或 gcj02"
    try:
        polygons = polygons_of(feature.get("geometry"), datum)
    except BadGeoJSON as exc:
        return where, str(exc)
    lats = [pt[1] for poly in polygons for pt in poly[0]]
    lngs = [pt[0] for poly in polygons for pt in poly[0]]
    return where, {"code": code, "name": name, "polygons": polygons, "officers": officers,
                   "min_lat": min(lats), "max_lat": max(lats), "min_lng": min(lngs),
                   "max_lng": max(lngs)}
