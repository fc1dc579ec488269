"""Notices in the OpenAPI document: sending one, and its delivery counts."""

from __future__ import annotations

from typing import Any

from bot.web.openapi import (
    INT,
    LINE,
    STRING,
    TIME,
    answer,
    body,
    errors,
    message_fields,
    obj,
    op,
    p,
    param,
    ref,
)
from models import notice as notices
from models import outbox


def part() -> dict[str, Any]:
    """This feature's part of the OpenAPI document of /api/v1 (see bot/web/openapi.py)."""
    return {
        "rank": 0,
        "tag": {"name": "notices",
                "description": "通知: to all, an industry, a group, a course's enrollees or "
                               "members by openid"},
        "summary": "Notices",
        "schemas": _schemas(),
        "parameters": _parameters(),
        "paths": _paths(),
    }


def _schemas() -> dict[str, Any]:
    notice_fields = message_fields(notices.TITLE_MAX, notices.URL_MAX,
                                   outbox.KEFU_TEXT_MAX_BYTES)
    return {
        "DeliveryCounts": obj({
            "total": {**INT, "minimum": 0},
            "pending": {**INT, "minimum": 0},
            "sent": {"type": "object", "additionalProperties": INT,
                     "description": "sent, by channel (kefu, subscribe, template)"},
            "failed": {"type": "object", "additionalProperties": INT,
                       "description": "failed, by reason"},
            "undeliverable": {"type": "object", "additionalProperties": INT,
                              "description": "no channel could reach them, by reason"},
            "receipts": {"type": "object",
                         "additionalProperties": {"type": "object",
                                                  "additionalProperties": INT},
                         "description": "of those sent, what WeChat's receipts said "
                                        "(delivered, blocked, failed), by channel"},
        }, ["total", "pending", "sent", "failed", "undeliverable", "receipts"], closed=True),
        "Notice": obj({
            "id": INT,
            "title": STRING,
            "audience": STRING,
            "status": {"type": "string", "enum": ["scheduled", "sent"],
                       "description": "sent once it has been expanded into deliveries"},
            "send_at": TIME,
            "recipients": {**INT, "minimum": 0},
            "counts": ref("DeliveryCounts"),
        }, ["id", "title", "audience", "status", "send_at", "recipients", "counts"],
            closed=True),
        "NewNotice": obj({
            **notice_fields,
            "audience": {"type": "string", "minLength": 1, "maxLength": notices.AUDIENCE_MAX,
                         **LINE,
                         "description": "all, industry:NAME, group:CODE, course:CODE or "
                                        "member:OPENID[,OPENID…]; it must name at least one "
                                        "registered member"},
        }, ["title", "body", "audience"]),
    }


def _parameters() -> dict[str, Any]:
    return {
        "IdempotencyKey": param(
            "Idempotency-Key", "header", {"type": "string", "maxLength": 100},
            "optional; a retried request with the same key gets the notice made the first "
            "time (200) instead of a second one (201); a key already used for a different "
            "notice is refused (409)"),
        "NoticeId": param("id", "path", {"type": "integer", "minimum": 0,
                                          "maximum": 999_999_999}, "the notice's id"),
    }


def _paths() -> dict[str, Any]:
    notice_made = {
        "201": answer(ref("Notice"), "the notice; sent now (status sent) or scheduled"),
        "200": answer(ref("Notice"), "a retry with a known Idempotency-Key: the notice "
                                       "made the first time"),
    }
    return {
        "/notices": {"post": op(
            "Send a notice",
            "A title and body to an audience, now or at a time. Pushed through 客服 messages "
            "inside a member's 48 h window, else the notice template; every recipient gets "
            "it at most once. Honours Idempotency-Key.",
            "createNotice", "notices",
            {**notice_made, **errors(400, 401, 409, 413)},
            [p("IdempotencyKey")], body(ref("NewNotice")))},
        "/notices/{id}": {"get": op(
            "A notice and its delivery counts", "Live counts by channel and failure reason.",
            "getNotice", "notices",
            {"200": answer(ref("Notice"), "the notice"), **errors(401, 404)},
            [p("NoticeId")])},
    }
