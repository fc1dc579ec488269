"""The OpenAPI 3.1 document of /api/v1, served at GET /api/v1/openapi.json (no token needed).

It describes what the handlers in bot/api.py, bot/report_api.py, bot/group_api.py and
bot/course_api.py really accept and answer; tests/test_openapi.py holds it to that with
schemathesis against a running server, and checks that every /api/v1 route is described.
Enums and limits come from the code that enforces them, so the two cannot drift apart.

Open311 (GeoReport v2, public and read-only) lives under its own prefix, /open311/v2, with
its own error format, and is not part of this document.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from handlers.reports import api as report_api
from models import activity as activities
from models import course as courses
from models import group as groups
from models import notice as notices
from models import outbox
from models import report as reports
from models.member import INDUSTRIES
from models.staff import CODE_ALPHABET

PREFIX = "/api/v1"
JSON = "application/json"

_dumps = functools.partial(json.dumps, ensure_ascii=False)


# --- small builders ------------------------------------------------------------------------


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema["type"]
    return {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Any], required: list[str] | None = None,
         description: str | None = None, closed: bool = False) -> dict[str, Any]:
    """An object schema; `closed` for responses (the server sends exactly these keys)."""
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    if description:
        out["description"] = description
    if closed:
        out["additionalProperties"] = False
    return out


def _answer(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _body(schema: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"required": True, "content": {JSON: {"schema": schema}}}
    if description:
        out["description"] = description
    return out


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"$ref": f"#/components/responses/{_ERROR_NAMES[code]}"}
            for code in codes}


_ERROR_NAMES = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound", 409: "Conflict",
                413: "TooLarge"}


def _op(summary: str, description: str, op_id: str, tag: str, responses: dict[str, Any],
        parameters: list[Any] | None = None, body: dict[str, Any] | None = None
        ) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": summary, "description": description,
                           "operationId": op_id, "tags": [tag]}
    if parameters:
        out["parameters"] = parameters
    if body:
        out["requestBody"] = body
    out["responses"] = responses
    return out


def _param(name: str, where: str, schema: dict[str, Any], description: str,
           required: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema, **extra}


# --- shared shapes -------------------------------------------------------------------------

_STRING = {"type": "string"}
_INT = {"type": "integer"}
_NUMBER = {"type": "number"}
_TIME = {"type": "string", "description": "ISO 8601 time with its offset"}
_NAMES = {"type": "array", "items": _STRING}
# A time given to the server: ISO 8601 as Python reads it (2026-12-05T19:30, with seconds,
# an offset or Z, or a date alone); without an offset, Asia/Shanghai.
_TIME_IN = {"type": "string",
            "description": "ISO 8601, e.g. 2026-12-05T19:30 or 2026-12-05T19:30:00+08:00; "
                           "Asia/Shanghai when no offset is given; years 2000–2100.",
            "examples": ["2026-12-05T19:30"]}
_LAT = {"type": "number", "minimum": -90, "maximum": 90}
_LNG = {"type": "number", "minimum": -180, "maximum": 180}
_HTTP_URL = {"type": "string", "pattern": "^https?://", "maxLength": 512}
_COMMITTEE = {"type": "string", "enum": list(groups.COMMITTEES),
              "description": "the industry party committee the group belongs to"}

# Course fields are read like the cells of a course file (models/course_import.py): text
# fields take a number or true/false as its text, and numbers may be written as text.
_COURSE_TEXT = {"type": ["string", "number", "boolean"]}
_COURSE_AUDIENCE = (
    "^\\s*(all|industry:(" + "|".join(INDUSTRIES) + ")|group:[A-Za-z0-9]{1,16})?\\s*$")


def _course_number(schema: dict[str, Any], description: str,
                   nullable: bool = False) -> dict[str, Any]:
    kinds: list[Any] = [schema, {"type": "string", "description": "the number written as text"}]
    if nullable:
        kinds.append({"type": "null"})
    return {"anyOf": kinds, "description": description}


def _schemas() -> dict[str, Any]:
    statuses = list(report_api.STATUSES)
    numbers_of = {
        "reports": {**_INT, "minimum": 0, "description": report_api.DEFINITIONS["reports"]},
        "by_status": _obj({s: {**_INT, "minimum": 0} for s in statuses}, statuses,
                          report_api.DEFINITIONS["by_status"], closed=True),
        "resolution_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                            "description": "办结率: " + report_api.DEFINITIONS["resolution_rate"]},
        "satisfaction_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                              "description": "满意率: "
                                             + report_api.DEFINITIONS["satisfaction_rate"]},
        "ratings": {**_INT, "minimum": 0, "description": report_api.DEFINITIONS["ratings"]},
        "median_hours_to_resolve": {
            "type": ["number", "null"], "minimum": 0,
            "description": report_api.DEFINITIONS["median_hours_to_resolve"]},
        "overdue": {**_INT, "minimum": 0, "description": report_api.DEFINITIONS["overdue"]},
    }
    numbers = _obj(numbers_of, list(numbers_of), closed=True)
    grid_numbers = {"grid_code": {"type": ["string", "null"],
                                  "description": "null: the default queue"},
                    "grid_name": _STRING, **numbers_of}
    report_summary = {
        "ticket": {"type": "string", "pattern": "^R[0-9]{8}-[0-9]{4}$",
                   "description": "R + date + - + the day's sequence"},
        "status": {"type": "string", "enum": statuses},
        "category": {**_STRING, "description": "the category (reports.categories in config)"},
        "description": {**_STRING, "description": "what the reporter wrote or said"},
        "grid_code": {"type": ["string", "null"],
                      "description": "the grid it was dispatched to; null: the default queue "
                                     f"({report_api.DEFAULT_QUEUE_NAME})"},
        "created_at": _TIME,
        "due_at": {**_TIME, "description": "the category's deadline for 办结"},
        "overdue": {"type": "boolean", "description": "still open and past due_at"},
        "backers": {**_INT, "minimum": 0, "description": "members who backed it (附议)"},
        "rating": {"type": ["integer", "null"], "minimum": 1, "maximum": 5,
                   "description": "the reporter's rating after 已办结"},
    }
    report_detail = {
        **report_summary,
        "grid_name": _STRING,
        "address": {"type": ["string", "null"]},
        "lat": {"type": ["number", "null"]},
        "lng": {"type": ["number", "null"]},
        "datum": {"type": "string", "const": "gcj02"},
        "photo_status": {"type": "string", "enum": ["none", "pending", "saved", "failed"]},
        "close_reason": {"type": ["string", "null"]},
        "reopened": {**_INT, "minimum": 0,
                     "description": "times the reporter reopened it (未解决)"},
        "rated_at": {"type": ["string", "null"]},
        "resolved_at": {"type": ["string", "null"]},
        "closed_at": {"type": ["string", "null"]},
        "updated_at": _TIME,
        "history": {"type": "array", "items": _obj({
            "at": _TIME,
            "actor": {**_STRING, "description": "member, officer:<username>, api or system"},
            "from": {"type": ["string", "null"]},
            "to": _STRING,
            "note": _STRING,
        }, ["at", "actor", "from", "to", "note"], closed=True)},
    }
    course = {
        "code": {**_STRING, "description": "the course code (报名 CODE, the crs: QR scene)"},
        "title": _STRING,
        "instructor": _STRING,
        "description": _STRING,
        "start": _TIME,
        "end": {**_TIME, "description": "attendance opens 30 minutes before start and "
                                        "closes at end"},
        "place": {**_STRING, "description": "where an offline course is held"},
        "lat": {"type": ["number", "null"], "description": "GCJ-02"},
        "lng": {"type": ["number", "null"], "description": "GCJ-02"},
        "radius_m": {**_INT, "description": "attendance by location within this radius"},
        "online_url": {"type": ["string", "null"]},
        "capacity": {**_INT, "description": "seats; beyond them members join the waitlist"},
        "hours": {**_NUMBER, "description": "study hours credited on attendance"},
        "audience": {**_STRING, "description": "all, industry:NAME or group:CODE"},
        "status": {"type": "string", "enum": list(courses.STATUSES)},
        "qr_scene": {**_STRING, "description": "the scene of the course's attendance QR code"},
        "enrolled": {**_INT, "minimum": 0, "description": "members holding a seat"},
        "waitlist": {**_INT, "minimum": 0, "description": "members waiting for a seat"},
    }
    activity = {
        "id": _INT,
        "code": {**_STRING, "description": "for 签到 CODE"},
        "kind": {"type": "string", "enum": list(activities.KINDS)},
        "topic": _STRING,
        "start": _TIME,
        "end": _TIME,
        "place": _STRING,
        "lat": {"type": ["number", "null"], "description": "GCJ-02"},
        "lng": {"type": ["number", "null"], "description": "GCJ-02"},
        "radius_m": _INT,
        "online_url": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": ["scheduled", "cancelled"]},
        "qr_scene": {**_STRING, "description": "act:ID, the scene of its attendance QR code"},
    }
    course_fields = {
        "code": {**_COURSE_TEXT, "pattern": "^\\s*[A-Za-z0-9][A-Za-z0-9-]{1,15}\\s*$",
                 "description": "2–16 letters, digits or -, starting with a letter or digit; "
                                "stored upper case"},
        "title": {**_COURSE_TEXT, "minLength": 2, "maxLength": 60,
                  "description": "2–60 characters (surrounding spaces trimmed)"},
        "instructor": {**_nullable(_COURSE_TEXT), "maxLength": 40,
                       "description": "the instructor's name (a console user if one "
                                      "matches), at most 40 characters"},
        "description": {**_nullable(_COURSE_TEXT),
                        "description": "kept when not given; at most 2000 characters are kept"},
        "start": {**_TIME_IN, "description": _TIME_IN["description"]
                  + " A new course must start in the future."},
        "end": {**_TIME_IN, "description": "after start, at most 12 hours later"},
        "place": {**_nullable(_COURSE_TEXT), "maxLength": 120,
                  "description": "where an offline course is held (with lat/lng)"},
        "lat": _course_number(_LAT, "GCJ-02 latitude of the place", nullable=True),
        "lng": _course_number(_LNG, "GCJ-02 longitude of the place", nullable=True),
        "radius_m": _course_number(
            {"type": "integer", "minimum": 10, "maximum": 5000},
            "attendance radius in metres; checkin.default_radius_m when not given",
            nullable=True),
        "online_url": {**_nullable(_COURSE_TEXT), "pattern": "^\\s*($|https?://)",
                       "maxLength": 512,
                       "description": "the link of an online course (empty: none)"},
        "capacity": _course_number({"type": "integer", "minimum": 1, "maximum": 100_000},
                                   "seats; beyond them members join the waitlist"),
        "hours": _course_number({"type": "number", "exclusiveMinimum": 0, "maximum": 24},
                                "study hours credited on attendance"),
        "audience": {"type": ["string", "null"], "pattern": _COURSE_AUDIENCE,
                     "description": "who may enrol: all (the default), industry:NAME or "
                                    "group:CODE"},
        "status": {"type": ["string", "null"], "enum": ["draft", "published", "", None],
                   "description": "draft or published (the default when empty)"},
    }
    notice_fields = {
        "title": {"type": "string", "minLength": 1, "maxLength": notices.TITLE_MAX,
                  "description": f"1–{notices.TITLE_MAX} characters (surrounding spaces "
                                 "trimmed)"},
        "body": {"type": "string", "minLength": 1,
                 "description": "the text; with the title and url at most "
                                f"{outbox.KEFU_TEXT_MAX_BYTES} bytes of UTF-8 (a 客服 "
                                "message's limit)"},
        "url": {"type": ["string", "null"], "pattern": "^($|https?://)",
                "maxLength": notices.URL_MAX,
                "description": "a link sent with the notice (empty: none)"},
        "at": {**_nullable(_TIME_IN), "description": "when to send it (ISO 8601; Asia/Shanghai "
                                                     "without an offset); now when null or "
                                                     "empty"},
    }
    return {
        "Error": _obj({"error": {**_STRING, "description": "what was wrong"}}, ["error"],
                      closed=True),
        "DeliveryCounts": _obj({
            "total": {**_INT, "minimum": 0},
            "pending": {**_INT, "minimum": 0},
            "sent": {"type": "object", "additionalProperties": _INT,
                     "description": "sent, by channel (kefu, template)"},
            "failed": {"type": "object", "additionalProperties": _INT,
                       "description": "failed, by reason"},
            "undeliverable": {"type": "object", "additionalProperties": _INT,
                              "description": "no channel could reach them, by reason"},
        }, ["total", "pending", "sent", "failed", "undeliverable"], closed=True),
        "Notice": _obj({
            "id": _INT,
            "title": _STRING,
            "audience": _STRING,
            "status": {"type": "string", "enum": ["scheduled", "sent"],
                       "description": "sent once it has been expanded into deliveries"},
            "send_at": _TIME,
            "recipients": {**_INT, "minimum": 0},
            "counts": _ref("DeliveryCounts"),
        }, ["id", "title", "audience", "status", "send_at", "recipients", "counts"],
            closed=True),
        "NewNotice": _obj({
            **notice_fields,
            "audience": {"type": "string", "minLength": 1, "maxLength": notices.AUDIENCE_MAX,
                         "description": "all, industry:NAME, group:CODE, course:CODE or "
                                        "member:OPENID[,OPENID…]; it must name at least one "
                                        "registered member"},
        }, ["title", "body", "audience"]),
        "CourseNotice": _obj(notice_fields, ["title", "body"],
                             "a notice to the course's enrollees (audience course:CODE)"),
        "ReportSummary": _obj(report_summary, list(report_summary), closed=True),
        "Report": _obj(report_detail, list(report_detail), closed=True),
        "ReportList": _obj({
            "total": {**_INT, "minimum": 0, "description": "matching reports, all pages"},
            "limit": _INT,
            "offset": _INT,
            "reports": {"type": "array", "items": _ref("ReportSummary")},
        }, ["total", "limit", "offset", "reports"], closed=True),
        "ReportMove": {
            "description": "the new status, a note for the reporter, and for 已关闭 a reason",
            "oneOf": [
                _obj({"status": {"type": "string", "const": reports.CLOSED},
                      "note": {"type": ["string", "null"], "maxLength": report_api.NOTE_MAX,
                               "pattern": "^[^\\u0000]*$"},
                      "reason": {"type": "string", "enum": list(reports.CLOSE_REASONS)}},
                     ["status", "reason"]),
                _obj({"status": {"type": "string",
                                 "enum": [s for s in report_api.MOVABLE
                                          if s != reports.CLOSED]},
                      "note": {"type": ["string", "null"], "maxLength": report_api.NOTE_MAX,
                               "pattern": "^[^\\u0000]*$"},
                      "reason": {"type": "null"}},
                     ["status"]),
            ],
        },
        "ReportNumbers": numbers,
        "GridNumbers": _obj(grid_numbers, list(grid_numbers), closed=True),
        "ReportStats": _obj({
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "timezone": {"type": "string", "const": "Asia/Shanghai"},
            "start": _TIME,
            "end": _TIME,
            "as_of": _TIME,
            "grid": {"type": ["string", "null"],
                     "description": "the grid asked for; null: all (or the default queue)"},
            "grid_name": {**_STRING, "description": "only when a grid was asked for"},
            "numbers": _ref("ReportNumbers"),
            "grids": {"type": "array", "items": _ref("GridNumbers"),
                      "description": "without ?grid: every grid, then the default queue"},
            "definitions": {"type": "object", "additionalProperties": _STRING,
                            "description": "how each number is counted"},
        }, ["from", "to", "timezone", "start", "end", "as_of", "grid", "numbers",
            "definitions"], closed=True),
        "NewGroup": _obj({
            "name": {"type": "string", "minLength": 2, "maxLength": 40,
                     "description": "2–40 characters (trimmed), unique"},
            "industry": _COMMITTEE,
            "leader": {"type": ["string", "null"],
                       "description": "the user name of a console account of role leader"},
            "description": {"description": "any JSON value, kept as text (500 characters)"},
        }, ["name", "industry"]),
        "GroupEdit": {
            **_obj({
                "name": {"type": "string", "minLength": 2, "maxLength": 40},
                "industry": _COMMITTEE,
                "leader": {"type": "string", "minLength": 1,
                           "description": "the user name of a console account of role "
                                          "leader"},
                "description": {"type": "string",
                                "description": "at most 500 characters are kept"},
            }, description="the fields to change; at least one"),
            "anyOf": [{"required": [k]} for k in ("name", "industry", "description",
                                                  "leader")],
        },
        "GroupCreated": _obj({"code": _STRING, "name": _STRING, "industry": _STRING},
                             ["code", "name", "industry"], closed=True),
        "Group": _obj({"code": _STRING, "name": _STRING, "industry": _STRING,
                       "description": _STRING},
                      ["code", "name", "industry", "description"], closed=True),
        "InviteCode": _obj({"code": {**_STRING, "description": "the new invite code; the old "
                                                               "one stops working"}},
                           ["code"], closed=True),
        "TimeRange": _obj({"start": {**_TIME_IN, "description": _TIME_IN["description"]
                                     + " In the future."},
                           "end": {**_TIME_IN, "description": "after start, at most 12 hours "
                                                              "later"}},
                          ["start", "end"]),
        "NewActivity": _obj({
            "kind": {"type": "string", "enum": list(activities.KINDS),
                     "description": "三会一课: which meeting it is"},
            "topic": {"type": "string", "minLength": 2, "maxLength": 60,
                      "description": "2–60 characters (trimmed)"},
            "start": {**_TIME_IN, "description": _TIME_IN["description"] + " In the future."},
            "end": {**_TIME_IN, "description": "after start, at most 12 hours later"},
            "place": {"type": "string", "description": "120 characters are kept"},
            "lat": {"type": ["number", "null"], "minimum": -90, "maximum": 90,
                    "description": "GCJ-02; with lng, for attendance by location"},
            "lng": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
            "radius_m": {"type": "integer", "minimum": 10, "maximum": 5000, "default": 200},
            "online_url": {**_nullable(_HTTP_URL), "description": "for an online meeting"},
        }, ["kind", "topic", "start", "end"]),
        "Activity": _obj(activity, list(activity), closed=True),
        "ActivityRoll": _obj({
            **activity,
            "present": {**_NAMES, "description": "members who attended"},
            "leave": {"type": "array", "items": _obj(
                {"name": _STRING, "reason": _STRING}, ["name", "reason"], closed=True),
                "description": "members on leave (请假), with their reason"},
            "absent": {**_NAMES, "description": "the group's other members"},
        }, [*activity, "present", "leave", "absent"], closed=True),
        "NewCourse": _obj(course_fields, ["code", "title", "start", "end", "capacity", "hours"],
                          "an offline course needs place and lat/lng, an online one "
                          "online_url"),
        "CourseEdit": _obj(course_fields, description="any of the course's fields; those not "
                                                      "given keep their value; code, when "
                                                      "given, must be the course's own"),
        "CourseMove": _obj({"start": course_fields["start"], "end": course_fields["end"]},
                           ["start", "end"]),
        "Course": _obj(course, list(course), closed=True),
        "CourseRoll": _obj({
            **course,
            "present": {**_NAMES, "description": "enrollees who attended"},
            "absent": {**_NAMES, "description": "enrollees not (yet) attended"},
            "waitlist_names": {**_NAMES, "description": "the waitlist, in order"},
        }, [*course, "present", "absent", "waitlist_names"], closed=True),
        "CourseEdited": _obj({
            **course,
            "changed": {"type": "array",
                        "items": {"type": "string",
                                  "enum": ["fields", "place", "moved", "published"]},
                        "description": "what changed (a new place or time is told to the "
                                       "enrollees)"},
        }, [*course, "changed"], closed=True),
        "CourseList": _obj({"courses": {"type": "array", "items": _ref("Course")}},
                           ["courses"], closed=True),
    }


def _responses() -> dict[str, Any]:
    error = _ref("Error")
    return {
        "BadRequest": _answer(error, "the request is malformed or breaks a rule; `error` "
                                     "says which"),
        "Unauthorized": _answer(error, "the API token is missing or wrong"),
        "NotFound": _answer(error, "no such object (also for ids and codes that cannot "
                                   "exist)"),
        "Conflict": _answer(error, "the object's state does not allow it"),
        "TooLarge": _answer(error, "the body is larger than 1 MiB"),
    }


def _parameters() -> dict[str, Any]:
    return {
        "IdempotencyKey": _param(
            "Idempotency-Key", "header", {"type": "string", "maxLength": 100},
            "optional; a retried request with the same key gets the notice made the first "
            "time (200) instead of a second one (201); a key already used for a different "
            "notice is refused (409)"),
        "NoticeId": _param("id", "path", {"type": "integer", "minimum": 0,
                                          "maximum": 999_999_999}, "the notice's id"),
        "ActivityId": _param("id", "path", {"type": "integer", "minimum": 0,
                                            "maximum": 999_999_999}, "the activity's id"),
        "CourseCode": _param("code", "path", {"type": "string",
                                              "pattern": "^[A-Za-z0-9-]{1,16}$"},
                             "the course code (case-insensitive)"),
        "GroupCode": _param("code", "path", {"type": "string",
                                             "pattern": "^[A-Za-z0-9]{1,16}$"},
                            "the group's invite code (case-insensitive; invite codes are 6 "
                            f"of {CODE_ALPHABET})"),
        "Ticket": _param("ticket", "path", {"type": "string",
                                            "pattern": "^[Rr][0-9]{8}-[0-9]{4}$"},
                         "the report's ticket, e.g. R20261128-0007"),
    }


def _or_empty(schema: dict[str, Any]) -> dict[str, Any]:
    """A query value that may also be given empty (?limit=), meaning its default."""
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}]}


def _p(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _paths() -> dict[str, Any]:
    statuses = list(report_api.STATUSES)
    day = {"type": "string", "pattern": "^((20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2})?$"}
    grid = {"type": "string", "maxLength": 32, "pattern": "^[^\\u0000-\\u001f]*$"}
    notice_made = {
        "201": _answer(_ref("Notice"), "the notice; sent now (status sent) or scheduled"),
        "200": _answer(_ref("Notice"), "a retry with a known Idempotency-Key: the notice "
                                       "made the first time"),
    }
    return {
        "/openapi.json": {"get": {
            **_op("This document", "The OpenAPI description of /api/v1; no token needed.",
                  "getOpenapi", "meta", {"200": {
                      "description": "this document",
                      "content": {JSON: {"schema": {"type": "object"}}}}}),
            "security": [],
        }},
        "/notices": {"post": _op(
            "Send a notice",
            "A title and body to an audience, now or at a time. Pushed through 客服 messages "
            "inside a member's 48 h window, else the notice template; every recipient gets "
            "it at most once. Honours Idempotency-Key.",
            "createNotice", "notices",
            {**notice_made, **_errors(400, 401, 409, 413)},
            [_p("IdempotencyKey")], _body(_ref("NewNotice")))},
        "/notices/{id}": {"get": _op(
            "A notice and its delivery counts", "Live counts by channel and failure reason.",
            "getNotice", "notices",
            {"200": _answer(_ref("Notice"), "the notice"), **_errors(401, 404)},
            [_p("NoticeId")])},
        "/reports": {"get": _op(
            "List 随手拍 reports",
            "Newest first. Never the reporter's name, phone, openid or member id.",
            "listReports", "reports",
            {"200": _answer(_ref("ReportList"), "one page of reports"), **_errors(400, 401)},
            [_param("status", "query", {"type": "array", "items": {"type": "string",
                                                                   "enum": [*statuses, ""]}},
                    "only these statuses, comma separated; empty: all", style="form",
                    explode=False),
             _param("grid", "query", grid, "a grid code (case-insensitive), or none for the "
                                           "default queue"),
             _param("overdue", "query", {"type": "string",
                                         "enum": ["", "1", "0", "true", "false", "yes", "no"]},
                    "1: only open reports past their deadline; 0: only the others "
                    "(case-insensitive)"),
             _param("limit", "query", _or_empty({"type": "integer", "minimum": 1,
                                                 "maximum": report_api.MAX_LIMIT}),
                    f"page size; {report_api.DEFAULT_LIMIT} when not given or empty"),
             _param("offset", "query", _or_empty({"type": "integer", "minimum": 0,
                                                  "maximum": report_api.MAX_OFFSET}),
                    "reports to skip; 0 when not given or empty")])},
        "/reports/stats": {"get": _op(
            "Report numbers: 办结率, 满意率 …",
            "For the reports made in a range of days (Asia/Shanghai, both days included, the "
            "last 30 days by default, at most 366), overall and per grid; the response "
            "carries the exact definitions.",
            "reportStats", "reports",
            {"200": _answer(_ref("ReportStats"), "the numbers"), **_errors(400, 401, 404)},
            [_param("from", "query", day, "first day, YYYY-MM-DD (2000–2100)"),
             _param("to", "query", day, "last day, YYYY-MM-DD (2000–2100); today by default"),
             _param("grid", "query", grid, "one grid's numbers (404 if unknown), or none "
                                           "for the default queue's")])},
        "/reports/{ticket}": {"get": _op(
            "A report with its history", "Location in GCJ-02; never the reporter's identity.",
            "getReport", "reports",
            {"200": _answer(_ref("Report"), "the report"), **_errors(401, 404)},
            [_p("Ticket")])},
        "/reports/{ticket}/status": {"post": _op(
            "Move a report",
            "已受理 → 已派单 → 处理中 → 已办结, or → 已关闭 with a reason, as actor api; the "
            "reporter and backers are told.",
            "moveReport", "reports",
            {"200": _answer(_ref("Report"), "the report after the move"),
             **_errors(400, 401, 404, 409, 413)},
            [_p("Ticket")], _body(_ref("ReportMove")))},
        "/groups": {"post": _op(
            "Create a cloud party group (云上党小组)", "Answers with its new invite code.",
            "createGroup", "groups",
            {"201": _answer(_ref("GroupCreated"), "the group"), **_errors(400, 401, 413)},
            body=_body(_ref("NewGroup")))},
        "/groups/{code}": {"post": _op(
            "Edit a group", "Changes the fields given.", "editGroup", "groups",
            {"200": _answer(_ref("Group"), "the group"), **_errors(400, 401, 404, 413)},
            [_p("GroupCode")], _body(_ref("GroupEdit")))},
        "/groups/{code}/activities": {"post": _op(
            "Schedule a group activity (三会一课)",
            "The group's members are told; reminders follow.", "scheduleActivity", "groups",
            {"201": _answer(_ref("Activity"), "the activity"),
             **_errors(400, 401, 404, 413)},
            [_p("GroupCode")], _body(_ref("NewActivity")))},
        "/groups/{code}/regenerate-code": {"post": _op(
            "New invite code", "Retires a leaked invite code.", "regenerateGroupCode",
            "groups", {"200": _answer(_ref("InviteCode"), "the new code"),
                       **_errors(401, 404)},
            [_p("GroupCode")])},
        "/activities/{id}": {"get": _op(
            "An activity and its attendance", "Present, on leave and absent members.",
            "getActivity", "groups",
            {"200": _answer(_ref("ActivityRoll"), "the activity"), **_errors(401, 404)},
            [_p("ActivityId")])},
        "/activities/{id}/move": {"post": _op(
            "Move an activity", "The members are told; reminders follow the new time.",
            "moveActivity", "groups",
            {"200": _answer(_ref("Activity"), "the activity"),
             **_errors(400, 401, 404, 409, 413)},
            [_p("ActivityId")], _body(_ref("TimeRange")))},
        "/activities/{id}/cancel": {"post": _op(
            "Cancel an activity", "The members are told.", "cancelActivity", "groups",
            {"200": _answer(_ref("Activity"), "the activity"), **_errors(401, 404, 409)},
            [_p("ActivityId")])},
        "/courses": {
            "get": _op(
                "List courses (小哥党校)", "By start time, at most 1000.", "listCourses",
                "courses",
                {"200": _answer(_ref("CourseList"), "the courses"), **_errors(400, 401)},
                [_param("status", "query", {"type": "string",
                                            "enum": list(courses.STATUSES)},
                        "only courses in this status")]),
            "post": _op(
                "Create a course",
                "Fields as in the course file; a published course plans its reminders.",
                "createCourse", "courses",
                {"201": _answer(_ref("Course"), "the course"),
                 **_errors(400, 401, 409, 413)},
                body=_body(_ref("NewCourse"))),
        },
        "/courses/{code}": {
            "get": _op(
                "A course with its enrollees", "Present and absent enrollees and the "
                                               "waitlist in order.",
                "getCourse", "courses",
                {"200": _answer(_ref("CourseRoll"), "the course"), **_errors(401, 404)},
                [_p("CourseCode")]),
            "post": _op(
                "Edit a course",
                "A new place or time is told to the enrollees and the waitlist; a published "
                "course cannot go back to draft; a cancelled one cannot change.",
                "editCourse", "courses",
                {"200": _answer(_ref("CourseEdited"), "the course"),
                 **_errors(400, 401, 404, 409, 413)},
                [_p("CourseCode")], _body(_ref("CourseEdit"))),
        },
        "/courses/{code}/publish": {"post": _op(
            "Publish a draft course", "Its reminders are planned; publishing a published "
                                      "course changes nothing.",
            "publishCourse", "courses",
            {"200": _answer(_ref("Course"), "the course"), **_errors(400, 401, 404, 409)},
            [_p("CourseCode")])},
        "/courses/{code}/move": {"post": _op(
            "Move a course", "The enrollees and the waitlist are told; reminders follow.",
            "moveCourse", "courses",
            {"200": _answer(_ref("Course"), "the course"),
             **_errors(400, 401, 404, 409, 413)},
            [_p("CourseCode")], _body(_ref("CourseMove")))},
        "/courses/{code}/cancel": {"post": _op(
            "Cancel a course", "The enrollees and the waitlist are told.", "cancelCourse",
            "courses",
            {"200": _answer(_ref("Course"), "the course"), **_errors(401, 404, 409)},
            [_p("CourseCode")])},
        "/courses/{code}/notices": {"post": _op(
            "Notice to a course's enrollees",
            "A notice with audience course:CODE; only for a published course. Honours "
            "Idempotency-Key; counts at /notices/{id}.",
            "courseNotice", "courses",
            {**notice_made, **_errors(400, 401, 404, 409, 413)},
            [_p("CourseCode"), _p("IdempotencyKey")], _body(_ref("CourseNotice")))},
    }


def document() -> dict[str, Any]:
    """The OpenAPI document (a fresh dict each call)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "小哥红驿 API",
            "version": "1.0.0",
            "summary": "The JSON API behind the 小哥红驿 console",
            "description": (
                "Notices, 随手拍 reports, cloud party groups with their activities, and "
                "小哥党校 courses, for the district's own systems and the web console.\n\n"
                "Every call except this document needs `Authorization: Bearer <api.token>` "
                "(config key api.token; the demo config has `xiaoge-demo-api-token`). "
                "Bodies are JSON objects; fields not described are ignored. Errors are "
                "`{\"error\": \"…\"}` with the status saying what kind. Times are ISO 8601; "
                "those without an offset are Asia/Shanghai; answers carry offsets. Points "
                "are GCJ-02.\n\n"
                "Open311 GeoReport v2 (public, read-only) is served separately under "
                "/open311/v2."),
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearerAuth": []}, {"consoleSession": []}],
        "tags": [
            {"name": "notices", "description": "通知: to all, an industry, a group, a "
                                               "course's enrollees or members by openid"},
            {"name": "reports", "description": "随手拍: neighbourhood reports and their "
                                               "numbers"},
            {"name": "groups", "description": "云上党小组 and their activities (三会一课)"},
            {"name": "courses", "description": "小哥党校 courses"},
            {"name": "meta", "description": "this document"},
        ],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "the api.token from config.yaml"},
                "consoleSession": {
                "type": "apiKey", "in": "cookie", "name": "xiaoge_console",
                "description": "an admin's console login; writes also need the session's "
                               "X-CSRF-Token header (other roles get 403)"}},
            "schemas": _schemas(),
            "responses": _responses(),
            "parameters": _parameters(),
        },
    }


# --- serving -------------------------------------------------------------------------------

DOCUMENT = web.AppKey("openapi_document", str)


async def serve_document(request: web.Request) -> web.Response:
    return web.Response(text=request.app[DOCUMENT], content_type=JSON)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own errors under /api/v1 (no such route, wrong method, a body over the
    limit) as {"error": …} like the handlers' own, instead of plain text."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if (not request.path.startswith(PREFIX + "/") or exc.status < 400
                or exc.content_type == JSON):
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return web.json_response({"error": (exc.reason or "error").lower()},
                                 status=exc.status, headers=headers, dumps=_dumps)


def add_openapi_routes(app: web.Application) -> None:
    """GET /api/v1/openapi.json, and JSON for aiohttp's own errors under /api/v1."""
    app[DOCUMENT] = _dumps(document(), indent=1)
    app.router.add_get(f"{PREFIX}/openapi.json", serve_document)
    app.middlewares.append(json_errors)
