"""Report photos: WeChat's MediaId expires after 3 days, so each photo is downloaded in
the background, soon after the report, and kept in `reports.photo_dir`. A failed download
is tried again with backoff until the MediaId must have expired; the report never waits
for it and is never lost over it.

The same loop deletes the photo files of reports whose reporter has 注销'd (models/erasure.py
marks them after its transaction; a file is only deleted once that has committed), and a
download that finishes after the 注销 keeps nothing."""

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
from models import erasure
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
        """Download the photos due; delete the erased ones. How many were due."""
        now = self._clock.now()
        async with self._sessions() as session:
            due = await views.photos_due(session, now, limit)
        for report in due:
            await self._fetch(report)
        await self.delete_erased(limit)
        return len(due)

    async def delete_erased(self, limit: int = 20) -> int:
        """Delete the files of photos whose reporter has 注销'd; how many went."""
        async with self._sessions() as session:
            gone = await erasure.photos_to_delete(session, limit)
        for report_id, stored in gone:
            await asyncio.to_thread(self._unlink, stored)
            async with self._sessions() as session, session.begin():
                await erasure.photo_deleted(session, report_id)
        if gone:
            log.info("deleted %d photos of erased members", len(gone))
        return len(gone)

    def _unlink(self, stored: str) -> None:
        """Delete a stored photo, only inside the photo folder (a missing one is gone)."""
        path = Path(stored).resolve()
        if path.is_relative_to(self._folder.resolve()):
            path.unlink(missing_ok=True)

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
            # Locked: a 注销 committing meanwhile is seen, not overwritten.
            row = await session.get(Report, report.id, with_for_update=True,
                                    populate_existing=True)
            if row is None or row.photo_status != "pending":
                # Erased while it was downloading: nothing of it is kept.
                if update.get("photo_path"):
                    await asyncio.to_thread(self._unlink, str(update["photo_path"]))
                return
            for k, v in update.items():
                setattr(row, k, v)
            session.add(row)


def fetcher(p: Platform) -> PhotoFetcher:
    """The background loop the app starts (the services' API client exists by then)."""
    assert p.services.api is not None
    return PhotoFetcher(p.sessions, p.services.api, p.settings.reports.photo_dir, p.clock)
