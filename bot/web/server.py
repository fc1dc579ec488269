"""The HTTP server `serve` runs: aiohttp's, with a deadline for the request head and with
broken heads answered quietly.

aiohttp has no head timeout of its own (its keepalive_timeout only closes a connection
that is idle between requests), so a client trickling one header line every few seconds
could hold a connection for ever. `GuardedProtocol` arms a timer when a connection opens
and again at the first byte of each further request on a kept-alive connection; the timer
is disarmed once the head is parsed. When it fires the client gets a 408 (if it sent part of
a head) and the connection is closed. The body's deadline is bot/web/hangups.py's
middleware, which also answers hang-ups inside handlers.

An unparseable head (oversized, a bad Content-Length, not HTTP at all) is answered 400 as
aiohttp does, but logged as one INFO line instead of aiohttp's ERROR with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from bot.web.hangups import BROKEN_BODY, note

log = logging.getLogger(__name__)

_TIMED_OUT_TEXT = b"request head not received in time"
_TIMED_OUT = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
              % (len(_TIMED_OUT_TEXT), _TIMED_OUT_TEXT))


class GuardedProtocol(RequestHandler):
    """aiohttp's connection handler with a head deadline and quiet broken heads."""

    def __init__(self, manager: Server, *, head_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._head_timeout_s = head_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = False  # part of a head has arrived since the timer was armed
        self._last_payload: Any = None  # the body of the newest parsed request

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_head_timer()  # the first head, from the moment the client connects

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm_head_timer()
        transport = self.transport
        super().connection_lost(exc)  # fails the body of a request still being handled
        payload = self._last_payload
        if payload is not None and not payload.is_eof() and payload.exception() is None:
            # The body of a request already answered (aiohttp reads the rest after an
            # early answer): end that read now, the client is gone.
            note("hangup", _peer(transport), "body ended early (connection lost)")
            payload.set_exception(ConnectionResetError("Connection lost"))

    def data_received(self, data: bytes) -> None:
        if data and self._between_requests():
            if self._head_timer is None:  # the first byte of a kept-alive connection's next head
                self._arm_head_timer()
            self._head_bytes = True
        before = self._request_count
        super().data_received(data)
        if self._request_count != before:  # a head (or a broken one) is in
            self._disarm_head_timer()
            if self._messages:
                self._last_payload = self._messages[-1][1]

    def _between_requests(self) -> bool:
        """No body is being received: bytes arriving now belong to a request head."""
        payload = self._last_payload
        return (not self._upgraded and not self._close and not self._force_close
                and (payload is None or payload.is_eof() or payload.exception() is not None))

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_bytes = False
        self._head_timer = self._loop.call_later(self._head_timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        transport = self.transport
        if transport is None or self._force_close:
            return
        got = "request head incomplete" if self._head_bytes else "no request"
        note("head_timeout", _peer(transport),
             f"{got} after {self._head_timeout_s:g} s, connection closed")
        if self._request_in_progress:
            self.close()  # a pipelined head behind an answer in progress: close after it
            return
        if self._head_bytes:
            transport.write(_TIMED_OUT)
        self.force_close()  # the transport still sends what was written, then closes

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """A head the parser refused: 400, said in one line. Everything else (an exception
        of a handler: status 500) goes to aiohttp, which logs its traceback."""
        if not (isinstance(exc, HttpProcessingError) and status < 500):
            return super().handle_error(request, status, exc, message)
        note("bad_head", request.remote, f"unparseable request head: {type(exc).__name__}")
        response = web.Response(status=status, text=f"{status} {HTTPStatus(status).phrase}")
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """aiohttp's connection loop logs "Unhandled exception" when reading the rest of an
        unread body fails after the answer: a client that hung up or broke its body off,
        already counted (by connection_lost, or by the middleware), not an error of ours."""
        exc = kw.get("exc_info")
        if args and args[0] == "Unhandled exception" and isinstance(exc, BROKEN_BODY):
            log.debug("the rest of a broken body was not read (%s)", type(exc).__name__)
            return
        super().log_exception(*args, **kw)


class GuardedServer(Server):
    """aiohttp's Server, making GuardedProtocol connections."""

    def __init__(self, *args: Any, head_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timeout_s = head_timeout_s

    def __call__(self) -> RequestHandler:
        return GuardedProtocol(self, loop=self._loop, head_timeout_s=self.head_timeout_s,
                               **self._kwargs)


class GuardedRunner(web.AppRunner):
    """An AppRunner whose server is a GuardedServer."""

    def __init__(self, app: web.Application, *, head_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._head_timeout_s = head_timeout_s

    async def _make_server(self) -> Server:
        plain = await super()._make_server()  # starts the app, as aiohttp's runner does
        return GuardedServer(plain.request_handler, request_factory=plain.request_factory,
                             handler_cancellation=plain.handler_cancellation,
                             loop=asyncio.get_running_loop(),
                             head_timeout_s=self._head_timeout_s, **plain._kwargs)


def run(app: web.Application, *, host: str, port: int, head_timeout_s: float,
        loop: asyncio.AbstractEventLoop, keepalive_timeout: float = 75.0,
        shutdown_timeout: float = 60.0) -> None:
    """Serve `app` until SIGINT or SIGTERM: aiohttp's web.run_app, with GuardedRunner (the
    app's startup, cleanup and graceful shutdown are aiohttp's own)."""

    async def main() -> None:
        runner = GuardedRunner(app, head_timeout_s=head_timeout_s, handle_signals=True,
                               access_log=None, keepalive_timeout=keepalive_timeout,
                               shutdown_timeout=shutdown_timeout)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            await asyncio.Event().wait()  # until a signal cancels this task
        finally:
            await runner.cleanup()

    asyncio.set_event_loop(loop)
    main_task = loop.create_task(main())
    try:
        loop.run_until_complete(main_task)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            if not main_task.done():
                main_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(main_task)
        finally:
            _cancel_all(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            asyncio.set_event_loop(None)


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def _peer(transport: asyncio.BaseTransport | None) -> object:
    peer = transport.get_extra_info("peername") if transport is not None else None
    return peer[0] if isinstance(peer, tuple) and peer else peer
