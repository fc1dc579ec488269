"""/api/v1/notices: a notice to an audience, now or at a time; its delivery counts."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web.api import BadTime, TokenApi, json_error, parse_time
from models import notice as notices
from models import outbox


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
        except (BadTime, notices.NoticeError) as exc:
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
