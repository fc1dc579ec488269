"""绑定 CODE: link this WeChat account to a console account (staff words then work)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.router import Router
from bot.wechat.message import Inbound
from models import login_throttle
from models.staff import BindOutcome, StaffError

router = Router("staff", help=[T.HELP_BIND])


@router.command("绑定")
async def bind(arg: str, msg: Inbound, session: AsyncSession, now: datetime) -> str:
    try:
        outcome, user = await login_throttle.bind(session, arg.strip(), msg.openid, now)
    except StaffError as err:  # bind_locked: too many tries within the window
        return T.BIND_LOCKED.format(minutes=err.details["minutes"])
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
