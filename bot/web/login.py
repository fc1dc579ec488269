"""Login and logout: the console's only public pages.

A login holds no database connection while its password is checked: one short transaction
asks the throttle (models/login_throttle.py) whether this try may be checked, and counts it;
argon2 then runs in a small pool of threads of its own (`LoginGate`: at most
console.login_concurrency at once, console.login_queue more waiting, any further login is
answered 429 at once); a second short transaction takes the count back when the password
was right. The client's address is the proxy's word only from server.trusted_proxies
(bot/web/remote.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

from aiohttp import web
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.settings import ConsoleSettings
from bot.web import remote
from bot.web.pages import AUTH, SETTINGS, now, render, sessions
from models import login_throttle, staff
from models.login_throttle import LoginKeys, LoginRules, Refusal

log = logging.getLogger(__name__)
WRONG = "用户名或密码不正确。"
BUSY = "登录的人太多，请稍后再试。"
LOCKED = "这个账号登录失败的次数过多，已被锁定。请联系管理员在控制台的“控制台账号”页解除锁定。"
BUSY_RETRY_S = 5
T = TypeVar("T")


def wait_text(minutes: int) -> str:
    return f"尝试次数过多，请 {minutes} 分钟后再试。"


class Busy(Exception):
    """Every password check and every waiting place is taken."""


HASH_NICENESS = 10


def _lower_priority() -> None:
    """A hashing thread (and the threads argon2 starts for its lanes, which inherit it) runs
    at a lower CPU priority than the event loop: on a small machine a login flood then
    slows the logins, not the callbacks. (Linux: niceness is per thread.)"""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


class LoginGate:
    """At most `workers` password checks at once, each in a thread of this pool (never the
    event loop's, never the default pool other work uses), at a low CPU priority; up to
    `queue` more logins may wait for one; any further login is refused at once (Busy)."""

    def __init__(self, workers: int, queue: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="login-hash",
                                        initializer=_lower_priority)
        self._workers = asyncio.Semaphore(workers)
        self._limit = workers + queue
        self.inside = 0  # logins under way

    @contextlib.asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        if self.inside >= self._limit:
            raise Busy
        self.inside += 1
        try:
            yield
        finally:
            self.inside -= 1

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        async with self._workers:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


GATE = web.AppKey("console_login_gate", LoginGate)
TRUSTED: web.AppKey[tuple[remote.Network, ...]] = web.AppKey("console_trusted_proxies")


def rules_of(console: ConsoleSettings) -> LoginRules:
    return LoginRules(
        pair_max=console.login_max_failures, address_max=console.login_address_max_failures,
        account_lock=console.login_account_lock, delay=console.login_delay,
        max_delay=console.login_lockout, window=console.login_window)


def _next(value: str | None) -> str:
    """Only a page of the console (no open redirect to somewhere else)."""
    if value and value.startswith("/console/") and not value.startswith("//"):
        return value
    return "/console/"


async def login_form(request: web.Request) -> web.Response:
    if await request.app[AUTH].user(request) is not None:
        raise web.HTTPSeeOther(_next(request.query.get("next")))
    notice = "登录已过期，请重新登录。" if request.query.get("expired") else ""
    return await render(request, "login.html", {
        "next": _next(request.query.get("next")), "username": "", "errors": {},
        "notice": notice})


async def _page(request: web.Request, target: str, username: str, status: int, *,
                notice: str = "", errors: dict[str, str] | None = None,
                retry_after: timedelta | None = None) -> web.Response:
    response = await render(request, "login.html", {
        "next": target, "username": username, "errors": errors or {}, "notice": notice},
        status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, int(retry_after.total_seconds())))
    return response


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:256]
    target = _next(str(form.get("next", "")))
    errors = {}
    if not username:
        errors["username"] = "请输入用户名。"
    if not password:
        errors["password"] = "请输入密码。"
    if errors:
        return await _page(request, target, username, 400, errors=errors)
    try:
        async with request.app[GATE].admitted():
            return await _check(request, username, password, target)
    except (Busy, PoolTimeout):
        log.warning("console login refused: too many logins at once")
        return await _page(request, target, username, 429, notice=BUSY,
                           retry_after=timedelta(seconds=BUSY_RETRY_S))


async def _check(request: web.Request, username: str, password: str, target: str
                 ) -> web.Response:
    trusted = request.app[TRUSTED]
    address = remote.throttle_key(remote.of(request, trusted))
    keys = LoginKeys.of(username, address)
    at = now(request)
    refused: Refusal | None
    async with sessions(request)() as db, db.begin():  # short: no hashing in here
        refused = await login_throttle.admit(db, keys, rules_of(request.app[SETTINGS].console),
                                             at)
        account = None if refused else await login_throttle.account_named(db, username)
    if refused is not None:
        return await _refused(request, target, username, refused)
    hashed = account.password_hash if account is not None else None
    right = await request.app[GATE].run(login_throttle.check_password, hashed, password)
    if account is None or not right or not account.active:
        log.info("console login failed")
        return await _page(request, target, username, 401, errors={"form": WRONG})
    assert hashed is not None and account.id is not None  # the account exists
    # A hash made with older parameters is made anew now that the password is known (in
    # the gate's threads too, and outside any transaction).
    rehashed = (await request.app[GATE].run(staff.hash_password, password)
                if staff.needs_rehash(hashed) else None)
    async with sessions(request)() as db, db.begin():
        await login_throttle.succeeded(db, keys, rules_of(request.app[SETTINGS].console))
        if rehashed is not None:
            await staff.replace_hash(db, account.id, hashed, rehashed)
    response = web.HTTPSeeOther(target)
    await request.app[AUTH].login(request, response, account)
    log.info("console login: user %s (%s)", account.id, account.role)
    raise response


async def _refused(request: web.Request, target: str, username: str, refused: Refusal
                   ) -> web.Response:
    if refused.wait is None:
        log.warning("console login refused: the account is locked")
        return await _page(request, target, username, 429, notice=LOCKED)
    minutes = max(1, -(-refused.wait // timedelta(minutes=1)))
    log.warning("console login refused: too many failures, %s min to wait", minutes)
    return await _page(request, target, username, 429, notice=wait_text(minutes),
                       retry_after=refused.wait)


async def logout(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther("/console/login")
    await request.app[AUTH].logout(request, response)
    raise response


def add_routes(console: web.Application) -> None:
    settings = console[SETTINGS]
    gate = LoginGate(settings.console.login_concurrency, settings.console.login_queue)
    console[GATE] = gate
    console[TRUSTED] = remote.networks(settings.server.trusted_proxies)

    async def close(_: web.Application) -> None:
        gate.close()

    console.on_cleanup.append(close)
    console.router.add_get("/login", login_form, name="login")
    console.router.add_post("/login", login)
    console.router.add_post("/logout", logout, name="logout")
