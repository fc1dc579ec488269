"""Points on the map: distances, bounding boxes, and the WGS-84 → GCJ-02 shift.

WeChat's location picker uses Tencent maps, whose coordinates are GCJ-02; a GPS or
OpenStreetMap point is WGS-84. The two differ by 200–500 m around Changzhou, so every
stored point is GCJ-02 and anything else is converted on the way in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8
_A = 6378245.0  # Krasovsky 1940, as GCJ-02 uses
_EE = 0.00669342162296594323


class BadPoint(ValueError):
    """Coordinates that cannot be a place (out of range, or the (0, 0) of a broken GPS)."""


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lng: float


def check(lat: float, lng: float) -> Point:
    if not (math.isfinite(lat) and math.isfinite(lng)):
        raise BadPoint("not a number")
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise BadPoint("out of range")
    if abs(lat) < 1e-6 and abs(lng) < 1e-6:
        raise BadPoint("(0, 0)")
    return Point(lat, lng)


def distance_m(a: Point, b: Point) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lng - a.lng)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def bbox(center: Point, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lng, max_lng) of a square that holds the circle."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    coslat = max(math.cos(math.radians(center.lat)), 1e-6)
    dlng = math.degrees(radius_m / (EARTH_RADIUS_M * coslat))
    return center.lat - dlat, center.lat + dlat, center.lng - dlng, center.lng + dlng


def _outside_china(p: Point) -> bool:
    return not (72.004 <= p.lng <= 137.8347 and 0.8293 <= p.lat <= 55.8271)


def _shift(lat: float, lng: float) -> tuple[float, float]:
    x, y = lng - 105.0, lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y
            + 0.2 * math.sqrt(abs(x)))
    dlat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2 / 3
    dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlng += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    dlng += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
    dlng += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlng = (dlng * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return dlat, dlng


def wgs84_to_gcj02(p: Point) -> Point:
    if _outside_china(p):
        return p
    dlat, dlng = _shift(p.lat, p.lng)
    return Point(p.lat + dlat, p.lng + dlng)


def gcj02_to_wgs84(p: Point) -> Point:
    """The inverse, by iteration (good to a few centimetres)."""
    if _outside_china(p):
        return p
    guess = p
    for _ in range(10):
        shifted = wgs84_to_gcj02(guess)
        guess = Point(guess.lat - (shifted.lat - p.lat), guess.lng - (shifted.lng - p.lng))
    return guess


def to_gcj02(p: Point, datum: str) -> Point:
    if datum == "gcj02":
        return p
    if datum == "wgs84":
        return wgs84_to_gcj02(p)
    raise ValueError(f"unknown datum {datum!r}")


def incoming(lat: float | None, lng: float | None, datum: str) -> Point:
    """A point a message sent (WeChat's picker gives GCJ-02 unless `datum` says else), in
    GCJ-02; BadPoint when it has no coordinates or they cannot be a place."""
    if lat is None or lng is None:
        raise BadPoint("no coordinates")
    return to_gcj02(check(lat, lng), datum)


def format_distance(metres: float) -> str:
    """'350米' or '1.2公里', as a phone screen wants it."""
    if metres < 1000:
        return f"{max(10, round(metres / 10) * 10):.0f}米"
    return f"{metres / 1000:.1f}公里"
