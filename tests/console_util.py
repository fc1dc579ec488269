"""Helpers for console tests: accounts, logging in through the real form, reading tokens."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from models import staff

PASSWORD = "password-123"


async def make_user(sessions, clock, username: str, role: str, **kw: Any) -> None:
    async with sessions() as s, s.begin():
        await staff.create_user(s, username, role, PASSWORD, clock.now(), **kw)


def csrf_of(html: str) -> str:
    found = re.search(r'name="_csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def login(client: TestClient, username: str, password: str = PASSWORD,
                next_: str = "/console/") -> Any:
    page = await client.get("/console/login")
    token = csrf_of(await page.text())
    return await client.post("/console/login", data={
        "_csrf": token, "username": username, "password": password, "next": next_},
        allow_redirects=False)


async def page_csrf(client: TestClient, path: str = "/console/") -> str:
    return csrf_of(await (await client.get(path)).text())
