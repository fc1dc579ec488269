"""/api/v1: the JSON API (notices for now), behind a bearer token from config."""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import SHANGHAI, Clock
from models import notice as notices
from models import outbox


def json_error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}, ensure_ascii=False),
                  content_type="application/json")


def parse_time(value: Any) -> datetime | None:
    """ISO 8601; Asia/Shanghai when no offset is given."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise notices.NoticeError("at 须为 ISO 8601 时间，如 2026-12-01T09:00")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise notices.NoticeError("at 须为 ISO 8601 时间，如 2026-12-01T09:00") from None
    return when if when.tzinfo else when.replace(tzinfo=SHANGHAI)


def _storable(data: Any) -> bool:
    """No string in the JSON holds what the database cannot store as text: a NUL
    (PostgreSQL refuses it) or half of a surrogate pair (not UTF-8 at all)."""
    stack = [data]
    while stack:  # not recursive: JSON nests deeper than Python recurses
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode()
            except UnicodeEncodeError:
                return False
    return True


class TokenApi:
    """A part of /api/v1 behind the bearer token from config (until the console's logins)."""

    def __init__(self, token: str, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 services: Any):
        self._token = token
        self._sessions = sessions
        self._clock = clock
        self._services = services  # its worker exists once the app has started
        self._console: Any = None  # the console's session reader, made when first needed

    async def _authorize(self, request: web.Request) -> None:
        """The bearer token (integrations), or an admin's console session (the console's
        own scripts; a write also needs the session's X-CSRF-Token header)."""
        header = request.headers.get("Authorization")
        if header is None and await self._console_session(request):
            return
        given = (header or "").removeprefix("Bearer ").strip()
        try:
            ok = bool(given) and hmac.compare_digest(given.encode(), self._token.encode())
        except UnicodeEncodeError:  # bytes that are not UTF-8 are not the token either
            ok = False
        if not ok:
            raise json_error(web.HTTPUnauthorized, "missing or wrong API token")

    async def _console_session(self, request: web.Request) -> bool:
        """True for an admin's session (with the CSRF token on a write); False when there is
        no console cookie; raises for one that may not use the API."""
        from bot.console.auth import COOKIE, CSRF_HEADER, Auth

        if COOKIE not in request.cookies:
            return False
        if self._console is None:
            self._console = Auth(self._services.settings, self._sessions, self._clock)
        user = await self._console.user(request)
        if user is None:
            raise json_error(web.HTTPUnauthorized, "the console session has expired")
        if user.role != "admin":  # other roles work through the console's pages
            raise json_error(web.HTTPForbidden, "the JSON API is for admins and the API token")
        if request.method not in ("GET", "HEAD") and not await self._console.csrf_ok(
                request, request.headers.get(CSRF_HEADER)):
            raise json_error(web.HTTPForbidden, "missing or wrong X-CSRF-Token header")
        return True

    @staticmethod
    async def _json_object(request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
            raise json_error(web.HTTPBadRequest, "body must be JSON") from None
        if not isinstance(data, dict):
            raise json_error(web.HTTPBadRequest, "body must be a JSON object")
        if not _storable(data):
            raise json_error(web.HTTPBadRequest,
                             "text must be valid Unicode without NUL characters")
        return data

    def _wake_worker(self) -> None:
        if getattr(self._services, "worker", None):
            self._services.worker.wake()


class NoticeApi(TokenApi):
    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/notices", self.create)
        app.router.add_get("/api/v1/notices/{id:\\d{1,9}}", self.read)  # 32-bit ids

    async def create(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        return await self.create_from(request, await self._json_object(request))

    async def create_from(self, request: web.Request, data: dict[str, Any]) -> web.Response:
        """A notice from a JSON object (the caller has authorized the request)."""
        for key in ("title", "body", "audience"):
            if not isinstance(data.get(key), str):
                raise json_error(web.HTTPBadRequest, f"{key} is required (a string)")
        url = data.get("url")
        if url is not None and not isinstance(url, str):
            raise json_error(web.HTTPBadRequest, "url must be a string")
        key = request.headers.get("Idempotency-Key", "").strip() or None
        if key is not None and len(key) > 100:
            raise json_error(web.HTTPBadRequest, "Idempotency-Key is at most 100 characters")
        try:  # a request is checked whole before a known key replays the first answer
            send_at = parse_time(data.get("at"))
            if send_at is not None and not 2000 <= send_at.year <= 2100:
                raise notices.NoticeError("at 须在 2000–2100 年之间")
            notices.validate(data["title"], data["body"], url)
        except notices.NoticeError as exc:
            raise json_error(web.HTTPBadRequest, str(exc)) from None
        if key is not None and (again := await self._replay(key, data)) is not None:
            return web.json_response(again, status=200)
        try:
            async with self._sessions() as session, session.begin():
                notice = await notices.create(
                    session, data["title"], data["body"], data["audience"], self._clock.now(),
                    url=url, send_at=send_at, created_by="api", client_key=key)
                result = await self._describe(session, notice)
        except notices.NoticeError as exc:
            raise json_error(web.HTTPBadRequest, str(exc)) from None
        except IntegrityError:  # the same key, sent twice at once: the other one won
            again = await self._replay(key or "", data)
            if again is None:
                raise
            return web.json_response(again, status=200)
        self._wake_worker()
        return web.json_response(result, status=201)

    async def _replay(self, key: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """The notice made under this key, or None; 409 if it was made for another
        notice (say, another course's enrollees)."""
        async with self._sessions() as session:
            notice = await notices.by_client_key(session, key)
            if notice is None:
                return None
            if (notice.title, notice.body, notice.audience) != (
                    data["title"].strip(), data["body"].strip(), data["audience"].strip()):
                raise json_error(web.HTTPConflict,
                                 "Idempotency-Key was already used for a different notice")
            return await self._describe(session, notice)

    async def read(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        async with self._sessions() as session:
            notice = await notices.get(session, int(request.match_info["id"]))
            if notice is None:
                raise json_error(web.HTTPNotFound, "no such notice")
            return web.json_response(await self._describe(session, notice))

    @staticmethod
    async def _describe(session: AsyncSession, notice: notices.Notice) -> dict[str, Any]:
        return {
            "id": notice.id,
            "title": notice.title,
            "audience": notice.audience,
            "status": notice.status,
            "send_at": notice.send_at.isoformat(),
            "recipients": notice.recipients,
            "counts": await outbox.counts(session, notice.subject),
        }
