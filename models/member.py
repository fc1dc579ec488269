"""Members: the gig workers who follow the account, and what they told us about themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime, insert_for

INDUSTRIES = ["快递物流", "外卖送餐", "网约车", "道路货运", "网络主播", "数字经济", "其他"]
PARTY_STATUSES = ["中共党员", "预备党员", "入党积极分子", "群众"]


class Member(SQLModel, table=True):
    __tablename__ = "member"

    id: int | None = Field(default=None, primary_key=True)
    # The WeChat openid; after erasure a placeholder, so the row stays for anonymous history.
    openid: str = Field(max_length=64, unique=True)
    name: str | None = Field(default=None, max_length=40)
    mobile: str | None = Field(default=None, max_length=11)
    industry: str | None = Field(default=None, max_length=16)
    platform: str | None = Field(default=None, max_length=40)
    party_status: str | None = Field(default=None, max_length=16)
    consent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consent_source: str | None = Field(default=None, max_length=16)  # wechat, offline
    registered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    followed: bool = True
    points: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)
    # WeChat's 客服 window: opened by a message, or (shorter, fewer pushes) by a click,
    # scan or follow. The counts are what the outbox has spent of each. The rule's
    # lengths and allowances live in bot/push/channels.py, which reads these fields.
    last_inbound_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    kefu_used: int = 0
    last_event_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    kefu_used_event: int = 0
    # The member refused this account's template messages (a TEMPLATESENDJOBFINISH
    # "failed:user block", models/receipts.py): no more templates are sent to them.
    template_blocked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def registered(self) -> bool:
        return self.consent_at is not None and self.erased_at is None


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    mobile: str
    industry: str
    platform: str
    party_status: str


# Profile fields a member may edit, in the order shown by 修改资料.
EDITABLE_FIELDS = ["name", "mobile", "industry", "platform", "party_status"]


async def get_or_create(session: AsyncSession, openid: str, now: datetime) -> Member:
    """The member row of an openid, made on first contact (race-free: ON CONFLICT)."""
    found = (await session.exec(select(Member).where(Member.openid == openid))).first()
    if found:
        return found
    stmt = insert_for(session, Member).values(openid=openid, created_at=now, followed=True)
    await session.exec(stmt.on_conflict_do_nothing(index_elements=["openid"]))
    return (await session.exec(select(Member).where(Member.openid == openid))).one()


WINDOW_SLACK = timedelta(minutes=1)


def window_needs_update(member: Member, now: datetime) -> bool:
    """Writing the window's start at most once a minute (when nothing was spent of it)
    spares a write per message; the window we compute then ends up to a minute before
    WeChat's, never after."""
    return (member.last_inbound_at is None or member.kefu_used > 0
            or now - member.last_inbound_at >= WINDOW_SLACK)


def note_inbound(member: Member, now: datetime) -> None:
    """The member wrote to us: WeChat's 客服 window opens afresh."""
    member.last_inbound_at, member.kefu_used = now, 0


def note_interaction(member: Member, now: datetime) -> None:
    """A menu click, QR scan or follow: WeChat's short 客服 allowance opens afresh."""
    member.last_event_at, member.kefu_used_event = now, 0


async def register(session: AsyncSession, member: Member, profile: Profile, now: datetime) -> None:
    """Store a profile the member consented to."""
    member.name = profile.name
    member.mobile = profile.mobile
    member.industry = profile.industry
    member.platform = profile.platform
    member.party_status = profile.party_status
    member.consent_at = now
    member.consent_source = "wechat"
    member.registered_at = member.registered_at or now
    session.add(member)


async def update_field(session: AsyncSession, member: Member, field: str, value: str) -> None:
    if field not in EDITABLE_FIELDS:
        raise ValueError(f"not an editable field: {field}")
    setattr(member, field, value)
    session.add(member)


async def set_followed(session: AsyncSession, openid: str, followed: bool) -> None:
    await session.exec(update(Member).where(col(Member.openid) == openid).values(followed=followed))
