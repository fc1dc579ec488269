"""import-members: members registered elsewhere, from CSV rows, all or nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.member import Member
from models.profile import PARSERS, InvalidAnswer

COLUMNS = ["openid", "name", "mobile", "industry", "platform", "party_status"]


@dataclass
class MemberImport:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def check_rows(rows: Iterable[tuple[int, dict[str, str]]], reasons: Mapping[str, str]
               ) -> tuple[list[dict[str, str]], list[tuple[int, str]]]:
    """Clean every row; a broken one is reported with its line and reason (a field's reason
    code put in words by `reasons`)."""
    clean: list[dict[str, str]] = []
    rejected: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for line, raw in rows:
        openid = (raw.get("openid") or "").strip()
        if not openid or len(openid) > 64 or any(ch.isspace() for ch in openid):
            rejected.append((line, "openid 为空或格式不对"))
            continue
        if openid in seen:
            rejected.append((line, f"openid 与第{seen[openid]}行重复"))
            continue
        seen[openid] = line
        row = {"openid": openid}
        for key, parse in PARSERS.items():
            value = (raw.get(key) or "").strip()
            try:
                row[key] = parse(value)
            except InvalidAnswer as bad:
                why = reasons.get(bad.reason, bad.reason).rstrip("。")
                rejected.append((line, f"{key}: {why}（{value}）"))
                break
        else:
            clean.append(row)
    return clean, rejected


def _new_member(row: dict[str, str], now: datetime) -> Member:
    """A member registered offline from a clean row (openid and every PARSERS field)."""
    member = Member(openid=row["openid"], consent_at=now, consent_source="offline",
                    registered_at=now, created_at=now, followed=True)
    for key in PARSERS:
        setattr(member, key, row[key])
    return member


async def import_members(session: AsyncSession, rows: Iterable[tuple[int, dict[str, str]]],
                         now: datetime, reasons: Mapping[str, str]) -> MemberImport:
    """Upsert by openid. Nothing is written when any row is rejected."""
    clean, rejected = check_rows(rows, reasons)
    report = MemberImport(rejected=rejected)
    if rejected:
        return report
    existing = {
        m.openid: m
        for m in (await session.exec(
            select(Member).where(col(Member.openid).in_([r["openid"] for r in clean]))
        )).all()
    }
    for row in clean:
        member = existing.get(row["openid"])
        if member is None:
            session.add(_new_member(row, now))
            report.added += 1
            continue
        fields = {k: v for k, v in row.items() if k != "openid"}
        if all(getattr(member, k) == v for k, v in fields.items()) and member.registered:
            report.unchanged += 1
            continue
        for k, v in fields.items():
            setattr(member, k, v)
        if not member.registered:
            member.consent_at, member.consent_source = now, "offline"
            member.registered_at = member.registered_at or now
        session.add(member)
        report.changed += 1
    return report
