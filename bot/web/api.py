"""What every part of /api/v1 shares: the bearer token (or an admin's console session),
JSON bodies checked before use, and errors as JSON with a reason."""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import SHANGHAI, Clock
from bot.web.auth import COOKIE, CSRF_HEADER, Auth
from models.text import BadText, TooLong, check_text


def json_error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}, ensure_ascii=False),
                  content_type="application/json")


@web.middleware
async def too_long_is_400(request: web.Request, handler: Any) -> web.StreamResponse:
    """A text an /api/v1 caller gave past its field's maximum, found only when it was
    written (models/text.py guard): a 400 naming the field and the limit, not a 500."""
    try:
        return await handler(request)
    except TooLong as err:
        if not request.path.startswith("/api/"):
            raise
        raise json_error(web.HTTPBadRequest, f"{err.column} must be at most {err.limit} "
                                             f"characters ({err.length} given)") from None


BAD_TIME = "at 须为 ISO 8601 时间，如 2026-12-01T09:00"


class BadTime(ValueError):
    """A time that is not ISO 8601."""


def parse_time(value: Any) -> datetime | None:
    """ISO 8601; Asia/Shanghai when no offset is given."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise BadTime(BAD_TIME)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise BadTime(BAD_TIME) from None
    return when if when.tzinfo else when.replace(tzinfo=SHANGHAI)


def bad_text(name: str, err: BadText) -> web.HTTPException:
    return json_error(web.HTTPBadRequest,
                      f"{name} must not contain control or invisible characters ({err})")


def check_query(request: web.Request) -> None:
    """Every query value is single-line text: a control or invisible character anywhere
    in it (before any trimming) is a 400 (models/text.py)."""
    for name, value in request.query.items():
        try:
            check_text(name)
            check_text(value)
        except BadText as err:
            raise bad_text(name if name.isprintable() else "a query parameter", err) from None


def check_fields(data: dict[str, Any], lines: tuple[str, ...] = (),
                 bodies: tuple[str, ...] = ()) -> None:
    """The named text fields of a JSON object: `lines` single-line, `bodies` multi-line
    (tab and line breaks allowed); other types are left to the handler."""
    for names, multiline in ((lines, False), (bodies, True)):
        for name in names:
            value = data.get(name)
            if isinstance(value, str):
                try:
                    check_text(value, multiline=multiline)
                except BadText as err:
                    raise bad_text(name, err) from None


def check_lengths(data: dict[str, Any], limits: dict[str, int]) -> None:
    """A 400 naming the field and its maximum (in characters, surrounding spaces not
    counted) for the first text field of `data` longer than `limits` allows."""
    for name, limit in limits.items():
        value = data.get(name)
        if isinstance(value, str) and len(value.strip()) > limit:
            raise json_error(web.HTTPBadRequest, f"{name} must be at most {limit} characters "
                                                 f"({len(value.strip())} given)")


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
    """A part of /api/v1 behind the bearer token from config, or an admin's console session."""

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
            check_query(request)
            return
        given = (header or "").removeprefix("Bearer ").strip()
        try:
            ok = bool(given) and hmac.compare_digest(given.encode(), self._token.encode())
        except UnicodeEncodeError:  # bytes that are not UTF-8 are not the token either
            ok = False
        if not ok:
            raise json_error(web.HTTPUnauthorized, "missing or wrong API token")
        check_query(request)

    async def _console_session(self, request: web.Request) -> bool:
        """True for an admin's session (with the CSRF token on a write); False when there is
        no console cookie; raises for one that may not use the API."""
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
    async def _json_object(request: web.Request, lines: tuple[str, ...] = (),
                           bodies: tuple[str, ...] = (),
                           limits: dict[str, int] | None = None) -> dict[str, Any]:
        """The body as a JSON object; its text fields `lines` (single-line) and `bodies`
        (multi-line) checked with models/text.py before anything trims them, and those
        named in `limits` against their maximum (check_lengths)."""
        try:
            data = await request.json()
        except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
            raise json_error(web.HTTPBadRequest, "body must be JSON") from None
        if not isinstance(data, dict):
            raise json_error(web.HTTPBadRequest, "body must be a JSON object")
        if not _storable(data):
            raise json_error(web.HTTPBadRequest,
                             "text must be valid Unicode without NUL characters")
        check_fields(data, lines, bodies)
        check_lengths(data, limits or {})
        return data

    def _wake_worker(self) -> None:
        if getattr(self._services, "worker", None):
            self._services.worker.wake()
