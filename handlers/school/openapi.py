"""小哥党校 courses in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from bot.web.openapi import (
    INT,
    LAT,
    LINE,
    LNG,
    NAMES,
    NUMBER,
    STRING,
    TEXT,
    TIME,
    TIME_IN,
    answer,
    body,
    errors,
    message_fields,
    nullable,
    obj,
    op,
    p,
    param,
    ref,
)
from models import course as courses
from models import notice as notices
from models import outbox
from models.member import INDUSTRIES
from models.text import LINE_CHAR, SPACE

# Course fields are read like the cells of a course file (models/course_import.py): text
# fields take a number or true/false as its text, and numbers may be written as text.
_COURSE_TEXT = {"type": ["string", "number", "boolean"]}
_COURSE_AUDIENCE = (
    f"^{SPACE}*(all|industry:(" + "|".join(INDUSTRIES) + f")|group:[A-Za-z0-9]{{1,16}})?{SPACE}*$")


def _course_number(schema: dict[str, Any], description: str,
                   nullable: bool = False) -> dict[str, Any]:
    kinds: list[Any] = [schema, {"type": "string", "description": "the number written as text"}]
    if nullable:
        kinds.append({"type": "null"})
    return {"anyOf": kinds, "description": description}


def part() -> dict[str, Any]:
    """This feature's part of the OpenAPI document of /api/v1 (see bot/web/openapi.py)."""
    return {
        "rank": 3,
        "tag": {"name": "courses",
                "description": "小哥党校 courses"},
        "summary": "小哥党校 courses",
        "schemas": _schemas(),
        "parameters": _parameters(),
        "paths": _paths(),
    }


def _schemas() -> dict[str, Any]:
    course = {
        "code": {**STRING, "description": "the course code (报名 CODE, the crs: QR scene)"},
        "title": STRING,
        "instructor": STRING,
        "description": STRING,
        "start": TIME,
        "end": {**TIME, "description": "attendance opens 30 minutes before start and "
                                        "closes at end"},
        "place": {**STRING, "description": "where an offline course is held"},
        "lat": {"type": ["number", "null"], "description": "GCJ-02"},
        "lng": {"type": ["number", "null"], "description": "GCJ-02"},
        "radius_m": {**INT, "description": "attendance by location within this radius"},
        "online_url": {"type": ["string", "null"]},
        "capacity": {**INT, "description": "seats; beyond them members join the waitlist"},
        "hours": {**NUMBER, "description": "study hours credited on attendance"},
        "audience": {**STRING, "description": "all, industry:NAME or group:CODE"},
        "status": {"type": "string", "enum": list(courses.STATUSES)},
        "qr_scene": {**STRING, "description": "the scene of the course's attendance QR code"},
        "enrolled": {**INT, "minimum": 0, "description": "members holding a seat"},
        "waitlist": {**INT, "minimum": 0, "description": "members waiting for a seat"},
    }
    course_fields = {
        "code": {**_COURSE_TEXT, "pattern": f"^{SPACE}*[A-Za-z0-9][A-Za-z0-9-]{{1,15}}{SPACE}*$",
                 "description": "2–16 letters, digits or -, starting with a letter or digit; "
                                "stored upper case"},
        "title": {**_COURSE_TEXT, "minLength": 2, "maxLength": 60, **LINE,
                  "description": "2–60 characters (surrounding spaces trimmed)"},
        "instructor": {**nullable(_COURSE_TEXT), "maxLength": 40, **LINE,
                       "description": "the instructor's name (a console user if one "
                                      "matches), at most 40 characters"},
        "description": {**nullable(_COURSE_TEXT), **TEXT, "maxLength": courses.DESCRIPTION_MAX,
                        "description": "kept when not given; at most "
                                       f"{courses.DESCRIPTION_MAX} characters"},
        "start": {**TIME_IN, "description": TIME_IN["description"]
                  + " A new course must start in the future."},
        "end": {**TIME_IN, "description": "after start, at most 12 hours later"},
        "place": {**nullable(_COURSE_TEXT), "maxLength": 120, **LINE,
                  "description": "where an offline course is held (with lat/lng)"},
        "lat": _course_number(LAT, "GCJ-02 latitude of the place", nullable=True),
        "lng": _course_number(LNG, "GCJ-02 longitude of the place", nullable=True),
        "radius_m": _course_number(
            {"type": "integer", "minimum": 10, "maximum": 5000},
            "attendance radius in metres; checkin.default_radius_m when not given",
            nullable=True),
        "online_url": {**nullable(_COURSE_TEXT), "pattern": f"^{SPACE}*($|https?://{LINE_CHAR}*)$",
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
    notice_fields = message_fields(notices.TITLE_MAX, notices.URL_MAX,
                                   outbox.KEFU_TEXT_MAX_BYTES)
    return {
        "CourseNotice": obj(notice_fields, ["title", "body"],
                             "a notice to the course's enrollees (audience course:CODE)"),
        "NewCourse": obj(course_fields, ["code", "title", "start", "end", "capacity", "hours"],
                          "an offline course needs place and lat/lng, an online one "
                          "online_url"),
        "CourseEdit": obj(course_fields, description="any of the course's fields; those not "
                                                      "given keep their value; code, when "
                                                      "given, must be the course's own"),
        "CourseMove": obj({"start": course_fields["start"], "end": course_fields["end"]},
                           ["start", "end"]),
        "Course": obj(course, list(course), closed=True),
        "CourseRoll": obj({
            **course,
            "present": {**NAMES, "description": "enrollees who attended"},
            "absent": {**NAMES, "description": "enrollees not (yet) attended"},
            "waitlist_names": {**NAMES, "description": "the waitlist, in order"},
        }, [*course, "present", "absent", "waitlist_names"], closed=True),
        "CourseEdited": obj({
            **course,
            "changed": {"type": "array",
                        "items": {"type": "string",
                                  "enum": ["fields", "place", "moved", "published"]},
                        "description": "what changed (a new place or time is told to the "
                                       "enrollees)"},
        }, [*course, "changed"], closed=True),
        "CourseList": obj({"courses": {"type": "array", "items": ref("Course")}},
                           ["courses"], closed=True),
    }


def _parameters() -> dict[str, Any]:
    return {
        "CourseCode": param("code", "path", {"type": "string",
                                              "pattern": "^[A-Za-z0-9-]{1,16}$"},
                             "the course code (case-insensitive)"),
    }


def _paths() -> dict[str, Any]:
    notice_made = {
        "201": answer(ref("Notice"), "the notice; sent now (status sent) or scheduled"),
        "200": answer(ref("Notice"), "a retry with a known Idempotency-Key: the notice "
                                       "made the first time"),
    }
    return {
        "/courses": {
            "get": op(
                "List courses (小哥党校)", "By start time, at most 1000.", "listCourses",
                "courses",
                {"200": answer(ref("CourseList"), "the courses"), **errors(400, 401)},
                [param("status", "query", {"type": "string",
                                            "enum": list(courses.STATUSES)},
                        "only courses in this status")]),
            "post": op(
                "Create a course",
                "Fields as in the course file; a published course plans its reminders.",
                "createCourse", "courses",
                {"201": answer(ref("Course"), "the course"),
                 **errors(400, 401, 409, 413)},
                body=body(ref("NewCourse"))),
        },
        "/courses/{code}": {
            "get": op(
                "A course with its enrollees", "Present and absent enrollees and the "
                                               "waitlist in order.",
                "getCourse", "courses",
                {"200": answer(ref("CourseRoll"), "the course"), **errors(401, 404)},
                [p("CourseCode")]),
            "post": op(
                "Edit a course",
                "A new place or time is told to the enrollees and the waitlist; a published "
                "course cannot go back to draft; a cancelled one cannot change.",
                "editCourse", "courses",
                {"200": answer(ref("CourseEdited"), "the course"),
                 **errors(400, 401, 404, 409, 413)},
                [p("CourseCode")], body(ref("CourseEdit"))),
        },
        "/courses/{code}/publish": {"post": op(
            "Publish a draft course", "Its reminders are planned; publishing a published "
                                      "course changes nothing.",
            "publishCourse", "courses",
            {"200": answer(ref("Course"), "the course"), **errors(400, 401, 404, 409)},
            [p("CourseCode")])},
        "/courses/{code}/move": {"post": op(
            "Move a course", "The enrollees and the waitlist are told; reminders follow.",
            "moveCourse", "courses",
            {"200": answer(ref("Course"), "the course"),
             **errors(400, 401, 404, 409, 413)},
            [p("CourseCode")], body(ref("CourseMove")))},
        "/courses/{code}/cancel": {"post": op(
            "Cancel a course", "The enrollees and the waitlist are told.", "cancelCourse",
            "courses",
            {"200": answer(ref("Course"), "the course"), **errors(401, 404, 409)},
            [p("CourseCode")])},
        "/courses/{code}/notices": {"post": op(
            "Notice to a course's enrollees",
            "A notice with audience course:CODE; only for a published course. Honours "
            "Idempotency-Key; counts at /notices/{id}.",
            "courseNotice", "courses",
            {**notice_made, **errors(400, 401, 404, 409, 413)},
            [p("CourseCode"), p("IdempotencyKey")], body(ref("CourseNotice")))},
    }
