"""绑定 CODE, and the staff words: refused to anyone not bound to a console account
of the right role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts as T
from bot.inbound import Inbound
from bot.router import Router, regex
from models import staff as staff_rules
from models.staff import BindOutcome

router = Router("staff", help=[T.HELP_BIND])

# Staff words and the roles they belong to (admins may use them all).
STAFF_WORDS = {
    "小组通知": {"leader"},
    "通知情况": {"leader"},
}


@router.command("绑定")
async def bind(arg: str, msg: Inbound, session: AsyncSession, now: datetime) -> str:
    outcome, user = await staff_rules.bind(session, arg.strip(), msg.openid, now)
    if outcome is BindOutcome.BOUND and user is not None:
        return T.BIND_DONE.format(username=user.username, role=user.role_name)
    return {
        BindOutcome.UNKNOWN: T.BIND_UNKNOWN,
        BindOutcome.EXPIRED: T.BIND_EXPIRED,
        BindOutcome.USED: T.BIND_USED,
    }[outcome]


@router.words("绑定")
async def bind_usage() -> str:
    return T.BIND_USAGE


def _staff_word(word: str, roles: set[str]) -> None:
    @router.on(regex(rf"{word}(?:\s.*)?"), roles=roles)
    async def staff_word() -> str:
        return T.STAFF_NOT_YET.format(word=word)

    staff_word.__qualname__ = f"staff_word_{word}"


for _word, _roles in STAFF_WORDS.items():
    _staff_word(_word, _roles)
