"""Staff menus by WeChat user tag: 绑定 records the role's tag in the callback's transaction,
the scheduler's job puts it on through the API (the sandbox, over HTTP), and WeChat then
shows the role's conditional menu (menu/trymatch); unbinding, disabling, a new role take it
off or change it. `run.py menu` pushes the default and the conditional menus, idempotently."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlmodel import select

import handlers
from bot import texts as T
from bot.app import SERVICES
from bot.dialogs import ANY_STATE
from bot.settings import ConfigError, Settings, load_settings
from bot.wechat.menu import MenuError, click_keys, validate, validate_all
from bot.wechat.menu_push import push_menus
from bot.wechat.menu_settings import MenuSettings
from bot.wechat.message import normalize
from handlers.staff.jobs import apply_tag_changes
from models import staff
from models.staff_tags import StaffTag
from tests.conftest import ROOT, Bot

ROLE_SCOPE = {"officer": {"grid_code": "HT-01"}, "leader": {"group_code": "G1"}}


async def new_user(sessions: Any, bot: Bot, name: str, role: str) -> str:
    async with sessions() as s, s.begin():
        user = await staff.create_user(s, name, role, "password-123", bot.clock.now(),
                                       **ROLE_SCOPE.get(role, {}))
        return await staff.issue_bind_code(s, user, bot.clock.now())


def services(bot: Bot) -> Any:
    return bot.client.server.app[SERVICES]


async def push(bot: Bot, sessions: Any) -> Any:
    s = services(bot)
    return await push_menus(s.api, sessions, bot.settings.menu, bot.clock.now())


async def background(bot: Bot) -> int:
    """The scheduler's step, as its leader runs it."""
    return await apply_tag_changes(services(bot), bot.clock.now())


async def seen_menu(bot: Bot, openid: str) -> list[dict[str, Any]]:
    return (await services(bot).api.try_match_menu(openid))["button"]


async def tags_of(bot: Bot, openid: str) -> set[str]:
    api = services(bot).api
    names = {i: n for n, i in (await api.get_tags()).items()}
    return {names[i] for i in await api.user_tags(openid)}


async def rows(sessions: Any) -> list[StaffTag]:
    async with sessions() as s:
        return list((await s.exec(select(StaffTag))).all())


def menu_json(settings: Settings, role: str | None) -> list[dict[str, Any]]:
    default, conditional = validate_all(settings.menu)
    return (conditional[role] if role else default)["button"]


async def test_bind_tags_the_account_and_unbinding_takes_it_off(bot: Bot, sessions) -> None:
    await push(bot, sessions)
    code = await new_user(sessions, bot, "officer-tag", "officer")
    p = bot.phone("o-officer-tag")
    await p.register()
    assert await seen_menu(bot, p.openid) == menu_json(bot.settings, None)
    assert await p.say(f"绑定 {code}") == T.BIND_DONE.format(username="officer-tag",
                                                             role="网格员")
    # Recorded with the binding; no tag call was made inside the callback.
    [row] = await rows(sessions)
    assert (row.openid, row.wanted, row.applied) == (p.openid, "officer", "")
    assert "/cgi-bin/tags/members/batchtagging" not in bot.sandbox.state.calls
    assert await tags_of(bot, p.openid) == set()
    assert await background(bot) == 1
    assert await tags_of(bot, p.openid) == {"网格员"}
    assert await seen_menu(bot, p.openid) == menu_json(bot.settings, "officer")
    assert await background(bot) == 0  # nothing left to do
    # A new role: the tag changes with it.
    async with sessions() as s, s.begin():
        user = await staff.user_named(s, "officer-tag")
        assert user is not None
        await staff.set_role(s, user, "leader", None, "G1", bot.clock.now())
    assert await background(bot) == 1
    assert await tags_of(bot, p.openid) == {"党小组长"}
    assert await seen_menu(bot, p.openid) == menu_json(bot.settings, "leader")
    # Disabled (and so unbound): the tag goes, the default menu is back, the row too.
    async with sessions() as s, s.begin():
        user = await staff.user_named(s, "officer-tag")
        assert user is not None
        await staff.set_active(s, user, False, bot.clock.now())
    assert (await rows(sessions))[0].wanted == ""
    assert await background(bot) == 1
    assert await tags_of(bot, p.openid) == set()
    assert await seen_menu(bot, p.openid) == menu_json(bot.settings, "")
    assert await rows(sessions) == []


async def test_rebinding_moves_the_tag_and_erasure_removes_it(bot: Bot, sessions) -> None:
    await push(bot, sessions)
    code = await new_user(sessions, bot, "inst-move", "instructor")
    first, second = bot.phone("o-first"), bot.phone("o-second")
    await first.say(f"绑定 {code}")
    await background(bot)
    assert await tags_of(bot, first.openid) == {"讲师"}
    async with sessions() as s, s.begin():
        user = await staff.user_named(s, "inst-move")
        assert user is not None
        code = await staff.issue_bind_code(s, user, bot.clock.now())
    await second.say(f"绑定 {code}")  # the account moves to another WeChat user
    await background(bot)
    assert await tags_of(bot, first.openid) == set()
    assert await tags_of(bot, second.openid) == {"讲师"}
    assert await seen_menu(bot, second.openid) == menu_json(bot.settings, "instructor")
    await second.register()
    assert await second.say("注销") == T.ERASE_CONFIRM
    assert await second.say("确认注销") == T.ERASE_DONE  # unbinds the console account too
    await background(bot)
    assert await tags_of(bot, second.openid) == set()
    assert await rows(sessions) == []


async def test_a_retried_binding_callback_queues_one_change(bot: Bot, sessions) -> None:
    code = await new_user(sessions, bot, "leader-retry", "leader")
    xml = bot.peer.text("o-retry", f"绑定 {code}", create_time=bot.now_ts, msg_id=77001)
    first = await bot.post(xml)
    again = await bot.post(xml)  # WeChat tries again with the same MsgId
    assert first.text == again.text == T.BIND_DONE.format(username="leader-retry",
                                                          role="党小组长")
    assert [(r.openid, r.wanted) for r in await rows(sessions)] == [("o-retry", "leader")]
    assert await background(bot) == 1
    assert bot.sandbox.state.calls["/cgi-bin/tags/members/batchtagging"] == 1
    assert await background(bot) == 0
    assert bot.sandbox.state.calls["/cgi-bin/tags/members/batchtagging"] == 1


async def test_a_wechat_error_on_tagging_is_tried_again_later(bot: Bot, sessions) -> None:
    code = await new_user(sessions, bot, "admin-retry", "admin")
    await bot.phone("o-admin-retry").say(f"绑定 {code}")
    resp = await bot.client.session.post(
        f"{bot.sandbox.url}/control/faults",
        json={"errcode": -1, "times": 2, "path": "/cgi-bin/tags/members/"})
    assert resp.status == 200
    assert await background(bot) == 0  # WeChat is busy
    [row] = await rows(sessions)
    assert row.attempts == 1 and row.last_error is not None and row.last_error.startswith("-1")
    assert row.next_try_at == bot.clock.now() + timedelta(seconds=30)
    calls = bot.sandbox.state.calls["/cgi-bin/tags/members/batchtagging"]
    assert await background(bot) == 0  # not due yet: no call at all
    assert bot.sandbox.state.calls["/cgi-bin/tags/members/batchtagging"] == calls
    bot.clock.advance(seconds=31)
    assert await background(bot) == 0  # busy again: the next try waits longer
    [row] = await rows(sessions)
    assert row.attempts == 2 and row.next_try_at == bot.clock.now() + timedelta(seconds=60)
    bot.clock.advance(seconds=61)
    assert await background(bot) == 1
    assert await tags_of(bot, "o-admin-retry") == {"管理员"}
    [row] = await rows(sessions)
    assert (row.applied, row.attempts, row.last_error) == ("admin", 0, None)


async def test_the_menu_push_is_idempotent(bot: Bot, sessions) -> None:
    first = await push(bot, sessions)
    state = bot.sandbox.state
    assert first.deleted == [] and set(first.conditional) == {"officer", "leader",
                                                              "instructor", "admin"}
    assert sorted(state.tags.values()) == sorted(bot.settings.menu.tags.values())
    menus = (await services(bot).api.get_menu())
    assert menus["menu"]["button"] == menu_json(bot.settings, None)
    by_tag = {m["matchrule"]["tag_id"]: m for m in menus["conditionalmenu"]}
    for role, (tag, tag_id, menuid, body) in first.conditional.items():
        assert by_tag[str(tag_id)]["menuid"] == menuid and state.tags[tag_id] == tag
        assert by_tag[str(tag_id)]["button"] == body["button"] == menu_json(bot.settings, role)
    lines = first.lines()
    assert lines[0] == T.MENU_DEFAULT_PUSHED.format(top=3, n=11)
    assert any(line.startswith("网格员菜单已推送（标签「网格员」") for line in lines)
    second = await push(bot, sessions)
    assert sorted(second.deleted) == sorted(m for _, _, m, _ in first.conditional.values())
    assert len(state.conditional_menus) == 4 and state.calls["/cgi-bin/tags/create"] == 4
    assert second.lines()[0].startswith("已删除旧的个性化菜单 4 个")


async def test_every_click_key_is_a_word_its_role_is_answered(bot: Bot, sessions) -> None:
    """Like the default menu's keys (test_menu_click_does_what_its_word_does): each staff
    menu's click key is a word some handler takes (not the fallback), for that role."""
    root = handlers.install().root_router()
    taken = [h for r in root.walk() for h in r.handlers  # outside dialogs, not the fallback
             if not h.fallback and h.state in (None, ANY_STATE)]

    def understood(key: str) -> bool:
        msg = SimpleNamespace(text=normalize(key), is_event=True, event="click", key=key,
                              msg_type="event", scene=None)
        for h in taken:
            try:
                if h.match(SimpleNamespace(msg=msg)) is not None:
                    return True
            except AttributeError:
                continue
        return False

    assert not understood("开会啦") and understood("签收")  # a word only where one exists
    menus = {"": bot.settings.menu, **bot.settings.menu.conditional}
    for role, menu in menus.items():
        p = bot.phone(f"o-keys-{role or 'rider'}")
        await p.register()
        if role:
            await p.say(f"绑定 {await new_user(sessions, bot, f'keys-{role}', role)}")
        for key in click_keys(menu):  # type: ignore[arg-type]
            assert understood(key), (role, key)
            reply = await p.event("CLICK", key)
            assert reply and not reply.startswith(T.STAFF_ONLY.split("{")[0]), (role, key)
            await p.say("取消")  # a word that starts a dialog (上报) starts it afresh
            assert reply == await p.say(key), (role, key)
            await p.say("取消")


def test_a_bad_conditional_menu_names_its_key(settings: Settings) -> None:
    bad = MenuSettings.model_validate({
        "button": [{"name": "菜单", "type": "click", "key": "帮助"}],
        "conditional": {"officer": {"button": [
            {"name": "工单", "sub_button": [
                {"name": "待办", "type": "click"},
                {"name": "这个名字实在是太长了", "type": "click", "key": "待办"}]}]},
            "leader": {"button": []}}})
    with pytest.raises(MenuError) as err:
        validate_all(bad)
    text = str(err.value)
    assert "menu.conditional.officer.button[0].sub_button[0].key: 「click」类型的按钮需要 key" \
        in text
    assert "menu.conditional.officer.button[0].sub_button[1].name" in text
    assert "menu.conditional.leader.button: 一级菜单须为1到3个" in text
    assert validate(settings.menu)["button"] == menu_json(settings, None)  # the shipped one


@pytest.mark.parametrize(("override", "key"), [
    ({"conditional": {"boss": {"button": []}}}, "menu.conditional.boss"),
    ({"conditional": {"officer": {"button": [{"name": "x", "colour": "red"}]}}},
     "menu.conditional.officer.button[0].colour"),
    ({"tags": {"officer": "网" * 11}}, "menu.tags"),
    ({"tags": {"officer": "讲师"}}, "menu.tags"),
])
def test_bad_menu_config_is_a_named_error(override: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(ROOT / "config.yaml", menu=override)
    assert key in str(err.value)


def test_tag_defaults_and_roles() -> None:
    menu = MenuSettings.model_validate({"tags": {"officer": "格长"}})
    assert menu.tags == {"admin": "管理员", "instructor": "讲师", "leader": "党小组长",
                         "officer": "格长"}
    assert set(menu.tags) == set(staff.ROLES)
