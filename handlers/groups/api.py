"""/api/v1 for groups and their activities, behind the API token or an admin's console
session (the console's own pages are in console.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import texts as T
from bot.web.api import BadTime, TokenApi, json_error, parse_time
from models import activity as activities
from models import geo
from models import group as groups
from models.activity import Activity

CODE = "{code:[A-Za-z0-9]{1,16}}"
GROUP_REASONS = {
    "name_length": "name must be 2 to 40 characters",
    "industry": f"industry must be one of {', '.join(groups.COMMITTEES)}",
    "name_taken": "a group of that name exists",
    "leader": "leader must be a console account of role leader",
}
ACTIVITY_REASONS = {
    "kind": f"kind must be one of {', '.join(activities.KINDS)}",
    "topic": "topic must be 2 to 60 characters",
    "past": "start must be in the future",
    "times": "end must be after start, at most 12 hours later",
    "cancelled": "the activity is cancelled",
}


def _activity(a: Activity) -> dict[str, Any]:
    return {"id": a.id, "code": a.code, "kind": a.kind, "topic": a.topic,
            "start": a.start_at.isoformat(), "end": a.end_at.isoformat(), "place": a.place,
            "lat": a.lat, "lng": a.lng, "radius_m": a.radius_m, "online_url": a.online_url,
            "status": a.status, "qr_scene": f"act:{a.id}"}


_GROUP_LINES = ("name", "industry", "leader")
_ACTIVITY_LINES = ("kind", "topic", "place", "online_url")
_GROUP_LIMITS = {"description": groups.DESCRIPTION_MAX}


class GroupApi(TokenApi):
    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/groups", self.create_group)
        # Invite codes are letters and digits: anything else is not looked up at all.
        app.router.add_post(f"/api/v1/groups/{CODE}", self.edit_group)
        app.router.add_post(f"/api/v1/groups/{CODE}/regenerate-code", self.regenerate)
        app.router.add_post(f"/api/v1/groups/{CODE}/activities", self.schedule)
        # Ids are 32-bit integers in the database: longer numbers are simply not found.
        app.router.add_get("/api/v1/activities/{id:\\d{1,9}}", self.read)
        app.router.add_post("/api/v1/activities/{id:\\d{1,9}}/move", self.move)
        app.router.add_post("/api/v1/activities/{id:\\d{1,9}}/cancel", self.cancel)

    @staticmethod
    def _times(data: dict[str, Any]) -> tuple[Any, Any]:
        try:
            start, end = parse_time(data.get("start")), parse_time(data.get("end"))
        except BadTime:
            raise json_error(web.HTTPBadRequest,
                             "start and end must be ISO 8601 times") from None
        if start is None or end is None:
            raise json_error(web.HTTPBadRequest, "start and end are required")
        if not (2000 <= start.year <= 2100 and 2000 <= end.year <= 2100):
            raise json_error(web.HTTPBadRequest, "start and end must fall in 2000–2100")
        return start, end

    async def create_group(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        data = await self._json_object(request, lines=_GROUP_LINES, bodies=("description",),
                                       limits=_GROUP_LIMITS)
        name, industry, leader = data.get("name"), data.get("industry"), data.get("leader")
        if not isinstance(name, str) or not isinstance(industry, str) or not isinstance(
                leader, str | None):
            raise json_error(web.HTTPBadRequest, "name and industry are required strings")
        async with self._sessions() as session, session.begin():
            try:
                group = await groups.create(session, name, industry, self._clock.now(), leader,
                                            str(data.get("description") or ""))
            except groups.GroupError as err:
                raise json_error(web.HTTPBadRequest, GROUP_REASONS[err.reason]) from None
            return web.json_response({"code": group.code, "name": group.name,
                                      "industry": group.industry}, status=201)

    async def edit_group(self, request: web.Request) -> web.Response:
        """{"name"?, "industry"?, "description"?, "leader"?}: change what is given."""
        await self._authorize(request)
        data = await self._json_object(request, lines=_GROUP_LINES, bodies=("description",),
                                       limits=_GROUP_LIMITS)
        fields = {k: data[k] for k in ("name", "industry", "description", "leader") if k in data}
        if not fields or not all(isinstance(v, str) for v in fields.values()):
            raise json_error(web.HTTPBadRequest,
                             "give name, industry, description or leader as strings")
        async with self._sessions() as session, session.begin():
            group = await groups.by_code(session, request.match_info["code"])
            if group is None:
                raise json_error(web.HTTPNotFound, "no such group")
            try:
                await groups.edit(session, group, **fields)
            except groups.GroupError as err:
                raise json_error(web.HTTPBadRequest, GROUP_REASONS[err.reason]) from None
            return web.json_response({"code": group.code, "name": group.name,
                                      "industry": group.industry,
                                      "description": group.description})

    async def regenerate(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        async with self._sessions() as session, session.begin():
            group = await groups.by_code(session, request.match_info["code"])
            if group is None:
                raise json_error(web.HTTPNotFound, "no such group")
            return web.json_response({"code": await groups.regenerate_code(session, group)})

    async def schedule(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        data = await self._json_object(request, lines=_ACTIVITY_LINES,
                                       limits={"place": activities.PLACE_MAX})
        start, end = self._times(data)
        point = None
        if data.get("lat") is not None or data.get("lng") is not None:
            lat, lng = data.get("lat"), data.get("lng")
            try:
                if not all(isinstance(v, int | float) and not isinstance(v, bool)
                           for v in (lat, lng)):
                    raise ValueError
                point = geo.check(float(lat), float(lng))  # type: ignore[arg-type]
            except (OverflowError, ValueError):
                raise json_error(web.HTTPBadRequest, "lat and lng must be a place") from None
        url = data.get("online_url")
        if url is not None and not (isinstance(url, str) and len(url) <= 512
                                    and url.startswith(("https://", "http://"))):
            raise json_error(web.HTTPBadRequest,
                             "online_url must be an http(s) link of at most 512 characters")
        for key in ("kind", "topic", "place"):
            if key in data and not isinstance(data[key], str):
                raise json_error(web.HTTPBadRequest, f"{key} must be a string")
        radius = data.get("radius_m", 200)
        if not isinstance(radius, int) or not 10 <= radius <= 5000:
            raise json_error(web.HTTPBadRequest, "radius_m must be 10 to 5000")
        async with self._sessions() as session, session.begin():
            group = await groups.by_code(session, request.match_info["code"])
            if group is None:
                raise json_error(web.HTTPNotFound, "no such group")
            try:
                a = await activities.schedule(
                    session, group, str(data.get("kind", "")), str(data.get("topic", "")),
                    start, end, self._clock.now(), place=str(data.get("place") or ""),
                    point=point, radius_m=radius, online_url=url or None,
                    by="api", text=T.ACTIVITY_NEW,
                    offsets=self._services.settings.school.reminder_offsets)
            except activities.ActivityError as err:
                raise json_error(web.HTTPBadRequest, ACTIVITY_REASONS[err.reason]) from None
            result = _activity(a)
        self._wake_worker()
        return web.json_response(result, status=201)

    async def _get(self, session: Any, request: web.Request) -> Activity:
        a = await session.get(Activity, int(request.match_info["id"]))
        if a is None:
            raise json_error(web.HTTPNotFound, "no such activity")
        return a

    async def read(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        async with self._sessions() as session:
            a = await self._get(session, request)
            r = await activities.roll(session, a)
            return web.json_response({**_activity(a), "present": r.present,
                                      "leave": [{"name": n, "reason": w} for n, w in r.leave],
                                      "absent": r.absent})

    async def move(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        start, end = self._times(await self._json_object(request))
        async with self._sessions() as session, session.begin():
            a = await self._get(session, request)
            try:
                await activities.move(session, a, start, end, self._clock.now(),
                                      T.ACTIVITY_MOVED,
                                      self._services.settings.school.reminder_offsets)
            except activities.ActivityError as err:
                raise json_error(web.HTTPConflict if err.reason == "cancelled"
                                 else web.HTTPBadRequest, ACTIVITY_REASONS[err.reason]) from None
            result = _activity(a)
        self._wake_worker()
        return web.json_response(result)

    async def cancel(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        async with self._sessions() as session, session.begin():
            a = await self._get(session, request)
            try:
                await activities.cancel(session, a, self._clock.now(), T.ACTIVITY_CANCELLED)
            except activities.ActivityError as err:
                raise json_error(web.HTTPConflict, ACTIVITY_REASONS[err.reason]) from None
            result = _activity(a)
        self._wake_worker()
        return web.json_response(result)
