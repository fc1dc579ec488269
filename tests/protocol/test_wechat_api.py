"""The async WeChat API client and the shared access token, against the sandbox over HTTP.

The client is built the way bot/app.py (Services.start) builds it: one aiohttp session,
a SharedToken whose fetch asks the API for a token, and a WechatApi on the sandbox's URL.
Every test runs on SQLite and on PostgreSQL (the token lives in the database).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot import logs
from bot.clock import FakeClock
from bot.db import make_engine, session_factory
from bot.dev.sandbox import EVENT_MESSAGES, TOKEN_TTL_S, WINDOW_MESSAGES
from bot.settings import Settings
from bot.wechat import client as wechat_api
from bot.wechat.client import WechatApi, WechatError, WechatNetworkError
from bot.wechat.token import CACHE_S, REFRESH_AHEAD, SharedToken
from models import token as token_rows
from tests.conftest import Sandbox

SEND = "/cgi-bin/message/custom/send"
TEMPLATE = "/cgi-bin/message/template/send"
TOKEN = "/cgi-bin/token"
PNG = b"\x89PNG"


@dataclass
class Client:
    """What one process holds: its HTTP session, its SharedToken, its API client."""

    api: WechatApi
    tokens: SharedToken
    http: aiohttp.ClientSession


MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
async def make_client(settings: Settings, clock: FakeClock, sessions: Any
                      ) -> AsyncIterator[MakeClient]:
    """A client like the app's; another `sessions` plays another process."""
    made: list[aiohttp.ClientSession] = []

    async def _make(on: async_sessionmaker[Any] | None = None, *, secret: str | None = None,
                    base_url: str | None = None) -> Client:
        http = aiohttp.ClientSession()
        made.append(http)
        app_id = settings.wechat.app_id
        app_secret = settings.wechat.app_secret if secret is None else secret
        api: WechatApi | None = None

        async def fetch() -> tuple[str, int]:
            assert api is not None
            return await api.fetch_token(app_id, app_secret)

        tokens = SharedToken(on or sessions, app_id, fetch, clock)
        api = WechatApi(base_url or settings.api_base_url, http, tokens)
        return Client(api, tokens, http)

    yield _make
    for http in made:
        await http.close()


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client()


@pytest.fixture
async def two_processes(settings: Settings) -> AsyncIterator[list[async_sessionmaker[Any]]]:
    """Two engines on the same database, as two processes would have."""
    engines = [make_engine(settings.database.url) for _ in range(2)]
    yield [session_factory(engine) for engine in engines]
    for engine in engines:
        await engine.dispose()


async def control(http: aiohttp.ClientSession, sandbox: Sandbox, what: str,
                  payload: dict[str, Any] | None = None) -> None:
    async with http.post(f"{sandbox.url}/control/{what}", json=payload or {}) as resp:
        assert resp.status == 200, await resp.text()


async def fault(client: Client, sandbox: Sandbox, **kw: Any) -> None:
    await control(client.http, sandbox, "faults", kw)


def calls(sandbox: Sandbox, path: str) -> int:
    return sandbox.state.calls.get(path, 0)


def dead_url() -> str:
    """A local port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# aiohttp.access: in these tests, the sandbox's server logging its own requests (WeChat's
# side; bot.logs.setup silences it in the app anyway). aiosqlite: the driver's DEBUG trace of
# every statement with its parameters, the subject of its own test below.
NOT_OURS = ("aiohttp.access", "aiosqlite")


def assert_secrets_kept(secrets: Iterable[str], *, exc: BaseException | None = None,
                        records: Iterable[logging.LogRecord] = (),
                        exclude: tuple[str, ...] = NOT_OURS) -> None:
    """No secret in the exception (message, repr, traceback) nor in the log records."""
    texts: list[str] = []
    if exc is not None:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    fmt = logging.Formatter("%(name)s %(levelname)s %(message)s")
    texts += [fmt.format(r) for r in records if not r.name.startswith(exclude)]
    for secret in secrets:
        assert secret
        for text in texts:
            assert secret not in text, f"secret leaked in: {text[:300]}"


# --- 1. typed errors -------------------------------------------------------------------------

@pytest.mark.parametrize(("errcode", "transient"), [
    (45009, True), (45011, True), (43004, False), (40003, False), (45015, False),
    (45047, False),
])
async def test_injected_errcode_raises_a_typed_error(client: Client, sandbox: Sandbox,
                                                     errcode: int, transient: bool) -> None:
    sandbox.state.interact("o_typed", "message")
    await fault(client, sandbox, errcode=errcode, times=1)
    with pytest.raises(WechatError) as info:
        await client.api.send_text("o_typed", "你好")
    err = info.value
    assert type(err) is WechatError
    assert (err.errcode, err.errmsg) == (errcode, "sandbox injected fault")
    assert str(err) == f"{errcode} sandbox injected fault"
    assert err.transient is transient
    assert err.is_quota is (errcode in (45009, 45011))
    # The fault was for one call: the next one goes through.
    await client.api.send_text("o_typed", "再来")
    assert [m["content"] for m in sandbox.delivered("o_typed")] == ["再来"]


async def test_http_500_is_a_transient_network_error(client: Client, sandbox: Sandbox) -> None:
    sandbox.state.interact("o_500", "message")
    await fault(client, sandbox, http_status=500, times=1)
    with pytest.raises(WechatNetworkError) as info:
        await client.api.send_text("o_500", "你好")
    assert info.value.errcode == -2
    assert info.value.transient
    assert "500" in info.value.errmsg
    assert sandbox.delivered("o_500") == []


async def test_a_dropped_connection_is_a_transient_network_error(client: Client,
                                                                sandbox: Sandbox) -> None:
    sandbox.state.interact("o_drop", "message")
    await fault(client, sandbox, drop=True, times=1)
    with pytest.raises(WechatNetworkError) as info:
        await client.api.send_text("o_drop", "你好")
    assert info.value.errcode == -2
    assert info.value.transient
    await client.api.send_text("o_drop", "再来")
    assert len(sandbox.delivered("o_drop")) == 1


async def test_a_slow_answer_times_out_as_a_network_error(client: Client, sandbox: Sandbox,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    await client.tokens.get()  # the token endpoint is not slowed; fetch it beforehand
    monkeypatch.setattr(wechat_api, "DEFAULT_TIMEOUT", aiohttp.ClientTimeout(total=0.3))
    sandbox.state.interact("o_slow", "message")
    await fault(client, sandbox, delay_s=1.0, times=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(WechatNetworkError) as info:
        await client.api.send_text("o_slow", "你好")
    assert loop.time() - started < 0.9
    assert info.value.errcode == -2
    assert info.value.transient


# --- 2. the secret and the token stay out of messages and logs --------------------------------

async def test_a_wrong_secret_fails_once_and_leaks_nothing(
        make_client: MakeClient, sandbox: Sandbox, settings: Settings,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-secret-but-secret-too-123"
    client = await make_client(secret=wrong)
    with pytest.raises(WechatError) as info:
        await client.api.send_text("o_secret", "你好")
    assert info.value.errcode == 40001
    assert not info.value.transient
    assert calls(sandbox, TOKEN) == 1  # refused once, not asked again in a loop
    assert calls(sandbox, SEND) == 0
    assert sandbox.state.token_fetches == 0
    assert_secrets_kept([wrong, settings.wechat.app_secret], exc=info.value,
                        records=caplog.records)


async def test_a_refresh_with_a_wrong_secret_leaks_neither_secret_nor_token(
        make_client: MakeClient, sandbox: Sandbox, settings: Settings,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    good = await make_client()
    token = await good.tokens.get()
    await control(good.http, sandbox, "expire-tokens")
    wrong = "rotated-away-secret-456"
    bad = await make_client(secret=wrong)  # e.g. a process started with a stale secret
    sandbox.state.interact("o_secret", "message")
    with pytest.raises(WechatError) as info:
        await bad.api.send_text("o_secret", "你好")
    assert info.value.errcode == 40001
    assert calls(sandbox, SEND) == 1 and calls(sandbox, TOKEN) == 2
    assert any(r.name == "bot.wechat.client" for r in caplog.records)  # the refusal was logged
    assert_secrets_kept([wrong, settings.wechat.app_secret, token], exc=info.value,
                        records=caplog.records)


async def test_a_network_failure_on_the_token_fetch_leaks_nothing(
        make_client: MakeClient, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = await make_client(base_url=dead_url())
    with pytest.raises(WechatNetworkError) as info:
        await client.api.send_text("o_secret", "你好")
    assert info.value.errcode == -2 and info.value.transient
    assert TOKEN in info.value.errmsg
    assert_secrets_kept([settings.wechat.app_secret], exc=info.value, records=caplog.records)


@pytest.mark.parametrize("trouble", [{"drop": True}, {"http_status": 502}, {"delay_s": 1.0}])
async def test_a_network_failure_on_a_send_leaks_nothing(
        client: Client, sandbox: Sandbox, settings: Settings, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, trouble: dict[str, Any]) -> None:
    caplog.set_level(logging.DEBUG)
    token = await client.tokens.get()
    monkeypatch.setattr(wechat_api, "DEFAULT_TIMEOUT", aiohttp.ClientTimeout(total=0.3))
    sandbox.state.interact("o_secret", "message")
    await fault(client, sandbox, times=1, **trouble)
    with pytest.raises(WechatNetworkError) as info:
        await client.api.send_text("o_secret", "你好")
    assert SEND in info.value.errmsg
    assert_secrets_kept([settings.wechat.app_secret, token], exc=info.value,
                        records=caplog.records)


async def test_token_refresh_logs_carry_no_token(client: Client, sandbox: Sandbox,
                                                 settings: Settings,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox.state.interact("o_log", "message")
    await client.api.send_text("o_log", "一")
    await control(client.http, sandbox, "expire-tokens")
    await client.api.send_text("o_log", "二")
    names = {r.name for r in caplog.records}
    assert {"bot.wechat.token", "bot.wechat.client"} <= names
    assert len(sandbox.state.tokens) == 2
    assert_secrets_kept([settings.wechat.app_secret, *sandbox.state.tokens],
                        records=caplog.records)


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_the_apps_debug_logging_keeps_the_token_out(
        request: pytest.FixtureRequest, client: Client, sandbox: Sandbox,
        settings: Settings) -> None:
    """bot.logs.setup(DEBUG), the app's own logging at its most verbose, around a refresh."""
    root = logging.getLogger()
    quiet = ["aiohttp.access", "alembic", "aiosqlite", "asyncpg", "sqlalchemy"]
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in quiet}
    keep = _Keep()
    try:
        logs.setup(logging.DEBUG)
        root.addHandler(keep)
        sandbox.state.interact("o_debug", "message")
        await client.api.send_text("o_debug", "一")
        await control(client.http, sandbox, "expire-tokens")
        await client.api.send_text("o_debug", "二")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
    assert sandbox.state.token_fetches == 2
    assert any(r.name == "bot.wechat.token" for r in keep.records)
    assert_secrets_kept([settings.wechat.app_secret, *sandbox.state.tokens],
                        records=keep.records, exclude=())


# --- 3. token refresh -----------------------------------------------------------------------

async def test_expired_tokens_are_refreshed_once_and_the_send_succeeds(
        client: Client, sandbox: Sandbox) -> None:
    sandbox.state.interact("o_exp", "message")
    await client.api.send_text("o_exp", "一")
    first = await client.tokens.get()
    assert sandbox.state.token_fetches == 1
    await control(client.http, sandbox, "expire-tokens")
    before = calls(sandbox, SEND)
    await client.api.send_text("o_exp", "二")
    assert sandbox.state.token_fetches == 2
    assert calls(sandbox, SEND) - before == 2  # refused (42001), then retried once
    assert await client.tokens.get() != first
    await client.api.send_text("o_exp", "三")
    assert sandbox.state.token_fetches == 2
    assert [m["content"] for m in sandbox.delivered("o_exp")] == ["一", "二", "三"]


async def test_a_refused_token_is_refreshed_once_and_retried(client: Client,
                                                            sandbox: Sandbox) -> None:
    sandbox.state.interact("o_40001", "message")
    await client.api.send_text("o_40001", "一")
    sandbox.state.tokens.clear()  # WeChat no longer knows the token: 40001
    await client.api.send_text("o_40001", "二")
    assert sandbox.state.token_fetches == 2
    assert calls(sandbox, SEND) == 3
    assert len(sandbox.delivered("o_40001")) == 2


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
async def test_a_second_refusal_surfaces_without_a_loop(client: Client, sandbox: Sandbox,
                                                       errcode: int) -> None:
    sandbox.state.interact("o_loop", "message")
    await client.tokens.get()
    await fault(client, sandbox, errcode=errcode)  # every send, for good
    with pytest.raises(WechatError) as info:
        await client.api.send_text("o_loop", "你好")
    assert info.value.errcode == errcode
    assert calls(sandbox, SEND) == 2
    assert sandbox.state.token_fetches == 2
    assert client.tokens.refreshes == 2


async def test_the_token_is_cached_50_sends_1_fetch(client: Client, sandbox: Sandbox,
                                                   clock: FakeClock) -> None:
    await asyncio.gather(*(client.api.send_template(f"o_{i % 7}", "TPL", {"k": str(i)})
                           for i in range(25)))
    for i in range(25):
        await client.api.send_template(f"o_{i % 7}", "TPL", {"k": str(i)})
    assert len(sandbox.state.messages) == 50
    assert sandbox.state.token_fetches == 1 and calls(sandbox, TOKEN) == 1
    # Past the in-memory cache the row is read again, still without a fetch.
    clock.advance(seconds=CACHE_S + 1)
    await client.api.send_template("o_0", "TPL", {"k": "late"})
    assert sandbox.state.token_fetches == 1


# --- 4. one token for all instances ----------------------------------------------------------

async def test_two_processes_share_one_token(make_client: MakeClient, sandbox: Sandbox,
                                             two_processes: list[async_sessionmaker[Any]],
                                             settings: Settings) -> None:
    a, b = [await make_client(on) for on in two_processes]
    got = await asyncio.gather(*(c.tokens.get() for _ in range(20) for c in (a, b)))
    assert sandbox.state.token_fetches == 1
    assert len(set(got)) == 1
    assert a.tokens.refreshes + b.tokens.refreshes == 1
    async with two_processes[0]() as session:
        row = await token_rows.read(session, settings.wechat.app_id)
    assert row is not None and row.token == got[0] and row.refreshes == 1
    # Both can use it.
    sandbox.state.interact("o_both", "message")
    await asyncio.gather(a.api.send_text("o_both", "甲"), b.api.send_text("o_both", "乙"))
    assert sandbox.state.token_fetches == 1


async def test_concurrent_invalidation_refreshes_once(make_client: MakeClient, sandbox: Sandbox,
                                                      two_processes: list[async_sessionmaker[Any]]
                                                      ) -> None:
    a, b = [await make_client(on) for on in two_processes]
    bad = (await asyncio.gather(a.tokens.get(), b.tokens.get()))[0]
    assert sandbox.state.token_fetches == 1
    fresh = await asyncio.gather(*(c.tokens.invalidate(bad) for _ in range(5) for c in (a, b)))
    assert sandbox.state.token_fetches == 2
    assert len(set(fresh)) == 1 and fresh[0] != bad
    assert await a.tokens.get() == await b.tokens.get() == fresh[0]


async def test_concurrent_refusals_in_two_processes_refresh_once(
        make_client: MakeClient, sandbox: Sandbox, two_processes: list[async_sessionmaker[Any]]
        ) -> None:
    a, b = [await make_client(on) for on in two_processes]
    await asyncio.gather(a.tokens.get(), b.tokens.get())
    sandbox.state.tokens.clear()
    await asyncio.gather(*(c.api.send_template("o_x", "TPL", {"k": "v"})
                           for _ in range(5) for c in (a, b)))
    assert sandbox.state.token_fetches == 2
    assert len(sandbox.state.messages) == 10


async def test_refresh_ahead_of_expiry_fetches_once(make_client: MakeClient, sandbox: Sandbox,
                                                    clock: FakeClock,
                                                    two_processes: list[async_sessionmaker[Any]]
                                                    ) -> None:
    a, b = [await make_client(on) for on in two_processes]
    first = (await asyncio.gather(a.tokens.get(), b.tokens.get()))[0]
    refresh_at = timedelta(seconds=TOKEN_TTL_S) - REFRESH_AHEAD
    clock.advance(refresh_at - timedelta(seconds=1))
    just_before = await asyncio.gather(*(c.tokens.get() for _ in range(5) for c in (a, b)))
    assert set(just_before) == {first}
    assert sandbox.state.token_fetches == 1
    clock.advance(seconds=2)
    during = await asyncio.gather(*(c.tokens.get() for _ in range(5) for c in (a, b)))
    assert sandbox.state.token_fetches == 2
    # Callers served while one process fetched may still get the old token (valid for
    # five more minutes); everyone afterwards gets the new one.
    after = await asyncio.gather(*(c.tokens.get() for _ in range(5) for c in (a, b)))
    assert len(set(after)) == 1 and after[0] != first and set(during) <= {first, after[0]}
    # The new token works; so does the old one, within WeChat's 5-minute overlap.
    sandbox.state.interact("o_ahead", "message")
    await a.api.send_text("o_ahead", "新")
    assert sandbox.state.token_error(first) is None
    assert sandbox.state.token_fetches == 2


async def test_a_token_refreshed_elsewhere_is_picked_up_after_the_cache(
        make_client: MakeClient, sandbox: Sandbox, clock: FakeClock,
        two_processes: list[async_sessionmaker[Any]]) -> None:
    a, b = [await make_client(on) for on in two_processes]
    old = await a.tokens.get()
    assert await b.tokens.get() == old
    new = await b.tokens.invalidate(old)
    assert new != old and sandbox.state.token_fetches == 2
    clock.advance(seconds=CACHE_S - 1)
    assert await a.tokens.get() == old  # still cached here, and still valid at WeChat
    sandbox.state.interact("o_cache", "message")
    await a.api.send_text("o_cache", "旧")
    clock.advance(seconds=2)
    assert await a.tokens.get() == new
    assert sandbox.state.token_fetches == 2


# --- 5. the other calls ----------------------------------------------------------------------

async def test_send_text_and_news(client: Client, sandbox: Sandbox) -> None:
    sandbox.state.interact("o_send", "message")
    await client.api.send_text("o_send", "你好，小哥")
    await client.api.send_news("o_send", "活动", "周六驿站开放", "https://example.com/a",
                               "https://example.com/a.png")
    text, news = sandbox.delivered("o_send")
    assert (text["channel"], text["type"], text["content"]) == ("kefu", "text", "你好，小哥")
    assert (news["channel"], news["type"]) == ("kefu", "news")
    assert news["content"] == {"title": "活动", "description": "周六驿站开放",
                               "url": "https://example.com/a",
                               "picurl": "https://example.com/a.png"}


async def test_send_template_returns_the_msgid(client: Client, sandbox: Sandbox) -> None:
    msgid = await client.api.send_template("o_tpl", "TPL_NOTICE", {"thing1": "停电通知"},
                                           url="https://example.com/n/1")
    assert isinstance(msgid, int)
    (msg,) = sandbox.delivered("o_tpl")
    assert msg["channel"] == "template" and msg["msgid"] == msgid
    assert msg["template_id"] == "TPL_NOTICE"
    assert msg["data"] == {"thing1": {"value": "停电通知"}}
    assert msg["url"] == "https://example.com/n/1"
    assert await client.api.send_template("o_tpl", "TPL_NOTICE", {"thing1": "二"}) != msgid


async def test_kefu_is_refused_outside_the_48h_window(client: Client, sandbox: Sandbox,
                                                      clock: FakeClock) -> None:
    with pytest.raises(WechatError) as info:
        await client.api.send_text("o_quiet", "你好")
    assert info.value.errcode == 45015 and not info.value.transient
    sandbox.state.interact("o_quiet", "message")
    await client.api.send_text("o_quiet", "你好")
    clock.advance(hours=48, seconds=1)
    with pytest.raises(WechatError) as info:
        await client.api.send_text("o_quiet", "迟了")
    assert info.value.errcode == 45015
    assert len(sandbox.delivered("o_quiet")) == 1


async def test_kefu_allows_five_messages_in_the_window(client: Client, sandbox: Sandbox) -> None:
    sandbox.state.interact("o_five", "message")
    for i in range(WINDOW_MESSAGES - 1):
        await client.api.send_text("o_five", f"第{i}条")
    await client.api.send_news("o_five", "第五条", "", "https://example.com")
    with pytest.raises(WechatError) as info:
        await client.api.send_text("o_five", "第六条")
    assert info.value.errcode == 45047 and not info.value.transient
    assert len(sandbox.delivered("o_five")) == WINDOW_MESSAGES
    sandbox.state.interact("o_five", "message")  # the user writes again: a fresh allowance
    await client.api.send_text("o_five", "又可以了")


async def test_kefu_after_an_event_allows_three_in_a_minute(client: Client, sandbox: Sandbox,
                                                            clock: FakeClock) -> None:
    sandbox.state.interact("o_click", "event")
    for i in range(EVENT_MESSAGES):
        await client.api.send_text("o_click", f"第{i}条")
    with pytest.raises(WechatError) as info:
        await client.api.send_text("o_click", "第四条")
    assert info.value.errcode == 45047
    clock.advance(seconds=61)  # the event opened no 48 h window
    with pytest.raises(WechatError) as info:
        await client.api.send_text("o_click", "迟了")
    assert info.value.errcode == 45015
    assert len(sandbox.delivered("o_click")) == EVENT_MESSAGES


async def test_refusals_for_unfollowed_and_invalid_recipients(client: Client,
                                                             sandbox: Sandbox) -> None:
    sandbox.state.interact("o_gone", "message")
    sandbox.state.interact("o_gone", "unsubscribe")
    for send in (client.api.send_text("o_gone", "你好"),
                 client.api.send_template("o_gone", "TPL", {"k": "v"})):
        with pytest.raises(WechatError) as info:
            await send
        assert info.value.errcode == 43004 and not info.value.transient
    with pytest.raises(WechatError) as info:
        await client.api.send_template(" ", "TPL", {"k": "v"})
    assert info.value.errcode == 40003 and not info.value.transient
    assert sandbox.state.messages == []


async def test_menu_create_get_delete(client: Client, sandbox: Sandbox) -> None:
    menu = {"button": [
        {"type": "click", "name": "签到", "key": "CHECKIN"},
        {"name": "服务", "sub_button": [
            {"type": "view", "name": "驿站地图", "url": "https://example.com/map"},
            {"type": "location_select", "name": "发送位置", "key": "LOCATION"},
        ]},
    ]}
    await client.api.create_menu(menu)
    assert sandbox.state.menu == menu
    assert await client.api.get_menu() == {"menu": menu}
    await client.api.delete_menu()
    with pytest.raises(WechatError) as info:
        await client.api.get_menu()
    assert info.value.errcode == 46003
    with pytest.raises(WechatError) as info:
        await client.api.create_menu({"button": [{"type": "click", "name": str(i), "key": "K"}
                                                 for i in range(4)]})
    assert info.value.errcode == 40016 and not info.value.transient


async def test_qrcode_and_its_image(client: Client, sandbox: Sandbox) -> None:
    code = await client.api.create_qrcode("station-001")
    assert isinstance(code["ticket"], str) and code["ticket"]
    assert code["url"].endswith(code["ticket"])
    assert sandbox.state.qrcodes[code["ticket"]] == "station-001"
    image = await client.api.qrcode_image(code["ticket"])
    assert isinstance(image, bytes) and image.startswith(PNG)
    with pytest.raises(WechatError) as info:
        await client.api.create_qrcode("x" * 65)
    assert info.value.errcode == 40097


async def test_download_media(client: Client, sandbox: Sandbox) -> None:
    photo = await client.api.download_media("MEDIA_photo_1")
    assert isinstance(photo, bytes) and photo.startswith(PNG)
    with pytest.raises(WechatError) as info:
        await client.api.download_media("expired-MEDIA_photo_0")
    assert info.value.errcode == 40007 and not info.value.transient


async def test_user_info_follow_state(client: Client, sandbox: Sandbox) -> None:
    sandbox.state.interact("o_user", "subscribe")
    info = await client.api.user_info("o_user")
    assert info["subscribe"] == 1 and info["openid"] == "o_user"
    sandbox.state.interact("o_user", "unsubscribe")
    assert (await client.api.user_info("o_user"))["subscribe"] == 0
    assert sandbox.state.token_fetches == 1


async def test_a_slow_token_fetch_does_not_hold_the_database(sessions: Any, clock: FakeClock
                                                             ) -> None:
    """The fetch happens outside any transaction: on SQLite a transaction is the write lock."""
    import time

    from bot.wechat.token import SharedToken
    from models.member import Member

    async def slow_fetch() -> tuple[str, int]:
        await asyncio.sleep(1.5)
        return "slow-token", 7200

    tokens = SharedToken(sessions, "wx-slow", slow_fetch, clock)
    fetching = asyncio.create_task(tokens.get())
    await asyncio.sleep(0.3)  # the fetch is under way
    started = time.monotonic()
    async with sessions() as s, s.begin():
        s.add(Member(openid="o-meanwhile", created_at=clock.now()))
    assert time.monotonic() - started < 0.5
    assert await fetching == "slow-token"
