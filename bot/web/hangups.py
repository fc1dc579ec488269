"""Clients that hang up, stall or send a broken request are ordinary on a public port: each
one gets a single INFO line (no traceback) and a count in `xiaoge_http_hangups_total`.

`guard_bodies` is the middleware, registered on the root app (its middlewares wrap every
sub-app's handlers too: the console, the simulator, the sandbox): a request body must
arrive within `server.body_timeout_s` of the head (else 408 and the connection is closed),
and a body read that ends early because the client went away is dropped quietly instead of
becoming aiohttp's "Error handling request" traceback. What breaks before a handler runs
(a slow or unparseable head) is bot/web/server.py's part. An exception of our own code is
none of this: it still reaches aiohttp, which logs it with its traceback.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import ClientPayloadError, web
from aiohttp.typedefs import Handler, Middleware

from bot import metrics

log = logging.getLogger(__name__)

# What a body read raises when the client went away or broke the body off: the payload's
# own exception (ConnectionResetError "Connection lost", ClientPayloadError for a cut
# chunked body), or an asyncio.IncompleteReadError from a reader built on it.
BROKEN_BODY: tuple[type[BaseException], ...] = (
    ConnectionError, ClientPayloadError, asyncio.IncompleteReadError)


class BodyTimeout(asyncio.TimeoutError):
    """The body did not arrive in time. A TimeoutError, so that aiohttp's lingering read
    after an early answer gives up on it quietly and closes the connection."""


def note(reason: str, peer: object, detail: str) -> None:
    """Count a broken request and say so in one line: reason is the metric's label."""
    metrics.HANGUPS.labels(reason).inc()
    log.info("client %s: %s (%s)", peer or "-", detail[:200], reason)


def guard_bodies(body_timeout_s: float) -> Middleware:
    """The middleware: a body deadline for every request, and hang-ups answered quietly."""

    @web.middleware
    async def hangups(request: web.Request, handler: Handler) -> web.StreamResponse:
        _arm_body_deadline(request, body_timeout_s)
        try:
            return await handler(request)
        except BodyTimeout:  # counted and logged when the deadline passed
            return _closing(408, "request body not received in time")
        except BROKEN_BODY as exc:
            if not _body_broken(request):
                raise  # e.g. our own connection to the database or WeChat: a real error
            gone = request.transport is None or request.transport.is_closing()
            note("hangup" if gone else "bad_body", request.remote,
                 f"{request.method} {request.path}: body ended early "
                 f"({type(exc).__name__})")
            return _closing(400, "request body incomplete")

    return hangups


def _arm_body_deadline(request: web.Request, timeout_s: float) -> None:
    """Past the deadline a body still incomplete fails every read with BodyTimeout. The
    timer stays armed after the handler returns, so that aiohttp's read of an unread body
    after an early answer ends at the deadline too; the body's end disarms it."""
    payload = request.content
    if not request.body_exists or payload.is_eof() or payload.exception() is not None:
        return
    loop = asyncio.get_running_loop()
    peer, what = request.remote, f"{request.method} {request.path}"

    def expire() -> None:
        if payload.is_eof() or payload.exception() is not None:
            return
        note("body_timeout", peer, f"{what}: body not received within {timeout_s:g} s")
        payload.set_exception(BodyTimeout())

    handle = loop.call_later(timeout_s, expire)
    payload.on_eof(handle.cancel)


def _body_broken(request: web.Request) -> bool:
    """The request's body failed (the client hung up, or the parser refused the rest)."""
    transport = request.transport
    return (request.content.exception() is not None or transport is None
            or transport.is_closing())


def _closing(status: int, text: str) -> web.Response:
    response = web.Response(status=status, text=text)
    response.force_close()
    return response
