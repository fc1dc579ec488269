"""Callbacks first: a login flood (made-up names, wrong passwords, from many addresses
behind a trusted proxy) against the running app while members chat through the signed
/wechat callback. Every callback gets its normal reply — never the apology, never the
deferred `success` — and the login page answers 200, 401 or 429 only (429 at once with a
reason when every password check is taken). On PostgreSQL the console, the API and the login
have a pool of their own: with all of it taken, callbacks still answer and a login is a 429.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from sqlalchemy import text

from bot import texts as T
from bot.app import CONSOLE_ENGINE, ENGINE
from bot.settings import Settings
from tests.conftest import Bot, BotFactory
from tests.console.test_login_throttle import PROXY, attempt, tuned
from tests.console_util import page_csrf

MEMBERS = 3
ROUNDS = 6  # 我的 per member, at least (they go on until the flood is over)
FLOOD = 40  # logins at once, per wave
WAVES = 2
BUSY = "登录的人太多，请稍后再试"


async def _members(bot: Bot) -> list[Any]:
    phones = [bot.phone(f"o-flood-{i}") for i in range(MEMBERS)]
    for i, p in enumerate(phones):
        await p.register(name=f"骑手{'甲乙丙'[i]}", mobile=f"1380013800{i}")
    return phones


async def _chat(bot: Bot, phone: Any, replies: list[tuple[int, str, float]],
                done: asyncio.Event) -> None:
    """我的, again and again, until the flood is over (and at least ROUNDS times)."""
    sent = 0
    while sent < ROUNDS or not done.is_set():
        sent += 1
        started = time.monotonic()
        reply = await bot.post(bot.peer.text(phone.openid, "我的", create_time=bot.now_ts))
        replies.append((reply.status, reply.text or reply.body, time.monotonic() - started))
        await asyncio.sleep(0.05)


async def _flood(bot: Bot, token: str, statuses: list[int], bodies: list[str],
                 done: asyncio.Event) -> None:
    rng = random.Random(15)
    await asyncio.sleep(0.1)  # the members are chatting already
    for _ in range(WAVES):
        answers = await asyncio.gather(*(
            attempt(bot.client, token, f"ghost-{rng.randrange(10**9)}", "wrong-password",
                    f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}")
            for _ in range(FLOOD)),
            *(bot.client.get("/console/login") for _ in range(3)))
        for answer in answers:
            statuses.append(answer.status)
            bodies.append(await answer.text() if answer.status == 429 else "")
    done.set()


async def test_a_login_flood_never_costs_a_callback(make_bot: BotFactory,
                                                    settings: Settings) -> None:
    bot = await make_bot(tuned(settings, server={"trusted_proxies": PROXY}))
    phones = await _members(bot)
    token = await page_csrf(bot.client, "/console/login")
    replies: list[tuple[int, str, float]] = []
    statuses: list[int] = []
    bodies: list[str] = []
    done = asyncio.Event()
    await asyncio.gather(_flood(bot, token, statuses, bodies, done),
                         *(_chat(bot, p, replies, done) for p in phones))

    assert len(replies) >= MEMBERS * ROUNDS
    for status, reply, _ in replies:
        assert status == 200
        assert T.ERROR not in reply and reply.strip() != "success", reply
        assert "138****800" in reply, reply  # the member's own profile: the normal reply
    assert set(statuses) <= {200, 401, 429}, sorted(set(statuses))
    assert statuses.count(401) >= WAVES * 4  # real password checks ran …
    busy = [b for b in bodies if BUSY in b]
    assert busy  # … and the excess was turned away at once
    assert all(BUSY in b for b in bodies if b)


async def test_with_the_console_pool_taken_callbacks_still_answer(
        make_bot: BotFactory, settings: Settings) -> None:
    bot = await make_bot(tuned(settings, database={"console_pool_size": 2}))
    [phone] = (await _members(bot))[:1]
    app = bot.client.server.app
    console_engine = app[CONSOLE_ENGINE]
    if settings.database.url.startswith("sqlite"):
        # One connection per process: the same engine, and no login holds it while hashing.
        assert console_engine is app[ENGINE]
        return
    assert console_engine is not app[ENGINE]
    token = await page_csrf(bot.client, "/console/login")
    async with console_engine.connect() as probe:
        assert (await probe.execute(text("SHOW statement_timeout"))).scalar() == "15s"
    held = [await console_engine.connect() for _ in range(4)]  # the whole console pool
    try:
        for conn in held:
            await conn.execute(text("SELECT 1"))
        started = time.monotonic()
        reply = await phone.say("我的")
        assert reply and "138****8000" in reply and time.monotonic() - started < 2
        login = await attempt(bot.client, token, "ghost", "wrong-password")
        assert login.status == 429 and BUSY in await login.text()
    finally:
        for conn in held:
            await conn.close()
    assert (await attempt(bot.client, token, "ghost", "wrong-password")).status == 401
