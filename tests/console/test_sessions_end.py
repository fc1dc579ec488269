"""Console sessions the server can end (issue 15): a copied session cookie is dead after
logout, and after a new password, role, disable or sign-out made with `run.py edit-user`
(a real process on the same database), on every device and every instance; a change made
by hand in SQL ends them too. Other accounts' sessions live on."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.web.auth import COOKIE
from models.login_throttle import LoginFailure
from tests.conftest import Bot, BotFactory
from tests.console_util import PASSWORD, csrf_of, login, make_user
from tests.processes.test_command_line import env_for, free_port
from tests.processes.test_command_line import run as run_sync

NEW_PASSWORD = "a-new-password-2026"


async def run(args: list[str], env: dict[str, str], stdin: str = "") -> Any:
    """`run.py ARGS` as a real process, off the event loop (the app under test keeps
    serving, and its background work keeps committing, meanwhile)."""
    return await asyncio.to_thread(run_sync, args, env, stdin)


async def cookie_of(bot: Bot, username: str, password: str = PASSWORD) -> str:
    """Log in through the real form; the session cookie it sets (what a thief would copy)."""
    resp = await login(bot.client, username, password)
    assert resp.status == 303, await resp.text()
    return resp.cookies[COOKIE].value


async def with_copy(bot: Bot, cookie: str, path: str = "/console/") -> tuple[int, str, str]:
    """A request carrying only the copied cookie, from elsewhere (no cookie jar of its own):
    status, Location, and the Set-Cookie header if any."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as other, \
            other.get(bot.client.make_url(path), headers={"Cookie": f"{COOKIE}={cookie}"},
                      allow_redirects=False) as resp:
        await resp.read()
        return resp.status, resp.headers.get("Location", ""), resp.headers.get(
            "Set-Cookie", "")


async def alive(bot: Bot, cookie: str) -> bool:
    status, location, _ = await with_copy(bot, cookie)
    if status == 303:
        assert location.startswith("/console/login"), location
        return False
    assert status == 200
    return True


async def test_logout_ends_every_session_of_the_user_copies_and_other_devices_too(
        make_bot: BotFactory, sessions: Any) -> None:
    phone, laptop, colleague = await make_bot(), await make_bot(), await make_bot()  # 3 instances
    await make_user(sessions, phone.clock, "admin-wu", "admin")
    await make_user(sessions, phone.clock, "officer-li", "officer")
    copied = await cookie_of(phone, "admin-wu")
    on_laptop = await cookie_of(laptop, "admin-wu")
    other_user = await cookie_of(colleague, "officer-li")
    assert await alive(laptop, copied) and await alive(phone, on_laptop)
    status, _, _ = await with_copy(phone, copied, "/api/v1/courses")
    assert status == 200  # an admin's cookie also opens /api/v1

    phone.clock.advance(minutes=5)  # long enough for a used session to renew its "seen"
    token = csrf_of(await (await phone.client.get("/console/")).text())
    out = await phone.client.post("/console/logout", data={"_csrf": token},
                                  allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/console/login"

    status, location, set_cookie = await with_copy(colleague, copied)
    assert status == 303 and "expired=1" in location  # the login page says so
    assert set_cookie == ""  # a dead cookie is not renewed
    assert not await alive(laptop, copied)
    assert not await alive(phone, on_laptop)  # the laptop's own session ended as well
    status, _, _ = await with_copy(phone, copied, "/api/v1/courses")
    assert status == 401
    assert await alive(phone, other_user)  # another account is untouched

    again = await cookie_of(phone, "admin-wu")  # logging in again works, the copy stays dead
    assert await alive(laptop, again) and not await alive(laptop, copied)


@pytest.mark.parametrize(("args", "stdin"), [
    (["--password"], NEW_PASSWORD + "\n"),
    (["--role", "officer", "--grid", "HT"], ""),
    (["--disable"], ""),
    (["--end-sessions"], ""),
])
async def test_edit_user_ends_the_sessions_it_changes(
        make_bot: BotFactory, sessions: Any, db_url: str, args: list[str], stdin: str
) -> None:
    bot = await make_bot()
    await make_user(sessions, bot.clock, "leader-zhou", "leader")
    await make_user(sessions, bot.clock, "admin-wu", "admin")
    copied = await cookie_of(bot, "leader-zhou")
    bystander = await cookie_of(await make_bot(), "admin-wu")
    assert await alive(bot, copied)

    done = await run(["edit-user", "leader-zhou", *args], env_for(db_url, free_port()), stdin)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "其所有登录会话已结束" in done.stdout
    assert "Traceback" not in done.stderr

    assert not await alive(bot, copied)
    assert await alive(bot, bystander)
    fresh = await make_bot()
    if args == ["--password"]:
        assert (await login(fresh.client, "leader-zhou")).status == 401  # the old one
        assert await alive(fresh, await cookie_of(fresh, "leader-zhou", NEW_PASSWORD))
    elif args == ["--disable"]:
        assert (await login(fresh.client, "leader-zhou")).status == 401
        enabled = await run(["edit-user", "leader-zhou", "--enable"],
                            env_for(db_url, free_port()))
        assert enabled.returncode == 0, enabled.stderr
        assert not await alive(bot, copied)  # enabling does not bring old sessions back
        assert await alive(fresh, await cookie_of(fresh, "leader-zhou"))
    else:
        assert await alive(fresh, await cookie_of(fresh, "leader-zhou"))


async def test_edit_user_refuses_what_it_cannot_do(db_url: str, sessions: Any, clock: Any
                                                   ) -> None:
    await make_user(sessions, clock, "leader-zhou", "leader")
    env = env_for(db_url, free_port())
    nobody = await run(["edit-user", "nobody", "--end-sessions"], env)
    assert nobody.returncode == 2 and "没有控制台账号 nobody" in nobody.stderr
    short = await run(["edit-user", "leader-zhou", "--password"], env, "short\n")
    assert short.returncode == 2 and "密码至少8位" in short.stderr
    nothing = await run(["edit-user", "leader-zhou"], env)
    assert nothing.returncode == 2 and "未更改" in nothing.stderr
    assert "Traceback" not in nobody.stderr + short.stderr + nothing.stderr


async def test_a_change_made_by_hand_in_sql_ends_the_sessions_too(
        make_bot: BotFactory, sessions: Any) -> None:
    """The session is bound to the account's password hash, role and scope, not only to
    its version: an UPDATE that forgets to end the sessions still ends them."""
    bot = await make_bot()
    await make_user(sessions, bot.clock, "officer-li", "officer")
    copied = await cookie_of(bot, "officer-li")
    assert await alive(bot, copied)
    async with sessions() as s, s.begin():
        await s.exec(text("UPDATE console_user SET role = 'admin' "  # type: ignore[call-overload]
                          "WHERE username = 'officer-li'"))
    assert not await alive(bot, copied)


async def test_removing_the_demo_accounts_ends_their_sessions(
        make_bot: BotFactory, sessions: Any, db_url: str) -> None:
    bot = await make_bot()
    await make_user(sessions, bot.clock, "demo-admin", "admin")
    copied = await cookie_of(bot, "demo-admin")
    assert await alive(bot, copied)
    removed = await run(["remove-demo-accounts"], env_for(db_url, free_port()))
    assert removed.returncode == 0 and "demo-admin：已删除" in removed.stdout, removed.stderr
    assert not await alive(bot, copied)


async def test_edit_user_unlock_lifts_a_login_lock(db_url: str, sessions: Any, clock: Any
                                                   ) -> None:
    """An operator with only a terminal lifts a lock as 控制台账号's button does."""
    await make_user(sessions, clock, "leader-zhou", "leader")
    async with sessions() as s, s.begin():
        s.add(LoginFailure(key="acct:leader-zhou", failures=999, first_at=clock.now()))
        s.add(LoginFailure(key="pair:leader-zhou|203.0.113.5", failures=9,
                           first_at=clock.now()))
    done = await run(["edit-user", "leader-zhou", "--unlock"], env_for(db_url, free_port()))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "已解除登录锁定" in done.stdout
    async with sessions() as s:
        left = (await s.exec(select(LoginFailure.key))).all()
    assert not [k for k in left if "leader-zhou" in k]
