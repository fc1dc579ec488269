"""Check-ins at stations: once per member, station and Asia/Shanghai day (the database
enforces it), a point for the first of the day, and a flag on impossible journeys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Date, Index, UniqueConstraint, func
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


async def _latest(session: AsyncSession, member_id: int) -> Checkin | None:
    stmt = select(Checkin).where(Checkin.member_id == member_id) \
        .order_by(col(Checkin.at).desc()).limit(1)
    return (await session.exec(stmt)).first()


async def month_count(session: AsyncSession, member_id: int, now: datetime) -> int:
    first = local_day(now).replace(day=1)
    stmt = select(func.count()).select_from(Checkin).where(
        Checkin.member_id == member_id, col(Checkin.day) >= first)
    return (await session.exec(stmt)).one()


async def _implausible(session: AsyncSession, previous: Checkin | None, station: Station,
                       now: datetime) -> str | None:
    """Two stations too far apart for the time between them (at 60 km/h)."""
    if previous is None or previous.station_id == station.id:
        return None
    before = await session.get(Station, previous.station_id)
    if before is None:
        return None
    return journey_flag(before.name, before.point, station.point, now - previous.at)


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
    """Record a check-in; a second one the same day at the same station records nothing."""
    assert member.id is not None and station.id is not None
    day = local_day(now)
    previous = await _latest(session, member.id)
    stmt = insert_for(session, Checkin).values(
        member_id=member.id, station_id=station.id, day=day, at=now, method=method,
        lat=point.lat if point else None, lng=point.lng if point else None,
        distance_m=distance_m, flagged=False,
    ).on_conflict_do_nothing(index_elements=["member_id", "station_id", "day"]) \
        .returning(Checkin.id)
    new_id = (await session.exec(stmt)).first()
    if new_id is None:
        earlier = (await session.exec(select(Checkin).where(
            Checkin.member_id == member.id, Checkin.station_id == station.id,
            Checkin.day == day))).one()
        return CheckinResult(station, False, earlier.at, await month_count(session, member.id,
                                                                            now), member.points)
    reason = await _implausible(session, previous, station, now)
    if reason:
        row = await session.get(Checkin, new_id)
        assert row is not None
        row.flagged, row.flag_reason = True, reason
        session.add(row)
    today = (await session.exec(select(func.count()).select_from(Checkin).where(
        Checkin.member_id == member.id, Checkin.day == day))).one()
    if points := points_for(today):
        member.points += points
        session.add(member)
    return CheckinResult(station, True, now, await month_count(session, member.id, now),
                         member.points, flagged=bool(reason))


async def recent(session: AsyncSession, member_id: int, limit: int = 10
                 ) -> Sequence[tuple[Checkin, Station]]:
    stmt = (select(Checkin, Station).join(Station, col(Station.id) == Checkin.station_id)
            .where(Checkin.member_id == member_id)
            .order_by(col(Checkin.at).desc()).limit(limit))
    return (await session.exec(stmt)).all()
