"""Cloud party groups and their activities (三会一课) in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from bot.web.openapi import (
    HTTP_URL,
    INT,
    LINE,
    NAMES,
    STRING,
    TEXT,
    TIME,
    TIME_IN,
    answer,
    body,
    errors,
    nullable,
    obj,
    op,
    p,
    param,
    ref,
)
from models import activity as activities
from models import group as groups
from models.staff import CODE_ALPHABET

_COMMITTEE = {"type": "string", "enum": list(groups.COMMITTEES),
              "description": "the industry party committee the group belongs to"}


def part() -> dict[str, Any]:
    """This feature's part of the OpenAPI document of /api/v1 (see bot/web/openapi.py)."""
    return {
        "rank": 2,
        "tag": {"name": "groups",
                "description": "云上党小组 and their activities (三会一课)"},
        "summary": "cloud party groups with their activities",
        "schemas": _schemas(),
        "parameters": _parameters(),
        "paths": _paths(),
    }


def _schemas() -> dict[str, Any]:
    activity = {
        "id": INT,
        "code": {**STRING, "description": "for 签到 CODE"},
        "kind": {"type": "string", "enum": list(activities.KINDS)},
        "topic": STRING,
        "start": TIME,
        "end": TIME,
        "place": STRING,
        "lat": {"type": ["number", "null"], "description": "GCJ-02"},
        "lng": {"type": ["number", "null"], "description": "GCJ-02"},
        "radius_m": INT,
        "online_url": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": ["scheduled", "cancelled"]},
        "qr_scene": {**STRING, "description": "act:ID, the scene of its attendance QR code"},
    }
    return {
        "NewGroup": obj({
            "name": {"type": "string", "minLength": 2, "maxLength": 40, **LINE,
                     "description": "2–40 characters (trimmed), unique"},
            "industry": _COMMITTEE,
            "leader": {"type": ["string", "null"], **LINE,
                       "description": "the user name of a console account of role leader"},
            "description": {"description": "any JSON value, kept as text; a string at most "
                                           f"{groups.DESCRIPTION_MAX} characters",
                            **TEXT},
        }, ["name", "industry"]),
        "GroupEdit": {
            **obj({
                "name": {"type": "string", "minLength": 2, "maxLength": 40, **LINE},
                "industry": _COMMITTEE,
                "leader": {"type": "string", "minLength": 1, **LINE,
                           "description": "the user name of a console account of role "
                                          "leader"},
                "description": {"type": "string", **TEXT, "maxLength": groups.DESCRIPTION_MAX,
                                "description": f"at most {groups.DESCRIPTION_MAX} characters"},
            }, description="the fields to change; at least one"),
            "anyOf": [{"required": [k]} for k in ("name", "industry", "description",
                                                  "leader")],
        },
        "GroupCreated": obj({"code": STRING, "name": STRING, "industry": STRING},
                             ["code", "name", "industry"], closed=True),
        "Group": obj({"code": STRING, "name": STRING, "industry": STRING,
                       "description": STRING},
                      ["code", "name", "industry", "description"], closed=True),
        "InviteCode": obj({"code": {**STRING, "description": "the new invite code; the old "
                                                               "one stops working"}},
                           ["code"], closed=True),
        "TimeRange": obj({"start": {**TIME_IN, "description": TIME_IN["description"]
                                     + " In the future."},
                           "end": {**TIME_IN, "description": "after start, at most 12 hours "
                                                              "later"}},
                          ["start", "end"]),
        "NewActivity": obj({
            "kind": {"type": "string", "enum": list(activities.KINDS),
                     "description": "三会一课: which meeting it is"},
            "topic": {"type": "string", "minLength": 2, "maxLength": 60, **LINE,
                      "description": "2–60 characters (trimmed)"},
            "start": {**TIME_IN, "description": TIME_IN["description"] + " In the future."},
            "end": {**TIME_IN, "description": "after start, at most 12 hours later"},
            "place": {"type": "string", **LINE, "maxLength": activities.PLACE_MAX,
                      "description": f"at most {activities.PLACE_MAX} characters"},
            "lat": {"type": ["number", "null"], "minimum": -90, "maximum": 90,
                    "description": "GCJ-02; with lng, for attendance by location"},
            "lng": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
            "radius_m": {"type": "integer", "minimum": 10, "maximum": 5000, "default": 200},
            "online_url": {**nullable(HTTP_URL), "description": "for an online meeting"},
        }, ["kind", "topic", "start", "end"]),
        "Activity": obj(activity, list(activity), closed=True),
        "ActivityRoll": obj({
            **activity,
            "present": {**NAMES, "description": "members who attended"},
            "leave": {"type": "array", "items": obj(
                {"name": STRING, "reason": STRING}, ["name", "reason"], closed=True),
                "description": "members on leave (请假), with their reason"},
            "absent": {**NAMES, "description": "the group's other members"},
        }, [*activity, "present", "leave", "absent"], closed=True),
    }


def _parameters() -> dict[str, Any]:
    return {
        "ActivityId": param("id", "path", {"type": "integer", "minimum": 0,
                                            "maximum": 999_999_999}, "the activity's id"),
        "GroupCode": param("code", "path", {"type": "string",
                                             "pattern": "^[A-Za-z0-9]{1,16}$"},
                            "the group's invite code (case-insensitive; invite codes are 6 "
                            f"of {CODE_ALPHABET})"),
    }


def _paths() -> dict[str, Any]:
    return {
        "/groups": {"post": op(
            "Create a cloud party group (云上党小组)", "Answers with its new invite code.",
            "createGroup", "groups",
            {"201": answer(ref("GroupCreated"), "the group"), **errors(400, 401, 413)},
            body=body(ref("NewGroup")))},
        "/groups/{code}": {"post": op(
            "Edit a group", "Changes the fields given.", "editGroup", "groups",
            {"200": answer(ref("Group"), "the group"), **errors(400, 401, 404, 413)},
            [p("GroupCode")], body(ref("GroupEdit")))},
        "/groups/{code}/activities": {"post": op(
            "Schedule a group activity (三会一课)",
            "The group's members are told; reminders follow.", "scheduleActivity", "groups",
            {"201": answer(ref("Activity"), "the activity"),
             **errors(400, 401, 404, 413)},
            [p("GroupCode")], body(ref("NewActivity")))},
        "/groups/{code}/regenerate-code": {"post": op(
            "New invite code", "Retires a leaked invite code.", "regenerateGroupCode",
            "groups", {"200": answer(ref("InviteCode"), "the new code"),
                       **errors(401, 404)},
            [p("GroupCode")])},
        "/activities/{id}": {"get": op(
            "An activity and its attendance", "Present, on leave and absent members.",
            "getActivity", "groups",
            {"200": answer(ref("ActivityRoll"), "the activity"), **errors(401, 404)},
            [p("ActivityId")])},
        "/activities/{id}/move": {"post": op(
            "Move an activity", "The members are told; reminders follow the new time.",
            "moveActivity", "groups",
            {"200": answer(ref("Activity"), "the activity"),
             **errors(400, 401, 404, 409, 413)},
            [p("ActivityId")], body(ref("TimeRange")))},
        "/activities/{id}/cancel": {"post": op(
            "Cancel an activity", "The members are told.", "cancelActivity", "groups",
            {"200": answer(ref("Activity"), "the activity"), **errors(401, 404, 409)},
            [p("ActivityId")])},
    }
