"""The stable access token (POST /cgi-bin/stable_token), against the sandbox over HTTP.

The client is built as bot/app.py builds it (token_fetchers + SharedToken + WechatApi on
one aiohttp session); a second engine on the same database plays a second instance. The
sandbox's own rules (same token to every caller, reissue in the last 5 minutes, force
refresh with its overlap, 30 s spacing, 20 a day) are checked over HTTP too. Tests that
hold the token in the database run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.app import Services
from bot.clock import FakeClock
from bot.db import make_engine, session_factory
from bot.dev.sandbox import TOKEN_TTL_S
from bot.settings import ConfigError, Settings, load_settings
from bot.wechat.client import WechatApi, WechatError
from bot.wechat.token import (
    CACHE_S,
    STABLE_REFRESH_AHEAD,
    ForceRefreshRefused,
    SharedToken,
    token_fetchers,
)
from models import token as token_rows
from models.token import AccessToken
from tests.conftest import ROOT, Sandbox

STABLE = "/cgi-bin/stable_token"
CLASSIC = "/cgi-bin/token"
TEMPLATE = "/cgi-bin/message/template/send"
OVERLAP = timedelta(minutes=5)


@dataclass
class Client:
    api: WechatApi
    tokens: SharedToken
    http: aiohttp.ClientSession


MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
async def make_client(settings: Settings, clock: FakeClock, sessions: Any
                      ) -> AsyncIterator[MakeClient]:
    """A client like the app's; another `sessions` plays another instance."""
    made: list[aiohttp.ClientSession] = []

    async def _make(on: async_sessionmaker[Any] | None = None, *,
                    endpoint: str = "stable") -> Client:
        http = aiohttp.ClientSession()
        made.append(http)
        api: WechatApi | None = None
        fetch, force = token_fetchers(lambda: api, settings.wechat.app_id,
                                      settings.wechat.app_secret, endpoint)
        tokens = SharedToken(on or sessions, settings.wechat.app_id, fetch, clock,
                             force_fetch=force)
        api = WechatApi(settings.api_base_url, http, tokens)
        return Client(api, tokens, http)

    yield _make
    for http in made:
        await http.close()


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client()


@pytest.fixture
async def two_instances(settings: Settings) -> AsyncIterator[list[async_sessionmaker[Any]]]:
    """Two engines on the same database file or PostgreSQL database, as two instances."""
    engines = [make_engine(settings.database.url) for _ in range(2)]
    yield [session_factory(engine) for engine in engines]
    for engine in engines:
        await engine.dispose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def ask(http: aiohttp.ClientSession, sandbox: Sandbox, **fields: Any) -> dict[str, Any]:
    """POST /cgi-bin/stable_token as anyone holding the account's secret would."""
    body = {"grant_type": "client_credential", "appid": sandbox.state.app_id,
            "secret": sandbox.state.app_secret, **fields}
    async with http.post(f"{sandbox.url}{STABLE}", json=body) as resp:
        assert resp.status == 200
        answer: dict[str, Any] = await resp.json()
        return answer


def calls(sandbox: Sandbox, path: str) -> int:
    return sandbox.state.calls.get(path, 0)


async def row_of(sessions: async_sessionmaker[Any], settings: Settings) -> AccessToken:
    async with sessions() as session:
        row = await token_rows.read(session, settings.wechat.app_id)
    assert row is not None
    return row


async def refuse_next_send(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """WeChat refuses the next send's token with 40001 though it still hands that token out."""
    async with http.post(f"{sandbox.url}/control/faults",
                         json={"errcode": 40001, "times": 1}) as resp:
        assert resp.status == 200


def shanghai_day(clock: FakeClock) -> date:
    return (clock.now() + timedelta(hours=8)).date()


# --- the client on the stable endpoint -----------------------------------------------------

async def test_a_normal_fetch_fills_the_shared_row(client: Client, sandbox: Sandbox,
                                                   sessions: Any, settings: Settings) -> None:
    token = await client.tokens.get()
    assert calls(sandbox, STABLE) == 1 and calls(sandbox, CLASSIC) == 0
    assert token == sandbox.state.stable.current
    row = await row_of(sessions, settings)
    assert row.token == token and row.refreshes == 1
    assert row.force_refreshes == 0 and row.force_refresh_day is None
    assert row.expires_at == sandbox.state.tokens[token]  # expires_in as WeChat gave it
    await client.api.send_template("o_stable", "TPL", {"k": "v"})
    assert len(sandbox.delivered("o_stable")) == 1
    assert sandbox.state.stable.force_refreshes == 0


async def test_the_token_is_shared_by_two_instances(
        make_client: MakeClient, sandbox: Sandbox, two_instances: list[async_sessionmaker[Any]],
        http: aiohttp.ClientSession) -> None:
    a, b = [await make_client(on) for on in two_instances]
    got = await asyncio.gather(*(c.tokens.get() for _ in range(10) for c in (a, b)))
    assert len(set(got)) == 1 and calls(sandbox, STABLE) == 1
    # Anyone else asking in normal mode gets the same token too.
    assert (await ask(http, sandbox))["access_token"] == got[0]
    await asyncio.gather(a.api.send_template("o_a", "T", {"k": "甲"}),
                         b.api.send_template("o_b", "T", {"k": "乙"}))
    assert len(sandbox.state.messages) == 2


async def test_routine_refresh_in_the_stable_tokens_last_minutes(
        make_client: MakeClient, sandbox: Sandbox, clock: FakeClock,
        two_instances: list[async_sessionmaker[Any]]) -> None:
    a, b = [await make_client(on) for on in two_instances]
    first = await a.tokens.get()
    # Ten minutes before expiry (when the classic endpoint refreshes) nothing is fetched:
    # WeChat would answer the same token.
    clock.advance(seconds=TOKEN_TTL_S - 600 + 1)
    assert {await a.tokens.get(), await b.tokens.get()} == {first}
    clock.advance(timedelta(seconds=600 - 2) - STABLE_REFRESH_AHEAD)
    assert await b.tokens.get() == first and calls(sandbox, STABLE) == 1
    clock.advance(seconds=2)
    during = await asyncio.gather(*(c.tokens.get() for _ in range(3) for c in (a, b)))
    new = sandbox.state.stable.current
    assert calls(sandbox, STABLE) == 2 and new != first
    # Callers served while one instance fetched may still get the old token (valid for
    # five more minutes); everyone afterwards gets the new one.
    assert set(during) <= {first, new}
    assert await a.tokens.get() == await b.tokens.get() == new
    assert sandbox.state.token_error(first) is None  # still valid until its own expiry
    clock.advance(seconds=CACHE_S + 1)
    await asyncio.gather(a.tokens.get(), b.tokens.get())
    assert calls(sandbox, STABLE) == 2 and sandbox.state.stable.force_refreshes == 0


async def test_a_refused_token_refetched_in_normal_mode_needs_no_force(
        client: Client, sandbox: Sandbox, clock: FakeClock, http: aiohttp.ClientSession,
        sessions: Any, settings: Settings) -> None:
    ours = await client.tokens.get()
    # Someone else with the secret forces twice, 30 s apart: our token ends (40001).
    other = (await ask(http, sandbox, force_refresh=True))["access_token"]
    await client.api.send_template("o_1", "T", {"k": "一"})  # ours lives 5 more minutes
    clock.advance(seconds=31)
    third = (await ask(http, sandbox, force_refresh=True))["access_token"]
    assert len({ours, other, third}) == 3
    assert sandbox.state.token_error(ours)["errcode"] == 40001  # type: ignore[index]
    stable_calls = calls(sandbox, STABLE)
    await client.api.send_template("o_2", "T", {"k": "二"})
    assert calls(sandbox, STABLE) == stable_calls + 1  # one normal fetch, no force
    assert await client.tokens.get() == third
    assert client.tokens.force_refreshes == 0 and sandbox.state.stable.force_refreshes == 2
    row = await row_of(sessions, settings)
    assert row.token == third and row.force_refreshes == 0
    assert [m["data"]["k"]["value"] for m in sandbox.state.messages] == ["一", "二"]


async def test_a_refused_token_still_handed_out_is_force_refreshed(
        client: Client, sandbox: Sandbox, clock: FakeClock, http: aiohttp.ClientSession,
        sessions: Any, settings: Settings) -> None:
    first = await client.tokens.get()
    await refuse_next_send(http, sandbox)
    await client.api.send_template("o_f", "T", {"k": "v"})
    assert calls(sandbox, TEMPLATE) == 2  # refused, then retried with the new token
    assert len(sandbox.delivered("o_f")) == 1
    assert calls(sandbox, STABLE) == 3  # the first fetch, normal (same token), force
    new = await client.tokens.get()
    assert new != first and new == sandbox.state.stable.current
    assert sandbox.state.stable.force_refreshes == 1 and client.tokens.force_refreshes == 1
    row = await row_of(sessions, settings)
    assert row.token == new and row.force_refreshes == 1
    assert row.force_refresh_day == shanghai_day(clock) and row.force_refreshed_at == clock.now()
    assert row.refreshing_until is None
    # The refused token stays valid five more minutes at WeChat, then it has expired.
    clock.advance(OVERLAP - timedelta(seconds=1))
    assert sandbox.state.token_error(first) is None
    clock.advance(seconds=2)
    assert sandbox.state.token_error(first)["errcode"] == 42001  # type: ignore[index]


async def test_force_refreshes_stop_at_the_daily_limit_across_instances(
        make_client: MakeClient, sandbox: Sandbox, clock: FakeClock, settings: Settings,
        two_instances: list[async_sessionmaker[Any]], http: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    a, b = [await make_client(on) for on in two_instances]
    seen = {await a.tokens.get()}
    for i in range(20):
        clock.advance(seconds=CACHE_S + 1)  # past the caches and the 30 s spacing
        one = (a, b)[i % 2]
        bad = await one.tokens.get()
        assert bad == sandbox.state.stable.current  # refused, yet still handed out
        fresh = await one.tokens.invalidate(bad)
        assert fresh not in seen
        seen.add(fresh)
    assert a.tokens.force_refreshes == b.tokens.force_refreshes == 10
    row = await row_of(two_instances[0], settings)
    assert row.force_refreshes == 20 and row.force_refresh_day == shanghai_day(clock)
    assert sandbox.state.stable.force_refreshes == 20
    # The 21st: refused here, before WeChat is asked; a clear warning; a transient error.
    clock.advance(seconds=CACHE_S + 1)
    bad = await b.tokens.get()
    stable_calls = calls(sandbox, STABLE)
    with caplog.at_level(logging.WARNING, logger="bot.wechat.token"), \
            pytest.raises(ForceRefreshRefused) as info:
        await b.tokens.invalidate(bad)
    assert info.value.transient and info.value.errcode == -2
    assert "20 force refreshes of today" in caplog.text and bad not in caplog.text
    assert calls(sandbox, STABLE) == stable_calls + 1  # the normal fetch, no force
    # A send refused that way fails once, as a network error the push retries later.
    await refuse_next_send(http, sandbox)
    with pytest.raises(WechatError) as sent:
        await a.api.send_template("o_limit", "T", {"k": "v"})
    assert sent.value.transient and calls(sandbox, TEMPLATE) == 1
    assert calls(sandbox, STABLE) == stable_calls + 2
    assert sandbox.state.stable.force_refreshes == 20
    row = await row_of(two_instances[1], settings)
    assert row.force_refreshes == 20 and row.refreshing_until is None and row.token == bad
    # A new day in Asia/Shanghai (still 28 November in UTC) allows force refreshes again.
    clock.set(datetime(2026, 11, 28, 16, 0, 30, tzinfo=UTC))
    current = await a.tokens.get()  # the old one expired: a routine normal fetch
    assert current not in seen and sandbox.state.stable.force_refreshes == 20
    assert await a.tokens.invalidate(current) != current
    row = await row_of(two_instances[0], settings)
    assert row.force_refreshes == 1 and row.force_refresh_day == date(2026, 11, 29)
    assert sandbox.state.stable.force_refreshes == 21


async def test_no_second_force_within_30_s(client: Client, sandbox: Sandbox, clock: FakeClock,
                                           sessions: Any, settings: Settings) -> None:
    bad = await client.tokens.get()
    forced = await client.tokens.invalidate(bad)
    clock.advance(seconds=10)
    stable_calls = calls(sandbox, STABLE)
    with pytest.raises(ForceRefreshRefused):
        await client.tokens.invalidate(forced)
    assert calls(sandbox, STABLE) == stable_calls + 1  # asked in normal mode only
    assert (await row_of(sessions, settings)).force_refreshes == 1
    clock.advance(seconds=21)
    assert await client.tokens.invalidate(forced) not in (bad, forced)
    assert (await row_of(sessions, settings)).force_refreshes == 2


async def test_two_instances_refreshing_together_fetch_once(
        make_client: MakeClient, sandbox: Sandbox, settings: Settings,
        two_instances: list[async_sessionmaker[Any]]) -> None:
    a, b = [await make_client(on) for on in two_instances]
    got = await asyncio.gather(*(c.tokens.get() for _ in range(5) for c in (a, b)))
    assert len(set(got)) == 1 and calls(sandbox, STABLE) == 1
    assert a.tokens.refreshes + b.tokens.refreshes == 1
    # Both are told the token is refused, at once: one normal fetch, one force, one token.
    fresh = await asyncio.gather(*(c.tokens.invalidate(got[0]) for _ in range(3)
                                   for c in (a, b)))
    assert len(set(fresh)) == 1 and fresh[0] != got[0]
    assert calls(sandbox, STABLE) == 3 and sandbox.state.stable.force_refreshes == 1
    assert a.tokens.force_refreshes + b.tokens.force_refreshes == 1
    assert (await row_of(two_instances[1], settings)).force_refreshes == 1
    assert await a.tokens.get() == await b.tokens.get() == fresh[0]


# --- the classic endpoint, and the configuration ---------------------------------------------

async def test_the_classic_endpoint_stays_selectable(make_client: MakeClient, sandbox: Sandbox,
                                                     sessions: Any, settings: Settings) -> None:
    classic = await make_client(endpoint="classic")
    first = await classic.tokens.get()
    assert calls(sandbox, CLASSIC) == 1 and calls(sandbox, STABLE) == 0
    # A refused token is simply fetched again: every classic fetch issues a new one.
    assert await classic.tokens.invalidate(first) != first
    assert calls(sandbox, CLASSIC) == 2 and calls(sandbox, STABLE) == 0
    await classic.api.send_template("o_c", "T", {"k": "v"})
    assert len(sandbox.delivered("o_c")) == 1
    assert (await row_of(sessions, settings)).force_refreshes == 0


@pytest.mark.parametrize("endpoint", ["stable", "classic"])
async def test_the_app_fetches_from_the_configured_endpoint(
        settings: Settings, sandbox: Sandbox, clock: FakeClock, endpoint: str) -> None:
    wechat = settings.wechat.model_copy(update={"token_endpoint": endpoint})
    configured = settings.model_copy(update={"wechat": wechat})
    engine = make_engine(settings.database.url)
    services = Services(configured, engine, clock)
    await services.start()
    try:
        assert services.api is not None
        await services.api.send_template("o_app", "T", {"k": "v"})
    finally:
        await services.close()
        await engine.dispose()
    used = STABLE if endpoint == "stable" else CLASSIC
    assert calls(sandbox, used) == 1 and sandbox.state.token_fetches == 1
    assert calls(sandbox, CLASSIC if used == STABLE else STABLE) == 0


def test_stable_is_the_default_endpoint(settings: Settings) -> None:
    assert settings.wechat.token_endpoint == "stable"
    assert type(settings.wechat).model_fields["token_endpoint"].default == "stable"


def test_a_wrong_endpoint_is_a_named_config_error() -> None:
    with pytest.raises(ConfigError, match="token_endpoint"):
        load_settings(ROOT / "config.yaml", wechat={"token_endpoint": "fast"})


# --- the sandbox's own rules -------------------------------------------------------------------

async def test_sandbox_normal_mode_answers_the_token_in_force(
        sandbox: Sandbox, clock: FakeClock, http: aiohttp.ClientSession) -> None:
    one, two = await ask(http, sandbox), await ask(http, sandbox, force_refresh=False)
    assert one == two and one["expires_in"] == TOKEN_TTL_S
    clock.advance(seconds=TOKEN_TTL_S - 301)
    later = await ask(http, sandbox)
    assert later == {"access_token": one["access_token"], "expires_in": 301}
    # In its last 5 minutes a new one is issued; the old one lives until its own expiry.
    clock.advance(seconds=2)
    new = await ask(http, sandbox)
    assert new["access_token"] != one["access_token"] and new["expires_in"] == TOKEN_TTL_S
    assert await ask(http, sandbox) == new
    clock.advance(seconds=298)
    assert sandbox.state.token_error(one["access_token"]) is None
    clock.advance(seconds=1)
    assert sandbox.state.token_error(one["access_token"])["errcode"] == 42001  # type: ignore[index]
    assert sandbox.state.token_error(new["access_token"]) is None
    assert sandbox.state.stable.fetches == 5 and sandbox.state.token_fetches == 2


async def test_sandbox_force_refresh_overlap_and_spacing(
        sandbox: Sandbox, clock: FakeClock, http: aiohttp.ClientSession) -> None:
    first = (await ask(http, sandbox))["access_token"]
    second = await ask(http, sandbox, force_refresh=True)
    assert second["access_token"] != first and second["expires_in"] == TOKEN_TTL_S
    assert (await ask(http, sandbox))["access_token"] == second["access_token"]
    # Within 30 s a force refresh refreshes nothing (and is not counted).
    clock.advance(seconds=29)
    assert (await ask(http, sandbox, force_refresh=True))["access_token"] == second["access_token"]
    assert sandbox.state.stable.force_refreshes == 1
    assert sandbox.state.token_error(first) is None  # the 5-minute overlap
    clock.advance(seconds=2)
    third = (await ask(http, sandbox, force_refresh=True))["access_token"]
    assert third not in (first, second["access_token"])
    # The second force ends the first token at once (how a leaked token is killed); the
    # token it replaced lives 5 more minutes, then has expired.
    assert sandbox.state.token_error(first)["errcode"] == 40001  # type: ignore[index]
    clock.advance(OVERLAP - timedelta(seconds=1))
    assert sandbox.state.token_error(second["access_token"]) is None
    clock.advance(seconds=1)
    assert sandbox.state.token_error(second["access_token"])["errcode"] == 42001  # type: ignore[index]
    assert sandbox.state.token_error(third) is None
    assert sandbox.state.stable.force_refreshes == 2


async def test_sandbox_daily_force_limit(sandbox: Sandbox, clock: FakeClock,
                                         http: aiohttp.ClientSession) -> None:
    tokens = set()
    for _ in range(20):
        tokens.add((await ask(http, sandbox, force_refresh=True))["access_token"])
        clock.advance(seconds=31)
    assert len(tokens) == 20
    assert await ask(http, sandbox, force_refresh=True) == {
        "errcode": 45009, "errmsg": "reach max api daily quota limit"}
    assert "access_token" in await ask(http, sandbox)  # normal mode still answers
    async with http.get(f"{sandbox.url}/control/stats") as resp:
        stats = await resp.json()
    assert stats["force_refreshes"] == 20 and stats["stable_token_fetches"] == 21
    assert stats["calls"][STABLE] == 22
    clock.set(datetime(2026, 11, 28, 16, 0, 1, tzinfo=UTC))  # 00:00:01 in Asia/Shanghai
    assert "access_token" in await ask(http, sandbox, force_refresh=True)
    assert sandbox.state.stable.force_refreshes == 21


@pytest.mark.parametrize(("fields", "errcode"), [
    ({"appid": "wx-someone-else"}, 40013),
    ({"secret": "not-the-secret"}, 40125),
    ({"grant_type": "password"}, 40002),
    ({"appid": ""}, 41002),
    ({"secret": None}, 41004),
    ({"force_refresh": "yes"}, 47001),
])
async def test_sandbox_refuses_bad_requests(sandbox: Sandbox, http: aiohttp.ClientSession,
                                            fields: dict[str, Any], errcode: int) -> None:
    answer = await ask(http, sandbox, **fields)
    assert answer["errcode"] == errcode and "access_token" not in answer
    assert sandbox.state.token_fetches == 0


@pytest.mark.parametrize(("method", "body", "errcode"), [
    ("POST", b"", 44002), ("POST", b"{not json", 47001), ("POST", b"[1, 2]", 47001),
    ("GET", None, 43002),
])
async def test_sandbox_refuses_a_bad_body(sandbox: Sandbox, http: aiohttp.ClientSession,
                                          method: str, body: bytes | None, errcode: int) -> None:
    async with http.request(method, f"{sandbox.url}{STABLE}", data=body) as resp:
        assert resp.status == 200
        assert (await resp.json())["errcode"] == errcode


async def test_a_wrong_secret_is_a_permanent_error_for_the_client(
        sandbox: Sandbox, http: aiohttp.ClientSession, settings: Settings) -> None:
    api = WechatApi(sandbox.url, http, SharedTokenless())
    with pytest.raises(WechatError) as info:
        await api.fetch_stable_token(settings.wechat.app_id, "wrong-secret")
    assert info.value.errcode == 40125 and not info.value.transient
    assert "wrong-secret" not in str(info.value)


async def test_sandbox_keeps_stable_and_classic_tokens_apart(
        sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    stable = (await ask(http, sandbox))["access_token"]
    query = {"grant_type": "client_credential", "appid": sandbox.state.app_id,
             "secret": sandbox.state.app_secret}
    async with http.get(f"{sandbox.url}{CLASSIC}", params=query) as resp:
        classic = (await resp.json())["access_token"]
    async with http.get(f"{sandbox.url}{CLASSIC}", params=query) as resp:
        assert (await resp.json())["access_token"] != classic
    # A classic fetch does not shorten the stable token, and the stable one is still in force.
    assert sandbox.state.tokens[stable] - sandbox.state.clock.now() == timedelta(
        seconds=TOKEN_TTL_S)
    assert (await ask(http, sandbox))["access_token"] == stable
    await ask(http, sandbox, force_refresh=True)
    async with http.get(f"{sandbox.url}{CLASSIC}", params=query) as resp:
        newest = (await resp.json())["access_token"]
    await ask(http, sandbox, force_refresh=True)  # a stable refresh leaves classic ones alone
    assert sandbox.state.tokens[newest] - sandbox.state.clock.now() == timedelta(
        seconds=TOKEN_TTL_S)


class SharedTokenless:
    """No token source: the token fetch itself needs none."""

    async def get(self) -> str:
        raise AssertionError("the token fetch needs no token")

    async def invalidate(self, bad_token: str) -> str:
        raise AssertionError("the token fetch needs no token")
