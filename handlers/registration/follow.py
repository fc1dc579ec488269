"""Following the account, and QR codes: scenes no feature claimed, and codes scanned with
the menu's scan button (which hands us the code's text, not a scene)."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.router import Redispatch, Router
from bot.wechat.message import Inbound
from models import qr
from models.member import Member

router = Router("follow")


@router.event("subscribe", "subscribe_scan")
async def greet(member: Member) -> str:
    if member.registered:
        return T.WELCOME_BACK.format(name=member.name)
    return T.WELCOME


@router.event("scan")
async def unknown_scene() -> str:
    return T.UNKNOWN_SCENE


@router.event("scancode_waitmsg", "scancode_push")
async def scanned_in_chat(msg: Inbound, session: AsyncSession) -> str | Redispatch:
    """The menu's scan button: a code of ours does what scanning it with WeChat does."""
    scene = await qr.scene_for(session, msg.content or "")
    if scene is None:
        return T.SCAN_UNKNOWN
    return Redispatch("", replace(msg, event="scan", key=scene))
