"""The commands behind run.py. Each returns a process exit code."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Sequence

from bot.settings import ConfigError, Settings, load_settings

log = logging.getLogger("xiaoge")


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="小哥红驿 · Xiaoge Bot")
    p.add_argument("--config", metavar="PATH", help="config file (default: config.yaml)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the bot (default)")
    serve.add_argument("--port", type=int, help="listen on this port instead of server.port")

    sub.add_parser("migrate", help="apply database migrations")

    cu = sub.add_parser("create-user", help="make a console account; prints a 绑定 code")
    cu.add_argument("name")
    cu.add_argument("--role", required=True, choices=["admin", "instructor", "leader", "officer"])
    cu.add_argument("--grid", metavar="CODE")
    cu.add_argument("--group", metavar="CODE")

    chat = sub.add_parser("chat", help="talk to a running bot from the terminal")
    chat.add_argument("--openid", required=True)
    chat.add_argument("--url", help="callback URL (default: from config)")
    chat.add_argument("--aes", action="store_true", help="use safe (AES) mode")
    return p


def main(argv: Sequence[str], prog: str = "run.py") -> int:
    args = _parser(prog).parse_args(argv)
    from bot import logs

    logs.setup()
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    command = args.command or "serve"
    if command == "serve":
        return serve(settings, args.port)
    if command == "migrate":
        return migrate(settings)
    if command == "create-user":
        return create_user(settings, args.name, args.role, args.grid, args.group)
    if command == "chat":
        from bot.chat import run_chat

        return asyncio.run(run_chat(settings, args.openid, url=args.url, aes=args.aes))
    raise AssertionError(command)


def migrate(settings: Settings) -> int:
    from bot.migrate import upgrade

    try:
        upgrade(settings.database.url)
    except Exception as exc:
        print(f"数据库迁移失败 ({settings.database.url.split('@')[-1]}): {exc}", file=sys.stderr)
        return 1
    print("数据库已是最新结构。")
    return 0


def serve(settings: Settings, port: int | None) -> int:
    from aiohttp import web

    from bot.app import create_app
    from bot.demo import load_demo

    if port:
        settings.server.port = port
    if migrate(settings) != 0:
        return 1
    if settings.is_dev:
        asyncio.run(load_demo(settings))
    host, port = settings.server.host, settings.server.port
    base = f"http://{host}:{port}"
    print(f"小哥红驿 ({settings.mode}) 在 {base}/wechat 等待微信回调。")
    if settings.is_dev:
        print(f"在终端里和它聊天：.venv/bin/python run.py chat --openid demo-rider\n"
              f"健康检查：{base}/healthz")
    web.run_app(create_app(settings), host=host, port=port, print=None,
                access_log=None, handle_signals=True)
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("密码（至少8位）：")
        if getpass.getpass("再输入一次：") != first:
            raise ValueError("两次输入的密码不一致")
        return first
    return sys.stdin.readline().rstrip("\n")


def create_user(
    settings: Settings, name: str, role: str, grid: str | None, group: str | None
) -> int:
    from bot.clock import SystemClock
    from bot.db import make_engine, session_factory
    from models import staff

    try:
        password = _read_password()
    except (ValueError, EOFError) as exc:
        print(f"未创建：{exc}", file=sys.stderr)
        return 2
    if migrate(settings) != 0:
        return 1

    async def _create() -> str:
        engine = make_engine(settings.database.url)
        try:
            async with session_factory(engine)() as session, session.begin():
                now = SystemClock().now()
                user = await staff.create_user(session, name, role, password, now, grid, group)
                return await staff.issue_bind_code(session, user, now)
        finally:
            await engine.dispose()

    try:
        code = asyncio.run(_create())
    except staff.StaffError as exc:
        print(f"未创建：{staff_error_text(exc.reason)}", file=sys.stderr)
        return 2
    print(f"已创建控制台账号 {name}（{staff.ROLES[role]}）。")
    print(f"绑定码：{code}（10分钟内有效，用本人微信向公众号发送「绑定 {code}」）")
    return 0


def staff_error_text(reason: str) -> str:
    return {
        "unknown_role": "角色必须是 admin、instructor、leader 或 officer",
        "bad_username": "用户名不能为空、不能有空格、最长64个字符",
        "short_password": "密码至少8位",
        "username_taken": "用户名已存在",
    }.get(reason, reason)
