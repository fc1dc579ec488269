"""One access token for every process: kept in the database, refreshed by one at a time.

Each process keeps the token in memory for at most CACHE_S, then reads the row again.
A refresh happens under the row's lock (PostgreSQL: SELECT … FOR UPDATE; SQLite:
the write lock), ahead of expiry; whoever waits on the lock finds the fresh token
and does not fetch again. No transaction is held across the call to WeChat: the row is
marked `refreshing_until` (a lease) in one short transaction and the token stored in another.

Where the token comes from is `wechat.token_endpoint` (see `token_fetchers`):

- `stable` (the default): POST /cgi-bin/stable_token. Normal mode answers the token in force,
  the same to every caller, and issues a new one only in the last 5 minutes of the old one
  (which stays valid those 5 minutes), so a routine refresh asks STABLE_REFRESH_AHEAD (4
  minutes) before expiry. When WeChat refuses our token (40001/40014/42001) we first ask
  in normal mode; only if that hands back the very token refused do we force a refresh
  (a new token at once, the old one valid 5 more minutes). WeChat allows 20 force
  refreshes a day and none within 30 s of the last; the row counts them for all instances
  together (access_token.force_refresh_day, an Asia/Shanghai date, force_refreshes that
  day, force_refreshed_at), spent before the call. Past the limit, or too soon, the refresh
  logs a warning and raises `ForceRefreshRefused` (a `WechatNetworkError`): the send fails
  as transient and is retried later; nothing loops.
- `classic`: GET /cgi-bin/token. Every fetch issues a new token (the old one stays valid
  5 minutes), so a routine refresh asks REFRESH_AHEAD (10 minutes) before expiry and a
  refused token is simply fetched again.

Either way, WeChat's 5-minute overlap means processes still holding the old token are not
broken by another's refresh.
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
from bot.wechat.client import WechatApi, WechatNetworkError
from models import token as token_store

log = logging.getLogger(__name__)

REFRESH_AHEAD = timedelta(minutes=10)  # classic: any fetch gives a new token
# stable: normal mode gives a new token only in the old one's last 5 minutes.
STABLE_REFRESH_AHEAD = timedelta(minutes=4)
CACHE_S = 60.0
REFRESH_LEASE = timedelta(seconds=20)  # longer than the client's timeout for one fetch
REFRESH_WAIT_S = 15.0

Fetch = Callable[[], Awaitable[tuple[str, int]]]


class ForceRefreshRefused(WechatNetworkError):
    """The token WeChat refused is the one it still hands out, and a force refresh may not be
    asked for now (the day's limit is spent, or the last was under 30 s ago), or it gave
    the same token back. Transient: the send is tried again later."""


def token_fetchers(api: Callable[[], WechatApi | None], app_id: str, app_secret: str,
                   endpoint: str) -> tuple[Fetch, Fetch | None]:
    """`fetch` and `force_fetch` for a SharedToken on `wechat.token_endpoint`; `api` gives
    the client once it exists (it is made after the SharedToken it uses)."""

    def client() -> WechatApi:
        made = api()
        assert made is not None, "the WeChat client is made before the first fetch"
        return made

    if endpoint == "classic":
        async def classic() -> tuple[str, int]:
            return await client().fetch_token(app_id, app_secret)
        return classic, None

    async def normal() -> tuple[str, int]:
        return await client().fetch_stable_token(app_id, app_secret)

    async def force() -> tuple[str, int]:
        return await client().fetch_stable_token(app_id, app_secret, force_refresh=True)

    return normal, force


class SharedToken:
    """`fetch` gets a token; `force_fetch`, given for the stable endpoint, forces a new one
    (and says `fetch` is the stable endpoint's normal mode)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], app_id: str, fetch: Fetch,
                 clock: Clock, *, force_fetch: Fetch | None = None,
                 force_limit: int = token_store.FORCE_REFRESHES_A_DAY):
        self._sessions = sessions
        self._app_id = app_id
        self._fetch = fetch
        self._force_fetch = force_fetch
        self._force_limit = force_limit
        self._ahead = STABLE_REFRESH_AHEAD if force_fetch else REFRESH_AHEAD
        self._clock = clock
        self._lock = asyncio.Lock()
        self._cached: str | None = None
        self._cached_until: datetime | None = None
        self.refreshes = 0  # by this process
        self.force_refreshes = 0  # by this process (the row counts all of them)

    def _usable(self, token: str | None, expires_at: datetime | None, now: datetime) -> bool:
        return bool(token) and expires_at is not None and expires_at - self._ahead > now

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
        self._cached_until = min(now + timedelta(seconds=CACHE_S), expires_at - self._ahead)
        return token

    async def _refresh(self, bad_token: str | None = None) -> str:
        """Fetch a new token, one process at a time, without holding a transaction (on
        SQLite, the database's write lock) across the calls to WeChat."""
        found = await self._take_lease(bad_token)
        if found is not None:
            return found
        try:
            token, expires_in = await self._fetch_replacing(bad_token)
        except BaseException as exc:
            refused = isinstance(exc, ForceRefreshRefused)
            metrics.TOKEN_REFRESHES.labels("force_refused" if refused else "error").inc()
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

    async def _take_lease(self, bad_token: str | None) -> str | None:
        """Mark the row as being refreshed by this process (None), or the token to use: one
        another process stored meanwhile, or the still valid one while it fetches."""
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
                    return None
                if (row.token and row.token != bad_token and row.expires_at
                        and row.expires_at > now):
                    return row.token  # still valid while another process fetches
            if time.monotonic() > give_up:
                raise WechatNetworkError("another process is still refreshing the token")
            await asyncio.sleep(0.2)

    async def _fetch_replacing(self, bad_token: str | None) -> tuple[str, int]:
        token, expires_in = await self._fetch()
        if bad_token is None or token != bad_token or self._force_fetch is None:
            return token, expires_in
        # WeChat still hands out the very token it refused: only a force refresh replaces it.
        await self._spend_force_refresh()
        token, expires_in = await self._force_fetch()
        self.force_refreshes += 1
        if token == bad_token:
            log.warning("access token: WeChat answered a force refresh with the token it "
                        "refused; sends will be retried later")
            raise ForceRefreshRefused("the force refresh gave back the refused token")
        log.warning("access token force-refreshed: WeChat refused the token it still "
                    "handed out")
        return token, expires_in

    async def _spend_force_refresh(self) -> None:
        """Count a force refresh in the row (all instances share the day's limit) and renew
        the lease for the second call; refuse when the limit or the 30 s spacing says no."""
        async with self._sessions() as session, session.begin():
            row = await token_store.lock(session, self._app_id)
            now = self._clock.now()
            why = token_store.force_refusal(row, now, self._force_limit)
            if why is None:
                token_store.spend_force_refresh(row, now)
                row.refreshing_until = now + REFRESH_LEASE
                session.add(row)
                return
        if why == "daily limit":
            log.warning("access token refused by WeChat, which still hands it out, and the "
                        "%d force refreshes of today (Asia/Shanghai) are spent: no refresh "
                        "until tomorrow; sends will be retried later", self._force_limit)
        else:
            log.warning("access token refused by WeChat, which still hands it out; the last "
                        "force refresh was under 30 s ago: sends will be retried later")
        raise ForceRefreshRefused(f"force refresh refused here: {why}")
