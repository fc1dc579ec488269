"""The security headers on every kind of answer (a page, the console's 404 and stale-form
403, aiohttp's 405, an /api/v1 401, a 500, the simulator, a static file), /metrics only for
allowed addresses or the bearer token, and the sandbox's control calls JSON only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.metrics import refusal
from bot.settings import MetricsSettings, Settings
from bot.web.headers import CSP

TOKEN = "metrics-token-0123456789"


async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError("a bug")


@pytest.fixture
async def client(settings: Settings, clock: Any) -> AsyncIterator[TestClient]:
    app = create_app(settings, clock=clock, sandbox=True, scheduler=False, background=False)
    app.router.add_get("/boom", _boom)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


def assert_secured(resp: Any) -> None:
    h = resp.headers
    csp = h.get("Content-Security-Policy", "")
    assert csp == CSP, (resp.status, resp.url, csp)
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "img-src 'self' data:" in csp
    assert h.get("X-Content-Type-Options") == "nosniff"
    assert h.get("X-Frame-Options") == "DENY"
    assert h.get("Referrer-Policy") == "same-origin"
    assert h.get("Server") == "xiaoge"  # no "aiohttp/3.x", no Python version


async def test_every_kind_of_answer_carries_the_headers(client: TestClient,
                                                        settings: Settings) -> None:
    answers = {
        200: await client.get("/console/login"),
        404: await client.get("/console/no-such-page", allow_redirects=False),
        4040: await client.get("/no-such-path"),
        403: await client.post("/console/login", data={"username": "x", "password": "y"}),
        405: await client.post("/healthz"),
        401: await client.get("/api/v1/reports"),
        500: await client.get("/boom"),
        2000: await client.get("/simulator/"),
        2001: await client.get("/console/static/console.css"),
        2002: await client.get("/console/static/notice-counts.js"),
        2003: await client.get("/healthz"),
        2004: await client.get("/metrics"),
    }
    statuses = {k: r.status for k, r in answers.items()}
    # An unknown console path is the Chinese 404 page, for a visitor too (a page that
    # exists sends a visitor to the login instead).
    assert statuses == {200: 200, 404: 404, 4040: 404, 403: 403, 405: 405, 401: 401,
                        500: 500, 2000: 200, 2001: 200, 2002: 200, 2003: 200, 2004: 200}
    for resp in answers.values():
        assert_secured(resp)
    assert "表单已失效" in await answers[403].text()
    assert answers[2002].content_type in ("application/javascript", "text/javascript")


async def test_a_logged_in_404_page_and_the_simulator_have_no_inline_script(
        client: TestClient, sessions: Any, clock: Any) -> None:
    from tests.console_util import login, make_user

    await make_user(sessions, clock, "admin-hdr", "admin")
    assert (await login(client, "admin-hdr")).status == 303
    missing = await client.get("/console/reports/R00000000-0000")
    assert missing.status == 404
    assert_secured(missing)
    for resp in (missing, await client.get("/console/"), await client.get("/simulator/")):
        html = await resp.text()
        assert "<script>" not in html and " style=" not in html and "<style" not in html
        assert " onclick=" not in html and " onload=" not in html


def test_metrics_refuses_other_addresses_and_wrong_tokens() -> None:
    default = MetricsSettings()
    assert refusal(default, "127.0.0.1", None) is None
    assert refusal(default, "::1", None) is None
    assert refusal(default, "::ffff:127.0.0.1", None) is None
    refused = refusal(default, "203.0.113.7", None)
    assert refused is not None and refused.status == 403
    assert refusal(default, None, None) is not None  # no address (a unix socket): no
    wrong = refusal(default, "127.0.0.1", "Bearer guess")  # no token is configured
    assert wrong is not None and wrong.status == 401
    lan = MetricsSettings(allow=["10.0.0.0/8", "fd00::/8"], token=TOKEN)
    assert refusal(lan, "10.20.30.40", None) is None
    assert refusal(lan, "fd00::5", None) is None
    assert getattr(refusal(lan, "192.168.1.2", None), "status", None) == 403
    assert refusal(lan, "192.168.1.2", f"Bearer {TOKEN}") is None
    assert getattr(refusal(lan, "192.168.1.2", "Bearer nope"), "status", None) == 401
    assert getattr(refusal(lan, "192.168.1.2", TOKEN), "status", None) == 401  # no scheme


def test_metrics_settings_are_checked() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not an address"):
        MetricsSettings(allow=["localhost"])
    with pytest.raises(ValidationError):
        MetricsSettings(token="short")


async def test_metrics_with_no_allowed_address_needs_the_token(
        settings: Settings, clock: Any) -> None:
    closed = settings.model_copy(update={"metrics": MetricsSettings(allow=[], token=TOKEN)})
    client = TestClient(TestServer(create_app(closed, clock=clock, sandbox=False,
                                              scheduler=False, background=False)))
    await client.start_server()
    try:
        anonymous = await client.get("/metrics")  # from 127.0.0.1, no longer allowed
        assert anonymous.status == 403
        assert_secured(anonymous)
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
        assert wrong.status == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
        good = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert good.status == 200 and "xiaoge_outbox_depth" in await good.text()
    finally:
        await client.close()


async def test_the_sandbox_control_calls_take_json_only(client: TestClient) -> None:
    for path in ("/sandbox/control/faults", "/sandbox/control/expire-tokens",
                 "/sandbox/control/interaction"):
        for headers in ({"Content-Type": "text/plain"},
                        {"Content-Type": "application/x-www-form-urlencoded"},
                        {"Content-Type": "multipart/form-data; boundary=x"}, {}):
            resp = await client.post(path, data=b'{"errcode": 45009}', headers=headers)
            assert resp.status == 415, (path, headers, resp.status)
            assert_secured(resp)
    ok = await client.post("/sandbox/control/faults", json={"errcode": 45009, "times": 1})
    assert ok.status == 200 and (await ok.json())["faults"] == 1  # none of the above took
    cleared = await client.delete("/sandbox/control/faults")
    assert cleared.status == 200
