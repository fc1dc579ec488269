"""注销: a member's personal data removed everywhere it is kept. One domain function over
every feature's tables, so no feature needs to know the others'.

What stays is what the statistics count, without the person: the member row (by id),
reports with their status, category, grid and times, check-ins, attendance marks. What goes:

- the member's name, phone, openid and profile, their console binding, their dialog, their
  bind-code throttle row;
- in their reports: the description and typed address keep the place and the problem but
  lose names and numbers (models/redact.py); the point is rounded to about 100 m; the photo
  is no longer shown and its file is deleted by the photo loop after this commits
  (`photos_to_delete`), as is one a download in flight brings back; officers' notes on
  their reports lose names and numbers;
- their leave reasons are replaced whole (a reason may say why: an illness);
- pushes to them lose text and recipient; pushes to others that quote them (an officer's
  new-report push, a leader's roll, a digest) lose their name and numbers;
- stored replies (the retry cache) that quote them are deleted;
- their openid in a notice's audience becomes the placeholder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, delete, false, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import dialog_store, subscribe
from models.activity import Attendance
from models.checkin import Checkin
from models.claim import InboundClaim
from models.group import GroupMembership
from models.login_throttle import LoginFailure
from models.member import Member
from models.notice import Notice
from models.outbox import Push
from models.redact import redact
from models.report import Report, ReportEvent
from models.staff import unbind_openid

COORDINATE_DECIMALS = 3  # about 110 m of latitude, 95 m of longitude around Changzhou
QUOTE_PREFIX = 12  # how much of a free text is looked for where it may be quoted
QUOTE_MIN = 6  # shorter texts are too common to tell a quote by


@dataclass
class Erased:
    """What 注销 changed (counts, for the log; nothing personal)."""

    reports: int = 0
    photos: int = 0  # photo files left for the photo loop to delete
    pushes: int = 0  # pushes to others that quoted the member, redacted
    replies: int = 0  # stored replies deleted
    needles: list[str] = field(default_factory=list, repr=False)
    report_ids: list[int] = field(default_factory=list, repr=False)


async def erase(session: AsyncSession, member: Member, now: datetime, *,
                name_mask: str = "**", gone_text: str = "") -> Erased:
    """Delete a member's personal data (see the module's docstring). `name_mask` stands in
    for their name inside texts that are kept, `gone_text` for a leave reason."""
    assert member.id is not None
    openid, placeholder = member.openid, f"erased:{member.id}"
    names = [n for n in (member.name,) if n]
    done = Erased(needles=[x for x in (member.name, member.mobile, openid) if x])
    await unbind_openid(session, openid, now)
    await _reports(session, member.id, names, name_mask, done)
    done.needles += await _leave_reasons(session, member.id, gone_text)
    await _pushes(session, openid, placeholder, names, name_mask, done)
    await _replies(session, done)
    await _notices(session, openid, placeholder)
    await dialog_store.clear(session, openid)
    await subscribe.forget(session, member.id)
    await session.exec(delete(LoginFailure).where(col(LoginFailure.key) == f"bind:{openid}"))
    # Check-ins keep when and which station, not the member's own coordinates.
    await session.exec(update(Checkin).where(col(Checkin.member_id) == member.id)
                       .values(lat=None, lng=None))
    await session.exec(update(GroupMembership).where(
        col(GroupMembership.member_id) == member.id, col(GroupMembership.left_at).is_(None)
    ).values(left_at=now))
    member.openid = placeholder
    member.name = member.mobile = member.platform = None
    member.industry = member.party_status = None
    member.consent_at = member.consent_source = None
    member.last_inbound_at = member.template_blocked_at = None
    member.followed = False
    member.erased_at = now
    session.add(member)
    return done


def _quote(text: str | None) -> str | None:
    """The start of a free text, to find where it is quoted (None: too short to tell)."""
    start = (text or "").strip()[:QUOTE_PREFIX]
    return start if len(start) >= QUOTE_MIN else None


def _round(value: float | None) -> float | None:
    return round(value, COORDINATE_DECIMALS) if value is not None else None


async def _reports(session: AsyncSession, member_id: int, names: list[str], name_mask: str,
                   done: Erased) -> None:
    rows = (await session.exec(select(Report).where(Report.member_id == member_id)
                               .with_for_update())).all()
    for r in rows:
        done.needles += [q for q in (_quote(r.description), _quote(r.address)) if q]
        r.description = redact(r.description, names, name_mask=name_mask)
        r.address = redact(r.address, names, name_mask=name_mask) if r.address else r.address
        r.lat, r.lng = _round(r.lat), _round(r.lng)
        if r.photo_path:
            done.photos += 1
        # "none" with a path: the file is still to be deleted (photos_to_delete); a
        # download in flight finds the row no longer pending and drops what it fetched.
        r.photo_status, r.photo_media_id, r.photo_next_at = "none", None, None
        session.add(r)
    done.reports = len(rows)
    ids = done.report_ids = [r.id for r in rows if r.id is not None]
    if not ids:
        return
    events = (await session.exec(select(ReportEvent).where(
        col(ReportEvent.report_id).in_(ids), ReportEvent.note != ""))).all()
    for e in events:
        note = redact(e.note, names, name_mask=name_mask)
        if note != e.note:
            e.note = note
            session.add(e)


async def _leave_reasons(session: AsyncSession, member_id: int, gone_text: str) -> list[str]:
    rows = (await session.exec(select(Attendance).where(
        Attendance.member_id == member_id, Attendance.reason != ""))).all()
    quoted = [q for r in rows if (q := _quote(r.reason))]
    for r in rows:
        r.reason = gone_text
        session.add(r)
    return quoted


def _mentions(column: ColumnElement[str] | object, needles: Sequence[str]
              ) -> ColumnElement[bool]:
    conditions = [col(column).contains(n, autoescape=True)
                  for n in needles]
    return or_(false(), *conditions)


async def _pushes(session: AsyncSession, openid: str, placeholder: str, names: list[str],
                  name_mask: str, done: Erased) -> None:
    """Pushes to others that quote the member lose their name and numbers; pushes to the
    member lose text and recipient (their counts stay)."""
    about = [col(Push.subject).startswith(f"report:{i}:", autoescape=True)
             for i in done.report_ids]
    quoting = (await session.exec(select(Push).where(
        Push.openid != openid, or_(_mentions(Push.text, done.needles), *about)))).all()
    for p in quoting:
        p.text = redact(p.text, names, name_mask=name_mask)
        p.template_data = {k: redact(v, names, name_mask=name_mask) if isinstance(v, str)
                           else v for k, v in p.template_data.items()}
        session.add(p)
    done.pushes = len(quoting)
    await session.exec(update(Push).where(col(Push.openid) == openid).values(
        openid=placeholder, text="", template_data={},
        idem_key=col(Push.kind) + ":" + col(Push.subject) + ":" + placeholder))


async def _replies(session: AsyncSession, done: Erased) -> None:
    """Stored replies quoting the member (their 我的, a summary of their report, another's
    duplicate prompt): a retry of one gets no text now, which is all a retry may lose."""
    result = await session.exec(delete(InboundClaim).where(
        _mentions(InboundClaim.reply, done.needles)))
    done.replies = result.rowcount or 0


async def _notices(session: AsyncSession, openid: str, placeholder: str) -> None:
    """member:A,B,… audiences name openids: the member's becomes the placeholder."""
    rows = (await session.exec(select(Notice).where(
        col(Notice.audience).contains(openid, autoescape=True)))).all()
    for n in rows:
        kind, _, arg = n.audience.partition(":")
        if kind.strip() != "member":
            continue
        n.audience = f"{kind}:" + ",".join(
            placeholder if o.strip() == openid else o for o in arg.split(","))
        session.add(n)


# --- photo files, deleted after the erasure commits ----------------------------------------


async def photos_to_delete(session: AsyncSession, limit: int = 20) -> list[tuple[int, str]]:
    """(report id, file) of photos whose report was erased but whose file is still kept."""
    rows = (await session.exec(
        select(Report.id, Report.photo_path)
        .where(Report.photo_status == "none", col(Report.photo_path).is_not(None))
        .order_by(col(Report.id)).limit(limit))).all()
    return [(i, p) for i, p in rows if i is not None and p]


async def photo_deleted(session: AsyncSession, report_id: int) -> None:
    await session.exec(update(Report).where(col(Report.id) == report_id,
                                            col(Report.photo_status) == "none")
                       .values(photo_path=None))
