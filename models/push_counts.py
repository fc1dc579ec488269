"""How pushes went: a subject's delivery counts (by channel, with WeChat's receipts) and
the outbox's depth."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select as core_select
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.outbox import Push

IN_FLIGHT = ("pending", "claimed", "sending")


async def counts(session: AsyncSession, subject: str) -> dict[str, Any]:
    """Delivery counts of one push subject: pending; sent by channel; WeChat's receipts of
    those sent (delivered / blocked / failed, by channel); failed and undeliverable by
    reason."""
    stmt = (
        core_select(col(Push.status), col(Push.channel), col(Push.reason), col(Push.receipt),
                    func.count())
        .where(col(Push.subject) == subject)
        .group_by(col(Push.status), col(Push.channel), col(Push.reason), col(Push.receipt))
    )
    out: dict[str, Any] = {"total": 0, "pending": 0, "sent": {}, "failed": {},
                           "undeliverable": {}, "receipts": {}}
    conn = await session.connection()
    for status, channel, reason, receipt, n in (await conn.execute(stmt)).all():
        out["total"] += n
        if status in IN_FLIGHT:
            out["pending"] += n
        elif status == "sent":
            ch = channel or "?"
            out["sent"][ch] = out["sent"].get(ch, 0) + n
            if receipt:
                by = out["receipts"].setdefault(receipt, {})
                by[ch] = by.get(ch, 0) + n
        else:
            key = reason or "?"
            out[status][key] = out[status].get(key, 0) + n
    return out


async def depth(session: AsyncSession) -> dict[str, int]:
    """How many rows the outbox holds in each status (for /metrics)."""
    rows = await session.exec(select(col(Push.status), func.count()).group_by(col(Push.status)))
    return {status: n for status, n in rows.all()}
