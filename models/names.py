"""What pages call people and things by: the names behind logins, codes and openids.

A console account's display name is the one an admin gave it (`display_name`), else the
name its owner registered with on the WeChat account bound to it (绑定); an account with
neither has none, and pages fall back to the login. Groups are named by their
name, courses by their title, members by their registered name (an erased member has none).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.course import Course
from models.group import PartyGroup
from models.member import Member
from models.staff import ConsoleUser


async def staff_names(db: AsyncSession, usernames: Iterable[str]) -> dict[str, str]:
    """{login: display name} for the accounts among `usernames` that have one: the name
    an admin gave the account, else the name registered on its bound WeChat."""
    wanted = sorted({u for u in usernames if u})
    if not wanted:
        return {}
    rows = (await db.exec(
        select(ConsoleUser.username, ConsoleUser.display_name, Member.name)
        .join(Member, (col(ConsoleUser.openid) == Member.openid)
              & col(Member.erased_at).is_(None), isouter=True)
        .where(col(ConsoleUser.username).in_(wanted)))).all()
    return {login: name for login, shown, registered in rows
            if (name := shown or registered)}


async def staff_name(db: AsyncSession, user: ConsoleUser) -> str:
    """The account's display name, or its login when it has none."""
    return (await staff_names(db, [user.username])).get(user.username, user.username)


async def audience_names(db: AsyncSession, audiences: Iterable[str]) -> dict[str, str]:
    """{"group:CODE": group name, "course:CODE": course title, "member:OPENID": member name}
    for the groups, courses and members the audiences name (codes as stored, upper case)."""
    codes: dict[str, set[str]] = {"group": set(), "course": set(), "member": set()}
    for audience in audiences:
        kind, _, arg = (audience or "").strip().partition(":")
        if kind in codes and arg:
            codes[kind].update(a.strip() for a in arg.split(",") if a.strip())
    names: dict[str, str] = {}
    if codes["group"]:
        for code, name in (await db.exec(select(PartyGroup.code, PartyGroup.name).where(
                col(PartyGroup.code).in_(sorted(c.upper() for c in codes["group"]))))).all():
            names[f"group:{code}"] = name
    if codes["course"]:
        for code, title in (await db.exec(select(Course.code, Course.title).where(
                col(Course.code).in_(sorted(c.upper() for c in codes["course"]))))).all():
            names[f"course:{code}"] = title
    if codes["member"]:
        for openid, member_name in (await db.exec(select(Member.openid, Member.name).where(
                col(Member.openid).in_(sorted(codes["member"])),
                col(Member.name).is_not(None)))).all():
            if member_name:
                names[f"member:{openid}"] = member_name
    return names


async def instructor_choices(db: AsyncSession) -> list[tuple[str, str]]:
    """(login, display name or login) of every active instructor account, by login."""
    logins = list((await db.exec(select(ConsoleUser.username).where(
        ConsoleUser.role == "instructor", col(ConsoleUser.active).is_(True))
        .order_by(col(ConsoleUser.username)))).all())
    shown = await staff_names(db, logins)
    return [(login, shown.get(login, login)) for login in logins]
