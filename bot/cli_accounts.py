"""`run.py edit-user`: change a console account — a new password, role or scope, disable or
enable, or only sign it out everywhere. Every change ends all the account's console
sessions at once (models/staff.py), so a copied or forgotten cookie is dead."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

ROLE_CHOICES = ["admin", "instructor", "leader", "officer"]


def add_edit_user(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    eu = sub.add_parser("edit-user", help="change a console account (password, role, "
                                          "disable/enable); ends all its console sessions")
    eu.add_argument("name")
    eu.add_argument("--password", action="store_true",
                    help="set a new password (prompt, or a line on stdin)")
    eu.add_argument("--role", choices=ROLE_CHOICES)
    eu.add_argument("--grid", metavar="CODE", help="its grid ('' for none)")
    eu.add_argument("--group", metavar="CODE", help="its group ('' for none)")
    state = eu.add_mutually_exclusive_group()
    state.add_argument("--disable", action="store_true", help="no more logins (and unbind)")
    state.add_argument("--enable", action="store_true")
    eu.add_argument("--end-sessions", action="store_true",
                    help="only sign it out on every device")
    eu.add_argument("--unlock", action="store_true",
                    help="lift a login lock (too many wrong passwords), as 控制台账号 does")


def edit_user(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli import _read_password, migrate

    scope = args.role is not None or args.grid is not None or args.group is not None
    if not (args.password or scope or args.disable or args.enable or args.end_sessions
            or args.unlock):
        print("未更改：请至少指定 --password、--role/--grid/--group、--disable、--enable、"
              "--unlock 或 --end-sessions 之一。", file=sys.stderr)
        return 2
    password = None
    if args.password:
        try:
            password = _read_password()
        except (ValueError, EOFError) as exc:
            print(f"未更改：{exc}", file=sys.stderr)
            return 2
    if migrate(settings, quiet=True) != 0:
        return 1
    return asyncio.run(_edit(settings, args, password, scope))


async def _edit(settings: Settings, args: argparse.Namespace, password: str | None,
                scope: bool) -> int:
    from bot.cli import _transaction, staff_error_text
    from models import login_throttle, staff

    done: list[str] = []
    try:
        async with _transaction(settings) as (session, now):
            user = await staff.user_named(session, args.name)
            if user is None:
                print(f"未更改：没有控制台账号 {args.name}。", file=sys.stderr)
                return 2
            if password is not None:
                await staff.set_password(session, user, password)
                done.append("已设置新密码")
            if scope:
                grid = user.grid_code if args.grid is None else (args.grid or None)
                group = user.group_code if args.group is None else (args.group or None)
                await staff.set_role(session, user, args.role or user.role, grid, group, now)
                done.append(f"角色为{staff.ROLES[user.role]}"
                            f"（网格 {grid or '无'}，小组 {group or '无'}）")
            if args.disable or args.enable:
                await staff.set_active(session, user, bool(args.enable), now)
                done.append("已启用" if args.enable else "已停用（并解除微信绑定）")
            if args.unlock:
                await login_throttle.unlock(session, user.username)
                done.append("已解除登录锁定")
            assert user.id is not None
            await staff.end_sessions(session, user.id)  # --end-sessions alone, or again
    except staff.StaffError as exc:
        print(f"未更改：{staff_error_text(exc.reason)}", file=sys.stderr)
        return 2
    print(f"控制台账号 {args.name}：{'；'.join([*done, '其所有登录会话已结束'])}。")
    return 0
