"""Cloud party groups (云上党小组): a name, an industry committee, an invite code, a leader
(a console account of role leader) and members — one group per member at a time."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from enum import Enum

from sqlalchemy import Index, func, text, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime
from models.errors import DomainError
from models.member import Member
from models.staff import CODE_ALPHABET, ConsoleUser
from models.text import fit

COMMITTEES = ["外卖送餐", "道路货运", "网络主播", "网约车", "数字经济", "快递物流"]
INVITE_LENGTH = 6
DESCRIPTION_MAX = 500  # characters; the API refuses more, a console form's is cut with …


class GroupError(DomainError):
    """A party-group rule broken (a code, see models/errors.py)."""


class PartyGroup(SQLModel, table=True):
    __tablename__ = "party_group"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)  # the invite code
    name: str = Field(max_length=40, unique=True)
    industry: str = Field(max_length=16)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    leader_id: int | None = Field(default=None, foreign_key="console_user.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class GroupMembership(SQLModel, table=True):
    __tablename__ = "group_membership"
    __table_args__ = (
        # One current group per member: enforced by the database, not only by a check.
        Index("uq_membership_current", "member_id", unique=True,
              sqlite_where=text("left_at IS NULL"), postgresql_where=text("left_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="party_group.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    role: str = Field(default="member", max_length=16)
    joined_at: datetime = Field(sa_type=UTCDateTime)
    left_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Joined(Enum):
    JOINED = "joined"
    ALREADY = "already"
    MOVED = "moved"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(INVITE_LENGTH))


async def create(session: AsyncSession, name: str, industry: str, now: datetime,
                 leader: str | None = None, description: str = "") -> PartyGroup:
    name = name.strip()
    if not 2 <= len(name) <= 40:
        raise GroupError("name_length")
    if industry not in COMMITTEES:
        raise GroupError("industry")
    if (await session.exec(select(PartyGroup).where(PartyGroup.name == name))).first():
        raise GroupError("name_taken")
    user = None
    if leader:
        user = (await session.exec(select(ConsoleUser).where(ConsoleUser.username == leader))
                ).first()
        if user is None or user.role != "leader":
            raise GroupError("leader")
    for _ in range(10):
        code = new_code()
        if not (await session.exec(select(PartyGroup).where(PartyGroup.code == code))).first():
            break
    group = PartyGroup(code=code, name=name, industry=industry,
                       description=fit(description.strip(), DESCRIPTION_MAX),
                       leader_id=user.id if user else None, created_at=now)
    session.add(group)
    await session.flush()
    if user is not None:
        user.group_code = group.code
        session.add(user)
    return group


async def regenerate_code(session: AsyncSession, group: PartyGroup) -> str:
    """A fresh invite code; the old one stops working (a leaked code is retired)."""
    old = group.code
    for _ in range(10):
        code = new_code()
        if not (await session.exec(select(PartyGroup).where(PartyGroup.code == code))).first():
            break
    group.code = code
    session.add(group)
    await session.exec(update(ConsoleUser).where(col(ConsoleUser.group_code) == old)
                       .values(group_code=code))
    return code


async def edit(session: AsyncSession, group: PartyGroup, *, name: str | None = None,
               industry: str | None = None, description: str | None = None,
               leader: str | None = None) -> None:
    if name is not None:
        name = name.strip()
        if not 2 <= len(name) <= 40:
            raise GroupError("name_length")
        taken = (await session.exec(select(PartyGroup).where(
            PartyGroup.name == name, PartyGroup.id != group.id))).first()
        if taken:
            raise GroupError("name_taken")
        group.name = name
    if industry is not None:
        if industry not in COMMITTEES:
            raise GroupError("industry")
        group.industry = industry
    if description is not None:
        group.description = fit(description.strip(), DESCRIPTION_MAX)
    if leader is not None:
        user = (await session.exec(select(ConsoleUser).where(ConsoleUser.username == leader))
                ).first()
        if user is None or user.role != "leader":
            raise GroupError("leader")
        replaced = await leader_of(session, group)
        if replaced is not None and replaced.id != user.id and replaced.group_code == group.code:
            replaced.group_code = None  # the replaced leader no longer leads it
            session.add(replaced)
        group.leader_id = user.id
        user.group_code = group.code
        session.add(user)
    session.add(group)


async def by_code(session: AsyncSession, code: str) -> PartyGroup | None:
    return (await session.exec(select(PartyGroup).where(
        PartyGroup.code == code.strip().upper()))).first()


async def current(session: AsyncSession, member: Member) -> PartyGroup | None:
    stmt = (select(PartyGroup).join(GroupMembership,
                                    col(GroupMembership.group_id) == PartyGroup.id)
            .where(GroupMembership.member_id == member.id,
                   col(GroupMembership.left_at).is_(None)))
    return (await session.exec(stmt)).first()


async def join(session: AsyncSession, member: Member, group: PartyGroup, now: datetime
               ) -> Joined:
    """Join `group`, leaving the current one if any (the caller asked the member first)."""
    assert member.id is not None and group.id is not None
    here = await current(session, member)
    if here is not None and here.id == group.id:
        return Joined.ALREADY
    if here is not None:
        await leave(session, member, now)
        await session.flush()
    session.add(GroupMembership(group_id=group.id, member_id=member.id, joined_at=now))
    await session.flush()
    return Joined.MOVED if here is not None else Joined.JOINED


async def leave(session: AsyncSession, member: Member, now: datetime) -> PartyGroup | None:
    here = await current(session, member)
    if here is None:
        return None
    await session.exec(update(GroupMembership).where(
        col(GroupMembership.member_id) == member.id, col(GroupMembership.left_at).is_(None)
    ).values(left_at=now))
    return here


async def member_count(session: AsyncSession, group: PartyGroup) -> int:
    return (await session.exec(select(func.count()).select_from(GroupMembership).where(
        GroupMembership.group_id == group.id, col(GroupMembership.left_at).is_(None)))).one()


async def member_openids(session: AsyncSession, code: str) -> Sequence[str]:
    stmt = (select(Member.openid)
            .join(GroupMembership, col(GroupMembership.member_id) == Member.id)
            .join(PartyGroup, col(PartyGroup.id) == GroupMembership.group_id)
            .where(PartyGroup.code == code.upper(), col(GroupMembership.left_at).is_(None),
                   col(Member.erased_at).is_(None)))
    return (await session.exec(stmt)).all()


async def leader_of(session: AsyncSession, group: PartyGroup) -> ConsoleUser | None:
    return await session.get(ConsoleUser, group.leader_id) if group.leader_id else None


async def led_by(session: AsyncSession, user: ConsoleUser) -> PartyGroup | None:
    """The group a leader leads (by the group's leader, or the account's group code)."""
    found = (await session.exec(select(PartyGroup).where(PartyGroup.leader_id == user.id))
             ).first()
    if found is None and user.group_code:
        found = await by_code(session, user.group_code)
    return found
