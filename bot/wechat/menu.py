"""The custom menu and the staff roles' conditional menus: checked against WeChat's limits
before they are pushed (`run.py menu`, bot/wechat/menu_push.py)."""

from __future__ import annotations

import unicodedata
from typing import Any

from bot.wechat.menu_settings import ConditionalMenu, MenuButton, MenuSettings

MAX_TOP = 3
MAX_SUB = 5
TOP_NAME_WIDTH = 8  # 4 汉字 (a 汉字 is two half-width units)
SUB_NAME_WIDTH = 16  # 8 汉字
KEY_MAX_BYTES = 128
KEYED = {"click", "scancode_push", "scancode_waitmsg", "location_select", "pic_sysphoto",
         "pic_photo_or_album", "pic_weixin"}


class MenuError(ValueError):
    """The menu breaks a WeChat rule; each line names the button."""


def _width(name: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in name)


def _check_leaf(b: MenuButton, where: str, problems: list[str]) -> None:
    if b.type in KEYED:
        if not b.key:
            problems.append(f"{where}.key: 「{b.type}」类型的按钮需要 key")
        elif len(b.key.encode()) > KEY_MAX_BYTES:
            problems.append(f"{where}.key: 最长{KEY_MAX_BYTES}字节")
    elif b.type == "view":
        if not b.url or not b.url.startswith(("http://", "https://")):
            problems.append(f"{where}.url: view 按钮需要 http(s) 链接")
    else:
        problems.append(f"{where}.type: 不支持的类型「{b.type}」")


def validate(menu: MenuSettings | ConditionalMenu, at: str = "menu") -> dict[str, Any]:
    """The menu as WeChat's JSON, or MenuError listing every problem (each line names
    its key under `at`: "menu", or "menu.conditional.officer")."""
    problems: list[str] = []
    if not 1 <= len(menu.button) <= MAX_TOP:
        problems.append(f"{at}.button: 一级菜单须为1到{MAX_TOP}个")
    for i, top in enumerate(menu.button):
        where = f"{at}.button[{i}]"
        if _width(top.name) > TOP_NAME_WIDTH:
            problems.append(f"{where}.name: 「{top.name}」超过4个汉字")
        if top.sub_button:
            if len(top.sub_button) > MAX_SUB:
                problems.append(f"{where}.sub_button: 二级菜单最多{MAX_SUB}个")
            for j, sub in enumerate(top.sub_button):
                sub_where = f"{where}.sub_button[{j}]"
                if _width(sub.name) > SUB_NAME_WIDTH:
                    problems.append(f"{sub_where}.name: 「{sub.name}」超过8个汉字")
                if sub.sub_button:
                    problems.append(f"{sub_where}: 菜单最多两级")
                _check_leaf(sub, sub_where, problems)
        else:
            _check_leaf(top, where, problems)
    if problems:
        raise MenuError("\n".join(problems))
    return {"button": [_json(b) for b in menu.button]}


def validate_all(menu: MenuSettings) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The default menu and each role's conditional menu as WeChat's JSON (without the
    matchrule), or one MenuError listing every problem of them all."""
    problems: list[str] = []
    default: dict[str, Any] = {}
    conditional: dict[str, dict[str, Any]] = {}
    try:
        default = validate(menu)
    except MenuError as exc:
        problems.append(str(exc))
    for role, cmenu in menu.conditional.items():
        try:
            conditional[role] = validate(cmenu, f"menu.conditional.{role}")
        except MenuError as exc:
            problems.append(str(exc))
    if problems:
        raise MenuError("\n".join(problems))
    return default, conditional


def click_keys(menu: MenuSettings | ConditionalMenu) -> list[str]:
    """The keys of the click buttons: each is a word the bot must understand."""
    return [b.key for top in menu.button for b in (top.sub_button or [top])
            if b.type == "click" and b.key]


def _json(b: MenuButton) -> dict[str, Any]:
    if b.sub_button:
        return {"name": b.name, "sub_button": [_json(s) for s in b.sub_button]}
    out: dict[str, Any] = {"type": b.type, "name": b.name}
    if b.key:
        out["key"] = b.key
    if b.url:
        out["url"] = b.url
    return out
