"""`run.py menu`: push the default menu, then one conditional menu per staff role.

WeChat keeps a default menu and any number of conditional (personalised) menus, matched
newest first by their matchrule; a conditional menu needs the default menu to exist
(65303) and cannot be edited, only deleted (menu/delconditional) and added again
(menu/addconditional). So a push deletes every conditional menu there is, creates the
default menu, then adds each role's menu with matchrule {tag_id: the role's user tag}
(the tag made on demand, bot/wechat/tags.py): running it again leaves the same menus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import texts as T
from bot.wechat import tags
from bot.wechat.client import WechatApi, WechatError
from bot.wechat.menu import validate_all
from bot.wechat.menu_settings import MenuSettings
from models.staff import ROLES

MENU_NONE = 46003  # menu/get: there is no menu at all


@dataclass
class Pushed:
    deleted: list[str] = field(default_factory=list)  # old conditional menus' menuids
    default: dict[str, Any] = field(default_factory=dict)
    # role → (tag name, tag id, menuid, the menu's JSON)
    conditional: dict[str, tuple[str, int, str, dict[str, Any]]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = []
        if self.deleted:
            out.append(T.MENU_OLD_CONDITIONAL.format(n=len(self.deleted),
                                                     ids="、".join(self.deleted)))
        out.append(T.MENU_DEFAULT_PUSHED.format(**_size(self.default)))
        for role, (tag, tag_id, menuid, menu) in self.conditional.items():
            out.append(T.MENU_CONDITIONAL_PUSHED.format(
                role=ROLES.get(role, role), tag=tag, tag_id=tag_id, menuid=menuid,
                **_size(menu)))
        if not self.conditional:
            out.append(T.MENU_NO_CONDITIONAL)
        return out


def _size(menu: dict[str, Any]) -> dict[str, int]:
    return {"top": len(menu["button"]),
            "n": sum(len(b.get("sub_button", [])) or 1 for b in menu["button"])}


async def conditional_menuids(api: WechatApi) -> list[str]:
    try:
        current = await api.get_menu()
    except WechatError as exc:
        if exc.errcode == MENU_NONE:
            return []
        raise
    return [str(m["menuid"]) for m in current.get("conditionalmenu") or [] if "menuid" in m]


async def push_menus(api: WechatApi, sessions: async_sessionmaker[AsyncSession],
                     menu: MenuSettings, now: datetime) -> Pushed:
    """Validate every menu (MenuError naming each bad key, before any call), then push
    them. A WechatError stops the push; running it again finishes it."""
    default, conditional = validate_all(menu)
    done = Pushed(default=default)
    for menuid in await conditional_menuids(api):
        await api.delete_conditional_menu(menuid)
        done.deleted.append(menuid)
    await api.create_menu(default)
    if not conditional:
        return done
    names = {role: menu.tag_of(role) or role for role in conditional}
    for name in names.values():  # asked afresh: a tag deleted in WeChat's own console
        await tags.forget(sessions, name)  # would leave a cached id no menu can match
    ids = await tags.tag_ids(api, sessions, names.values(), now)
    for role, body in conditional.items():
        tag_id = ids[names[role]]
        menuid = await api.add_conditional_menu(body, tag_id)
        done.conditional[role] = (names[role], tag_id, menuid, body)
    return done
