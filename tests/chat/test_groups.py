"""云上党小组 through the real callback: joining, moving, leaving, the leader's notices."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot import texts as T
from bot.app import SERVICES
from models import group as groups
from models import staff
from models.group import GroupMembership
from models.member import Member
from models.outbox import Push
from tests.conftest import Bot, BotFactory
from tests.processes.test_command_line import env_for, free_port, run


async def leader(bot: Bot, sessions, username: str, openid: str, role: str = "leader") -> None:
    async with sessions() as s, s.begin():
        user = await staff.create_user(s, username, role, "password-123", bot.clock.now())
        code = await staff.issue_bind_code(s, user, bot.clock.now())
    await bot.phone(openid).say(f"绑定 {code}")


async def new_group(sessions, clock, name: str, industry: str = "外卖送餐",
                    leader_name: str | None = None) -> str:
    async with sessions() as s, s.begin():
        return (await groups.create(s, name, industry, clock.now(), leader_name)).code


@pytest.fixture
async def two_groups(make_bot: BotFactory, sessions) -> tuple[Bot, str, str]:
    bot = await make_bot(background=False)
    await leader(bot, sessions, "leader-wang", "o-leader")
    a = await new_group(sessions, bot.clock, "湖塘外卖骑手党小组", leader_name="leader-wang")
    b = await new_group(sessions, bot.clock, "牛塘快递党小组", "快递物流")
    return bot, a, b


async def test_join_move_and_leave(two_groups: tuple[Bot, str, str], sessions) -> None:
    bot, a, b = two_groups
    p = bot.phone("o-rider")
    await p.register()
    assert await p.say("我的小组") == T.GROUP_NONE
    assert await p.say("加入小组") == T.GROUP_USAGE
    assert await p.say("加入小组 ZZZZZZ") == T.GROUP_UNKNOWN.format(code="ZZZZZZ")
    joined = await p.say(f"加入小组 {a.lower()}")  # codes are case-blind
    assert joined == T.GROUP_JOINED.format(name="湖塘外卖骑手党小组", industry="外卖送餐",
                                           leader=T.GROUP_LEADER_UNNAMED, count=1)
    assert await p.say(f"加入小组 {a}") == T.GROUP_ALREADY.format(name="湖塘外卖骑手党小组")
    ask = await p.say(f"加入小组 {b}")
    assert ask == T.GROUP_MOVE.format(here="湖塘外卖骑手党小组", there="牛塘快递党小组")
    assert await p.say("取消") == T.CANCELLED  # stays
    assert (await p.say("我的小组")).startswith("【我的小组】湖塘外卖骑手党小组")
    await p.say(f"加入小组 {b}")
    assert await p.say("确认") == T.GROUP_MOVED.format(here="湖塘外卖骑手党小组",
                                                      name="牛塘快递党小组", count=1)
    assert await p.say("退出小组") == T.GROUP_LEAVE_CONFIRM.format(name="牛塘快递党小组")
    assert await p.say("好") == T.GROUP_LEAVE_ASK
    assert await p.say("确认退出") == T.GROUP_LEFT.format(name="牛塘快递党小组")
    assert await p.say("退出小组") == T.GROUP_NONE
    async with sessions() as s:
        rows = (await s.exec(select(GroupMembership).order_by(GroupMembership.id))).all()
    assert [r.left_at is not None for r in rows] == [True, True]  # history is kept


async def test_scan_to_follow_registers_then_joins(two_groups: tuple[Bot, str, str]) -> None:
    bot, a, _ = two_groups
    p = bot.phone("o-new")
    assert (await p.event("subscribe", f"qrscene_grp:{a}")).startswith(T.REG_NEEDED)
    for answer in ("赵六", "13700001111", "2", "美团", "1"):
        await p.say(answer)
    reply = await p.say("同意")
    assert reply.startswith(T.REG_DONE.format(name="赵六"))
    assert "✅ 已加入「湖塘外卖骑手党小组」" in reply


async def test_one_current_group_is_enforced_by_the_database(sessions, clock) -> None:
    code = await new_group(sessions, clock, "测试小组一")
    other = await new_group(sessions, clock, "测试小组二")
    async with sessions() as s, s.begin():
        m = Member(openid="o-db", created_at=clock.now())
        s.add(m)
        await s.flush()
        for c in (code, other):
            g = await groups.by_code(s, c)
            assert g is not None
            s.add(GroupMembership(group_id=g.id or 0, member_id=m.id or 0,
                                  joined_at=clock.now()))
        with pytest.raises(IntegrityError):
            await s.flush()


async def test_leader_notices_reach_members_and_counts_come_back(
    two_groups: tuple[Bot, str, str], sessions
) -> None:
    bot, a, b = two_groups
    lead = bot.phone("o-leader")
    assert await lead.say("通知情况") == T.GROUP_NOTICE_NONE
    assert await lead.say("小组通知 今晚8点线上学习") == T.GROUP_NOTICE_EMPTY.format(
        name="湖塘外卖骑手党小组")
    for i, name in enumerate(["钱一", "孙二", "李三"]):
        p = bot.phone(f"o-m{i}")
        await p.register(name=name)
        await p.say(f"加入小组 {a if i < 2 else b}")
    assert await lead.say("小组通知") == T.GROUP_NOTICE_USAGE
    sent = await lead.say("小组通知 今晚8点线上学习《条例》")
    assert sent.startswith("已向「湖塘外卖骑手党小组」的 2 位成员发出通知")
    assert await bot.phone("o-m0").say("小组通知 我也想发") == T.STAFF_ONLY.format(
        word="小组通知", roles="党小组长")
    async with sessions() as s:
        pushed = {p.openid for p in (await s.exec(select(Push))).all()}
    assert pushed == {"o-m0", "o-m1"}
    before = await lead.say("通知情况")
    assert "共 2 人" in before and "发送中 2" in before
    await bot.client.server.app[SERVICES].worker.drain(timeout_s=20)
    after = await lead.say("通知情况")
    assert "已送达 2（客服 2，模板 0）" in after and "未送达 0" in after
    mine = await bot.phone("o-m0").say("我的小组")
    assert "最近通知：" in mine and "今晚8点线上学习" in mine and "成员 2 人" in mine


async def test_a_notice_to_a_group_through_the_api(two_groups: tuple[Bot, str, str]) -> None:
    bot, a, _ = two_groups
    p = bot.phone("o-api-member")
    await p.register()
    await p.say(f"加入小组 {a}")
    headers = {"Authorization": "Bearer xiaoge-demo-api-token"}
    ok = await bot.client.post("/api/v1/notices", headers=headers, json={
        "title": "学习", "body": "周五学习", "audience": f"group:{a}"})
    assert ok.status == 201 and (await ok.json())["recipients"] == 1
    bad = await bot.client.post("/api/v1/notices", headers=headers, json={
        "title": "学习", "body": "周五学习", "audience": "group:NOPE99"})
    assert bad.status == 400 and "没有邀请码为 NOPE99 的小组" in (await bad.json())["error"]


def test_create_group_from_the_command_line(db_url: str) -> None:
    env = env_for(db_url, free_port())
    assert run(["create-user", "leader-li", "--role", "leader"], env,
               stdin="password-123\n").returncode == 0
    made = run(["create-group", "武进网约车党小组", "--industry", "网约车", "--leader",
                "leader-li"], env)
    assert made.returncode == 0, made.stderr
    assert "邀请码：" in made.stdout
    dup = run(["create-group", "武进网约车党小组", "--industry", "网约车"], env)
    assert dup.returncode == 2 and "已有同名小组" in dup.stderr
    bad = run(["create-group", "某小组", "--industry", "开飞机"], env)
    assert bad.returncode == 2 and "行业委员会须为" in bad.stderr
    nobody = run(["create-group", "另一小组", "--industry", "网约车", "--leader", "ghost"], env)
    assert nobody.returncode == 2 and "ghost" in nobody.stderr


async def test_groups_through_the_api(two_groups: tuple[Bot, str, str], sessions) -> None:
    bot, a, _ = two_groups
    headers = {"Authorization": "Bearer xiaoge-demo-api-token"}
    made = await bot.client.post("/api/v1/groups", headers=headers, json={
        "name": "西太湖主播党小组", "industry": "网络主播"})
    assert made.status == 201
    bad = await bot.client.post("/api/v1/groups", headers=headers, json={
        "name": "西太湖主播党小组", "industry": "网络主播"})
    assert bad.status == 400 and "exists" in (await bad.json())["error"]
    edited = await bot.client.post(f"/api/v1/groups/{a}", headers=headers, json={
        "description": "每周三晚线上学习"})
    assert edited.status == 200 and (await edited.json())["description"] == "每周三晚线上学习"
    # A leaked code is retired: the old one stops working, the new one joins.
    fresh = (await (await bot.client.post(f"/api/v1/groups/{a}/regenerate-code",
                                          headers=headers)).json())["code"]
    assert fresh != a
    p = bot.phone("o-late-joiner")
    await p.register()
    assert await p.say(f"加入小组 {a}") == T.GROUP_UNKNOWN.format(code=a)
    assert (await p.say(f"加入小组 {fresh}")).startswith("✅ 已加入")
    # The leader still leads the group under its new code.
    assert (await bot.phone("o-leader").say("通知情况")).startswith(T.GROUP_NOTICE_NONE[:4])
    nobody = await bot.client.post("/api/v1/groups/NOPE99/regenerate-code", headers=headers)
    assert nobody.status == 404
