"""Report photos: WeChat's MediaId expires after 3 days, so each photo is downloaded in
the background, soon after the report, and kept in `reports.photo_dir`. A failed download
is tried again with backoff until the MediaId must have expired; the report never waits
for it and is never lost over it."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.features import Platform
from bot.wechat.client import WechatApi, WechatError
from models.report import Report
from models.views import reports as views

log = logging.getLogger(__name__)

MEDIA_LIFETIME = timedelta(days=3)
POLL_S = 2.0


class PhotoFetcher:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], api: WechatApi,
                 folder: str, clock: Clock):
        self._sessions = sessions
        self._api = api
        self._folder = Path(folder)
        self._clock = clock
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True

    async def run_forever(self) -> None:
        while not self._stopping:
            try:
                await self.run_once()
            except Exception:
                log.exception("photo pass failed; trying again shortly")
            for _ in range(int(POLL_S * 10)):
                if self._stopping:
                    return
                await asyncio.sleep(0.1)

    async def run_once(self, limit: int = 10) -> int:
        now = self._clock.now()
        async with self._sessions() as session:
            due = await views.photos_due(session, now, limit)
        for report in due:
            await self._fetch(report)
        return len(due)

    async def _fetch(self, report: Report) -> None:
        now = self._clock.now()
        update: dict[str, object] = {}
        try:
            data = await self._api.download_media(report.photo_media_id or "")
            path = self._folder / f"{report.ticket}.jpg"
            await asyncio.to_thread(self._folder.mkdir, parents=True, exist_ok=True)
            await asyncio.to_thread(path.write_bytes, data)
            update = {"photo_status": "saved", "photo_path": str(path)}
        except (WechatError, OSError) as exc:
            attempts = report.photo_attempts + 1
            if now - report.created_at >= MEDIA_LIFETIME:
                update = {"photo_status": "failed", "photo_attempts": attempts}
                log.warning("photo of report %s given up: %s", report.ticket, exc)
            else:
                delay = min(timedelta(minutes=5) * 2 ** (attempts - 1), timedelta(hours=6))
                update = {"photo_attempts": attempts, "photo_next_at": now + delay}
        async with self._sessions() as session, session.begin():
            row = await session.get(Report, report.id)
            if row is not None:
                for k, v in update.items():
                    setattr(row, k, v)
                session.add(row)


def fetcher(p: Platform) -> PhotoFetcher:
    """The background loop the app starts (the services' API client exists by then)."""
    assert p.services.api is not None
    return PhotoFetcher(p.sessions, p.services.api, p.settings.reports.photo_dir, p.clock)
