"""Console accounts and 绑定: staff words only for bound accounts of the right role."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import texts as T
from models import staff
from tests.conftest import Bot


async def new_user(sessions, clock, name: str, role: str, **kw: str) -> str:
    async with sessions() as s, s.begin():
        user = await staff.create_user(s, name, role, "password-123", clock.now(), **kw)
        return await staff.issue_bind_code(s, user, clock.now())


async def test_bind_then_use_staff_words(bot: Bot, sessions) -> None:
    code = await new_user(sessions, bot.clock, "leader-li", "leader", group_code="G1")
    p = bot.phone("o-leader")
    refused = T.STAFF_ONLY.format(word="小组通知", roles="党小组长")
    assert await p.say("小组通知 明天学习") == refused
    assert await p.say("绑定") == T.BIND_USAGE
    assert await p.say("绑定 WRONG1") == T.BIND_UNKNOWN
    assert await p.say(f"绑定 {code.lower()}") == T.BIND_DONE.format(
        username="leader-li", role="党小组长")
    assert await p.say("小组通知 明天学习") == T.LEADER_NO_GROUP  # G1 does not exist yet
    # A leader is no grid officer.
    assert await p.say("待办") == T.STAFF_ONLY.format(word="待办", roles="网格员")
    assert await p.say("办结 R20261128-0001 好了") == T.STAFF_ONLY.format(word="办结",
                                                                          roles="网格员")
    # The code is one-time.
    assert await bot.phone("o-other").say(f"绑定 {code}") == T.BIND_USED


async def test_bind_code_expires_after_ten_minutes(bot: Bot, sessions) -> None:
    code = await new_user(sessions, bot.clock, "officer-wang", "officer", grid_code="HT-01")
    bot.clock.advance(timedelta(minutes=10, seconds=1))
    assert await bot.phone("o-late").say(f"绑定 {code}") == T.BIND_EXPIRED


async def test_admin_may_use_every_staff_word(bot: Bot, sessions) -> None:
    code = await new_user(sessions, bot.clock, "admin-zhao", "admin")
    p = bot.phone("o-admin")
    await p.say(f"绑定 {code}")
    assert await p.say("通知情况") == T.LEADER_NO_GROUP
    assert await p.say("待办") == T.TODO_NONE  # every grid's queue, empty
    assert await p.say("办结 R20261128-0001 已修好") == T.TICKET_UNKNOWN.format(
        ticket="R20261128-0001")


async def test_rebinding_moves_the_wechat_account(bot: Bot, sessions) -> None:
    first = await new_user(sessions, bot.clock, "a-one", "officer")
    second = await new_user(sessions, bot.clock, "a-two", "leader")
    p = bot.phone("o-two-hats")
    await p.say(f"绑定 {first}")
    await p.say(f"绑定 {second}")
    assert await p.say("通知情况") == T.LEADER_NO_GROUP
    assert await p.say("待办") == T.STAFF_ONLY.format(word="待办", roles="网格员")


@pytest.mark.parametrize(
    ("name", "role", "password", "reason"),
    [
        ("x", "boss", "password-123", "unknown_role"),
        ("has space", "admin", "password-123", "bad_username"),
        ("ok", "admin", "short", "short_password"),
    ],
)
async def test_create_user_rules(sessions, clock, name, role, password, reason) -> None:
    async with sessions() as s, s.begin():
        with pytest.raises(staff.StaffError) as err:
            await staff.create_user(s, name, role, password, clock.now())
    assert err.value.reason == reason


async def test_usernames_are_unique_and_passwords_hashed(sessions, clock) -> None:
    async with sessions() as s, s.begin():
        user = await staff.create_user(s, "dup", "admin", "password-123", clock.now())
        assert user.password_hash.startswith("$argon2")
        assert staff.verify_password(user.password_hash, "password-123")
        assert not staff.verify_password(user.password_hash, "password-124")
        with pytest.raises(staff.StaffError) as err:
            await staff.create_user(s, "dup", "leader", "password-123", clock.now())
    assert err.value.reason == "username_taken"


async def test_help_lists_staff_words_to_their_staff_only(bot: Bot, sessions) -> None:
    rider = await bot.phone("o-plain").say("帮助")
    assert T.HELP_OFFICER not in rider and T.HELP_LEADER not in rider
    assert T.HELP_BIND in rider and "取消" in rider
    code = await new_user(sessions, bot.clock, "officer-h", "officer")
    officer = bot.phone("o-officer-h")
    await officer.say(f"绑定 {code}")
    seen = await officer.say("帮助")
    assert T.HELP_OFFICER in seen and T.HELP_LEADER not in seen
    assert len(seen.encode()) < 2048  # fits one WeChat message
