"""Who may work on which group in the console, and what the groups' forms share.

An admin works on every group; a group leader on the group they lead (another group's pages
answer the 403 page); every other role has no 小组 pages at all (404, as elsewhere)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import SHANGHAI
from bot.web.auth import DIRTY
from bot.web.pages import AUTH, SERVICES, SETTINGS, not_found, require
from models import group as groups
from models import staff
from models.activity import Activity
from models.group import PartyGroup
from models.staff import ConsoleUser

ROLES = ("admin", "leader")


def refused() -> web.HTTPException:
    """The console's 403 page (the guard draws it in the layout, in Chinese)."""
    return web.HTTPForbidden()


def admin_only(request: web.Request) -> ConsoleUser:
    """An admin; a leader is refused (403), other roles find no page (404)."""
    user = require(request, ROLES)
    if user.role != "admin":
        raise refused()
    return user


async def group_of(request: web.Request, db: AsyncSession) -> tuple[ConsoleUser, PartyGroup]:
    """The user and the group of the path's {id}, if they may work on it."""
    user = require(request, ROLES)
    group = await db.get(PartyGroup, int(request.match_info["id"]))
    if group is None:
        raise not_found(request)
    if user.role != "admin":
        mine = await groups.led_by(db, user)
        if mine is None or mine.id != group.id:
            raise refused()
    return user, group


async def activity_of(request: web.Request, db: AsyncSession
                      ) -> tuple[ConsoleUser, PartyGroup, Activity]:
    """The user, the group and the path's activity {aid} of that group."""
    user, group = await group_of(request, db)
    a = await db.get(Activity, int(request.match_info["aid"]))
    if a is None or a.group_id != group.id:
        raise not_found(request)
    return user, group, a


def local_input(dt: datetime | None) -> str:
    """A stored time as a datetime-local value, in Asia/Shanghai."""
    return dt.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M") if dt else ""


def form_of(data: Any, fields: tuple[str, ...], limit: int = 600) -> dict[str, str]:
    """The posted fields as typed (trimmed, at most `limit` characters each)."""
    return {k: str(data.get(k, "")).strip()[:limit] for k in fields}


def wake_worker(request: web.Request) -> None:
    worker = getattr(request.app[SERVICES], "worker", None)
    if worker is not None:
        worker.wake()


def reminder_offsets(request: web.Request) -> Any:
    return request.app[SETTINGS].school.reminder_offsets


async def keep_own_session(request: web.Request, db: AsyncSession, user: ConsoleUser) -> None:
    """A leader who regenerated their own group's code keeps this session: the domain moves
    their account's group code along (models/group.py), which would otherwise end every
    session opened before (models/staff.py session_stamp); their other devices log in anew."""
    fresh = await db.get(ConsoleUser, user.id, populate_existing=True)
    if fresh is None or fresh.group_code == user.group_code:
        return
    session = await request.app[AUTH].session(request)
    if session.get("st") == staff.session_stamp(user):
        session["st"] = staff.session_stamp(fresh)
        request[DIRTY] = True
