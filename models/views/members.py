"""Reads for 成员 (the console's member list): who a console user may see, filtered."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import course_access
from models import group as groups
from models.course import Course, Enrolment
from models.group import GroupMembership, PartyGroup
from models.member import Member
from models.staff import ConsoleUser


async def members_page(db: AsyncSession, user: ConsoleUser, f: dict[str, str],
                       page: int | None, page_size: int) -> tuple[list[Any], int]:
    """(member, group name, group code) rows the user may see, and how many in all: a
    leader their group's members, an instructor those enrolled in their courses. Filters
    q (name, or a phone's tail), industry, party, group; page None is every row."""
    current = and_(col(GroupMembership.member_id) == Member.id,
                   col(GroupMembership.left_at).is_(None))
    where: list[ColumnElement[bool]] = [col(Member.consent_at).is_not(None),
                                        col(Member.erased_at).is_(None)]
    if user.role == "leader":
        mine = await groups.led_by(db, user)
        where.append(col(PartyGroup.id) == (mine.id if mine else -1))
    elif user.role == "instructor":
        enrolled = (select(Enrolment.member_id)
                    .join(Course, col(Course.id) == Enrolment.course_id)
                    .where(col(Enrolment.status) != "cancelled", course_access.owned(user)))
        where.append(col(Member.id).in_(enrolled))
    elif user.role != "admin":
        where.append(col(Member.id) == -1)
    if f["q"].isdigit():
        where.append(col(Member.mobile).endswith(f["q"], autoescape=True))
    elif f["q"]:
        where.append(col(Member.name).contains(f["q"], autoescape=True))
    if f["industry"]:
        where.append(col(Member.industry) == f["industry"])
    if f["party"]:
        where.append(col(Member.party_status) == f["party"])
    if f["group"]:
        where.append(col(PartyGroup.code) == f["group"])

    def joined(stmt: Any) -> Any:
        return (stmt.outerjoin(GroupMembership, current)
                .outerjoin(PartyGroup, col(PartyGroup.id) == GroupMembership.group_id)
                .where(*where))

    total = (await db.exec(joined(select(func.count()).select_from(Member)))).one()
    stmt = joined(select(Member, PartyGroup.name, PartyGroup.code)).order_by(
        col(Member.registered_at).desc(), col(Member.id).desc())
    if page is not None:
        stmt = stmt.offset((page - 1) * page_size).limit(page_size)
    return list((await db.exec(stmt)).all()), total


async def group_options(db: AsyncSession) -> list[tuple[str, str]]:
    """(code, name) of every group, by name: the member list's group filter."""
    return [(g.code, g.name) for g in (await db.exec(
        select(PartyGroup).order_by(col(PartyGroup.name)))).all()]
