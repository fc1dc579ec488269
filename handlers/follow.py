"""Following the account, and QR scans no feature claimed."""

from __future__ import annotations

from bot import texts as T
from bot.router import Router
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
