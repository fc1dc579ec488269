"""The OpenAPI 3.1 document of /api/v1, served at GET /api/v1/openapi.json (no token needed).

This module is the generic builder: the shapes and helpers the parts are written with, the
document around them (info, security, the shared error responses, this document's own
path), serving it, and JSON for aiohttp's own errors under /api/v1. Each feature describes
its own routes in handlers/<feature>/openapi.py and registers that part with
`features.openapi` (bot/features.py); the app factory passes the parts in. A part is a
callable answering a dict with:

    paths       {path: path item}, relative to /api/v1
    schemas     {name: schema} for components.schemas (refer to them with `ref(name)`)
    parameters  {name: parameter} for components.parameters (refer to them with `p(name)`)
    tag         {"name": …, "description": …}: the tag its operations carry
    summary     how the document's description names the feature ("随手拍 reports")
    rank        where its tag and summary are listed, lowest first

Names must not clash between parts. tests/api/test_openapi.py holds the document to what
the handlers really accept and answer with schemathesis against a running server, and
checks that every /api/v1 route is described. Enums and limits come from the code that
enforces them, so the two cannot drift apart.

Open311 (GeoReport v2, public and read-only) lives under its own prefix, /open311/v2, with
its own error format, and is not part of this document.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from bot.features import OpenApiPart
from bot.web.pages import no_store
from models.text import LINE_CHAR, LINE_PATTERN, TEXT_PATTERN

PREFIX = "/api/v1"
JSON = "application/json"

_dumps = functools.partial(json.dumps, ensure_ascii=False)


# --- small builders ------------------------------------------------------------------------


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema["type"]
    return {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Any], required: list[str] | None = None,
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


def answer(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def body(schema: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"required": True, "content": {JSON: {"schema": schema}}}
    if description:
        out["description"] = description
    return out


def errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"$ref": f"#/components/responses/{_ERROR_NAMES[code]}"}
            for code in codes}


_ERROR_NAMES = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound", 409: "Conflict",
                413: "TooLarge"}


def op(summary: str, description: str, op_id: str, tag: str, responses: dict[str, Any],
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


def param(name: str, where: str, schema: dict[str, Any], description: str,
          required: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema, **extra}


def or_empty(schema: dict[str, Any]) -> dict[str, Any]:
    """A query value that may also be given empty (?limit=), meaning its default."""
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}]}


def p(name: str) -> dict[str, str]:
    """A reference to a shared parameter (components.parameters)."""
    return {"$ref": f"#/components/parameters/{name}"}


# --- shared shapes -------------------------------------------------------------------------

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
TIME: Schema = {"type": "string", "description": "ISO 8601 time with its offset"}
NAMES: Schema = {"type": "array", "items": STRING}
# A time given to the server: ISO 8601 as Python reads it (2026-12-05T19:30, with seconds,
# an offset or Z, or a date alone); without an offset, Asia/Shanghai.
TIME_IN: Schema = {"type": "string",
                   "description": "ISO 8601, e.g. 2026-12-05T19:30 or 2026-12-05T19:30:00+08:00; "
                                  "Asia/Shanghai when no offset is given; years 2000–2100.",
                   "examples": ["2026-12-05T19:30"]}
LAT: Schema = {"type": "number", "minimum": -90, "maximum": 90}
LNG: Schema = {"type": "number", "minimum": -180, "maximum": 180}
HTTP_URL: Schema = {"type": "string", "pattern": f"^https?://{LINE_CHAR}*$", "maxLength": 512}
# Text the server checks with models/text.py (no control or invisible character anywhere,
# before trimming): a single line, and a multi-line body (tab and line breaks allowed).
LINE: Schema = {"pattern": LINE_PATTERN}
TEXT: Schema = {"pattern": TEXT_PATTERN}


def message_fields(title_max: int, url_max: int, body_bytes: int) -> dict[str, Schema]:
    """The fields of a message pushed to an audience (a notice, a course's notice): title,
    body, an optional link and when to send it."""
    return {
        "title": {"type": "string", "minLength": 1, "maxLength": title_max, **LINE,
                  "description": f"1–{title_max} characters (surrounding spaces trimmed)"},
        "body": {"type": "string", "minLength": 1, **TEXT,
                 "description": "the text; with the title and url at most "
                                f"{body_bytes} bytes of UTF-8 (a 客服 message's limit)"},
        "url": {"type": ["string", "null"], "pattern": f"^($|https?://{LINE_CHAR}*)$",
                "maxLength": url_max, "description": "a link sent with the notice (empty: none)"},
        "at": {**nullable(TIME_IN), "description": "when to send it (ISO 8601; Asia/Shanghai "
                                                     "without an offset); now when null or "
                                                     "empty"},
    }


# --- the document --------------------------------------------------------------------------


def _error() -> dict[str, Any]:
    return obj({"error": {**STRING, "description": "what was wrong"}}, ["error"], closed=True)


def _responses() -> dict[str, Any]:
    error = ref("Error")
    return {
        "BadRequest": answer(error, "the request is malformed or breaks a rule; `error` "
                                    "says which"),
        "Unauthorized": answer(error, "the API token is missing or wrong"),
        "NotFound": answer(error, "no such object (also for ids and codes that cannot "
                                  "exist)"),
        "Conflict": answer(error, "the object's state does not allow it"),
        "TooLarge": answer(error, "the body is larger than 1 MiB"),
    }


def _own_paths() -> dict[str, Any]:
    return {"/openapi.json": {"get": {
        **op("This document", "The OpenAPI description of /api/v1; no token needed.",
             "getOpenapi", "meta", {"200": {
                 "description": "this document",
                 "content": {JSON: {"schema": {"type": "object"}}}}}),
        "security": [],
    }}}


def _merged(into: dict[str, Any], more: dict[str, Any], what: str) -> None:
    if clash := into.keys() & more.keys():
        raise ValueError(f"OpenAPI {what} described twice: {', '.join(sorted(clash))}")
    into.update(more)


def _listing(names: list[str]) -> str:
    """'a, b, and c' ('a and b', 'a')."""
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + ", and " + names[-1]


def document(parts: Iterable[OpenApiPart]) -> dict[str, Any]:
    """The OpenAPI document with the features' parts (a fresh dict each call)."""
    made = sorted((make() for make in parts), key=lambda part: part.get("rank", 0))
    paths, schemas = _own_paths(), {"Error": _error()}
    parameters: dict[str, Any] = {}
    for part in made:
        _merged(paths, part.get("paths", {}), "paths")
        _merged(schemas, part.get("schemas", {}), "schemas")
        _merged(parameters, part.get("parameters", {}), "parameters")
    what = _listing([part["summary"] for part in made if "summary" in part]) or "The API"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "小哥红驿 API",
            "version": "1.0.0",
            "summary": "The JSON API behind the 小哥红驿 console",
            "description": (
                f"{what}, for the district's own systems and the web console.\n\n"
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
        "tags": [*(part["tag"] for part in made if "tag" in part),
                 {"name": "meta", "description": "this document"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "the api.token from config.yaml"},
                "consoleSession": {
                "type": "apiKey", "in": "cookie", "name": "xiaoge_console",
                "description": "an admin's console login; writes also need the session's "
                               "X-CSRF-Token header (other roles get 403)"}},
            "schemas": schemas,
            "responses": _responses(),
            "parameters": parameters,
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


def add_openapi_routes(app: web.Application, parts: Iterable[OpenApiPart]) -> None:
    """GET /api/v1/openapi.json with the features' parts, JSON for aiohttp's own errors
    under /api/v1, and `Cache-Control: no-store` on every /api/v1 and /console answer
    (bot/web/pages.py: no_store; a signal, so errors of any origin carry it too)."""
    app[DOCUMENT] = _dumps(document(parts), indent=1)
    app.router.add_get(f"{PREFIX}/openapi.json", serve_document)
    app.middlewares.append(json_errors)
    app.on_response_prepare.append(no_store)
