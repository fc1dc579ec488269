"""The demo data of dev mode (`make run`, bot/dev/demo.py and each feature's demo.py): loaded
twice it adds nothing the second time; every state a newcomer should meet is there (each
role's account, members, every step of the work-order cycle, 30 days of check-ins and a
flagged one, the three kinds of course, a group with a roll, notices with every kind of
delivery); the work-order job finds nothing to do at once; and every console list shows
demo rows to the demo admin. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, inspect, table
from sqlmodel import col, select

import handlers
from bot.dev.demo import DEMO_ACCOUNTS, DEMO_ADMIN_PASSWORD, DEMO_ROLES, RIDERS, load_demo
from bot.settings import Settings
from handlers.groups.demo import LED
from handlers.notices.demo import WEATHER
from handlers.reports.orders import policy as order_policy
from handlers.school.demo import FULL, PAST, SOON
from models import geo
from models import report as R
from models import work_order as W
from models.activity import Activity, Attendance
from models.base import SHANGHAI
from models.checkin import Checkin, local_day
from models.course import Course, Enrolment
from models.group import GroupMembership, PartyGroup
from models.member import Member
from models.notice import Notice
from models.outbox import Push
from models.report import Report, ReportBacker, ReportEvent
from models.staff import ConsoleUser
from models.station import Station
from tests.conftest import BotFactory
from tests.console_util import login

# Rows a start makes anew by design: a fresh one-time 绑定 code for the admin and officer.
FRESH_EACH_START = {"bind_code"}
PAGES = {  # console list → a demo row it must show
    "/console/members": "演示·王建军",
    "/console/members/staff": "demo-teacher",
    "/console/stations": "湖塘红色驿站（演示）",
    "/console/stations/flagged": "公里，只隔12分钟",
    "/console/reports": "（演示）",
    "/console/groups": LED,
    "/console/courses": "演示：骑手交通安全与应急救护",
    "/console/notices": WEATHER,
    "/console/": "演示",
}


async def _counts(sessions: Any) -> dict[str, int]:
    async with sessions() as s:
        conn = await s.connection()
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        out = {}
        for name in names:
            if name not in FRESH_EACH_START and name != "alembic_version":
                out[name] = (await s.exec(select(func.count()).select_from(table(name)))).one()
        return out


async def test_twice_adds_nothing_and_every_state_is_there(
        settings: Settings, sessions: Any, clock: Any) -> None:
    seeds = handlers.install().seeds
    now = clock.now()
    banner = await load_demo(settings, seeds, now=now)
    first = await _counts(sessions)
    await load_demo(settings, seeds, now=now + timedelta(seconds=30))
    assert await _counts(sessions) == first
    assert first["report"] >= 20 and first["checkin"] >= 300 and first["member"] == len(RIDERS)

    for name in DEMO_ACCOUNTS:
        assert name in banner
    assert f"密码均为 {DEMO_ADMIN_PASSWORD}" in banner and "/simulator/" in banner
    assert "/console/" in banner and "先试试" in banner
    async with sessions() as s:
        users = {u.username: u.role for u in (await s.exec(select(ConsoleUser))).all()}
        assert {n: users.get(n) for n in DEMO_ROLES} == {n: r for n, (r, _) in
                                                          DEMO_ROLES.items()}
        await _members(s)
        await _reports(s, now, settings)
        await _checkins(s, now)
        await _school(s, now)
        await _group(s, now)
        await _notices(s)


async def _members(s: Any) -> None:
    members = (await s.exec(select(Member))).all()
    assert {m.consent_source for m in members} == {"offline"}
    assert all(m.mobile.startswith("1380000") and m.name.startswith("演示") for m in members)
    assert len({m.industry for m in members}) >= 4


async def _reports(s: Any, now: datetime, settings: Settings) -> None:
    rows = (await s.exec(select(Report))).all()

    def n(**want: Any) -> int:
        return sum(all(getattr(r, k) == v for k, v in want.items()) for r in rows)

    assert n(status=R.ACCEPTED, grid_code=None, returned=False) >= 1  # 待派单
    assert any(r.status == R.DISPATCHED and r.acked_at is None and r.ack_due_at > now
               for r in rows)  # awaiting 签收
    assert n(status=R.ACCEPTED, returned=True, return_reason=W.ACK_OVERDUE_REASON) >= 1
    assert any(r.returned and r.return_reason not in (None, W.ACK_OVERDUE_REASON)
               for r in rows)  # 退单 with its reason
    assert n(status=R.IN_PROGRESS, priority=False, extension_state=None,
             reminded_at=None) >= 1
    assert n(extension_state=W.PENDING) >= 1 and n(extension_state=W.APPROVED) >= 1
    assert any(r.overdue(now) and r.reminded_at and not r.escalated_at for r in rows)
    assert any(r.is_open and r.escalated_at for r in rows)  # 督办
    assert n(status=R.RESOLVED, rating=None, followed_up_at=None) >= 1  # awaiting 回访
    assert n(status=R.RESOLVED, rating=5) >= 1
    assert n(status=R.IN_PROGRESS, priority=True, rating=2) >= 1  # reopened by a 2
    merged = [r for r in rows if r.status == R.CLOSED and r.merged_into_id]
    assert merged and merged[0].close_reason == "重复"
    assert any(r.close_reason == "非职责范围" for r in rows)
    backers = (await s.exec(select(ReportBacker.report_id, func.count()).group_by(
        col(ReportBacker.report_id)))).all()
    assert max(k for _, k in backers) >= 3  # 附议 by others
    months = {r.created_at.astimezone(SHANGHAI).strftime("%Y-%m") for r in rows}
    assert len(months) >= 2 and min(r.created_at for r in rows) <= now - timedelta(days=50)
    assert len({r.grid_code for r in rows if r.grid_code}) >= 3
    # A rider trying the bot at a station is offered no demo report as a duplicate (50 m).
    stations = (await s.exec(select(Station))).all()
    assert min(geo.distance_m(geo.Point(r.lat, r.lng), st.point) for r in rows if r.lat
               for st in stations) > 200
    assert len({r.category for r in rows}) >= 4
    actions = set((await s.exec(select(ReportEvent.action))).all())
    assert {W.DISPATCH, W.ACK, W.GIVE_BACK, W.ACK_OVERDUE, W.ASK_EXTENSION,
            W.APPROVE_EXTENSION, W.REMIND, W.ESCALATE, W.FOLLOW_UP, W.MERGE, W.REOPEN,
            R.RATED} <= actions
    # Stable: the work-order job, run at the moment of loading, takes no step.
    steps = {"ack": W.time_out_ack, "remind": W.remind, "escalate": W.escalate,
             "follow_up": W.follow_up}
    policy = order_policy(settings)
    for step, ids in (await W.due_ids(s, now)).items():
        for report_id in ids:
            report = await W.locked(s, report_id)
            assert await steps[step](s, report, now, policy) is None, (step, report)
    await s.rollback()


async def _checkins(s: Any, now: datetime) -> None:
    today = local_day(now)
    days = dict((await s.exec(select(col(Checkin.day), func.count()).where(
        col(Checkin.day) > today - timedelta(days=30)).group_by(col(Checkin.day)))).all())
    before = [today - timedelta(days=k) for k in range(1, 30)]  # today's may not have begun
    assert all(days.get(d, 0) >= 1 for d in before), days
    assert sum(days.values()) >= 200
    stations = (await s.exec(select(func.count(func.distinct(Checkin.station_id))))).one()
    assert stations >= 10
    assert (await s.exec(select(func.count()).select_from(Checkin).where(
        col(Checkin.flagged)))).one() == 1
    assert max((await s.exec(select(Checkin.at))).all()) < now


async def _school(s: Any, now: datetime) -> None:
    courses = {c.code: c for c in (await s.exec(select(Course))).all()}
    assert {SOON, FULL, PAST} <= set(courses)
    assert {c.instructor for c in courses.values()} == {"demo-teacher"}
    assert now < courses[SOON].start_at <= now + timedelta(hours=1)
    rows = (await s.exec(select(Enrolment))).all()

    def of(code: str, status: str) -> list[Enrolment]:
        return [e for e in rows if e.course_id == courses[code].id and e.status == status]

    assert len(of(FULL, "enrolled")) == courses[FULL].capacity and of(FULL, "waitlist")
    attended = [e for e in of(PAST, "enrolled") if e.attended_at]
    assert attended and all(e.hours == courses[PAST].hours for e in attended)
    assert len(attended) < len(of(PAST, "enrolled"))  # some stayed away


async def _group(s: Any, now: datetime) -> None:
    group = (await s.exec(select(PartyGroup).where(PartyGroup.name == LED))).one()
    leader = await s.get(ConsoleUser, group.leader_id)
    assert leader.username == "demo-leader" and leader.group_code == group.code
    joined = (await s.exec(select(func.count()).select_from(GroupMembership).where(
        GroupMembership.group_id == group.id))).one()
    assert joined >= 5
    acts = (await s.exec(select(Activity).where(Activity.group_id == group.id))).all()
    assert any(a.start_at > now for a in acts) and any(a.end_at < now for a in acts)
    past = next(a for a in acts if a.end_at < now)
    marks = [a.status for a in (await s.exec(select(Attendance).where(
        Attendance.activity_id == past.id))).all()]
    assert "present" in marks and "leave" in marks and len(marks) < joined  # some absent


async def _notices(s: Any) -> None:
    notices = (await s.exec(select(Notice))).all()
    assert {n.status for n in notices} == {"sent", "scheduled"} and len(notices) >= 3
    weather = next(n for n in notices if n.title == WEATHER)
    pushes = (await s.exec(select(Push).where(Push.subject == weather.subject))).all()
    assert {p.status for p in pushes} == {"sent", "failed", "undeliverable"}
    assert {p.channel for p in pushes if p.status == "sent"} == {"kefu", "template",
                                                                  "subscribe"}
    assert {p.receipt for p in pushes} >= {"delivered", "blocked"}
    assert all(p.reason for p in pushes if p.status == "undeliverable")
    # No old push is left to go out at start: the demo's past is history.
    assert (await s.exec(select(func.count()).select_from(Push).where(
        Push.status == "pending"))).one() == 0


async def test_the_soon_course_keeps_starting_within_the_hour(
        settings: Settings, sessions: Any, clock: Any) -> None:
    seeds = handlers.install().seeds
    await load_demo(settings, seeds, now=clock.now())
    later = clock.now() + timedelta(hours=5)
    await load_demo(settings, seeds, now=later)
    async with sessions() as s:
        soon = (await s.exec(select(Course).where(Course.code == SOON))).one()
        assert later < soon.start_at <= later + timedelta(hours=1)
        reports = (await s.exec(select(func.count()).select_from(Report))).one()
    await load_demo(settings, seeds, now=later + timedelta(minutes=1))
    async with sessions() as s:  # nothing else is made again
        assert (await s.exec(select(func.count()).select_from(Report))).one() == reports


async def test_every_console_list_has_demo_rows(settings: Settings, make_bot: BotFactory
                                                 ) -> None:
    bot = await make_bot()
    await load_demo(settings, handlers.install().seeds, now=bot.clock.now())
    made = await login(bot.client, "demo-admin", DEMO_ADMIN_PASSWORD)
    assert made.status == 303
    for path, row in PAGES.items():
        page = await bot.client.get(path)
        html = await page.text()
        assert page.status == 200, (path, page.status)
        assert row in html, (path, html[-1500:])
        if path != "/console/":
            assert html.count("<tr") >= 2, path  # a header and at least one row
