"""One access token for every process: kept in the database, refreshed by one at a time.

Each process keeps the token in memory for at most CACHE_S, then reads the row again.
A refresh happens under the row's lock (PostgreSQL: SELECT … FOR UPDATE; SQLite:
the write lock), ahead of expiry; whoever waits on the lock finds the fresh token
and does not fetch again. WeChat keeps an old token valid for 5 minutes after a new
one is fetched, so processes still holding it are not broken by the refresh.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import metrics
from bot.clock import Clock
from bot.wechat.client import WechatNetworkError
from models import token as token_store

log = logging.getLogger(__name__)

REFRESH_AHEAD = timedelta(minutes=10)
CACHE_S = 60.0
REFRESH_LEASE = timedelta(seconds=20)  # longer than the client's timeout for the fetch
REFRESH_WAIT_S = 15.0

Fetch = Callable[[], Awaitable[tuple[str, int]]]


class SharedToken:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], app_id: str, fetch: Fetch,
                 clock: Clock):
        self._sessions = sessions
        self._app_id = app_id
        self._fetch = fetch
        self._clock = clock
        self._lock = asyncio.Lock()
        self._cached: str | None = None
        self._cached_until: datetime | None = None
        self.refreshes = 0  # by this process

    def _usable(self, token: str | None, expires_at: datetime | None, now: datetime) -> bool:
        return bool(token) and expires_at is not None and expires_at - REFRESH_AHEAD > now

    async def get(self) -> str:
        now = self._clock.now()
        if self._cached and self._cached_until and now < self._cached_until:
            return self._cached
        async with self._lock:
            now = self._clock.now()
            if self._cached and self._cached_until and now < self._cached_until:
                return self._cached
            async with self._sessions() as session:
                row = await token_store.read(session, self._app_id)
                if row and self._usable(row.token, row.expires_at, now):
                    return self._remember(row.token, row.expires_at, now)  # type: ignore[arg-type]
            return await self._refresh()

    async def invalidate(self, bad_token: str) -> str:
        """WeChat refused `bad_token`: refresh, unless another process already has."""
        async with self._lock:
            self._cached = None
            return await self._refresh(bad_token=bad_token)

    def _remember(self, token: str, expires_at: datetime, now: datetime) -> str:
        self._cached = token
        self._cached_until = min(now + timedelta(seconds=CACHE_S), expires_at - REFRESH_AHEAD)
        return token

    async def _refresh(self, bad_token: str | None = None) -> str:
        """Fetch a new token, one process at a time, without holding a transaction (on
        SQLite, the database's write lock) across the call to WeChat: the row is marked
        `refreshing_until` in one short transaction and the token stored in another."""
        give_up = time.monotonic() + REFRESH_WAIT_S
        while True:
            async with self._sessions() as session, session.begin():
                row = await token_store.lock(session, self._app_id)
                now = self._clock.now()
                if self._usable(row.token, row.expires_at, now) and row.token != bad_token:
                    # Another process refreshed while we waited.
                    return self._remember(row.token, row.expires_at, now)  # type: ignore[arg-type]
                busy = row.refreshing_until is not None and row.refreshing_until > now
                if not busy:
                    row.refreshing_until = now + REFRESH_LEASE
                    session.add(row)
                elif (row.token and row.token != bad_token and row.expires_at
                      and row.expires_at > now):
                    return row.token  # still valid while another process fetches
            if not busy:
                break
            if time.monotonic() > give_up:
                raise WechatNetworkError("another process is still refreshing the token")
            await asyncio.sleep(0.2)
        try:
            token, expires_in = await self._fetch()
        except BaseException:
            metrics.TOKEN_REFRESHES.labels("error").inc()
            async with self._sessions() as session, session.begin():
                row = await token_store.lock(session, self._app_id)
                row.refreshing_until = None
                session.add(row)
            raise
        async with self._sessions() as session, session.begin():
            row = await token_store.lock(session, self._app_id)
            now = self._clock.now()
            expires_at = now + timedelta(seconds=expires_in)
            token_store.store(row, token, expires_at, now)
            session.add(row)
        self.refreshes += 1
        metrics.TOKEN_REFRESHES.labels("ok").inc()
        log.info("access token refreshed (valid %d s)", expires_in)
        return self._remember(token, expires_at, now)
