"""/api/v1 refuses text past its field's maximum with a 400 naming the field and the limit
(an API caller can fix it), on SQLite and PostgreSQL; the OpenAPI document states the same
maximum; a value that slips past a handler's checks is a 400, not a 500 (models/text.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.clock import SHANGHAI
from bot.web.api import too_long_is_400
from models import activity as activities
from models import course as courses
from models import group as groups
from models.group import PartyGroup
from models.text import TooLong
from tests.conftest import Bot

API = {"Authorization": "Bearer xiaoge-demo-api-token"}
PLACE = {"place": "湖塘红色驿站二楼", "lat": 31.7093, "lng": 119.9512, "radius_m": 150}


async def _post(bot: Bot, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    resp = await bot.client.post(path, headers=API, json=body)
    return resp.status, await resp.json()


async def test_over_long_group_and_activity_text_is_a_400_with_the_limit(bot: Bot,
                                                                       sessions: Any) -> None:
    status, data = await _post(bot, "/api/v1/groups", {
        "name": "湖塘骑手党小组", "industry": "外卖送餐", "description": "学" * 501})
    assert status == 400
    assert data["error"] == "description must be at most 500 characters (501 given)"
    async with sessions() as s:
        assert (await s.exec(select(PartyGroup))).all() == []
    status, made = await _post(bot, "/api/v1/groups", {
        "name": "湖塘骑手党小组", "industry": "外卖送餐", "description": "学" * 500})
    assert status == 201, made
    code = made["code"]
    status, data = await _post(bot, f"/api/v1/groups/{code}", {"description": "习" * 600})
    assert status == 400 and "description" in data["error"] and "500" in data["error"]
    start = bot.clock.now() + timedelta(hours=48)
    activity = {"kind": "党小组会", "topic": "学习新修订的条例", "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(), **PLACE}
    status, data = await _post(bot, f"/api/v1/groups/{code}/activities",
                               {**activity, "place": "湖" * 121})
    assert status == 400
    assert data["error"] == "place must be at most 120 characters (121 given)"
    status, data = await _post(bot, f"/api/v1/groups/{code}/activities",
                               {**activity, "place": "湖" * 120})
    assert status == 201, data
    async with sessions() as s:
        group = (await s.exec(select(PartyGroup))).one()
    assert group.description == "学" * 500


async def test_an_over_long_course_description_is_a_400_with_the_limit(bot: Bot) -> None:
    start = (bot.clock.now() + timedelta(hours=48)).astimezone(SHANGHAI)
    body = {"code": "DX2612L", "title": "新就业群体党员的初心使命", "instructor": "王老师",
            "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat(),
            "capacity": 2, "hours": 2, **PLACE, "description": "课" * 2001}
    status, data = await _post(bot, "/api/v1/courses", body)
    assert status == 400 and data["error"] == "description 最长2000个字"
    status, data = await _post(bot, "/api/v1/courses", {**body, "description": "课" * 2000})
    assert status == 201, data
    status, data = await _post(bot, "/api/v1/courses/DX2612L", {"description": "课" * 3000})
    assert status == 400 and "description" in data["error"] and "2000" in data["error"]


async def test_the_openapi_document_states_the_same_maximums(bot: Bot) -> None:
    doc = await (await bot.client.get("/api/v1/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    assert schemas["GroupEdit"]["properties"]["description"]["maxLength"] == \
        groups.DESCRIPTION_MAX
    assert schemas["NewActivity"]["properties"]["place"]["maxLength"] == activities.PLACE_MAX
    found = [s["properties"]["description"].get("maxLength") for s in schemas.values()
             if isinstance(s, dict) and "title" in s.get("properties", {})
             and "instructor" in s.get("properties", {})
             and "description" in s.get("properties", {})]
    assert courses.DESCRIPTION_MAX in found


async def test_a_value_past_its_column_that_no_handler_caught_is_a_400() -> None:
    async def writes(request: web.Request) -> web.Response:
        raise TooLong("party_group", "description", 500, 501)

    app = web.Application(middlewares=[too_long_is_400])
    app.router.add_post("/api/v1/somewhere", writes)
    app.router.add_post("/console/somewhere", writes)
    async with TestClient(TestServer(app)) as client:
        resp = await client.post("/api/v1/somewhere")
        assert resp.status == 400
        assert (await resp.json())["error"] == (
            "description must be at most 500 characters (501 given)")
        assert (await client.post("/console/somewhere")).status == 500  # not the API's
