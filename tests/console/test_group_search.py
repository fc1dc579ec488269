"""A leader sees members' phones masked, so the group page searches at most the last 4
digits for them: a longer tail would give the hidden digits away one by one."""

from __future__ import annotations

from sqlmodel import select

from bot import texts as T
from models.group import PartyGroup
from tests.chat.test_groups import new_group
from tests.conftest import BotFactory
from tests.console_util import login, make_user


async def test_a_leader_searches_phone_tails_of_four_digits_only(make_bot: BotFactory,
                                                                sessions) -> None:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "leader-s", "leader")
    code = await new_group(sessions, bot.clock, "湖塘外卖骑手党小组", leader_name="leader-s")
    for openid, name, mobile in (("o-s1", "王五", "13900001234"), ("o-s2", "赵六", "13900005678")):
        await bot.phone(openid).register(name=name, mobile=mobile)
        await bot.phone(openid).say(f"加入小组 {code}")
    async with sessions() as s:
        group = (await s.exec(select(PartyGroup).where(PartyGroup.code == code))).one()
    await login(bot.client, "leader-s")
    page = f"/console/groups/{group.id}"
    four = await (await bot.client.get(page, params={"q": "1234"})).text()
    assert "王五" in four and "赵六" not in four
    for probe in ("01234", "91234"):  # would tell the fifth-last digit apart
        html = await (await bot.client.get(page, params={"q": probe})).text()
        assert T.PHONE_TAIL_ONLY in html
        assert "王五" in html and "赵六" in html  # not filtered by the longer tail
    await make_user(sessions, bot.clock, "admin-s", "admin")
    admin = (await make_bot(background=False)).client
    await login(admin, "admin-s")
    whole = await (await admin.get(page, params={"q": "01234"})).text()
    assert "王五" in whole and "赵六" not in whole  # admins see whole phones anyway
