"""The sandbox's state and what its route modules share: users, tokens, faults, answers."""

from __future__ import annotations

import itertools
import random
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.clock import Clock, SystemClock

TOKEN_TTL_S = 7200
TOKEN_OVERLAP = timedelta(minutes=5)
WINDOW = timedelta(hours=48)
WINDOW_MESSAGES = 5
EVENT_WINDOW = timedelta(minutes=1)
EVENT_MESSAGES = 3


@dataclass
class SandboxUser:
    followed: bool = True
    last_message_at: datetime | None = None
    used_since_message: int = 0
    last_event_at: datetime | None = None
    used_since_event: int = 0


@dataclass
class Faults:
    """What to get wrong, for the next `times` send calls (or at `rate` of them)."""

    errcode: int | None = None
    http_status: int | None = None
    delay_s: float = 0.0
    drop: bool = False
    times: int | None = None  # None: for every call while `rate` says so
    rate: float = 1.0
    path: str | None = None  # calls whose path starts so ("/cgi-bin/tags/"); None: sends

    def applies(self, path: str) -> bool:
        return path.startswith(self.path or "/cgi-bin/message/")

    def fire(self) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if random.random() >= self.rate:
            return False
        if self.times is not None:
            self.times -= 1
        return True


@dataclass
class StableTokens:
    """The stable endpoint's side (tokens.py), apart from the classic one's as at WeChat."""

    current: str | None = None
    issued: set[str] = field(default_factory=set)
    fetches: int = 0  # calls answered with a token
    force_refreshes: int = 0  # new tokens forced, every day
    force_day: date | None = None  # the Asia/Shanghai day counted
    forced_today: int = 0
    last_force_at: datetime | None = None


@dataclass
class Grant:
    """What a user allowed of one 订阅通知 template: one-time sends left, or long-term."""

    one_time: int = 0
    long_term: bool = False


@dataclass
class SandboxState:
    app_id: str
    app_secret: str
    clock: Clock = field(default_factory=SystemClock)
    tokens: dict[str, datetime] = field(default_factory=dict)
    token_fetches: int = 0  # tokens issued, by either endpoint
    stable: StableTokens = field(default_factory=StableTokens)
    users: dict[str, SandboxUser] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Faults] = field(default_factory=list)
    menu: dict[str, Any] | None = None
    # Conditional menus ({button, matchrule, menuid}, oldest first) and user tags
    # (bot/dev/sandbox/menus.py): tag id → name, openid → its tag ids.
    conditional_menus: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[int, str] = field(default_factory=dict)
    user_tags: dict[str, set[int]] = field(default_factory=dict)
    qrcodes: dict[str, str] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    # 订阅通知 grants by (openid, template id), and who refused template messages
    # (bot/dev/sandbox/subscribe.py).
    grants: dict[tuple[str, str], Grant] = field(default_factory=dict)
    template_blocked: set[str] = field(default_factory=set)
    # Injected faults that fired, by what they answered: "http 500", "errcode 45009", …
    faulted: dict[str, int] = field(default_factory=dict)
    _msgids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_000_001))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))

    def user(self, openid: str) -> SandboxUser:
        return self.users.setdefault(openid, SandboxUser())

    def interact(self, openid: str, kind: str) -> None:
        """What WeChat sees of a user: a message, an event (click, scan), a follow, an unfollow."""
        user, now = self.user(openid), self.clock.now()
        if kind == "message":
            user.last_message_at, user.used_since_message = now, 0
        elif kind == "unsubscribe":
            user.followed = False
        else:
            user.followed = True
            user.last_event_at, user.used_since_event = now, 0

    def count_fault(self, what: str) -> None:
        self.faulted[what] = self.faulted.get(what, 0) + 1

    def new_token(self) -> str:
        now = self.clock.now()
        for tok, exp in list(self.tokens.items()):  # the old ones live 5 more minutes at most
            if tok not in self.stable.issued:  # the stable endpoint's tokens are apart
                self.tokens[tok] = min(exp, now + TOKEN_OVERLAP)
        token = secrets.token_urlsafe(48)
        self.tokens[token] = now + timedelta(seconds=TOKEN_TTL_S)
        self.token_fetches += 1
        return token

    def token_error(self, token: str | None) -> dict[str, Any] | None:
        if not token:
            return {"errcode": 41001, "errmsg": "access_token missing"}
        exp = self.tokens.get(token)
        if exp is None:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
        if exp <= self.clock.now():
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return None


STATE = web.AppKey("sandbox_state", SandboxState)


def err(code: int, msg: str) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": msg})


async def read_json(request: web.Request) -> dict[str, Any] | None:
    try:
        data = await request.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def deliver(state: SandboxState, openid: str, channel: str, **fields: Any) -> int:
    msgid = next(state._msgids)
    state.messages.append(
        {"touser": openid, "channel": channel, "msgid": msgid,
         "time": state.clock.now().isoformat(), **fields}
    )
    return msgid
