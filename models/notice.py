"""Notices: a title and body to an audience, now or at a time, expanded into outbox rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col, select

from models import course as courses
from models import group as groups
from models import outbox
from models.base import UTCDateTime, local
from models.course import Enrolment
from models.member import INDUSTRIES, Member

TITLE_MAX = 40
URL_MAX = 1024
AUDIENCE_MAX = 2000
TEMPLATE_THING_MAX = 20  # a template's "thing" keyword holds at most 20 characters


class NoticeError(ValueError):
    """A notice that cannot be sent as asked; the message says why, in Chinese."""


class Notice(SQLModel, table=True):
    __tablename__ = "notice"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=TITLE_MAX)
    body: str = Field(sa_type=Text)
    url: str | None = Field(default=None, max_length=1024)
    audience: str = Field(max_length=2000)
    status: str = Field(default="scheduled", max_length=16)  # scheduled, sent
    send_at: datetime = Field(sa_type=UTCDateTime, index=True)
    recipients: int = 0
    created_by: str | None = Field(default=None, max_length=64)
    # The caller's Idempotency-Key: a retried request finds its notice instead of a twin.
    client_key: str | None = Field(default=None, max_length=100, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)

    @property
    def subject(self) -> str:
        return f"notice:{self.id}"


def render_text(title: str, body: str, url: str | None) -> str:
    """The 客服 text of a notice."""
    text = f"【通知】{title}\n{body}"
    return f"{text}\n{url}" if url else text


def _thing(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= TEMPLATE_THING_MAX else value[: TEMPLATE_THING_MAX - 1] + "…"


def template_data(title: str, body: str, send_at: datetime) -> dict[str, str]:
    """The notice template's keyword fields (thing1 title, thing2 summary, time3 time)."""
    return {"thing1": _thing(title), "thing2": _thing(body),
            "time3": local(send_at).strftime("%Y-%m-%d %H:%M")}


def validate(title: str, body: str, url: str | None) -> None:
    title, body = title.strip(), body.strip()
    if not title:
        raise NoticeError("标题不能为空")
    if len(title) > TITLE_MAX:
        raise NoticeError(f"标题最多{TITLE_MAX}个字，现在{len(title)}个字")
    if not body:
        raise NoticeError("正文不能为空")
    size = len(render_text(title, body, url).encode())
    if size > outbox.KEFU_TEXT_MAX_BYTES:
        raise NoticeError(
            f"正文过长：微信客服消息最多约{outbox.KEFU_TEXT_MAX_BYTES}字节（约660个汉字），"
            f"这条有{size}字节。请精简，或分成几条通知发送"
        )
    if url and not url.startswith(("https://", "http://")):
        raise NoticeError("链接须以 http:// 或 https:// 开头")
    if url and len(url) > URL_MAX:
        raise NoticeError(f"链接最长{URL_MAX}个字符")


async def resolve_audience(session: AsyncSession, audience: str) -> Sequence[str]:
    """The openids an audience names: all, industry:NAME, member:OPENID[,OPENID…].

    group:CODE names the group's current members; course:CODE the course's enrollees (not
    the waitlist); an audience of nobody is an error.
    """
    kind, _, arg = audience.strip().partition(":")
    registered = select(Member.openid).where(
        col(Member.consent_at).is_not(None), col(Member.erased_at).is_(None))
    if kind == "all" and not arg:
        openids = (await session.exec(registered)).all()
    elif kind == "industry":
        if arg not in INDUSTRIES:
            raise NoticeError(f"没有这个行业：{arg}（可选：{'、'.join(INDUSTRIES)}）")
        openids = (await session.exec(registered.where(Member.industry == arg))).all()
    elif kind == "member":
        wanted = [o.strip() for o in arg.split(",") if o.strip()]
        if not wanted:
            raise NoticeError("member: 后面要写至少一个 openid")
        found = set((await session.exec(registered.where(col(Member.openid).in_(wanted)))).all())
        if missing := [o for o in wanted if o not in found]:
            raise NoticeError(f"这些用户不存在或未登记：{', '.join(missing[:5])}")
        openids = wanted
    elif kind == "group":
        if await groups.by_code(session, arg) is None:
            raise NoticeError(f"没有邀请码为 {arg} 的小组")
        openids = await groups.member_openids(session, arg)
    elif kind == "course":
        course = await courses.by_code(session, arg)
        if course is None:
            raise NoticeError(f"没有课程码为 {arg} 的课程")
        openids = (await session.exec(
            select(Member.openid).join(Enrolment, col(Enrolment.member_id) == Member.id)
            .where(Enrolment.course_id == course.id, Enrolment.status == "enrolled",
                   col(Member.erased_at).is_(None))
            .order_by(col(Enrolment.id)))).all()
    else:
        raise NoticeError(
            "受众须为 all、industry:行业、group:小组码、course:课程码 或 member:openid")
    if not openids:
        raise NoticeError(f"受众「{audience}」目前没有任何已登记的用户，通知未创建")
    return list(dict.fromkeys(openids))


async def create(session: AsyncSession, title: str, body: str, audience: str,
                 now: datetime, url: str | None = None, send_at: datetime | None = None,
                 created_by: str | None = None, client_key: str | None = None) -> Notice:
    """Make a notice; one due now is expanded into the outbox in the same transaction."""
    validate(title, body, url)
    if len(audience) > AUDIENCE_MAX:
        raise NoticeError(
            f"受众写得太长（最多{AUDIENCE_MAX}个字符）；人多时请用 industry: 或 group:")
    if send_at is not None and send_at.tzinfo is None:
        raise NoticeError("发送时间须带时区")
    recipients = await resolve_audience(session, audience)  # fails early if nobody
    notice = Notice(title=title.strip(), body=body.strip(), url=url, audience=audience.strip(),
                    send_at=send_at or now, created_by=created_by, client_key=client_key,
                    created_at=now)
    session.add(notice)
    await session.flush()
    if notice.send_at <= now:
        await expand(session, notice, now, recipients)
    return notice


async def expand(session: AsyncSession, notice: Notice, now: datetime,
                 recipients: Sequence[str] | None = None) -> int:
    """Write the notice's outbox rows (again is harmless: the keys are idempotent)."""
    if recipients is None:
        try:
            recipients = await resolve_audience(session, notice.audience)
        except NoticeError:
            recipients = []
    text = render_text(notice.title, notice.body, notice.url)
    data = template_data(notice.title, notice.body, notice.send_at)
    items = [outbox.Outgoing(openid, text, data, notice.url) for openid in recipients]
    await outbox.enqueue(session, "notice", notice.subject, items, now)
    notice.status, notice.recipients = "sent", len(recipients)
    session.add(notice)
    return len(recipients)


async def expand_due(session: AsyncSession, now: datetime) -> int:
    """Expand scheduled notices whose time has come. Returns how many."""
    stmt = select(Notice).where(Notice.status == "scheduled", col(Notice.send_at) <= now) \
        .with_for_update(skip_locked=True)
    due = (await session.exec(stmt)).all()
    for notice in due:
        await expand(session, notice, now)
    return len(due)


async def get(session: AsyncSession, notice_id: int) -> Notice | None:
    return await session.get(Notice, notice_id)


async def by_client_key(session: AsyncSession, key: str) -> Notice | None:
    return (await session.exec(select(Notice).where(Notice.client_key == key))).first()
