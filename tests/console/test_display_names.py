"""Console accounts carry the person's name (`display_name`): pages show it, never the login,
and an over-long one is explained beside its field."""

from __future__ import annotations

from sqlmodel import select

from models import names
from models.staff import ConsoleUser
from tests.conftest import BotFactory
from tests.console_util import login, make_user, page_csrf

NEW = "/console/members/staff/new"


async def test_an_account_made_in_the_console_is_shown_by_its_name(make_bot: BotFactory,
                                                                   sessions) -> None:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "admin-dn", "admin", display_name="吴管理员")
    await login(bot.client, "admin-dn")
    form = {"username": "teacher-dn", "name": "  周 老师 ", "role": "instructor", "grid": "",
            "group": "", "password": "a-long-password", "password2": "a-long-password"}
    too_long = await bot.client.post(NEW, data={
        "_csrf": await page_csrf(bot.client, NEW), **form, "name": "名" * 41})
    html = await too_long.text()
    assert too_long.status == 400 and "姓名最长40个字" in html and 'value="teacher-dn"' in html
    made = await bot.client.post(NEW, data={"_csrf": await page_csrf(bot.client, NEW), **form})
    assert made.status == 200, await made.text()
    async with sessions() as s:
        user = (await s.exec(select(ConsoleUser).where(
            ConsoleUser.username == "teacher-dn"))).one()
        assert user.display_name == "周 老师"  # spaces folded
        assert await names.staff_names(s, ["teacher-dn", "admin-dn"]) == {
            "teacher-dn": "周 老师", "admin-dn": "吴管理员"}
    listing = await (await bot.client.get("/console/members/staff")).text()
    assert "周 老师" in listing
    header = await (await bot.client.get("/console/")).text()
    assert "吴管理员" in header
