"""Reads for 小组: the console's list and one group's page, and the chat's recent notices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import group as groups
from models.activity import Activity, Attendance
from models.group import GroupMembership, PartyGroup
from models.member import Member
from models.notice import Notice
from models.staff import ConsoleUser


async def groups_for(db: AsyncSession, user: ConsoleUser) -> list[PartyGroup]:
    """Every group (by name) for an admin; a leader's own group; else none."""
    if user.role == "admin":
        return list((await db.exec(select(PartyGroup).order_by(col(PartyGroup.name)))).all())
    mine = await groups.led_by(db, user)
    return [mine] if mine else []


async def group_rows(db: AsyncSession, found: Sequence[PartyGroup], at: datetime
                     ) -> list[dict[str, Any]]:
    """Per group: its member count, its leader's username, its next scheduled activity."""
    leaders = {u.id: u.username for u in (await db.exec(select(ConsoleUser).where(
        col(ConsoleUser.id).in_([g.leader_id for g in found if g.leader_id])))).all()}
    nexts = dict((await db.exec(
        select(Activity.group_id, func.min(Activity.start_at))
        .where(col(Activity.status) == "scheduled", col(Activity.start_at) >= at)
        .group_by(col(Activity.group_id)))).all())
    rows: list[dict[str, Any]] = []
    for g in found:
        assert g.id is not None  # read from the table
        rows.append({"group": g, "members": await groups.member_count(db, g),
                     "leader": leaders.get(g.leader_id, ""), "next": nexts.get(g.id)})
    return rows


async def group_members(db: AsyncSession, group: PartyGroup) -> list[tuple[Member, datetime]]:
    """The group's current members with when they joined, earliest first."""
    return list((await db.exec(
        select(Member, GroupMembership.joined_at)
        .join(GroupMembership, col(GroupMembership.member_id) == Member.id)
        .where(GroupMembership.group_id == group.id, col(GroupMembership.left_at).is_(None),
               col(Member.erased_at).is_(None))
        .order_by(col(GroupMembership.joined_at)))).all())


async def group_activities(db: AsyncSession, group: PartyGroup) -> list[Activity]:
    """The group's activities, latest start first."""
    return list((await db.exec(select(Activity).where(Activity.group_id == group.id)
                               .order_by(col(Activity.start_at).desc()))).all())


async def sent_notices(db: AsyncSession, group: PartyGroup, limit: int = 3) -> list[Notice]:
    """The group's latest sent notices (我的小组)."""
    return list((await db.exec(select(Notice).where(Notice.audience == f"group:{group.code}",
                                                    Notice.status == "sent")
                               .order_by(col(Notice.id).desc()).limit(limit))).all())


async def last_notice(db: AsyncSession, group: PartyGroup) -> Notice | None:
    """The group's latest notice, sent or not (通知情况)."""
    return (await db.exec(select(Notice).where(Notice.audience == f"group:{group.code}")
                          .order_by(col(Notice.id).desc()).limit(1))).first()


async def leader_display_name(db: AsyncSession, group: PartyGroup) -> str | None:
    """What the chat calls the group's leader: the name they registered with on the WeChat
    account bound to their console account (never the console login); None without one."""
    if not group.leader_id:
        return None
    return (await db.exec(
        select(Member.name).join(ConsoleUser, col(ConsoleUser.openid) == Member.openid)
        .where(ConsoleUser.id == group.leader_id, col(Member.erased_at).is_(None),
               col(Member.name).is_not(None)))).first()


async def my_attendance(db: AsyncSession, activity: Activity, member: Member
                        ) -> Attendance | None:
    """The member's attendance row at an activity (present, or leave with its reason)."""
    return (await db.exec(select(Attendance).where(
        Attendance.activity_id == activity.id, Attendance.member_id == member.id))).first()


async def members_page(db: AsyncSession, group: PartyGroup, q: str, page: int, size: int
                       ) -> tuple[list[tuple[Member, datetime]], int]:
    """One page of the group's current members (earliest joined first) whose name holds
    `q`, or whose phone ends with it when it is digits; and how many match in all."""
    where: list[ColumnElement[bool]] = [
        col(GroupMembership.group_id) == group.id, col(GroupMembership.left_at).is_(None),
        col(Member.erased_at).is_(None)]
    if q.isascii() and q.isdigit():
        where.append(col(Member.mobile).endswith(q, autoescape=True))
    elif q:
        where.append(col(Member.name).contains(q, autoescape=True))
    joined = col(GroupMembership.member_id) == Member.id
    total = (await db.exec(select(func.count()).select_from(Member)
                           .join(GroupMembership, joined).where(*where))).one()
    rows = (await db.exec(
        select(Member, GroupMembership.joined_at).join(GroupMembership, joined).where(*where)
        .order_by(col(GroupMembership.joined_at), col(Member.id))
        .offset((page - 1) * size).limit(size))).all()
    return list(rows), total


async def leader_accounts(db: AsyncSession) -> list[ConsoleUser]:
    """The active console accounts of role leader, by login."""
    return list((await db.exec(select(ConsoleUser).where(
        ConsoleUser.role == "leader", col(ConsoleUser.active).is_(True))
        .order_by(col(ConsoleUser.username)))).all())


async def leave_requests(db: AsyncSession, activity: Activity
                         ) -> list[tuple[str, str, datetime]]:
    """(name, reason, when asked) of the members on leave from the activity, in order."""
    return [(name or "（已注销）", reason, at) for name, reason, at in (await db.exec(
        select(Member.name, Attendance.reason, Attendance.at)
        .join(Member, col(Member.id) == Attendance.member_id)
        .where(Attendance.activity_id == activity.id, Attendance.status == "leave")
        .order_by(col(Attendance.at)))).all()]
