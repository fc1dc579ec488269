"""/api/v1/openapi.json: a valid OpenAPI document that lists exactly the /api/v1 routes the
app registers, and matches what a real server (`run.py serve`) accepts and answers.

The property tests run schemathesis (examples, coverage and fuzzing phases, positive and
negative data; OPENAPI_MAX_EXAMPLES per operation, 50 by default) against one server process
per database: SQLite always, PostgreSQL when XIAOGE_TEST_DATABASE_URL reaches one (skipped
otherwise, an error under CI=true, like every database test here; PostgreSQL refuses text
SQLite takes, such as NUL). The database is seeded with a member, a grid, reports, groups,
activities, courses and a notice whose identifiers are fixed here, so that the operations
on one object reach it instead of only ever answering 404. Every response must conform to
the document (status code, content type, body schema, 401 without the token, 4xx for data
the document calls invalid) and none may be a 5xx; the server's log must hold no traceback.
"""

from __future__ import annotations

import asyncio
import copy
import http.client
import json
import os
import re
import shutil
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

import handlers
from bot.app import create_app
from bot.clock import SHANGHAI
from bot.settings import load_settings
from bot.web.openapi import PREFIX, document
from tests.browser_util import running_server
from tests.conftest import emptied

ROOT = Path(__file__).resolve().parents[2]
TOKEN = load_settings(ROOT / "config.yaml").api.token
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_EXAMPLES = int(os.environ.get("OPENAPI_MAX_EXAMPLES", "50"))  # more: a longer hunt

# --- the seeded world, fixed so the document's examples can name it --------------------------

NOW = datetime.now(UTC).replace(microsecond=0)
SOON = (NOW + timedelta(days=20)).astimezone(SHANGHAI).replace(hour=19, minute=0)
LATER = SOON + timedelta(days=3)
TICKETS = {"dispatched": "R20260101-0001", "resolved": "R20260101-0002",
           "closed": "R20260101-0003", "queue": "R20260101-0004"}
GROUP, GROUP_TO_RECODE = "ABCDEF", "GHJKMN"
LEADER = "oas-leader"
ACTIVITY, ACTIVITY_TO_CANCEL = 1, 2
COURSE, DRAFT_COURSE, COURSE_TO_CANCEL = "OAS1", "OAS2", "OAS3"
NOTICE = 1
PLACE = {"place": "湖塘红色驿站", "lat": 31.7093, "lng": 119.9512}


def _hour(start: datetime) -> dict[str, str]:
    return {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}


# Per operation: the seeded object its path names, and a body that should be accepted.
EXAMPLES: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any] | None]] = {
    ("post", "/notices"): ({}, {"title": "今晚学习", "body": "八点在驿站学习", "audience": "all"}),
    ("get", "/notices/{id}"): ({"id": NOTICE}, None),
    ("get", "/reports/{ticket}"): ({"ticket": TICKETS["resolved"]}, None),
    ("post", "/reports/{ticket}/status"): ({"ticket": TICKETS["dispatched"]},
                                           {"status": "处理中", "note": "已联系环卫"}),
    ("post", "/groups"): ({}, {"name": "快递二组", "industry": "快递物流", "leader": LEADER}),
    ("post", "/groups/{code}"): ({"code": GROUP}, {"description": "湖塘片区的快递小哥"}),
    ("post", "/groups/{code}/activities"): ({"code": GROUP}, {
        "kind": "党课", "topic": "学习新思想", **_hour(SOON), **PLACE}),
    ("post", "/groups/{code}/regenerate-code"): ({"code": GROUP_TO_RECODE}, None),
    ("get", "/activities/{id}"): ({"id": ACTIVITY}, None),
    ("post", "/activities/{id}/move"): ({"id": ACTIVITY}, _hour(LATER)),
    ("post", "/activities/{id}/cancel"): ({"id": ACTIVITY_TO_CANCEL}, None),
    ("post", "/courses"): ({}, {"code": "NEW1", "title": "新课程", **_hour(SOON),
                                "capacity": 30, "hours": 2, **PLACE}),
    ("get", "/courses/{code}"): ({"code": COURSE}, None),
    ("post", "/courses/{code}"): ({"code": COURSE}, {"capacity": 40}),
    ("post", "/courses/{code}/publish"): ({"code": DRAFT_COURSE}, None),
    ("post", "/courses/{code}/move"): ({"code": COURSE}, _hour(LATER)),
    ("post", "/courses/{code}/cancel"): ({"code": COURSE_TO_CANCEL}, None),
    ("post", "/courses/{code}/notices"): ({"code": COURSE},
                                          {"title": "课程提醒", "body": "请准时到场"}),
}


def with_examples(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with the seeded objects as examples (only the examples differ)."""
    doc = copy.deepcopy(doc)
    shared = doc["components"]["parameters"]
    for (method, path), (params, body) in EXAMPLES.items():
        op = doc["paths"][path][method]
        for i, param in enumerate(op.get("parameters", [])):
            if "$ref" in param:
                param = copy.deepcopy(shared[param["$ref"].rsplit("/", 1)[-1]])
            if param["name"] in params:
                param["example"] = params[param["name"]]
            op["parameters"][i] = param
        if body is not None:
            op["requestBody"]["content"]["application/json"]["example"] = body
    return doc


async def _seed(url: str) -> None:
    from bot.db import make_engine, session_factory
    from models import notice as notices
    from models.activity import Activity
    from models.course import Course, Enrolment
    from models.grid import Grid
    from models.group import GroupMembership, PartyGroup
    from models.member import Member
    from models.report import Report, ReportEvent
    from models.staff import ConsoleUser

    engine = make_engine(url)
    past = NOW - timedelta(days=2)
    async with session_factory(engine)() as s, s.begin():
        members = [Member(openid=f"oas-openid-{i}", name=name, mobile=f"1380013800{i}",
                          industry="快递物流", platform="顺丰", party_status="中共党员",
                          consent_at=past, consent_source="wechat", registered_at=past,
                          created_at=past, last_inbound_at=NOW)
                   for i, name in enumerate(("张三", "李四"))]
        s.add_all(members)
        s.add(Grid(code="HT", name="湖塘", polygons=[], officers=[], min_lat=31.6,
                   max_lat=31.8, min_lng=119.9, max_lng=120.0, updated_at=past))
        leader = ConsoleUser(username=LEADER, password_hash="-", role="leader", created_at=past)
        s.add(leader)
        await s.flush()
        for ticket, status, grid, extra in (
                (TICKETS["dispatched"], "已派单", "HT", {}),
                (TICKETS["resolved"], "已办结", "HT", {"resolved_at": NOW, "rating": 5,
                                                     "rated_at": NOW}),
                (TICKETS["closed"], "已关闭", "HT", {"close_reason": "重复", "closed_at": NOW}),
                (TICKETS["queue"], "已受理", None, {"address": "武进区湖塘镇"})):
            report = Report(ticket=ticket, member_id=members[0].id or 0, category="市容环境",
                            description="垃圾桶满了", lat=31.7093, lng=119.9512,
                            grid_code=grid, status=status, created_at=past,
                            due_at=past + timedelta(days=1), updated_at=NOW, **extra)
            s.add(report)
            await s.flush()
            s.add(ReportEvent(report_id=report.id or 0, at=past, actor="member",
                              to_status="已受理", note=""))
        groups = [PartyGroup(code=code, name=name, industry="快递物流", created_at=past,
                             leader_id=leader.id)
                  for code, name in ((GROUP, "快递一组"), (GROUP_TO_RECODE, "外卖一组"))]
        s.add_all(groups)
        await s.flush()
        s.add_all([GroupMembership(group_id=groups[0].id or 0, member_id=m.id or 0,
                                   joined_at=past) for m in members])
        s.add_all([Activity(group_id=groups[0].id or 0, code=code, kind="党小组会",
                            topic="学习", start_at=SOON, end_at=SOON + timedelta(hours=1),
                            created_at=past) for code in ("ACT234", "ACT567")])
        courses = [Course(code=code, title="党史学习", start_at=SOON,
                          end_at=SOON + timedelta(hours=2), status=status, timed_at=past,
                          created_at=past, place=PLACE["place"], lat=PLACE["lat"],
                          lng=PLACE["lng"], capacity=1, hours=2)
                   for code, status in ((COURSE, "published"), (DRAFT_COURSE, "draft"),
                                        (COURSE_TO_CANCEL, "published"))]
        s.add_all(courses)
        await s.flush()
        s.add_all([Enrolment(course_id=courses[0].id or 0, member_id=m.id or 0, status=status,
                             queued_at=past, enrolled_at=past if status == "enrolled" else None)
                   for m, status in zip(members, ("enrolled", "waitlist"), strict=True)])
        await notices.create(s, "欢迎", "欢迎使用小哥红驿", "all", NOW, created_by="test")
    await engine.dispose()


# --- one server for the module -------------------------------------------------------------


@dataclass
class Server:
    base: str  # http://127.0.0.1:PORT/api/v1
    log: Path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    """`run.py serve` on a seeded database (dev mode: the sandbox answers pushes)."""
    tmp = tmp_path_factory.mktemp("openapi")
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp / "xiaoge.db")
        url = f"sqlite+aiosqlite:///{tmp / 'xiaoge.db'}"
    else:
        # skipped when PostgreSQL is unreachable
        url = emptied(request.getfixturevalue("pg_url"))
    asyncio.run(_seed(url))
    with running_server(tmp, url) as (base, _env):  # its log is checked when it stops
        yield Server(f"{base}{PREFIX}", tmp / "server.log")


# --- the document itself -------------------------------------------------------------------


def test_the_document_is_valid_openapi() -> None:
    raw = document(handlers.install().openapi)
    assert raw["openapi"].startswith("3.1")
    schema = schemathesis.openapi.from_dict(raw)
    schema.validate()  # against the OpenAPI 3.1 meta-schema; raises when invalid
    assert all(op.ok() for op in schema.get_all_operations())
    assert raw["servers"] == [{"url": PREFIX}]  # relative: the document works on any host
    json.dumps(raw)  # plain JSON all the way down
    # Every schema is a valid JSON Schema 2020-12 whose references and patterns compile
    # (jsonschema_rs comes with schemathesis).
    components = raw["components"]
    inline = [p["schema"] for p in components["parameters"].values()]
    for name in components["schemas"]:
        inline.append({"$ref": f"#/components/schemas/{name}"})
    for path in raw["paths"].values():
        for op in path.values():
            inline += [p["schema"] for p in op.get("parameters", []) if "schema" in p]
    for schema_ in inline:
        jsonschema_rs.meta.validate(schema_)
        jsonschema_rs.Draft202012Validator({**schema_, "components": components})


def _routes(app: web.Application, prefix: str = "") -> dict[tuple[str, str], dict[str, str]]:
    """(method, path) → the regex of each path parameter, through sub-apps too."""
    found = {}
    for resource in app.router.resources():
        info = resource.get_info()
        if isinstance(resource, web.PrefixedSubAppResource):
            found.update(_routes(info["app"], prefix + info["prefix"]))
            continue
        pattern = getattr(info.get("pattern"), "pattern", "")
        params = dict(re.findall(r"\(\?P<(\w+)>(.*?)\)(?:/|$)", pattern))
        for route in resource:
            if route.method not in ("HEAD", "*"):
                found[(route.method.lower(), prefix + resource.canonical)] = params
    return found


def _path_params(doc: dict[str, Any], op: dict[str, Any]) -> dict[str, dict[str, Any]]:
    shared = doc["components"]["parameters"]
    params = [shared[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p
              for p in op.get("parameters", [])]
    return {p["name"]: p["schema"] for p in params if p["in"] == "path"}


def test_every_api_route_is_described_and_nothing_else(tmp_path: Path) -> None:
    settings_ = load_settings(ROOT / "config.yaml",
                              database={"url": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"})
    app = create_app(settings_, background=False, scheduler=False, sandbox=True)
    served = {(method, path.removeprefix(PREFIX)): params
              for (method, path), params in _routes(app).items()
              if path.startswith(PREFIX + "/")}
    doc = document(handlers.install().openapi)
    described = {(method, path): _path_params(doc, op)
                 for path, item in doc["paths"].items() for method, op in item.items()
                 if method in ("get", "post", "put", "patch", "delete")}
    assert served.keys() == described.keys(), (served.keys() - described.keys(),
                                                described.keys() - served.keys())
    assert EXAMPLES.keys() <= described.keys()
    # Path parameters: the same names, and the route's own constraint where it has one.
    for key, regexes in served.items():
        schemas = described[key]
        assert regexes.keys() == schemas.keys(), key
        for name, regex in regexes.items():
            if regex == "[^{}/]+":  # aiohttp's default: any one segment
                continue
            if regex == "\\d{1,9}":
                assert schemas[name]["type"] == "integer", key
                assert (schemas[name]["minimum"], schemas[name]["maximum"]) == (0, 10**9 - 1)
            else:
                assert schemas[name]["pattern"] == f"^{regex}$", key


def test_the_document_is_served_without_a_token(server: Server) -> None:
    with urllib.request.urlopen(f"{server.base}/openapi.json", timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers.get_content_type() == "application/json"
        assert json.loads(resp.read()) == document(handlers.install().openapi)


def test_aiohttp_errors_under_the_api_are_json(server: Server) -> None:
    for method, path, status in (("GET", "/nothing-here", 404),
                                 ("GET", "/notices/1234567890", 404),
                                 ("DELETE", "/notices", 405)):
        req = urllib.request.Request(server.base + path, method=method, headers=AUTH)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == status
        assert err.value.headers.get_content_type() == "application/json"
        assert "error" in json.loads(err.value.read())


def _call(server: Server, method: str, path: str, body: bytes | str | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """A raw request (http.client sends header text as Latin-1 bytes, as given)."""
    host, _, port = server.base.removeprefix("http://").partition("/")[0].partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, PREFIX + path, body=body.encode() if isinstance(body, str)
                     else body, headers={**AUTH, "Content-Type": "application/json",
                                         **(headers or {})})
        resp = conn.getresponse()
        assert resp.headers.get_content_type() == "application/json", resp.status
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_what_fuzzing_found_is_answered_with_4xx(server: Server) -> None:
    """Each of these was a 500 before (some only on PostgreSQL)."""
    # A token header that is not UTF-8.
    assert _call(server, "GET", "/courses", headers={"Authorization": "Bearer \xe9"}
                 )[0] == 401
    # NUL and half a surrogate pair in JSON text; JSON nested deeper than Python recurses.
    notice = {"title": "通知", "body": "正文", "audience": "all"}
    for bad in ('{"name": "a\\u0000b", "industry": "快递物流"}',
                '{"name": "a\\udc00b", "industry": "快递物流"}', "[" * 100_000):
        status, answer = _call(server, "POST", "/groups", bad)
        assert status == 400 and "error" in answer
    # A time outside what the database can hold.
    status, answer = _call(server, "POST", "/notices",
                           json.dumps({**notice, "at": "0001-01-01T00:00"}))
    assert status == 400 and "2000" in answer["error"]
    # A group code no group can have is not looked up.
    assert _call(server, "POST", "/groups/AB%00C", "{}")[0] == 404
    # An Idempotency-Key names one notice: another course's enrollees are not "told" by a
    # replay of the first course's notice.
    key = {"Idempotency-Key": f"oas-{time.time_ns()}"}
    first = _call(server, "POST", f"/courses/{COURSE}/notices", json.dumps(notice), key)
    assert first[0] == 201
    again = _call(server, "POST", f"/courses/{COURSE}/notices", json.dumps(notice), key)
    assert again[0] == 200 and again[1]["id"] == first[1]["id"]
    status, answer = _call(server, "POST", "/notices", json.dumps(notice), key)
    assert status == 409 and "Idempotency-Key" in answer["error"]


# --- schemathesis against the server -------------------------------------------------------

CONFIG = SchemathesisConfig.from_dict({
    "auth": {"openapi": {"bearerAuth": {"bearer": TOKEN}}},
    "generation": {"max-examples": MAX_EXAMPLES},
    # Data the document allows may still be refused for the state of things (a name taken,
    # a time now past, an audience of nobody, a cancelled course): those are 400/409 by
    # design, so "valid data is accepted" is the one check left out.
    "checks": {"positive_data_acceptance": {"enabled": False}},
})
schema = schemathesis.openapi.from_dict(with_examples(document(handlers.install().openapi)),
                                        config=CONFIG)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_server_does_what_the_document_says(case: Any, server: Server) -> None:
    case.call_and_validate(base_url=server.base, timeout=30)
