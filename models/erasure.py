"""注销: a member's personal data removed everywhere it is kept. One domain function over
every feature's tables, so no feature needs to know the others'."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.checkin import Checkin
from models.group import GroupMembership
from models.member import Member
from models.outbox import Push
from models.staff import unbind_openid


async def erase(session: AsyncSession, member: Member, now: datetime) -> None:
    """Delete a member's personal data. The row stays (check-ins and reports point to it),
    but it no longer says who it was: openid, name, phone and the rest are gone."""
    await unbind_openid(session, member.openid)
    placeholder = f"erased:{member.id}"
    # Pushes keep their counts but lose who and what; check-ins keep when and where-station,
    # not the member's own coordinates.
    await session.exec(update(Push).where(col(Push.openid) == member.openid)
                       .values(openid=placeholder, text="", template_data={}))
    await session.exec(update(Checkin).where(col(Checkin.member_id) == member.id)
                       .values(lat=None, lng=None))
    await session.exec(update(GroupMembership).where(
        col(GroupMembership.member_id) == member.id, col(GroupMembership.left_at).is_(None)
    ).values(left_at=now))
    member.openid = placeholder
    member.name = member.mobile = member.platform = None
    member.industry = member.party_status = None
    member.consent_at = member.consent_source = None
    member.last_inbound_at = None
    member.followed = False
    member.erased_at = now
    session.add(member)
