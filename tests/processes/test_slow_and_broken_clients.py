"""Clients that hang up, trickle or send broken requests, against a real `run.py serve` with
short deadlines (server.head_timeout_s / body_timeout_s from the environment): each is
answered or dropped in one quiet log line and counted in xiaoge_http_hangups_total, a slow
client loses its connection at the deadline (408 where an answer can still be sent), the
server's log never shows a traceback, and normal requests are answered throughout.
Raw sockets on the loopback only; every loop is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import select
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from bot.dev.peer import WechatPeer
from bot.settings import DEMO_API_TOKEN, load_settings
from bot.web.hangups import guard_bodies
from bot.web.server import GuardedRunner
from tests.browser_util import PHONE, ROOT, free_port, running_server

HEAD_TIMEOUT_S = 1.5
BODY_TIMEOUT_S = 1.5
SLACK_S = 1.5  # the deadline plus this: the connection must be gone by then
DEMO = load_settings(ROOT / "config.yaml").wechat
PEER = WechatPeer(DEMO.token, DEMO.app_id, DEMO.encoding_aes_key)


@dataclass
class Server:
    host: str
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connect(self, timeout: float = 5.0) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def get(self, path: str) -> tuple[int, bytes]:
        with urllib.request.urlopen(self.base + path, timeout=5) as r:
            return r.status, r.read()


# The tests share one server and the last one reads what the others left in its log and
# metric: under xdist they run on one worker (make test distributes by file, --dist loadfile).


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`run.py serve` in dev mode (simulator and sandbox mounted) with short deadlines.
    When it stops, its log must hold no traceback."""
    tmp = tmp_path_factory.mktemp("slow_clients")
    with running_server(tmp, None, XIAOGE_SERVER__HEAD_TIMEOUT_S=str(HEAD_TIMEOUT_S),
                        XIAOGE_SERVER__BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
                        XIAOGE_SERVER__LOG_FORMAT="text") as (base, _):
        yield Server("127.0.0.1", int(base.rsplit(":", 1)[1]), tmp / "server.log")
    assert_quiet((tmp / "server.log").read_text())


def assert_quiet(out: str) -> None:
    for bad in ("Traceback", "Error handling request", "Unhandled exception"):
        assert bad not in out, out[-6000:]
    assert not PHONE.search(out), "a phone number in the server's log"


def still_answers(server: Server) -> None:
    assert server.get("/healthz")[0] == 200


def read_answer(sock: socket.socket, within_s: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection (or `within_s` passes),
    and when the close came (seconds from now; inf if it did not)."""
    started = time.monotonic()
    got = b""
    while (left := started + within_s - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            break
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return got, time.monotonic() - started
        got += chunk
    return got, float("inf")


def wechat_query() -> str:
    return urllib.parse.urlencode(PEER.sign(PEER.text("o-slow", "帮助"), "plain").params)


def sandbox_token(server: Server) -> str:
    q = urllib.parse.urlencode({"grant_type": "client_credential", "appid": DEMO.app_id,
                                "secret": DEMO.app_secret})
    _, body = server.get(f"/sandbox/cgi-bin/token?{q}")
    return str(json.loads(body)["access_token"])


def body_routes(server: Server) -> list[tuple[str, str, dict[str, str]]]:
    """(name, path, headers) of a route that reads its body, on each part of the app."""
    return [
        ("console login", "/console/login",
         {"Content-Type": "application/x-www-form-urlencoded"}),
        ("api notices", "/api/v1/notices",
         {"Content-Type": "application/json", "Authorization": f"Bearer {DEMO_API_TOKEN}"}),
        ("api notices, no token", "/api/v1/notices", {"Content-Type": "application/json"}),
        ("signed wechat", f"/wechat?{wechat_query()}", {"Content-Type": "text/xml"}),
        ("simulator", "/simulator/api/send", {"Content-Type": "application/json"}),
        ("sandbox", f"/sandbox/cgi-bin/message/custom/send?access_token={sandbox_token(server)}",
         {"Content-Type": "application/json"}),
    ]


def head(path: str, headers: dict[str, str], length: int) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def hangups_counted(server: Server) -> dict[str, float]:
    _, body = server.get("/metrics")
    return {m.group(1): float(m.group(2)) for m in re.finditer(
        r'^xiaoge_http_hangups_total\{reason="(\w+)"\} (\S+)$', body.decode(), re.M)}


def test_an_early_hang_up_on_every_route_is_dropped_quietly(server: Server) -> None:
    before = hangups_counted(server).get("hangup", 0)
    routes = body_routes(server)
    for _name, path, headers in routes:
        with server.connect() as sock:
            sock.sendall(head(path, headers, 1000) + b'{"a')  # 3 of 1000 bytes, then gone
        still_answers(server)
    deadline = time.monotonic() + 5
    while hangups_counted(server).get("hangup", 0) < before + len(routes):
        assert time.monotonic() < deadline, (hangups_counted(server), server.log.read_text())
        time.sleep(0.1)
    assert_quiet(server.log.read_text())


@pytest.mark.parametrize("request_head", [
    pytest.param(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
                 id="oversized header line"),
    pytest.param(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                 id="oversized request line"),
    pytest.param(b"POST /wechat HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                 id="Content-Length not a number"),
    pytest.param(b"POST /wechat HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                 id="negative Content-Length"),
    pytest.param(b"POST /api/v1/notices HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                 b"Content-Length: 9\r\n\r\nabc", id="two Content-Lengths"),
    pytest.param(b"POST /wechat HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", id="length and chunked"),
    pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
                 id="TLS on the HTTP port"),
])
def test_a_broken_head_is_answered_400_quietly(server: Server, request_head: bytes) -> None:
    with server.connect() as sock:
        # the server may answer and close before the rest is sent
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request_head)
        answer, closed_after = read_answer(sock, 5)
    assert re.match(rb"HTTP/1\.[01] 400 ", answer) or answer == b"", answer[:200]
    assert closed_after < 5
    still_answers(server)
    assert_quiet(server.log.read_text())


def test_a_trickled_head_is_closed_at_the_deadline(server: Server) -> None:
    """One header line every 0.4 s: after head_timeout_s the client gets a 408 and the
    connection is closed, although it kept sending."""
    with server.connect() as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        for i in range(40):  # 16 s at most; the deadline is 1.5 s
            ready, _, _ = select.select([sock], [], [], 0.4)
            if ready:
                answer, _ = read_answer(sock, 2)
                break
            try:
                sock.sendall(f"X-Line-{i}: slow\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                break
        closed_after = time.monotonic() - started
    print(f"trickled head: closed after {closed_after:.2f} s")
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert HEAD_TIMEOUT_S - 0.1 <= closed_after < HEAD_TIMEOUT_S + SLACK_S
    still_answers(server)


@pytest.mark.parametrize("route", ["api notices", "signed wechat", "console login",
                                   "api notices, no token"])
def test_a_trickled_body_is_closed_at_the_deadline(server: Server, route: str) -> None:
    """A complete head, then one body byte every 0.4 s: after body_timeout_s the client
    gets a 408 (or, where the route answered before reading, the answer it already had)
    and the connection is closed."""
    path, headers = next((p, h) for n, p, h in body_routes(server) if n == route)
    with server.connect() as sock:
        sock.sendall(head(path, headers, 200))
        started = time.monotonic()
        answer = b""
        closed_after = float("inf")
        for _ in range(40):
            ready, _, _ = select.select([sock], [], [], 0.4)
            if ready:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    closed_after = time.monotonic() - started
                    break
                answer += chunk
                continue
            try:
                sock.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
    print(f"trickled body ({route}): {answer[:12]!r}, closed after {closed_after:.2f} s")
    assert closed_after < BODY_TIMEOUT_S + SLACK_S, answer[:300]
    if route != "api notices, no token":  # that one is refused (401) before its body
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    still_answers(server)


def test_many_slow_clients_are_all_dropped(server: Server) -> None:
    """The reported attack: 50 connections trickling heads or bodies. All are closed by the
    deadline (+ slack) and the server answers normal requests meanwhile."""
    path, headers = "/api/v1/notices", {"Content-Type": "application/json",
                                        "Authorization": f"Bearer {DEMO_API_TOKEN}"}
    socks = []
    for i in range(50):
        sock = server.connect()
        sock.setblocking(False)
        sock.send(b"GET /healthz HTTP/1.1\r\n" if i % 2 else head(path, headers, 500))
        socks.append(sock)
    started = time.monotonic()
    open_ = set(socks)
    closed: dict[socket.socket, float] = {}
    try:
        while open_ and time.monotonic() - started < HEAD_TIMEOUT_S + BODY_TIMEOUT_S + 10:
            ready, _, _ = select.select(list(open_), [], [], 0.4)
            for sock in ready:
                try:
                    chunk = sock.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    closed[sock] = time.monotonic() - started
                    open_.discard(sock)
            for sock in list(open_):
                with contextlib.suppress(BlockingIOError, BrokenPipeError,
                                         ConnectionResetError):
                    sock.send(b"X-Slow: 1\r\n" if socks.index(sock) % 2 else b" ")
            still_answers(server)
    finally:
        for sock in socks:
            sock.close()
    assert not open_, f"{len(open_)} slow connections still open"
    slowest = max(closed.values())
    print(f"50 slow clients: all closed, the last after {slowest:.2f} s")
    assert slowest < max(HEAD_TIMEOUT_S, BODY_TIMEOUT_S) + SLACK_S + 1


def test_keep_alive_survives_the_head_deadline_and_rearms_it(server: Server) -> None:
    """Idle between requests is keep-alive's business, not the head deadline's: a kept-alive
    connection idle for longer than head_timeout_s still serves its next request; and the
    deadline applies again to that request's head."""
    with server.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 "), first[:200]
        time.sleep(HEAD_TIMEOUT_S + 0.7)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        second = sock.recv(65536)
        assert second.startswith(b"HTTP/1.1 200 "), second[:200]
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # and then nothing more
        answer, closed_after = read_answer(sock, HEAD_TIMEOUT_S + SLACK_S)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert closed_after < HEAD_TIMEOUT_S + SLACK_S


def test_a_client_that_never_speaks_is_closed_without_an_answer(server: Server) -> None:
    with server.connect() as sock:
        answer, closed_after = read_answer(sock, HEAD_TIMEOUT_S + SLACK_S)
    assert answer == b""
    assert closed_after < HEAD_TIMEOUT_S + SLACK_S


def test_the_log_is_quiet_and_the_metric_counted(server: Server) -> None:
    counted = hangups_counted(server)
    assert counted.get("hangup", 0) >= 6, counted
    assert counted.get("head_timeout", 0) >= 3, counted
    assert counted.get("body_timeout", 0) >= 4, counted
    assert counted.get("bad_head", 0) >= 6, counted
    out = server.log.read_text()
    assert_quiet(out)
    assert re.search(r"INFO bot\.web\.hangups: client 127\.0\.0\.1: .*\(hangup\)", out), out
    still_answers(server)
    status, _ = server.get("/healthz")
    assert status == 200


async def test_our_own_errors_still_log_their_traceback(caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    """Only the client's breakage is quiet: a handler's own exception, a ConnectionError of
    ours included (a database or WeChat connection), is still aiohttp's ERROR with its
    traceback, behind the same middleware and protocol `serve` uses."""
    async def broken(request: web.Request) -> web.Response:
        await request.read()  # the body is whole: the failure below is ours
        raise ConnectionResetError("our upstream went away")

    app = web.Application(middlewares=[guard_bodies(BODY_TIMEOUT_S)])
    app.router.add_post("/broken", broken)
    runner = GuardedRunner(app, head_timeout_s=HEAD_TIMEOUT_S, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /broken HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
        answer = await asyncio.wait_for(reader.read(100), 5)
        writer.close()
    finally:
        await runner.cleanup()
    assert answer.startswith(b"HTTP/1.1 500 "), answer
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors and errors[0].exc_info is not None, caplog.text
    assert "our upstream went away" in caplog.text
