"""The QR code images of scenes (st:CODE, grp:CODE, crs:CODE …), as `run.py qrcodes` and the
console's 二维码 page make them: in dev mode drawn locally with the scene as the code's text
(the chat and the simulator scan that); in production WeChat's permanent codes, a scene's
ticket made once and reused (models/qr.py), so no code is spent twice."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.wechat.client import WechatApi, WechatError
from models import qr


def draw(text: str) -> bytes:
    """A PNG of a QR code holding `text` (CPU work: call it off the event loop)."""
    import segno

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=10, border=4)
    return buf.getvalue()


async def scene_image(dev: bool, api: WechatApi | None,
                      sessions: async_sessionmaker[AsyncSession], scene: str,
                      now: Callable[[], datetime]) -> bytes:
    """The scene's code as a PNG; WechatError when WeChat cannot make or give it."""
    if dev:
        return await asyncio.to_thread(draw, scene)
    if api is None:
        raise WechatError(-1, "the WeChat API client is not started")
    async with sessions() as session:
        known = await qr.issued(session, scene)
    made = ({"ticket": known.ticket, "url": known.url} if known
            else await api.create_qrcode(scene))
    image = await api.qrcode_image(made["ticket"])
    if known is None:
        async with sessions() as session, session.begin():
            await qr.remember(session, scene, made["ticket"], made["url"], now())
    return image


def zip_of(files: Iterable[tuple[str, bytes]]) -> bytes:
    """One zip holding these (file name, content) pairs (call it off the event loop)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(name, content)
    return buf.getvalue()
