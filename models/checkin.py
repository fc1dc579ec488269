"""Check-ins at stations: once per member, station and Asia/Shanghai day (the database
enforces it), a point for the first of the day, and a flag on impossible journeys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Date, Index, UniqueConstraint, bindparam, func
from sqlalchemy import select as core_select
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import geo
from models.base import SHANGHAI, UTCDateTime, insert_for
from models.member import Member
from models.station import Station

POINTS_FIRST_OF_DAY = 1
MAX_PLAUSIBLE_KMH = 60.0
METHODS = ("qr", "location")


class Checkin(SQLModel, table=True):
    __tablename__ = "checkin"
    __table_args__ = (
        UniqueConstraint("member_id", "station_id", "day", name="uq_checkin_once_a_day"),
        Index("ix_checkin_member_at", "member_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id")
    station_id: int = Field(foreign_key="station.id", index=True)
    day: date = Field(sa_type=Date)  # the calendar day in Asia/Shanghai
    at: datetime = Field(sa_type=UTCDateTime)
    method: str = Field(max_length=16)
    lat: float | None = None
    lng: float | None = None
    distance_m: float | None = None
    flagged: bool = False
    flag_reason: str | None = Field(default=None, max_length=200)


@dataclass(frozen=True)
class CheckinResult:
    station: Station
    created: bool
    at: datetime  # this check-in, or the one already made today
    month_count: int
    points: int
    flagged: bool = False


def local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


async def month_count(session: AsyncSession, member_id: int, now: datetime) -> int:
    first = local_day(now).replace(day=1)
    stmt = select(func.count()).select_from(Checkin).where(
        Checkin.member_id == member_id, col(Checkin.day) >= first)
    return (await session.exec(stmt)).one()


@dataclass(frozen=True)
class _Before:
    """What a check-in needs to know, read in one query before its insert."""

    today: int  # the member's check-ins today, any station
    month: int  # … this month
    here_at: datetime | None  # today's check-in at this station, if made already
    previous: tuple[str, geo.Point, datetime, int] | None  # the latest one's station and time


_C = Checkin.__table__  # type: ignore[attr-defined]
_S = Station.__table__  # type: ignore[attr-defined]
_M: BindParameter[int] = bindparam("m")
_ST: BindParameter[int] = bindparam("st")
_DAY: BindParameter[date] = bindparam("day")
_FIRST: BindParameter[date] = bindparam("first")
_LATEST = (core_select(_C.c.station_id, _C.c.at).where(_C.c.member_id == _M)
           .order_by(_C.c.at.desc()).limit(1).subquery("latest"))
_BEFORE = core_select(
    _LATEST.c.station_id, _LATEST.c.at, _S.c.name, _S.c.lat, _S.c.lng,
    core_select(func.count()).where(_C.c.member_id == _M, _C.c.day == _DAY).scalar_subquery(),
    core_select(func.count()).where(_C.c.member_id == _M, _C.c.day >= _FIRST).scalar_subquery(),
    core_select(_C.c.at).where(_C.c.member_id == _M, _C.c.station_id == _ST, _C.c.day == _DAY)
    .scalar_subquery(),
).select_from(_LATEST.outerjoin(_S, _S.c.id == _LATEST.c.station_id))


async def _before(session: AsyncSession, member_id: int, station_id: int, day: date
                  ) -> _Before:
    conn = await session.connection()
    row = (await conn.execute(_BEFORE, {"m": member_id, "st": station_id, "day": day,
                                        "first": day.replace(day=1)})).first()
    if row is None:  # no check-in ever
        return _Before(0, 0, None, None)
    prev_station, prev_at, name, lat, lng, today, month, here_at = row
    previous = (name, geo.Point(lat, lng), prev_at, prev_station) if name is not None else None
    return _Before(today, month, here_at, previous)


def journey_flag(before_name: str, before: geo.Point, here: geo.Point,
                 elapsed: timedelta) -> str | None:
    """Why a journey is implausible (faster than MAX_PLAUSIBLE_KMH), or None."""
    km = geo.distance_m(before, here) / 1000
    hours = max(elapsed.total_seconds(), 1) / 3600
    if km / hours <= MAX_PLAUSIBLE_KMH:
        return None
    minutes = round(hours * 60)
    return f"距上次签到（{before_name}）{km:.1f}公里，只隔{minutes}分钟"


def points_for(checkins_today: int) -> int:
    """A check-in's points: the first of the (Asia/Shanghai) day at any station earns one."""
    return POINTS_FIRST_OF_DAY if checkins_today == 1 else 0


async def check_in(session: AsyncSession, member: Member, station: Station, now: datetime,
                   method: str, point: geo.Point | None = None,
                   distance_m: float | None = None) -> CheckinResult:
    """Record a check-in; a second one the same day at the same station records nothing.

    One read (the latest check-in and its station, today's and this month's counts, and
    today's check-in here) and at most one insert: the caller holds the member's lock, so
    the counts after a new row are the counts before plus one. The unique key is still the
    last word: a row that slipped in meanwhile makes the insert a no-op."""
    assert member.id is not None and station.id is not None
    day = local_day(now)
    before = await _before(session, member.id, station.id, day)
    if before.here_at is not None:
        return CheckinResult(station, False, before.here_at, before.month, member.points)
    reason = None
    if before.previous is not None and before.previous[3] != station.id:
        name, where, at, _ = before.previous
        reason = journey_flag(name, where, station.point, now - at)
    stmt = insert_for(session, Checkin).values(
        member_id=member.id, station_id=station.id, day=day, at=now, method=method,
        lat=point.lat if point else None, lng=point.lng if point else None,
        distance_m=distance_m, flagged=reason is not None, flag_reason=reason,
    ).on_conflict_do_nothing(index_elements=["member_id", "station_id", "day"]) \
        .returning(Checkin.id)
    if (await session.exec(stmt)).first() is None:  # made meanwhile (not under our lock)
        earlier = (await session.exec(select(Checkin).where(
            Checkin.member_id == member.id, Checkin.station_id == station.id,
            Checkin.day == day))).one()
        return CheckinResult(station, False, earlier.at, await month_count(session, member.id,
                                                                            now), member.points)
    if points := points_for(before.today + 1):
        member.points += points
        session.add(member)
    return CheckinResult(station, True, now, before.month + 1, member.points,
                         flagged=reason is not None)


async def recent(session: AsyncSession, member_id: int, limit: int = 10
                 ) -> Sequence[tuple[Checkin, Station]]:
    stmt = (select(Checkin, Station).join(Station, col(Station.id) == Checkin.station_id)
            .where(Checkin.member_id == member_id)
            .order_by(col(Checkin.at).desc()).limit(limit))
    return (await session.exec(stmt)).all()
