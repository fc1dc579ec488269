"""import-stations: rows of the station file, checked, converted to GCJ-02, upserted by code.

All or nothing: one broken row and nothing is written; every broken row is reported with
its line and reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geo, hours
from models.errors import BadRow
from models.station import KINDS, Station

COLUMNS = ["code", "name", "kind", "address", "lat", "lng", "datum", "radius_m", "services",
           "hours", "phone"]
REQUIRED = ["code", "name", "kind", "lat", "lng", "hours"]
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass
class StationImport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    return "" if value is None else str(value).strip()


def clean_row(raw: dict[str, Any], default_radius_m: int) -> dict[str, Any]:
    """One row as the Station's fields, or BadRow saying what is wrong (the first wrong
    thing, in the order of the checks below)."""
    if missing := [k for k in REQUIRED if not _text(raw, k)]:
        raise BadRow(f"缺少 {', '.join(missing)}")
    code, name, kind = _identity(raw)
    point, datum = _location(raw)
    radius = _radius(raw, default_radius_m)
    services = _services(raw)
    hours_text, opening = _opening_hours(raw)
    address, phone = _contact(raw)
    return {
        "code": code, "name": name, "kind": kind, "address": address,
        "lat": round(point.lat, 7), "lng": round(point.lng, 7), "source_datum": datum,
        "radius_m": radius, "services": services, "hours_text": hours_text,
        "hours": hours.to_json(opening), "phone": phone,
    }


def _identity(raw: dict[str, Any]) -> tuple[str, str, str]:
    """The code (upper case), the name and the kind."""
    code = _text(raw, "code").upper()
    if not _CODE.match(code):
        raise BadRow(f"code「{code}」只能用字母、数字、- 和 _，最长32位")
    name = _text(raw, "name")
    if len(name) > 60:
        raise BadRow("name 最长60个字")
    kind = _text(raw, "kind")
    if kind not in KINDS:
        raise BadRow(f"kind 须为 驿站 或 服务吧，不是「{kind}」")
    return code, name, kind


def _location(raw: dict[str, Any]) -> tuple[geo.Point, str]:
    """The point in GCJ-02, and the datum the file gave it in (gcj02 unless said)."""
    try:
        point = geo.check(float(_text(raw, "lat")), float(_text(raw, "lng")))
    except ValueError:
        raise BadRow(f"坐标无效（lat {_text(raw, 'lat')}, lng {_text(raw, 'lng')}）") from None
    datum = (_text(raw, "datum") or "gcj02").lower()
    if datum not in ("gcj02", "wgs84"):
        raise BadRow(f"datum 须为 gcj02 或 wgs84，不是「{datum}」")
    return geo.to_gcj02(point, datum), datum


def _radius(raw: dict[str, Any], default_radius_m: int) -> int:
    """The check-in radius in metres (the default when the column is empty)."""
    radius_text = _text(raw, "radius_m")
    try:
        radius = int(float(radius_text)) if radius_text else default_radius_m
    except ValueError:
        raise BadRow(f"radius_m「{radius_text}」不是数字") from None
    if not 10 <= radius <= 5000:
        raise BadRow("radius_m 须在 10 到 5000 米之间")
    return radius


def _services(raw: dict[str, Any]) -> list[str]:
    """The services: a YAML list, or text split at 、,，;；."""
    services_raw = raw.get("services")
    if isinstance(services_raw, list):
        return [str(s).strip() for s in services_raw if str(s).strip()]
    return [s.strip() for s in re.split(r"[、,，;；]", _text(raw, "services")) if s.strip()]


def _opening_hours(raw: dict[str, Any]) -> tuple[str, hours.Hours]:
    """The opening hours as given, and parsed."""
    hours_text = _text(raw, "hours")
    if len(hours_text) > 120:
        raise BadRow("hours 最长120个字符")
    try:
        return hours_text, hours.parse(hours_text)
    except hours.BadHours as exc:
        raise BadRow(f"hours: {exc}") from None


def _contact(raw: dict[str, Any]) -> tuple[str, str]:
    """The address and the phone."""
    address, phone = _text(raw, "address"), _text(raw, "phone")
    if len(address) > 200 or len(phone) > 32:
        raise BadRow("address 最长200字，phone 最长32字")
    return address, phone


async def import_stations(session: AsyncSession, rows: Iterable[tuple[int, dict[str, Any]]],
                          default_radius_m: int, now: datetime) -> StationImport:
    report = StationImport()
    clean: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, raw in rows:
        try:
            row = clean_row(raw, default_radius_m)
        except BadRow as exc:
            report.rejected.append((line, str(exc)))
            continue
        if row["code"] in seen:
            report.rejected.append((line, f"code {row['code']} 与第{seen[row['code']]}行重复"))
            continue
        seen[row["code"]] = line
        clean.append(row)
    if report.rejected:
        return report
    codes = [r["code"] for r in clean]
    existing = {s.code: s for s in (await session.exec(
        select(Station).where(col(Station.code).in_(codes)))).all()}
    for row in clean:
        station = existing.get(row["code"])
        if station is None:
            session.add(Station(**row, active=True, updated_at=now))
            report.added.append(row["code"])
            continue
        if all(getattr(station, k) == v for k, v in row.items()) and station.active:
            report.unchanged.append(row["code"])
            continue
        for k, v in row.items():
            setattr(station, k, v)
        station.active, station.updated_at = True, now
        session.add(station)
        report.changed.append(row["code"])
    return report
