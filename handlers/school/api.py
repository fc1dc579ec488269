"""/api/v1/courses: 小哥党校 courses for integrations and admins, behind the API token or an
admin's console session. A change to a course's time or status re-plans its reminders."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from bot import texts as T
from bot.clock import SHANGHAI
from bot.web.api import TokenApi, json_error
from handlers.school.wording import COURSE_TEXTS
from models import course as courses
from models import course_attendance as attendance
from models import course_lifecycle as lifecycle
from models import notice as notices
from models.course import Course, CourseError
from models.course_import import BadRow, parse_row, reason
from models.views import courses as course_views
from models.views import notices as notice_views

CODE = "{code:[A-Za-z0-9-]{1,16}}"
log = logging.getLogger(__name__)
STATUS_OF = {"cancelled": web.HTTPConflict, "ended": web.HTTPConflict,
             "unpublish": web.HTTPConflict, "code_taken": web.HTTPConflict}


def _local(dt: Any) -> str:
    return dt.astimezone(SHANGHAI).isoformat()


def describe(c: Course, counts: dict[str, int] | None = None) -> dict[str, Any]:
    counts = counts or {}
    return {
        "code": c.code, "title": c.title, "instructor": c.instructor,
        "description": c.description, "start": _local(c.start_at), "end": _local(c.end_at),
        "place": c.place, "lat": c.lat, "lng": c.lng, "radius_m": c.radius_m,
        "online_url": c.online_url, "capacity": c.capacity, "hours": c.hours,
        "audience": c.audience, "status": c.status, "qr_scene": f"crs:{c.code}",
        "enrolled": counts.get("enrolled", 0), "waitlist": counts.get("waitlist", 0),
    }


def _as_row(c: Course) -> dict[str, Any]:
    """A course as the fields parse_row reads, for merging an edit into."""
    return {"code": c.code, "title": c.title, "instructor": c.instructor,
            "description": c.description, "start": _local(c.start_at), "end": _local(c.end_at),
            "place": c.place, "lat": c.lat, "lng": c.lng, "radius_m": c.radius_m,
            "online_url": c.online_url, "capacity": c.capacity, "hours": c.hours,
            "audience": c.audience, "status": "draft" if c.status == "draft" else "published"}


def _refused(err: CourseError) -> web.HTTPException:
    return json_error(STATUS_OF.get(err.reason, web.HTTPBadRequest), reason(err))


# The text fields of a course and of a notice (checked by models/text.py).
COURSE_LINES = ("code", "title", "instructor", "place", "online_url", "audience",
                "status")
NOTICE_LINES = ("title", "url")


class CourseApi(TokenApi):
    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/courses", self.list)
        app.router.add_post("/api/v1/courses", self.create)
        app.router.add_get(f"/api/v1/courses/{CODE}", self.read)
        app.router.add_post(f"/api/v1/courses/{CODE}", self.edit)
        app.router.add_post(f"/api/v1/courses/{CODE}/publish", self.publish)
        app.router.add_post(f"/api/v1/courses/{CODE}/move", self.move)
        app.router.add_post(f"/api/v1/courses/{CODE}/cancel", self.cancel)
        app.router.add_post(f"/api/v1/courses/{CODE}/notices", self.notice)

    def _parse(self, raw: dict[str, Any]) -> courses.CourseData:
        try:
            return parse_row(raw, self._services.settings.checkin.default_radius_m)
        except BadRow as err:
            raise json_error(web.HTTPBadRequest, str(err)) from None

    async def _changed(self) -> None:
        """After a commit: the pushes it queued sent now (its reminders were planned as due
        rows in the same transaction)."""
        self._wake_worker()

    @property
    def _offsets(self) -> Any:
        return self._services.settings.school.reminder_offsets

    @staticmethod
    async def _counts(session: Any, c: Course) -> dict[str, int]:
        return await course_views.enrolment_counts(session, c)

    async def _get(self, session: Any, request: web.Request, lock: bool = False) -> Course:
        c = await courses.by_code(session, request.match_info["code"], lock=lock)
        if c is None:
            raise json_error(web.HTTPNotFound, "no such course")
        return c

    async def list(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        status = request.query.get("status")
        if status is not None and status not in courses.STATUSES:
            raise json_error(web.HTTPBadRequest,
                             f"status must be one of {', '.join(courses.STATUSES)}")
        async with self._sessions() as session:
            found = await course_views.course_list(session, status)
            return web.json_response({"courses": [
                describe(c, await self._counts(session, c)) for c in found]})

    async def create(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        data = self._parse(await self._json_object(request, lines=COURSE_LINES,
                                                   bodies=("description",)))
        async with self._sessions() as session, session.begin():
            try:
                c = await lifecycle.create(session, data, self._clock.now(), by="api",
                                         offsets=self._offsets)
            except CourseError as err:
                raise _refused(err) from None
            result = describe(c)
        await self._changed()
        return web.json_response(result, status=201)

    async def read(self, request: web.Request) -> web.Response:
        """The course with its enrollees: present and absent (after or during the course),
        and the waitlist in order."""
        await self._authorize(request)
        async with self._sessions() as session:
            c = await self._get(session, request)
            r = await attendance.roll(session, c)
            return web.json_response({**describe(c, await self._counts(session, c)),
                                      "present": r.present, "absent": r.absent,
                                      "waitlist_names": r.waitlist})

    async def edit(self, request: web.Request) -> web.Response:
        """Any of the course file's fields; those not given keep their value."""
        await self._authorize(request)
        given = await self._json_object(request, lines=COURSE_LINES, bodies=("description",))
        if "code" in given and str(given["code"]).upper() != request.match_info["code"].upper():
            raise json_error(web.HTTPBadRequest, "code cannot be changed")
        async with self._sessions() as session, session.begin():
            c = await self._get(session, request, lock=True)
            data = self._parse({**_as_row(c), **given, "code": c.code})
            try:
                changed = await lifecycle.update_course(session, c, data, self._clock.now(),
                                                      COURSE_TEXTS, offsets=self._offsets)
            except CourseError as err:
                raise _refused(err) from None
            result = {**describe(c, await self._counts(session, c)), "changed": changed}
        await self._changed()
        return web.json_response(result)

    async def publish(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        async with self._sessions() as session, session.begin():
            c = await self._get(session, request, lock=True)
            try:
                await lifecycle.publish(session, c, self._clock.now(), offsets=self._offsets)
            except CourseError as err:
                raise _refused(err) from None
            result = describe(c)
        await self._changed()
        return web.json_response(result)

    async def move(self, request: web.Request) -> web.Response:
        """{"start", "end"}: the enrollees and the waitlist are told; reminders follow."""
        await self._authorize(request)
        given = await self._json_object(request)
        if not {"start", "end"} <= given.keys():
            raise json_error(web.HTTPBadRequest, "start and end are required")
        async with self._sessions() as session, session.begin():
            c = await self._get(session, request, lock=True)
            data = self._parse({**_as_row(c), "start": given["start"], "end": given["end"]})
            try:
                await lifecycle.move(session, c, data.start, data.end, self._clock.now(),
                                   T.COURSE_MOVED, offsets=self._offsets)
            except CourseError as err:
                raise _refused(err) from None
            result = describe(c, await self._counts(session, c))
        await self._changed()
        return web.json_response(result)

    async def cancel(self, request: web.Request) -> web.Response:
        await self._authorize(request)
        async with self._sessions() as session, session.begin():
            c = await self._get(session, request, lock=True)
            try:
                await lifecycle.cancel(session, c, self._clock.now(), T.COURSE_CANCELLED)
            except CourseError as err:
                raise _refused(err) from None
            result = describe(c, await self._counts(session, c))
        await self._changed()
        return web.json_response(result)

    async def notice(self, request: web.Request) -> web.Response:
        """An instructor's notice to the course's enrollees: a notice whose audience is
        course:CODE (Idempotency-Key honoured, counts at /api/v1/notices/ID)."""
        await self._authorize(request)
        given = await self._json_object(request, lines=NOTICE_LINES, bodies=("body",))
        async with self._sessions() as session:
            c = await self._get(session, request)
        if c.status != "published":
            raise json_error(web.HTTPConflict, "only a published course's enrollees are told")
        key = request.headers.get("Idempotency-Key", "").strip() or None
        try:
            done = await notices.submit(self._sessions, {**given, "audience": f"course:{c.code}"},
                                        self._clock.now(), client_key=key, created_by="api")
        except notices.NoticeError as exc:
            status = web.HTTPConflict if exc.code == "key_reused" else web.HTTPBadRequest
            raise json_error(status, T.notice_error(exc.code, exc.details)) from None
        if done.created:
            self._wake_worker()
        async with self._sessions() as session:
            result = await notice_views.delivery(session, done.notice_id)
        return web.json_response(result, status=201 if done.created else 200)
