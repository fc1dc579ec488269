"""/api/v1/notices: a notice to an audience, now or at a time; its delivery counts."""

from __future__ import annotations

from aiohttp import web

from bot import texts as T
from bot.web.api import TokenApi, json_error
from models import notice as notices
from models.views import notices as views


class NoticeApi(TokenApi):
    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/notices", self.create)
        app.router.add_get("/api/v1/notices/{id:\\d{1,9}}", self.read)  # 32-bit ids

    async def create(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        data = await self._json_object(request, lines=("title", "url", "audience"),
                                       bodies=("body",))
        key = request.headers.get("Idempotency-Key", "").strip() or None
        try:
            done = await notices.submit(self._sessions, data, self._clock.now(),
                                        client_key=key, created_by="api")
        except notices.NoticeError as exc:
            status = web.HTTPConflict if exc.code == "key_reused" else web.HTTPBadRequest
            raise json_error(status, T.notice_error(exc.code, exc.details)) from None
        if done.created:
            self._wake_worker()
        async with self._sessions() as session:
            result = await views.delivery(session, done.notice_id)
        return web.json_response(result, status=201 if done.created else 200)

    async def read(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        async with self._sessions() as session:
            result = await views.delivery(session, int(request.match_info["id"]))
        if result is None:
            raise json_error(web.HTTPNotFound, "no such notice")
        return web.json_response(result)
