"""The small lists export to Excel as well as CSV: groups, a group's members (phones masked
for a leader, whole for an admin) and the console accounts (admins only)."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlmodel import select

from models.group import PartyGroup
from tests.chat.test_groups import new_group
from tests.conftest import BotFactory
from tests.console_util import login, make_user

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _sheet(client, path: str) -> list[list[object]]:
    resp = await client.get(path)
    assert resp.status == 200 and resp.headers["Content-Type"] == XLSX, await resp.text()
    book = load_workbook(io.BytesIO(await resp.read()))
    return [[c.value for c in row] for row in book.active.iter_rows()]


async def test_groups_members_and_accounts_export_to_excel(make_bot: BotFactory,
                                                          sessions) -> None:
    bot = await make_bot(background=False)
    await make_user(sessions, bot.clock, "leader-x", "leader")
    code = await new_group(sessions, bot.clock, "湖塘外卖骑手党小组", leader_name="leader-x")
    await bot.phone("o-x1").register(name="王五", mobile="13900001234")
    await bot.phone("o-x1").say(f"加入小组 {code}")
    async with sessions() as s:
        group = (await s.exec(select(PartyGroup).where(PartyGroup.code == code))).one()
    await make_user(sessions, bot.clock, "admin-x", "admin", display_name="吴管理员")

    await login(bot.client, "admin-x")
    groups = await _sheet(bot.client, "/console/groups?format=xlsx")
    assert groups[0][:3] == ["名称", "行业", "组长"] and groups[1][0] == "湖塘外卖骑手党小组"
    members = await _sheet(bot.client, f"/console/groups/{group.id}?format=xlsx")
    assert members[0][:2] == ["姓名", "手机"] and members[1][:2] == ["王五", "13900001234"]
    accounts = await _sheet(bot.client, "/console/members/staff?format=xlsx")
    assert accounts[0][0] == "用户名" and {r[0] for r in accounts[1:]} == {"admin-x",
                                                                         "leader-x"}

    client = (await make_bot(background=False)).client  # a fresh browser for the leader
    await login(client, "leader-x")
    masked = await _sheet(client, f"/console/groups/{group.id}?format=xlsx")
    assert masked[1][0] == "王五" and masked[1][1] != "13900001234"
    assert "1234" in str(masked[1][1])
    refused = await client.get("/console/members/staff?format=xlsx")
    assert refused.status in (403, 404)
