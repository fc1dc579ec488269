"""Console sessions: an encrypted cookie (aiohttp-session with Fernet) that holds the user's
id, the account's session version and stamp at login, a CSRF token and when it was last
used. The same cookie authenticates /api/v1 calls from the console's pages (with the CSRF
token in a header).

The server can end sessions: every request reads the account, and a cookie whose version
or stamp no longer matches it is dead. Logout, a new password, role or scope, and
disabling raise the account's version (models/staff.py `end_sessions`), so a copied cookie
dies with all the others on every device."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any

from aiohttp import web
from aiohttp_session import Session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.settings import Settings
from models import staff
from models.staff import ConsoleUser

log = logging.getLogger(__name__)

COOKIE = "xiaoge_console"
SESSION = web.RequestKey("console_session", Session)
USER: web.RequestKey[ConsoleUser | None] = web.RequestKey("console_user")  # None: not logged in
DIRTY = web.RequestKey("console_dirty", bool)
EXPIRED = web.RequestKey("console_expired", bool)
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"


def fernet_key(secret: str) -> bytes:
    """32 key bytes from the configured secret of any length (aiohttp-session encodes them
    for Fernet)."""
    return hashlib.sha256(b"xiaoge-console:" + secret.encode()).digest()


def storage_for(settings: Settings) -> EncryptedCookieStorage:
    return EncryptedCookieStorage(
        fernet_key(settings.console.secret_key), cookie_name=COOKIE, httponly=True,
        samesite="Lax", secure=settings.cookie_secure, path="/",
        max_age=int(settings.console.session_idle.total_seconds()))


class Auth:
    """Who is asking: the console user of a request's session cookie, if it is valid."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession],
                 clock: Clock):
        self.storage = storage_for(settings)
        self._sessions = sessions
        self._clock = clock
        self._idle_s = settings.console.session_idle.total_seconds()

    async def session(self, request: web.Request) -> Session:
        if (cached := request.get(SESSION)) is not None:
            return cached
        session = await self.storage.load_session(request)
        request[SESSION] = session
        return session

    async def user(self, request: web.Request) -> ConsoleUser | None:
        """The logged-in, active user; None when not logged in, idle too long or ended by
        the server (logout, a change to the account: then the session is marked expired
        for the login page to say so)."""
        if USER in request:
            return request[USER]
        session = await self.session(request)
        user = None
        uid, seen = session.get("uid"), session.get("seen", 0)
        now = self._clock.now().timestamp()
        if isinstance(uid, int):
            if now - float(seen) > self._idle_s:
                request[EXPIRED] = True
            else:
                async with self._sessions() as db:
                    found = await db.get(ConsoleUser, uid)
                if found is not None and _still_valid(session, found):
                    user = found
                    if now - float(seen) > 60:  # refresh "last used" now and then, not always
                        session["seen"] = now
                        request[DIRTY] = True
                else:  # ended by the server (logout elsewhere, a change, disabled)
                    request[EXPIRED] = True
        request[USER] = user
        return user

    async def login(self, request: web.Request, response: web.StreamResponse,
                    user: ConsoleUser) -> None:
        """A fresh session (a new CSRF token: nothing from before the login survives)."""
        session = Session(None, data=None, new=True, max_age=self.storage.max_age)
        session["uid"] = user.id
        session["v"] = user.session_version
        session["st"] = staff.session_stamp(user)
        session["csrf"] = secrets.token_urlsafe(24)
        session["seen"] = self._clock.now().timestamp()
        await self.storage.save_session(request, response, session)
        request[DIRTY] = False  # the old session is not written over the new one

    async def logout(self, request: web.Request, response: web.StreamResponse) -> None:
        """End every session of the user (this cookie, its copies, other devices) and
        clear this cookie."""
        user = await self.user(request)
        if user is not None and user.id is not None:
            async with self._sessions() as db, db.begin():
                await staff.end_sessions(db, user.id)
            log.info("console logout: user %s, all its sessions ended", user.id)
        session = await self.session(request)
        session.invalidate()
        await self.storage.save_session(request, response, session)
        request[DIRTY] = False

    async def csrf_token(self, request: web.Request) -> str:
        """The session's CSRF token (a session without one gets one, e.g. the login form)."""
        session = await self.session(request)
        token = session.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(24)
            session["csrf"] = token
            request[DIRTY] = True
        return token

    async def csrf_ok(self, request: web.Request, given: Any) -> bool:
        token = (await self.session(request)).get("csrf")
        return (isinstance(token, str) and isinstance(given, str)
                and hmac.compare_digest(token.encode(), given.encode()))

    async def save_if_changed(self, request: web.Request, response: web.StreamResponse
                              ) -> None:
        session = request.get(SESSION)
        if session is not None and request.get(DIRTY):
            await self.storage.save_session(request, response, session)


def _still_valid(session: Session, user: ConsoleUser) -> bool:
    """The account is active and unchanged since this session was opened."""
    return (user.active and session.get("v") == user.session_version
            and session.get("st") == staff.session_stamp(user))
