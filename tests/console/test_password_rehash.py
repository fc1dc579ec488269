"""Password hashes: argon2id at OWASP's floor (19 MiB, 2 passes, 1 lane), so the few checks
a process runs at once stay inside its memory. A hash made with the old default (64 MiB,
3 passes, 4 lanes) still logs in, and is made anew with today's parameters at that login;
a wrong password changes nothing."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher, extract_parameters
from sqlalchemy import update
from sqlmodel import col, select

from models import staff
from models.staff import ConsoleUser
from tests.conftest import BotFactory
from tests.console_util import PASSWORD, login, make_user

OLD_DEFAULT = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)


async def stored_hash(sessions: Any, username: str) -> str:
    async with sessions() as s:
        user = (await s.exec(select(ConsoleUser).where(ConsoleUser.username == username))).one()
        return user.password_hash


async def test_new_hashes_use_owasp_parameters(make_bot: BotFactory, sessions: Any) -> None:
    bot = await make_bot()
    await make_user(sessions, bot.clock, "officer-wu", "officer")
    params = extract_parameters(await stored_hash(sessions, "officer-wu"))
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19456, 2, 1)
    assert params.type.name == "ID"


async def test_an_old_hash_logs_in_and_is_made_anew(make_bot: BotFactory,
                                                     sessions: Any) -> None:
    bot = await make_bot()
    await make_user(sessions, bot.clock, "admin-qian", "admin")
    old = OLD_DEFAULT.hash(PASSWORD)
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
    assert extract_parameters(new).memory_cost == 19456

    again = await login(bot.client, "admin-qian")  # and the new hash logs in
    assert again.status == 303 and await stored_hash(sessions, "admin-qian") == new

