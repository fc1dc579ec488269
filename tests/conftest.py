"""Test fixtures: every database-backed test runs on SQLite and on PostgreSQL.

PostgreSQL is found through XIAOGE_TEST_DATABASE_URL (the Makefile points it at the
local server). When it cannot be reached the PostgreSQL variants are skipped with
the reason shown in the summary — except under CI=true, where that is an error.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import models  # noqa: F401  (every table, for truncating between tests)
from bot.app import create_app
from bot.clock import FakeClock
from bot.db import make_engine, session_factory
from bot.dev.peer import Mode, WechatPeer
from bot.dev.sandbox import STATE, SandboxState, create_sandbox
from bot.migrate import upgrade
from bot.settings import Settings, load_settings
from bot.wechat.message import parse
from tests.progress import (  # noqa: F401  (hooks: progress per folder)
    pytest_collection_finish,
    pytest_configure,
    pytest_runtest_logreport,
    pytest_terminal_summary,
    pytest_xdist_node_collection_finished,
)

ROOT = Path(__file__).resolve().parent.parent
BASE_PG_URL = os.environ.get("XIAOGE_TEST_DATABASE_URL", "")
# Under pytest-xdist every worker has a database of its own (test_gw0, test_gw1, …), made on
# first use beside the configured one: the tests empty their database between tests.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
PG_URL = (make_url(BASE_PG_URL).set(database=f"{make_url(BASE_PG_URL).database}_{WORKER}")
          .render_as_string(hide_password=False) if BASE_PG_URL and WORKER else BASE_PG_URL)
IN_CI = os.environ.get("CI", "").lower() == "true"
TABLES = [t.name for t in SQLModel.metadata.sorted_tables]


def _pg_problem() -> str | None:
    if not PG_URL:
        return "XIAOGE_TEST_DATABASE_URL is not set"

    async def _try() -> None:
        if PG_URL != BASE_PG_URL:
            await _create_database(PG_URL)
        engine = create_async_engine(PG_URL)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        asyncio.run(asyncio.wait_for(_try(), timeout=5))
    except Exception as exc:
        return f"PostgreSQL at {PG_URL.split('@')[-1]} unreachable: {type(exc).__name__}"
    return None


async def _create_database(url: str) -> None:
    """The worker's own database, created through the configured one when missing."""
    name = make_url(url).database
    engine = create_async_engine(BASE_PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                      {"n": name})
            if not found:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> str:
    problem = _pg_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true but {problem}", pytrace=False)
        pytest.skip(f"PostgreSQL variant skipped: {problem}")

    async def _reset() -> None:
        engine = create_async_engine(PG_URL)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(_reset())
    upgrade(PG_URL)
    return PG_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "xiaoge.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind. (A sync fixture: it runs outside the loop.)"""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "xiaoge.db"
        shutil.copy(template, path)
        return f"sqlite+aiosqlite:///{path}"
    return emptied(request.getfixturevalue("pg_url"))


@pytest.fixture
def pg_db_url(pg_url: str) -> str:
    """The PostgreSQL database alone, emptied: for tests of what only PostgreSQL is
    deployed for (several instances on one database)."""
    return emptied(pg_url)


def emptied(url: str) -> str:
    async def _truncate() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        await engine.dispose()

    asyncio.run(_truncate())
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 28, 2, 0, tzinfo=UTC))  # 10:00 in Wujin


@dataclass
class Sandbox:
    """The WeChat API stand-in on its own port, sharing the tests' clock."""

    server: TestServer
    state: SandboxState
    url: str

    def delivered(self, openid: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.state.messages if openid is None or m["touser"] == openid]


@pytest.fixture
async def sandbox(clock: FakeClock) -> AsyncIterator[Sandbox]:
    demo = load_settings(ROOT / "config.yaml")
    app = create_sandbox(demo.wechat.app_id, demo.wechat.app_secret, clock)
    server = TestServer(app)
    await server.start_server()
    yield Sandbox(server, app[STATE], str(server.make_url("")).rstrip("/"))
    await server.close()


@pytest.fixture
def settings(db_url: str, sandbox: Sandbox, tmp_path: Path) -> Settings:
    return load_settings(ROOT / "config.yaml", database={"url": db_url},
                         wechat={"api_base_url": sandbox.url},
                         reports={"photo_dir": str(tmp_path / "photos")})


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[Any]:
    engine = make_engine(settings.database.url)
    yield session_factory(engine)
    await engine.dispose()


@dataclass
class Reply:
    status: int
    body: str
    fields: dict[str, Any] | None

    @property
    def text(self) -> str | None:
        return self.fields.get("Content") if self.fields else None


class Bot:
    """Plays WeChat against the app: signed callbacks in, parsed replies out."""

    def __init__(self, client: TestClient, settings: Settings, clock: FakeClock,
                 sandbox: Sandbox):
        self.client = client
        self.settings = settings
        self.clock = clock
        self.sandbox = sandbox
        w = settings.wechat
        self.peer = WechatPeer(w.token, w.app_id, w.encoding_aes_key)

    @property
    def now_ts(self) -> int:
        return int(self.clock.now().timestamp())

    async def post(self, xml: str, mode: Mode = "plain", **kw: Any) -> Reply:
        try:  # WeChat notes what the user did before it calls us
            if kind := parse(xml).interaction:
                self.sandbox.state.interact(parse(xml).openid, kind)
        except ValueError:
            pass  # the protocol tests send broken bodies on purpose
        req = self.peer.sign(xml, mode, timestamp=kw.pop("timestamp", self.now_ts))
        resp = await self.client.post("/wechat", params=req.params, data=req.body.encode(),
                                      headers={"Content-Type": "text/xml"})
        body = await resp.text()
        fields = self.peer.read_reply(body, mode) if resp.status == 200 else None
        return Reply(resp.status, body, fields)

    def phone(self, openid: str, mode: Mode = "plain") -> Phone:
        return Phone(self, openid, mode)


class Phone:
    """One WeChat user."""

    def __init__(self, bot: Bot, openid: str, mode: Mode):
        self.bot, self.openid, self.mode = bot, openid, mode

    async def send(self, xml: str) -> str | None:
        reply = await self.bot.post(xml, self.mode)
        assert reply.status == 200, reply.body
        return reply.text

    async def say(self, words: str, **kw: Any) -> str | None:
        return await self.send(self.bot.peer.text(self.openid, words,
                                                  create_time=self.bot.now_ts, **kw))

    async def event(self, event: str, key: str | None = None) -> str | None:
        return await self.send(self.bot.peer.event(self.openid, event, key,
                                                   create_time=self.bot.now_ts))

    async def register(self, name: str = "张三", mobile: str = "13800138000") -> str | None:
        for answer in ("注册", name, mobile, "2", "美团", "1"):
            await self.say(answer)
        return await self.say("同意")


BotFactory = Callable[..., Awaitable[Bot]]


@pytest.fixture
async def make_bot(settings: Settings, clock: FakeClock, sandbox: Sandbox
                   ) -> AsyncIterator[BotFactory]:
    """Start the app (again, for restart tests); every client is closed at the end."""
    clients: list[TestClient] = []

    async def _make(app_settings: Settings | None = None, **kw: Any) -> Bot:
        s = app_settings or settings
        kw.setdefault("sandbox", False)
        kw.setdefault("scheduler", False)  # its own tests start it
        client = TestClient(TestServer(create_app(s, clock=clock, **kw)))
        await client.start_server()
        clients.append(client)
        return Bot(client, s, clock, sandbox)

    yield _make
    for client in clients:
        await client.close()


@pytest.fixture
async def bot(make_bot: BotFactory) -> Bot:
    return await make_bot()
