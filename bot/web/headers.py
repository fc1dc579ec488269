"""The security headers every answer carries: pages, API answers, files, and errors (a
handler's, the console's own error pages, aiohttp's 404/405), set by one
on_response_prepare hook on the root application (it runs for its sub-apps' answers too).

No page runs inline script or inline styles: scripts and stylesheets are files under the
static routes, so the Content-Security-Policy allows only this origin's own files."""

from __future__ import annotations

from aiohttp import web

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
))
SERVER = "xiaoge"  # no framework, no version

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Server": SERVER,
}


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the headers above on every answer (a handler's own
    Content-Security-Policy or Referrer-Policy, if it sets one, is kept)."""
    for name, value in HEADERS.items():
        if name == "Server":
            response.headers[name] = value
        else:
            response.headers.setdefault(name, value)
