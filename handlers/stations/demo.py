"""The demo stations of dev mode (`make run`), from demo_stations.yaml beside this file, and
30 days of demo check-ins at them: a rider's day (lunch and evening peaks, fewer at the
weekend), each demo member at a home station and now and then a second one, so the
dashboard's 30-day chart and the station ranking are full; plus one journey too fast to be
true (flagged for review, 驿站 → 待核查签到).

Check-ins are topped up at every start for the days of the last 30 not yet covered (a
member checks in at a station once a day: the table's unique key); the same day's second
start adds nothing. Deterministic: the pattern is drawn from a seed per member and day."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from pathlib import Path

import yaml
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dev.demo import demo_members
from bot.settings import Settings
from models.base import SHANGHAI, insert_for
from models.checkin import POINTS_FIRST_OF_DAY, Checkin, journey_flag, local_day
from models.member import Member
from models.station import Station
from models.station_import import import_stations

DEMO_STATIONS = Path(__file__).with_name("demo_stations.yaml")
DAYS = 30
# Where the demo members ride: the busier stations first (home stations by member).
HOMES = ("HT01", "HT03", "GXQ1", "HT02", "NT01", "HT01", "XTH1", "GXQ1", "YG01", "HT03",
         "NXS1", "LY01", "HT01", "DGJ1", "NT02", "GXQ2", "HLIN", "LJ01")
SECOND = ("HT02", "GXQ1", "HT01", "NT01", "XTH1", "ZL01")
# The impossible journey: this member, from HT01 to XY01 (雪堰, ~25 km) in 12 minutes.
FLAGGED = (3, "HT01", "XY01", timedelta(minutes=12))


async def seed(session: AsyncSession, settings: Settings, now: datetime) -> str:
    rows = yaml.safe_load(DEMO_STATIONS.read_text(encoding="utf-8"))
    report = await import_stations(session, enumerate(rows, 1),
                                   settings.checkin.default_radius_m, now)
    if report.rejected:
        raise RuntimeError(f"demo stations broken: {report.rejected}")
    stations = {s.code: s for s in (await session.exec(select(Station))).all()}
    members = await demo_members(session)
    added = await _checkins(session, members, stations, now)
    await _flagged(session, members, stations, now)
    total = sum(added.values())
    return f"{len(rows)} 个驿站 · 30天签到" + (f"（本次补 {total} 次）" if total else "")


def _moment(day: date, rng: random.Random, now: datetime) -> datetime:
    """A check-in time of a rider's day: the lunch or the evening peak, else mid-morning."""
    peak = rng.choices(((10, 40, 150), (16, 50, 180), (8, 30, 120)), (5, 4, 1))[0]
    minute = peak[1] + rng.randrange(peak[2])
    at = datetime.combine(day, time(peak[0]), tzinfo=SHANGHAI) + timedelta(minutes=minute)
    if at >= now:  # today, later than now: earlier today instead
        at = now - timedelta(minutes=3 + rng.randrange(180))
    return at


def _day_rows(member: Member, n: int, day: date, stations: dict[str, Station],
              now: datetime) -> list[dict[str, object]]:
    rng = random.Random(f"demo-checkin:{n}:{day.isoformat()}")
    weekend = day.weekday() >= 5
    if rng.random() > (0.45 if weekend else 0.75):
        return []
    codes = [HOMES[(n - 1) % len(HOMES)]]
    if rng.random() < 0.3:
        codes.append(SECOND[n % len(SECOND)])
    rows: list[dict[str, object]] = []
    for code in dict.fromkeys(codes):
        station = stations.get(code)
        if station is None or station.id is None:
            continue
        at = _moment(day, rng, now)
        if local_day(at) != day:
            continue
        by_qr = rng.random() < 0.6
        rows.append({"member_id": member.id, "station_id": station.id, "day": day, "at": at,
                     "method": "qr" if by_qr else "location",
                     "lat": None if by_qr else station.lat,
                     "lng": None if by_qr else station.lng,
                     "distance_m": None if by_qr else float(rng.randrange(5, 120)),
                     "flagged": False, "flag_reason": None})
    return rows


async def _checkins(session: AsyncSession, members: list[Member],
                    stations: dict[str, Station], now: datetime) -> dict[int, int]:
    """The check-ins of the last 30 days not there yet, in one batch; the points of each
    member's new first-of-the-day check-ins. Returns the new rows per member id."""
    today = local_day(now)
    first = today - timedelta(days=DAYS - 1)
    ids = [m.id for m in members]
    have = set((await session.exec(select(col(Checkin.member_id), col(Checkin.station_id),
                                          col(Checkin.day)).where(col(Checkin.member_id).in_(ids),
                                          col(Checkin.day) >= first))).all())
    days_had = {(m, d) for m, _, d in have}
    rows: list[dict[str, object]] = []
    points: dict[int, int] = {}
    added: dict[int, int] = {}
    for n, member in enumerate(members, 1):
        assert member.id is not None
        if member.registered_at and local_day(member.registered_at) > first:
            start = local_day(member.registered_at)
        else:
            start = first
        for i in range((today - start).days + 1):
            day = start + timedelta(days=i)
            for row in _day_rows(member, n, day, stations, now):
                if (member.id, row["station_id"], day) in have:
                    continue
                rows.append(row)
                added[member.id] = added.get(member.id, 0) + 1
                if (member.id, day) not in days_had:
                    days_had.add((member.id, day))
                    points[member.id] = points.get(member.id, 0) + POINTS_FIRST_OF_DAY
    if rows:
        conn = await session.connection()
        await conn.execute(insert_for(session, Checkin).on_conflict_do_nothing(
            index_elements=["member_id", "station_id", "day"]), rows)
    for member_id, got in points.items():
        await session.exec(update(Member).where(col(Member.id) == member_id)
                           .values(points=Member.points + got))
    return added


async def _flagged(session: AsyncSession, members: list[Member],
                   stations: dict[str, Station], now: datetime) -> None:
    """One check-in too fast after the one before (once: not when a demo one is flagged)."""
    n, frm, to, gap = FLAGGED
    if len(members) < n or frm not in stations or to not in stations:
        return
    ids = [m.id for m in members]
    if (await session.exec(select(Checkin.id).where(
            col(Checkin.member_id).in_(ids), col(Checkin.flagged)))).first() is not None:
        return
    member, before, here = members[n - 1], stations[frm], stations[to]
    day = local_day(now - timedelta(days=2))
    first_at = datetime.combine(day, time(12, 5), tzinfo=SHANGHAI)
    reason = journey_flag(before.name, before.point, here.point, gap)
    for station, at, flag in ((before, first_at, None), (here, first_at + gap, reason)):
        await session.exec(insert_for(session, Checkin).values(
            member_id=member.id, station_id=station.id, day=day, at=at, method="qr",
            flagged=flag is not None, flag_reason=flag).on_conflict_do_update(
            index_elements=["member_id", "station_id", "day"],
            set_={"at": at, "flagged": flag is not None, "flag_reason": flag}))
