"""The numbers the district is judged by, for the console's dashboard: check-ins per day and
per station, active members, reports by status with 办结率 and 满意率, overdue reports, and
course attendance. Plain queries over the tables; times in, Asia/Shanghai days out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import grid as grids
from models import report as reports
from models.base import SHANGHAI
from models.checkin import Checkin, local_day
from models.course import Course, Enrolment
from models.member import Member
from models.report import Report
from models.staff import ConsoleUser
from models.station import Station


@dataclass(frozen=True)
class Dashboard:
    today: date
    days: list[tuple[date, int]]  # check-ins per day, the last 30 days, oldest first
    checkins_today: int
    checkins_30d: int
    by_station: list[tuple[str, int]]  # the busiest stations in 30 days
    members: int  # registered
    active_30d: int  # registered members who wrote or tapped in 30 days
    new_today: int
    reports: dict[str, Any]  # report.numbers over 30 days
    reports_today: int
    overdue_open: int
    courses_ended_30d: int
    attendance: tuple[int, int]  # attended, enrolled — courses ended in 30 days
    flagged_30d: int


async def dashboard(session: AsyncSession, now: datetime, user: ConsoleUser) -> Dashboard:
    """The district's numbers (an officer's reports are those of their grids)."""
    today = local_day(now)
    first = today - timedelta(days=29)
    since = now - timedelta(days=30)
    per_day = dict((await session.exec(
        select(col(Checkin.day), func.count()).where(col(Checkin.day) >= first)
        .group_by(col(Checkin.day)))).all())
    days = [(first + timedelta(days=i), int(per_day.get(first + timedelta(days=i), 0)))
            for i in range(30)]
    by_station = [(name, int(n)) for name, n in (await session.exec(
        select(Station.name, func.count()).join(Checkin, col(Checkin.station_id) == Station.id)
        .where(col(Checkin.day) >= first).group_by(col(Station.name))
        .order_by(func.count().desc()).limit(10))).all()]
    registered = (col(Member.consent_at).is_not(None)) & (col(Member.erased_at).is_(None))
    members = (await session.exec(select(func.count()).select_from(Member).where(registered)
                                  )).one()
    active = (await session.exec(select(func.count()).select_from(Member).where(
        registered, (col(Member.last_inbound_at) >= since)
        | (col(Member.last_event_at) >= since)))).one()
    day_start = datetime.combine(today, time.min, tzinfo=SHANGHAI).astimezone(UTC)
    new_today = (await session.exec(select(func.count()).select_from(Member).where(
        registered, col(Member.registered_at) >= day_start))).one()
    grid_codes = None
    if user.role == "officer":
        grid_codes = set(await grids.codes_of_officer(session, user))
    numbers = await reports.numbers(session, since, now, now, grid_codes=grid_codes)
    report_filter = [col(Report.created_at) >= day_start]
    if grid_codes is not None:
        report_filter.append(col(Report.grid_code).in_(grid_codes or {""}))
    reports_today = (await session.exec(select(func.count()).select_from(Report).where(
        *report_filter))).one()
    overdue = [r for r in await reports.overdue(session, now)
               if grid_codes is None or r.grid_code in grid_codes]
    ended = (await session.exec(select(Course.id).where(
        Course.status == "published", col(Course.end_at) <= now,
        col(Course.end_at) > since))).all()
    attended = enrolled = 0
    if ended:
        enrolled = (await session.exec(select(func.count()).select_from(Enrolment).where(
            col(Enrolment.course_id).in_(ended), Enrolment.status == "enrolled"))).one()
        attended = (await session.exec(select(func.count()).select_from(Enrolment).where(
            col(Enrolment.course_id).in_(ended), Enrolment.status == "enrolled",
            col(Enrolment.attended_at).is_not(None)))).one()
    flagged = (await session.exec(select(func.count()).select_from(Checkin).where(
        Checkin.flagged, col(Checkin.day) >= first))).one()
    return Dashboard(
        today=today, days=days, checkins_today=days[-1][1],
        checkins_30d=sum(n for _, n in days), by_station=by_station, members=members,
        active_30d=active, new_today=new_today, reports=numbers, reports_today=reports_today,
        overdue_open=len(overdue), courses_ended_30d=len(ended),
        attendance=(attended, enrolled), flagged_30d=flagged)
