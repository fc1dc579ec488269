"""POST /cgi-bin/stable_token, WeChat's stable access token, with WeChat's rules.

- Normal mode (force_refresh false or absent) answers the token in force, the same to
  every caller, with its remaining expires_in; in its last 5 minutes (or once it is gone)
  a new one is issued and the old one stays valid until its own expiry. So any answer is
  valid for at least 300 s.
- Force mode issues a new token at once; the one it replaces stays valid 5 more minutes
  (then 42001) and any older one ends at once (40001): two force refreshes 30 s apart kill
  a leaked token. At most 20 a day (Asia/Shanghai), past that 45009; one within 30 s of
  the last does not refresh (the token in force is answered, and not counted).
- Its tokens are kept apart from /cgi-bin/token's: a fetch on one endpoint does not end
  the other's tokens.
- Errors: 44002 empty body, 47001 not a JSON object or a wrong field type, 40002 grant_type,
  41002/40013 appid missing/wrong, 41004/40125 secret missing/wrong, 43002 not a POST.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta

from aiohttp import web

from bot.dev.sandbox.core import STATE, TOKEN_OVERLAP, TOKEN_TTL_S, SandboxState, err
from models.base import SHANGHAI

FORCE_A_DAY = 20
FORCE_SPACING = timedelta(seconds=30)


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_post("/cgi-bin/stable_token", stable_token)
    r.add_get("/cgi-bin/stable_token", _not_post)


async def _not_post(request: web.Request) -> web.Response:
    return err(43002, "require POST method")


def _issue(state: SandboxState, now: datetime) -> str:
    """A new stable token: the one in force lives 5 more minutes at most, older ones end."""
    st = state.stable
    for tok in list(st.issued):
        if tok == st.current and tok in state.tokens:
            state.tokens[tok] = min(state.tokens[tok], now + TOKEN_OVERLAP)
        else:
            state.tokens.pop(tok, None)
            st.issued.discard(tok)
    token = secrets.token_urlsafe(48)
    st.issued.add(token)
    st.current = token
    state.tokens[token] = now + timedelta(seconds=TOKEN_TTL_S)
    state.token_fetches += 1
    return token


def _in_force(state: SandboxState, now: datetime) -> datetime | None:
    """When the token in force expires (None: there is none, or it is gone or expired)."""
    current = state.stable.current
    exp = state.tokens.get(current) if current else None
    return exp if exp is not None and exp > now else None


def _force(state: SandboxState, now: datetime) -> web.Response | None:
    """Force a new token, or the refusal (None: too soon after the last, nothing done)."""
    st = state.stable
    day = now.astimezone(SHANGHAI).date()
    if st.force_day != day:
        st.force_day, st.forced_today = day, 0
    if st.last_force_at and now - st.last_force_at < FORCE_SPACING and _in_force(state, now):
        return None
    if st.forced_today >= FORCE_A_DAY:
        return err(45009, "reach max api daily quota limit")
    st.forced_today += 1
    st.force_refreshes += 1
    st.last_force_at = now
    _issue(state, now)
    return None


def _refusal(state: SandboxState, data: dict[str, object]) -> web.Response | None:
    if data.get("grant_type") != "client_credential":
        return err(40002, "invalid grant_type")
    appid, secret = data.get("appid"), data.get("secret")
    if not appid:
        return err(41002, "appid missing")
    if appid != state.app_id:
        return err(40013, "invalid appid")
    if not secret:
        return err(41004, "appsecret missing")
    if secret != state.app_secret:
        return err(40125, "invalid appsecret")
    if not isinstance(data.get("force_refresh", False), bool):
        return err(47001, "data format error: force_refresh is a boolean")
    return None


async def stable_token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.read()
    if not body.strip():
        return err(44002, "empty post data")
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return err(47001, "data format error")
    if refusal := _refusal(state, data):
        return refusal
    now = state.clock.now()
    if data.get("force_refresh") is True and (refused := _force(state, now)):
        return refused
    exp = _in_force(state, now)
    if exp is None or exp - now <= TOKEN_OVERLAP:
        _issue(state, now)
        exp = _in_force(state, now)
    assert exp is not None and state.stable.current is not None
    state.stable.fetches += 1
    return web.json_response({"access_token": state.stable.current,
                              "expires_in": int((exp - now).total_seconds())})
