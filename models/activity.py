"""Group activities (三会一课): scheduled, moved or cancelled with word to the members,
reminded at the configured offsets, attended once (到, 签到 CODE, the act: QR, or a location
inside the place), with leave (请假) beforehand and a list for the leader afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from models import due, geo, outbox
from models.attendance import AttendanceWindow, Attended
from models.base import SHANGHAI, UTCDateTime, insert_for
from models.errors import DomainError
from models.group import GroupMembership, PartyGroup, leader_of, member_openids
from models.member import Member
from models.push_values import iso_time
from models.staff import CODE_ALPHABET
from models.text import fit

KINDS = ("党员大会", "支委会", "党小组会", "党课")
POINTS_ATTENDED = 3
REMIND_KIND = "activity_reminder"  # due rows (models/due.py): one per reminder offset
ROLL_KIND = "activity_roll"  # and one for the roll, to the leader once it has ended
ROLL_WITHIN = timedelta(days=1)  # a roll found later than this after the end is dropped
REASON_MAX = 200  # a leave's reason, as typed: cut with … past it
PLACE_MAX = 120  # the API refuses a longer place; elsewhere it is cut with …


class ActivityError(DomainError):
    """An activity rule broken (a code, see models/errors.py)."""


class Activity(AttendanceWindow, SQLModel, table=True):
    __tablename__ = "activity"
    OPEN_STATUS: ClassVar[str] = "scheduled"

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="party_group.id", index=True)
    code: str = Field(max_length=8, unique=True)  # for 签到 CODE
    kind: str = Field(max_length=8)
    topic: str = Field(max_length=60)
    start_at: datetime = Field(sa_type=UTCDateTime, index=True)
    end_at: datetime = Field(sa_type=UTCDateTime)
    place: str = Field(default="", max_length=PLACE_MAX)
    lat: float | None = None  # GCJ-02
    lng: float | None = None
    radius_m: int = 200
    online_url: str | None = Field(default=None, max_length=512)
    status: str = Field(default="scheduled", max_length=16)  # scheduled, cancelled
    revision: int = 0  # +1 on every move: the pushes of each new time are new pushes
    created_by: str = Field(default="", max_length=80)
    created_at: datetime = Field(sa_type=UTCDateTime)



class Attendance(SQLModel, table=True):
    __tablename__ = "activity_attendance"
    __table_args__ = (UniqueConstraint("activity_id", "member_id", name="uq_attend_once"),)

    id: int | None = Field(default=None, primary_key=True)
    activity_id: int = Field(foreign_key="activity.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    status: str = Field(max_length=8)  # present, leave
    reason: str = Field(default="", max_length=REASON_MAX)
    method: str = Field(default="", max_length=16)  # word, code, qr, location
    at: datetime = Field(sa_type=UTCDateTime)


@dataclass(frozen=True)
class ActivityRoll:
    present: list[str]
    leave: list[tuple[str, str]]
    absent: list[str]


def _when(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).strftime("%m-%d %H:%M")


def describe(a: Activity) -> str:
    place = a.place or (a.online_url or "线上")
    return f"{a.kind}「{a.topic}」{_when(a.start_at)}-{a.end_at.astimezone(SHANGHAI):%H:%M} {place}"


# What happened, as the push's activity.what value (by the subject's word).
WHAT = {"new": "新活动", "moved": "活动改期", "cancelled": "活动取消", "remind": "活动提醒",
        "roll": "到会统计"}


def push_values(a: Activity, group: PartyGroup | None, what: str) -> dict[str, str]:
    """A push about the activity, as values (models/push_values.py); config maps them to
    the template's fields."""
    return {"activity.topic": a.topic, "activity.start": iso_time(a.start_at),
            "activity.end": iso_time(a.end_at),
            "activity.what": WHAT.get(what.rstrip("0123456789"), what),
            "activity.group": group.name if group else ""}


async def _tell(session: AsyncSession, a: Activity, group: PartyGroup, what: str, text: str,
                now: datetime) -> None:
    data = push_values(a, group, what)
    items = [outbox.Outgoing(o, text, data, a.online_url)
             for o in await member_openids(session, group.code)]
    if items:
        await outbox.enqueue(session, "group_activity", f"activity:{a.id}:{what}:r{a.revision}",
                             items, now)


async def schedule(session: AsyncSession, group: PartyGroup, kind: str, topic: str,
                   start: datetime, end: datetime, now: datetime, *, place: str = "",
                   point: geo.Point | None = None, radius_m: int = 200,
                   online_url: str | None = None, by: str = "", text: str = "",
                   offsets: Sequence[timedelta] = ()) -> Activity:
    """`offsets`: school.reminder_offsets, the reminders planned with the activity."""
    if kind not in KINDS:
        raise ActivityError("kind")
    if not 2 <= len(topic.strip()) <= 60:
        raise ActivityError("topic")
    if start <= now:
        raise ActivityError("past")
    if end <= start or end - start > timedelta(hours=12):
        raise ActivityError("times")
    for _ in range(10):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        if not (await session.exec(select(Activity).where(Activity.code == code))).first():
            break
    a = Activity(group_id=group.id or 0, code=code, kind=kind, topic=topic.strip(),
                 start_at=start, end_at=end, place=fit(place.strip(), PLACE_MAX),
                 lat=point.lat if point else None,
                 lng=point.lng if point else None, radius_m=radius_m, online_url=online_url,
                 created_by=by, created_at=now)
    session.add(a)
    await session.flush()
    await _tell(session, a, group, "new", text.format(what=describe(a), code=a.code), now)
    await plan_due(session, a, offsets)
    return a


@dataclass(frozen=True)
class Venue:
    """Where an activity is held: a place (with a point and radius for attendance by
    location) and/or an online link."""

    place: str = ""
    point: geo.Point | None = None
    radius_m: int = 200
    online_url: str | None = None


async def move(session: AsyncSession, a: Activity, start: datetime, end: datetime,
               now: datetime, text: str, offsets: Sequence[timedelta] = (),
               venue: Venue | None = None) -> None:
    """A new time (and, given a venue, a new place): the members are told, and the
    reminders follow the new start."""
    if a.status != "scheduled":
        raise ActivityError("cancelled")
    if start <= now:
        raise ActivityError("past")
    if end <= start or end - start > timedelta(hours=12):
        raise ActivityError("times")
    a.start_at, a.end_at = start, end
    if venue is not None:
        a.place, a.radius_m, a.online_url = (fit(venue.place.strip(), PLACE_MAX),
                                             venue.radius_m, venue.online_url)
        a.lat, a.lng = (venue.point.lat, venue.point.lng) if venue.point else (None, None)
    a.revision += 1
    session.add(a)
    await plan_due(session, a, offsets)
    group = await session.get(PartyGroup, a.group_id)
    assert group is not None
    await _tell(session, a, group, "moved", text.format(what=describe(a)), now)


async def cancel(session: AsyncSession, a: Activity, now: datetime, text: str) -> None:
    if a.status != "scheduled":
        raise ActivityError("cancelled")
    a.status = "cancelled"
    session.add(a)
    await due.withdraw(session, REMIND_KIND, due_subject(a.id or 0))
    await due.withdraw(session, ROLL_KIND, due_subject(a.id or 0))
    group = await session.get(PartyGroup, a.group_id)
    assert group is not None
    await _tell(session, a, group, "cancelled", text.format(what=describe(a)), now)


def of_member_query(member: Member, now: datetime) -> SelectOfScalar[Activity]:
    """The member's group's activities not yet over."""
    return (select(Activity)
            .join(GroupMembership, col(GroupMembership.group_id) == Activity.group_id)
            .where(GroupMembership.member_id == member.id,
                   col(GroupMembership.left_at).is_(None), Activity.status == "scheduled",
                   col(Activity.end_at) >= now))


async def of_member(session: AsyncSession, member: Member, now: datetime) -> Activity | None:
    """The member's group's activity open for attendance now, else the next one."""
    stmt = of_member_query(member, now).order_by(col(Activity.start_at))
    found = (await session.exec(stmt)).all()
    return next((a for a in found if a.is_open(now)), found[0] if found else None)


async def by_code(session: AsyncSession, code: str) -> Activity | None:
    return (await session.exec(select(Activity).where(Activity.code == code.upper()))).first()


async def in_group(session: AsyncSession, a: Activity, member: Member) -> bool:
    return (await session.exec(select(GroupMembership.id).where(
        GroupMembership.group_id == a.group_id, GroupMembership.member_id == member.id,
        col(GroupMembership.left_at).is_(None)))).first() is not None


async def attend(session: AsyncSession, a: Activity, member: Member, method: str,
                 now: datetime) -> Attended:
    """Present, once (the database holds the one row); points the first time. Leave asked
    for beforehand turns into presence."""
    if not await in_group(session, a, member):
        raise ActivityError("not_member")
    if not a.is_open(now):
        raise ActivityError("closed" if a.status == "scheduled" else "cancelled")
    row = (await session.exec(select(Attendance).where(
        Attendance.activity_id == a.id, Attendance.member_id == member.id))).first()
    if row is not None and row.status == "present":
        return Attended.ALREADY
    if row is not None:
        row.status, row.method, row.at = "present", method, now
        session.add(row)
    else:
        stmt = insert_for(session, Attendance).values(
            activity_id=a.id, member_id=member.id, status="present", reason="",
            method=method, at=now).on_conflict_do_nothing(
            index_elements=["activity_id", "member_id"]).returning(Attendance.id)
        if (await session.exec(stmt)).first() is None:
            return Attended.ALREADY
    member.points += POINTS_ATTENDED
    session.add(member)
    return Attended.PRESENT


async def ask_leave(session: AsyncSession, a: Activity, member: Member, reason: str,
                    now: datetime) -> None:
    if not await in_group(session, a, member):
        raise ActivityError("not_member")
    if a.status != "scheduled" or now >= a.start_at:
        raise ActivityError("started")
    row = (await session.exec(select(Attendance).where(
        Attendance.activity_id == a.id, Attendance.member_id == member.id))).first()
    if row is not None and row.status == "present":
        raise ActivityError("already_present")
    reason = fit(reason, REASON_MAX)
    if row is None:
        session.add(Attendance(activity_id=a.id or 0, member_id=member.id or 0,
                               status="leave", reason=reason, method="word", at=now))
    elif row.status == "leave":
        row.reason, row.at = reason, now
        session.add(row)


async def roll(session: AsyncSession, a: Activity) -> ActivityRoll:
    """Present, on leave, and absent among those in the group when it ended (and anyone
    who attended, even if they left the group before the end)."""
    marks = {r.member_id: r for r in (await session.exec(
        select(Attendance).where(Attendance.activity_id == a.id))).all()}
    in_group = (select(GroupMembership.member_id).where(
        GroupMembership.group_id == a.group_id, col(GroupMembership.joined_at) <= a.end_at,
        (col(GroupMembership.left_at).is_(None)) | (col(GroupMembership.left_at) > a.end_at)))
    members = (await session.exec(select(Member).where(
        col(Member.id).in_(in_group) | col(Member.id).in_(list(marks) or [-1]))
        .order_by(col(Member.id)))).all()
    present, leave, absent = [], [], []
    for m in members:
        name = m.name or "（已注销）"
        mark = marks.get(m.id or 0)
        if mark and mark.status == "present":
            present.append(name)
        elif mark:
            leave.append((name, mark.reason))
        else:
            absent.append(name)
    return ActivityRoll(present, leave, absent)


# --- pushes due later: reminders before, the roll after ------------------------------------


def due_subject(activity_id: int) -> str:
    return f"activity:{activity_id}"


async def plan_due(session: AsyncSession, a: Activity, offsets: Sequence[timedelta]) -> None:
    """The activity's reminders (one per offset, late after downtime but never after the
    start) and its roll (at the end, to the leader) as due rows, in the transaction that
    scheduled or moved it. A moment already passed falls due at once."""
    subject = due_subject(a.id or 0)
    await due.withdraw(session, REMIND_KIND, subject)
    planned = [int(o.total_seconds()) for o in offsets if o > timedelta(0)]
    for offset_s in planned:
        await due.plan(session, REMIND_KIND, subject, str(offset_s),
                       a.start_at - timedelta(seconds=offset_s), a.start_at,
                       {"revision": a.revision, "offsets": planned})
    await due.plan(session, ROLL_KIND, subject, "roll", a.end_at, a.end_at + ROLL_WITHIN,
                   {"revision": a.revision})


async def send_reminder(session: AsyncSession, activity_id: int, offset_s: int, revision: int,
                        offsets: Sequence[int], now: datetime, text: str) -> int | None:
    """A reminder's work when due: the group's members at that moment, once (the outbox key
    holds activity, offset and revision: a moved activity is reminded for its new time).
    Dropped (None) when the activity moved or was cancelled since, has started, or a nearer
    reminder's moment has come too (after downtime only the latest goes: no burst)."""
    a = await session.get(Activity, activity_id)
    if a is None or a.status != "scheduled" or a.revision != revision or now >= a.start_at:
        return None
    if any(0 < o < offset_s and a.start_at - timedelta(seconds=o) <= now for o in offsets):
        return None
    group = await session.get(PartyGroup, a.group_id)
    if group is None:
        return None
    await _tell(session, a, group, f"remind{offset_s}",
                text.format(what=describe(a), code=a.code), now)
    return 1


async def expand_reminder(session: AsyncSession, row: due.DuePush, now: datetime, text: str
                          ) -> int | None:
    return await send_reminder(session, int(row.subject.split(":")[1]), int(row.slot),
                               int(row.payload.get("revision", 0)),
                               [int(o) for o in row.payload.get("offsets", [])], now, text)


def roll_text(a: Activity, r: ActivityRoll, text: str) -> str:
    return text.format(
        what=describe(a), np=len(r.present), present="、".join(r.present) or "—",
        nl=len(r.leave), leave="、".join(f"{n}（{why}）" for n, why in r.leave) or "—",
        na=len(r.absent), absent="、".join(r.absent) or "—")


async def send_roll(session: AsyncSession, activity_id: int, now: datetime, text: str
                    ) -> int | None:
    """Once it has ended: the roll to the group's leader, once. None when there is no roll
    to send (cancelled, not ended) or it went already; NotYet while the group has no
    leader bound to WeChat (asked again until the row's not_after, a day after the end)."""
    a = await session.get(Activity, activity_id)
    if a is None or a.status != "scheduled" or a.end_at > now:
        return None
    subject = f"activity:{a.id}:roll"
    if (await session.exec(select(outbox.Push.id).where(outbox.Push.subject == subject))
            ).first():
        return None
    group = await session.get(PartyGroup, a.group_id)
    leader = await leader_of(session, group) if group else None
    if leader is None or not leader.openid:
        raise due.NotYet("the group has no leader bound to WeChat yet")
    r = await roll(session, a)
    data = {**push_values(a, group, "roll"), "activity.present": str(len(r.present))}
    await outbox.enqueue(session, "group_activity", subject,
                         [outbox.Outgoing(leader.openid, roll_text(a, r, text), data)], now)
    return 1


async def expand_roll(session: AsyncSession, row: due.DuePush, now: datetime, text: str
                      ) -> int | None:
    return await send_roll(session, int(row.subject.split(":")[1]), now, text)
