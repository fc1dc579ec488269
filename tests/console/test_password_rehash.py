"""Password hashes: argon2id with argon2-cffi's default parameters (RFC 9106: 64 MiB,
3 passes, 4 lanes). A hash made with other, weaker parameters still logs in, and is made
anew with today's parameters at that login; a wrong password changes nothing. The demo
accounts get a hash made once (no hashing at a dev start)."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher, extract_parameters
from sqlalchemy import update
from sqlmodel import col, select

from models import staff
from models.staff import ConsoleUser
from tests.conftest import BotFactory
from tests.console_util import PASSWORD, login, make_user

WEAKER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


async def stored_hash(sessions: Any, username: str) -> str:
    async with sessions() as s:
        user = (await s.exec(select(ConsoleUser).where(ConsoleUser.username == username))).one()
        return user.password_hash


async def test_new_hashes_use_the_default_parameters(make_bot: BotFactory, sessions: Any) -> None:
    bot = await make_bot()
    await make_user(sessions, bot.clock, "officer-wu", "officer")
    params = extract_parameters(await stored_hash(sessions, "officer-wu"))
    assert (params.memory_cost, params.time_cost, params.parallelism) == (65536, 3, 4)
    assert params.type.name == "ID"


async def test_an_old_hash_logs_in_and_is_made_anew(make_bot: BotFactory,
                                                     sessions: Any) -> None:
    bot = await make_bot()
    await make_user(sessions, bot.clock, "admin-qian", "admin")
    old = WEAKER.hash(PASSWORD)
    async with sessions() as s, s.begin():
        await s.exec(update(ConsoleUser).where(col(ConsoleUser.username) == "admin-qian")
                     .values(password_hash=old))
    assert staff.needs_rehash(old)

    wrong = await login(bot.client, "admin-qian", "not-the-password")
    assert wrong.status == 401
    assert await stored_hash(sessions, "admin-qian") == old  # a wrong password: untouched

    right = await login(bot.client, "admin-qian")
    assert right.status == 303
    new = await stored_hash(sessions, "admin-qian")
    assert new != old and not staff.needs_rehash(new)
    assert staff.verify_password(new, PASSWORD)
    assert extract_parameters(new).memory_cost == 65536

    again = await login(bot.client, "admin-qian")  # and the new hash logs in
    assert again.status == 303 and await stored_hash(sessions, "admin-qian") == new


def test_the_demo_hash_is_of_the_demo_password() -> None:
    from bot.dev.demo import DEMO_ADMIN_PASSWORD, DEMO_PASSWORD_HASH

    assert staff.verify_password(DEMO_PASSWORD_HASH, DEMO_ADMIN_PASSWORD)
    assert not staff.needs_rehash(DEMO_PASSWORD_HASH)
