"""Notices: a title and body to an audience, now or at a time, expanded into outbox rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import course as courses
from models import due, outbox
from models import group as groups
from models.base import SHANGHAI, UTCDateTime
from models.course import Enrolment
from models.errors import DomainError
from models.member import INDUSTRIES, Member
from models.push_values import iso_time
from models.text import long_text

TITLE_MAX = 40
URL_MAX = 1024
AUDIENCE_MAX = 2000
# A body's characters: at most the 客服 text's bytes (validate checks the bytes).
BODY_MAX = outbox.KEFU_TEXT_MAX_BYTES
DUE_KIND = "notice"  # a notice with a time ahead is a due row of this kind


class NoticeError(DomainError):
    """A notice that cannot be sent as asked: a code (models/errors.py) with details; the
    words for each code are bot/texts' NOTICE_ERRORS (`notice_error`)."""


class Notice(SQLModel, table=True):
    __tablename__ = "notice"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=TITLE_MAX)
    body: str = Field(sa_type=Text, sa_column_kwargs=long_text(BODY_MAX))
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


def template_data(title: str, body: str, send_at: datetime) -> dict[str, str]:
    """The notice's push values (models/push_values.py); config maps them to the template's
    fields."""
    return {"notice.title": title, "notice.body": body, "notice.time": iso_time(send_at)}


def validate(title: str, body: str, url: str | None) -> None:
    title, body = title.strip(), body.strip()
    if not title:
        raise NoticeError("title_empty")
    if len(title) > TITLE_MAX:
        raise NoticeError("title_long", max=TITLE_MAX, n=len(title))
    if not body:
        raise NoticeError("body_empty")
    size = len(render_text(title, body, url).encode())
    if size > outbox.KEFU_TEXT_MAX_BYTES:
        raise NoticeError("body_long", max=outbox.KEFU_TEXT_MAX_BYTES, size=size)
    if url and not url.startswith(("https://", "http://")):
        raise NoticeError("url_scheme")
    if url and len(url) > URL_MAX:
        raise NoticeError("url_long", max=URL_MAX)


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
            raise NoticeError("industry", industry=arg, options="、".join(INDUSTRIES))
        openids = (await session.exec(registered.where(Member.industry == arg))).all()
    elif kind == "member":
        wanted = [o.strip() for o in arg.split(",") if o.strip()]
        if not wanted:
            raise NoticeError("member_empty")
        found = set((await session.exec(registered.where(col(Member.openid).in_(wanted)))).all())
        if missing := [o for o in wanted if o not in found]:
            raise NoticeError("member_missing", openids=", ".join(missing[:5]))
        openids = wanted
    elif kind == "group":
        if await groups.by_code(session, arg) is None:
            raise NoticeError("group_unknown", code=arg)
        openids = await groups.member_openids(session, arg)
    elif kind == "course":
        course = await courses.by_code(session, arg)
        if course is None:
            raise NoticeError("course_unknown", code=arg)
        openids = (await session.exec(
            select(Member.openid).join(Enrolment, col(Enrolment.member_id) == Member.id)
            .where(Enrolment.course_id == course.id, Enrolment.status == "enrolled",
                   col(Member.erased_at).is_(None))
            .order_by(col(Enrolment.id)))).all()
    else:
        raise NoticeError("audience_kind")
    if not openids:
        raise NoticeError("audience_empty", audience=audience)
    return list(dict.fromkeys(openids))


async def create(session: AsyncSession, title: str, body: str, audience: str,
                 now: datetime, url: str | None = None, send_at: datetime | None = None,
                 created_by: str | None = None, client_key: str | None = None) -> Notice:
    """Make a notice; one due now is expanded into the outbox in the same transaction, one
    due later is a due row (models/due.py) the outbox worker expands at its time."""
    validate(title, body, url)
    if len(audience) > AUDIENCE_MAX:
        raise NoticeError("audience_long", max=AUDIENCE_MAX)
    if send_at is not None and send_at.tzinfo is None:
        raise NoticeError("naive_time")
    recipients = await resolve_audience(session, audience)  # fails early if nobody
    notice = Notice(title=title.strip(), body=body.strip(), url=url, audience=audience.strip(),
                    send_at=send_at or now, created_by=created_by, client_key=client_key,
                    created_at=now)
    session.add(notice)
    await session.flush()
    if notice.send_at <= now:
        await expand(session, notice, now, recipients)
    else:
        await due.plan(session, DUE_KIND, notice.subject, "", notice.send_at)
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


async def expand_scheduled(session: AsyncSession, row: due.DuePush, now: datetime
                           ) -> int | None:
    """A scheduled notice's due row, at its time: the audience as it is now, into the
    outbox. None when the notice went already."""
    notice = await session.get(Notice, int(row.subject.split(":")[1]))
    if notice is None or notice.status != "scheduled":
        return None
    return await expand(session, notice, now)


async def get(session: AsyncSession, notice_id: int) -> Notice | None:
    return await session.get(Notice, notice_id)


async def by_client_key(session: AsyncSession, key: str) -> Notice | None:
    return (await session.exec(select(Notice).where(Notice.client_key == key))).first()


# --- a notice from a JSON object (/api/v1/notices, a course's enrollees) --------------------


@dataclass(frozen=True)
class Submitted:
    notice_id: int
    created: bool  # False: the Idempotency-Key's first notice, replayed


def parse_at(value: Any) -> datetime | None:
    """ISO 8601 (Asia/Shanghai when no offset is given), in 2000–2100; None for none."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise NoticeError("bad_time")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise NoticeError("bad_time") from None
    when = when if when.tzinfo else when.replace(tzinfo=SHANGHAI)
    if not 2000 <= when.year <= 2100:
        raise NoticeError("at_range")
    return when


def _same_request(notice: Notice, data: dict[str, Any], url: str | None,
                  send_at: datetime | None) -> bool:
    """Whether a request asks for exactly the notice made under its key: title, body and
    audience (trimmed, as stored), url (absent, null and "" alike) and the time. A time of
    "now" (no `at`) matches only a notice that was sent at once, at the first request's
    time (its send_at is its created_at), whenever the retry comes; an `at` matches only a
    notice planned for that very instant (any offset naming it)."""
    if (notice.title, notice.body, notice.audience) != (
            data["title"].strip(), data["body"].strip(), data["audience"].strip()):
        return False
    if (notice.url or None) != (url or None):
        return False
    wanted = notice.created_at if send_at is None else send_at
    return notice.send_at == wanted


async def _replay(sessions: Callable[[], Any], key: str, data: dict[str, Any],
                  url: str | None, send_at: datetime | None) -> Submitted | None:
    """The notice made under this key, or None; key_reused if it was made for another
    request (another url, time or audience — say, another course's enrollees)."""
    async with sessions() as session:
        notice = await by_client_key(session, key)
        if notice is None:
            return None
        if not _same_request(notice, data, url, send_at):
            raise NoticeError("key_reused")
        assert notice.id is not None
        return Submitted(notice.id, created=False)


async def submit(sessions: Callable[[], Any], data: dict[str, Any], now: datetime, *,
                 client_key: str | None = None, created_by: str = "api") -> Submitted:
    """A notice from a JSON object {title, body, audience, url?, at?}, checked whole before
    a known key replays the first one: idempotent under `client_key`, also when the same
    key is sent twice at once. A key sent again with any other title, body, audience, url
    or time is key_reused (see `_same_request`). Each step opens its own session from
    `sessions`."""
    for name in ("title", "body", "audience"):
        if not isinstance(data.get(name), str):
            raise NoticeError("field_required", field=name)
    url = data.get("url")
    if url is not None and not isinstance(url, str):
        raise NoticeError("url_type")
    if client_key is not None and len(client_key) > 100:
        raise NoticeError("key_long")
    send_at = parse_at(data.get("at"))
    validate(data["title"], data["body"], url)
    if client_key is not None and (
            again := await _replay(sessions, client_key, data, url, send_at)):
        return again
    try:
        async with sessions() as session, session.begin():
            notice = await create(session, data["title"], data["body"], data["audience"], now,
                                  url=url, send_at=send_at, created_by=created_by,
                                  client_key=client_key)
            assert notice.id is not None
            made = Submitted(notice.id, created=True)
    except IntegrityError:  # the same key, sent twice at once: the other one won
        again = await _replay(sessions, client_key or "", data, url, send_at)
        if again is None:
            raise
        return again
    return made
