"""绑定 CODE guessing: five tries per openid within ten minutes, counted in the database;
the sixth — a right code too — is told in how many minutes to try again."""

from __future__ import annotations

from datetime import timedelta

from bot import texts as T
from tests.chat.test_staff_binding import new_user
from tests.conftest import Bot


async def test_sixth_try_is_refused_until_the_window_ends(bot: Bot, sessions) -> None:
    code = await new_user(sessions, bot.clock, "officer-guess", "officer", grid_code="HT-01")
    p = bot.phone("o-guesser")
    for i in range(5):
        assert await p.say(f"绑定 WRONG{i}") == T.BIND_UNKNOWN
        bot.clock.advance(timedelta(seconds=30))
    # 2.5 minutes after the first wrong code: locked for 7.5 more, a right code too.
    assert await p.say("绑定 WRONG9") == T.BIND_LOCKED.format(minutes=8)
    assert await p.say(f"绑定 {code}") == T.BIND_LOCKED.format(minutes=8)
    # Another openid has its own count.
    assert await bot.phone("o-other").say("绑定 WRONGX") == T.BIND_UNKNOWN
    # Ten minutes after the first wrong code, a (fresh) right code binds.
    bot.clock.advance(timedelta(minutes=8))
    code = await new_user(sessions, bot.clock, "officer-late", "officer", grid_code="HT-01")
    assert await p.say(f"绑定 {code}") == T.BIND_DONE.format(
        username="officer-late", role="网格员")


async def test_a_right_code_clears_the_count(bot: Bot, sessions) -> None:
    p = bot.phone("o-typo")
    for i in range(4):
        assert await p.say(f"绑定 WRONG{i}") == T.BIND_UNKNOWN
    code = await new_user(sessions, bot.clock, "leader-typo", "leader")
    assert await p.say(f"绑定 {code}") == T.BIND_DONE.format(username="leader-typo",
                                                            role="党小组长")
    for i in range(5):
        assert await p.say(f"绑定 WRONG{i}") == T.BIND_UNKNOWN
    assert await p.say("绑定 WRONG9") == T.BIND_LOCKED.format(minutes=10)
