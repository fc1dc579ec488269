"""随手拍 reports in the OpenAPI document: listing, numbers, one report, moving it."""

from __future__ import annotations

from typing import Any

from bot.web.openapi import (
    INT,
    LINE,
    STRING,
    TEXT,
    TIME,
    answer,
    body,
    errors,
    obj,
    op,
    or_empty,
    p,
    param,
    ref,
)
from handlers.reports import api as report_api
from models import report as reports


def part() -> dict[str, Any]:
    """This feature's part of the OpenAPI document of /api/v1 (see bot/web/openapi.py)."""
    return {
        "rank": 1,
        "tag": {"name": "reports",
                "description": "随手拍: neighbourhood reports and their numbers"},
        "summary": "随手拍 reports",
        "schemas": _schemas(),
        "parameters": _parameters(),
        "paths": _paths(),
    }


def _schemas() -> dict[str, Any]:
    statuses = list(report_api.STATUSES)
    numbers_of = {
        "reports": {**INT, "minimum": 0, "description": report_api.DEFINITIONS["reports"]},
        "by_status": obj({s: {**INT, "minimum": 0} for s in statuses}, statuses,
                          report_api.DEFINITIONS["by_status"], closed=True),
        "resolution_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                            "description": "办结率: " + report_api.DEFINITIONS["resolution_rate"]},
        "satisfaction_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                              "description": "满意率: "
                                             + report_api.DEFINITIONS["satisfaction_rate"]},
        "ratings": {**INT, "minimum": 0, "description": report_api.DEFINITIONS["ratings"]},
        "median_hours_to_resolve": {
            "type": ["number", "null"], "minimum": 0,
            "description": report_api.DEFINITIONS["median_hours_to_resolve"]},
        "overdue": {**INT, "minimum": 0, "description": report_api.DEFINITIONS["overdue"]},
    }
    numbers = obj(numbers_of, list(numbers_of), closed=True)
    grid_numbers = {"grid_code": {"type": ["string", "null"],
                                  "description": "null: the default queue"},
                    "grid_name": STRING, **numbers_of}
    report_summary = {
        "ticket": {"type": "string", "pattern": "^R[0-9]{8}-[0-9]{4}$",
                   "description": "R + date + - + the day's sequence"},
        "status": {"type": "string", "enum": statuses},
        "category": {**STRING, "description": "the category (reports.categories in config)"},
        "description": {**STRING, "description": "what the reporter wrote or said"},
        "grid_code": {"type": ["string", "null"],
                      "description": "the grid it was dispatched to; null: the default queue "
                                     f"({report_api.DEFAULT_QUEUE_NAME})"},
        "created_at": TIME,
        "due_at": {**TIME, "description": "the category's deadline for 办结"},
        "overdue": {"type": "boolean", "description": "still open and past due_at"},
        "backers": {**INT, "minimum": 0, "description": "members who backed it (附议)"},
        "rating": {"type": ["integer", "null"], "minimum": 1, "maximum": 5,
                   "description": "the reporter's rating after 已办结"},
    }
    report_detail = {
        **report_summary,
        "grid_name": STRING,
        "address": {"type": ["string", "null"]},
        "lat": {"type": ["number", "null"]},
        "lng": {"type": ["number", "null"]},
        "datum": {"type": "string", "const": "gcj02"},
        "photo_status": {"type": "string", "enum": ["none", "pending", "saved", "failed"]},
        "close_reason": {"type": ["string", "null"]},
        "reopened": {**INT, "minimum": 0,
                     "description": "times the reporter reopened it (未解决)"},
        "rated_at": {"type": ["string", "null"]},
        "resolved_at": {"type": ["string", "null"]},
        "closed_at": {"type": ["string", "null"]},
        "updated_at": TIME,
        "history": {"type": "array", "items": obj({
            "at": TIME,
            "actor": {**STRING, "description": "member, officer:<username>, api or system"},
            "from": {"type": ["string", "null"]},
            "to": STRING,
            "note": STRING,
        }, ["at", "actor", "from", "to", "note"], closed=True)},
    }
    return {
        "ReportSummary": obj(report_summary, list(report_summary), closed=True),
        "Report": obj(report_detail, list(report_detail), closed=True),
        "ReportList": obj({
            "total": {**INT, "minimum": 0, "description": "matching reports, all pages"},
            "limit": INT,
            "offset": INT,
            "reports": {"type": "array", "items": ref("ReportSummary")},
        }, ["total", "limit", "offset", "reports"], closed=True),
        "ReportMove": {
            "description": "the new status, a note for the reporter, and for 已关闭 a reason",
            "oneOf": [
                obj({"status": {"type": "string", "const": reports.CLOSED},
                      "note": {"type": ["string", "null"], "maxLength": report_api.NOTE_MAX,
                               **TEXT},
                      "reason": {"type": "string", "enum": list(reports.CLOSE_REASONS)}},
                     ["status", "reason"]),
                obj({"status": {"type": "string",
                                 "enum": [s for s in report_api.MOVABLE
                                          if s != reports.CLOSED]},
                      "note": {"type": ["string", "null"], "maxLength": report_api.NOTE_MAX,
                               **TEXT},
                      "reason": {"type": "null"}},
                     ["status"]),
            ],
        },
        "ReportNumbers": numbers,
        "GridNumbers": obj(grid_numbers, list(grid_numbers), closed=True),
        "ReportStats": obj({
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "timezone": {"type": "string", "const": "Asia/Shanghai"},
            "start": TIME,
            "end": TIME,
            "as_of": TIME,
            "grid": {"type": ["string", "null"],
                     "description": "the grid asked for; null: all (or the default queue)"},
            "grid_name": {**STRING, "description": "only when a grid was asked for"},
            "numbers": ref("ReportNumbers"),
            "grids": {"type": "array", "items": ref("GridNumbers"),
                      "description": "without ?grid: every grid, then the default queue"},
            "definitions": {"type": "object", "additionalProperties": STRING,
                            "description": "how each number is counted"},
        }, ["from", "to", "timezone", "start", "end", "as_of", "grid", "numbers",
            "definitions"], closed=True),
    }


def _parameters() -> dict[str, Any]:
    return {
        "Ticket": param("ticket", "path", {"type": "string",
                                            "pattern": "^[Rr][0-9]{8}-[0-9]{4}$"},
                         "the report's ticket, e.g. R20261128-0007"),
    }


def _paths() -> dict[str, Any]:
    statuses = list(report_api.STATUSES)
    day = {"type": "string", "pattern": "^((20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2})?$"}
    grid = {"type": "string", "maxLength": 32, **LINE}
    return {
        "/reports": {"get": op(
            "List 随手拍 reports",
            "Newest first. Never the reporter's name, phone, openid or member id.",
            "listReports", "reports",
            {"200": answer(ref("ReportList"), "one page of reports"), **errors(400, 401)},
            [param("status", "query", {"type": "array", "items": {"type": "string",
                                                                   "enum": [*statuses, ""]}},
                    "only these statuses, comma separated; empty: all", style="form",
                    explode=False),
             param("grid", "query", grid, "a grid code (case-insensitive), or none for the "
                                           "default queue"),
             param("overdue", "query", {"type": "string",
                                         "enum": ["", "1", "0", "true", "false", "yes", "no"]},
                    "1: only open reports past their deadline; 0: only the others "
                    "(case-insensitive)"),
             param("limit", "query", or_empty({"type": "integer", "minimum": 1,
                                                 "maximum": report_api.MAX_LIMIT}),
                    f"page size; {report_api.DEFAULT_LIMIT} when not given or empty"),
             param("offset", "query", or_empty({"type": "integer", "minimum": 0,
                                                  "maximum": report_api.MAX_OFFSET}),
                    "reports to skip; 0 when not given or empty")])},
        "/reports/stats": {"get": op(
            "Report numbers: 办结率, 满意率 …",
            "For the reports made in a range of days (Asia/Shanghai, both days included, the "
            "last 30 days by default, at most 366), overall and per grid; the response "
            "carries the exact definitions.",
            "reportStats", "reports",
            {"200": answer(ref("ReportStats"), "the numbers"), **errors(400, 401, 404)},
            [param("from", "query", day, "first day, YYYY-MM-DD (2000–2100)"),
             param("to", "query", day, "last day, YYYY-MM-DD (2000–2100); today by default"),
             param("grid", "query", grid, "one grid's numbers (404 if unknown), or none "
                                           "for the default queue's")])},
        "/reports/{ticket}": {"get": op(
            "A report with its history", "Location in GCJ-02; never the reporter's identity.",
            "getReport", "reports",
            {"200": answer(ref("Report"), "the report"), **errors(401, 404)},
            [p("Ticket")])},
        "/reports/{ticket}/status": {"post": op(
            "Move a report",
            "已受理 → 已派单 → 处理中 → 已办结, or → 已关闭 with a reason, as actor api; the "
            "reporter and backers are told.",
            "moveReport", "reports",
            {"200": answer(ref("Report"), "the report after the move"),
             **errors(400, 401, 404, 409, 413)},
            [p("Ticket")], body(ref("ReportMove")))},
    }
