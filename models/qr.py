"""Parametric QR codes made through WeChat's API: which scene each code URL carries, so a
code scanned with the menu's scan button (which gives us the URL) finds its scene."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime

SCENE_PREFIXES = ("st:", "grp:", "crs:", "act:")


class QrCode(SQLModel, table=True):
    __tablename__ = "qr_code"

    scene: str = Field(primary_key=True, max_length=64)
    ticket: str = Field(max_length=255)
    url: str = Field(max_length=255, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


def is_scene(text: str) -> bool:
    return text.startswith(SCENE_PREFIXES) and 1 <= len(text) <= 64


async def scene_for(session: AsyncSession, scanned: str) -> str | None:
    """The scene a scanned code carries: the text itself (codes drawn in dev mode carry the
    scene), or the scene of a WeChat code URL we made."""
    scanned = scanned.strip()
    if is_scene(scanned):
        return scanned
    row = (await session.exec(select(QrCode).where(QrCode.url == scanned))).first()
    return row.scene if row else None


async def issued(session: AsyncSession, scene: str) -> QrCode | None:
    """The permanent code already made for a scene (it never expires: reuse it rather than
    spend another of the account's 100,000)."""
    return await session.get(QrCode, scene)


async def remember(session: AsyncSession, scene: str, ticket: str, url: str,
                   now: datetime) -> None:
    row = await session.get(QrCode, scene)
    if row is None:
        session.add(QrCode(scene=scene, ticket=ticket, url=url, created_at=now))
    else:
        row.ticket, row.url = ticket, url
        session.add(row)
