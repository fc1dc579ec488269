"""/api/v1: every answer is `Cache-Control: no-store` (200s and errors of any origin, with
the token or an admin's console session), and text parameters with a control or invisible
character anywhere — start, middle or end, before any trimming — are a 400 with a reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.test_reports_api import api, seed
from tests.conftest import Bot, BotFactory
from tests.console_util import login, make_user

BAD = ["\r", "\x1e", "\x00", "\x7f", "\x85", "\u200b", "\u200e", "\u2028", "\u202e",
       "\u2060", "\ufeff"]
PLACES = {"start": "{c}HT", "middle": "H{c}T", "end": "HT{c}"}


def _placed(where: str, char: str) -> str:
    return PLACES[where].format(c=char)


async def test_no_store_on_every_api_answer(make_bot: BotFactory, sessions) -> None:
    bot: Bot = await make_bot()
    client = bot.client
    token = {"Authorization": f"Bearer {bot.settings.api.token}"}
    answers = [
        await client.get("/api/v1/reports", headers=token),                      # 200
        await client.get("/api/v1/reports"),                                     # 401
        await client.get("/api/v1/reports/R20260101-0001", headers=token),       # 404
        await client.get("/api/v1/reports", params={"limit": "x"}, headers=token),  # 400
        await client.get("/api/v1/nothing-here", headers=token),                 # aiohttp 404
        await client.delete("/api/v1/reports", headers=token),                   # aiohttp 405
        await client.post("/api/v1/reports/R20260101-0001/status", data="{",
                          headers={**token, "Content-Type": "application/json"}),  # 400
        await client.get("/api/v1/openapi.json"),
    ]
    assert [a.status for a in answers] == [200, 401, 404, 400, 404, 405, 400, 200]
    for answer in answers:
        assert answer.headers.get("Cache-Control") == "no-store", answer.url
    # With an admin's console cookie instead of the token.
    await make_user(sessions, bot.clock, "admin-no-store", "admin")
    await login(client, "admin-no-store")
    for path in ("/api/v1/reports", "/api/v1/reports/R20260101-0001"):
        answer = await client.get(path)
        assert answer.status in (200, 404)
        assert answer.headers.get("Cache-Control") == "no-store"


@pytest.mark.parametrize("where", list(PLACES))
@pytest.mark.parametrize("char", BAD, ids=[f"U+{ord(c):04X}" for c in BAD])
async def test_query_text_with_a_control_or_invisible_character(
        bot: Bot, where: str, char: str) -> None:
    client = api(bot)
    value = _placed(where, char)
    for path in ("/api/v1/reports", "/api/v1/reports/stats"):
        status, data = await client.get(path, grid=value)
        assert status == 400, (path, value, data)
        assert "grid" in data["error"] and "control or invisible" in data["error"]


@pytest.mark.parametrize("limit", ["\r5", "1\u200b0", "5\x1e"])
async def test_other_query_values_are_checked_too(bot: Bot, limit: str) -> None:
    """Trimming would have made these numbers; they are refused before it."""
    status, data = await api(bot).get("/api/v1/reports", limit=limit)
    assert status == 400 and "control or invisible" in data["error"], data


async def test_clean_values_still_work(bot: Bot) -> None:
    client = api(bot)
    assert (await client.get("/api/v1/reports", grid=" HT "))[0] == 200  # a space is trimmed
    assert (await client.get("/api/v1/reports", grid="none"))[0] == 200


@pytest.mark.parametrize("where", list(PLACES))
@pytest.mark.parametrize("char", ["\x1e", "\x0b", "\u200b", "\u2029", "\x9b"])
async def test_json_text_fields(bot: Bot, where: str, char: str) -> None:
    made = await seed(bot)
    client = api(bot)
    note = _placed(where, char)
    status, data = await client.move(made["ht"], status="已派单", note=note)
    assert status == 400 and "note" in data["error"], data
    group: dict[str, Any] = {"name": _placed(where, char) + "小组", "industry": "快递"}
    status, data = await client.post("/api/v1/groups", group)
    assert status == 400 and "name" in data["error"], data


async def test_a_multi_line_note_keeps_its_line_breaks(bot: Bot) -> None:
    made = await seed(bot)
    status, data = await api(bot).move(made["ht"], status="已派单", note="第一行\n\t第二行\r\n")
    assert status == 200, data
    assert data["history"][-1]["note"] == "第一行\n\t第二行"


def test_the_document_forbids_what_the_server_refuses() -> None:
    from bot.web.openapi import document
    from handlers import install
    from models.text import LINE_PATTERN, TEXT_PATTERN

    doc = json.dumps(document(install().openapi))
    assert json.dumps(LINE_PATTERN)[1:-1] in doc and json.dumps(TEXT_PATTERN)[1:-1] in doc
    assert "\\\\s" not in doc  # \s admits control characters
