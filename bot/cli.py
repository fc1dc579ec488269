"""The commands behind run.py. Each returns a process exit code."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot import cli_accounts, cli_templates
from bot import texts as T
from bot.clock import SHANGHAI
from bot.files import FileError, import_rows, read_csv, read_json
from bot.files import read_rows as read_rows  # tests read files as the commands do
from bot.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.app import Services
    from bot.features import Features

log = logging.getLogger("xiaoge")


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="小哥红驿 · Xiaoge Bot")
    p.add_argument("--config", metavar="PATH", help="config file (default: config.yaml)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the bot (default)")
    serve.add_argument("--port", type=int, help="listen on this port instead of server.port")

    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("remove-demo-accounts",
                   help="delete the dev demo console accounts (prod refuses to start with them)")

    cu = sub.add_parser("create-user", help="make a console account; prints a 绑定 code")
    cu.add_argument("name")
    cu.add_argument("--role", required=True, choices=["admin", "instructor", "leader", "officer"])
    cu.add_argument("--grid", metavar="CODE")
    cu.add_argument("--group", metavar="CODE")
    cu.add_argument("--display-name", metavar="姓名", help="the name pages show for the account")

    notify = sub.add_parser("notify", help="send a notice now or at a time")
    notify.add_argument("--audience", required=True,
                        help="all, industry:NAME, group:CODE, course:CODE or member:OPENID[,…]")
    notify.add_argument("--title", required=True)
    notify.add_argument("--body", required=True)
    notify.add_argument("--url")
    notify.add_argument("--at", metavar="ISO8601", help="send later (Asia/Shanghai if no offset)")

    im = sub.add_parser("import-members", help="members registered elsewhere, from CSV")
    im.add_argument("file")

    sub.add_parser("menu", help="validate the menu in config and push it to WeChat")

    ist = sub.add_parser("import-stations", help="stations from CSV or YAML, upsert by code")
    ist.add_argument("file")

    ico = sub.add_parser("import-courses", help="小哥党校 courses from CSV or YAML, upsert by code")
    ico.add_argument("file")

    cg = sub.add_parser("create-group", help="a cloud party group; prints its invite code")
    cg.add_argument("name")
    cg.add_argument("--industry", required=True, help="、".join(
        ["外卖送餐", "道路货运", "网络主播", "网约车", "数字经济", "快递物流"]))
    cg.add_argument("--leader", metavar="USER", help="a console account of role leader")

    igr = sub.add_parser("import-grids", help="grids from a GeoJSON FeatureCollection")
    igr.add_argument("file")

    qrc = sub.add_parser("qrcodes", help="a PNG QR code per station, group and course")
    qrc.add_argument("--out", default="data/qrcodes", metavar="DIR")

    chat = sub.add_parser("chat", help="talk to a running bot from the terminal")
    chat.add_argument("--openid", required=True)
    chat.add_argument("--url", help="callback URL (default: from config)")
    chat.add_argument("--aes", action="store_true", help="use safe (AES) mode")
    cli_accounts.add_edit_user(sub)
    cli_templates.add_templates(sub)
    return p


def installed_features() -> Features:
    """Every feature of handlers/, registered: what `serve` runs."""
    import handlers

    return handlers.install()


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
        logs.setup(json_lines=settings.server.log_format == "json")
        return serve(settings, getattr(args, "port", None))  # no port without `serve`
    if command in _MIGRATED_FIRST and migrate(settings, quiet=True) != 0:
        return 1
    return _COMMANDS[command](settings, args)


# Commands that bring the database up to date first (quietly).
_MIGRATED_FIRST = {"notify", "menu", "import-stations", "import-courses", "import-grids",
                   "qrcodes", "create-group", "remove-demo-accounts"}
Command = Callable[[Settings, argparse.Namespace], int]
_COMMANDS: dict[str, Command] = {
    "migrate": lambda s, a: migrate(s),
    "remove-demo-accounts": lambda s, a: asyncio.run(remove_demo_accounts(s)),
    "create-user": lambda s, a: create_user(s, a.name, a.role, a.grid, a.group,
                                            a.display_name),
    "notify": lambda s, a: asyncio.run(notify(s, a.audience, a.title, a.body, a.url, a.at)),
    "import-members": lambda s, a: import_members(s, a.file),
    "menu": lambda s, a: asyncio.run(push_menu(s)),
    "import-stations": lambda s, a: asyncio.run(import_stations(s, a.file)),
    "import-courses": lambda s, a: asyncio.run(import_courses(s, a.file)),
    "create-group": lambda s, a: asyncio.run(create_group(s, a.name, a.industry, a.leader)),
    "import-grids": lambda s, a: asyncio.run(import_grids(s, a.file)),
    "qrcodes": lambda s, a: asyncio.run(qrcodes(s, a.out)),
    "chat": lambda s, a: _chat(s, a.openid, a.url, a.aes),
    "edit-user": lambda s, a: cli_accounts.edit_user(s, a),
    "templates": lambda s, a: cli_templates.show(s),
}


def _chat(settings: Settings, openid: str, url: str | None, aes: bool) -> int:
    from bot.dev.chat import run_chat

    return asyncio.run(run_chat(settings, openid, url=url, aes=aes))


def migrate(settings: Settings, quiet: bool = False) -> int:
    from bot.migrate import upgrade

    try:
        upgrade(settings.database.url, settings.school.reminder_offsets)
    except Exception as exc:
        print(f"数据库迁移失败 ({settings.database.url.split('@')[-1]}): {exc}", file=sys.stderr)
        return 1
    if not quiet:
        print("数据库已是最新结构。")
    return 0


def serve(settings: Settings, port: int | None) -> int:
    from bot.app import create_app
    from bot.dev.demo import load_demo
    from bot.web import server

    if port:
        settings.server.port = port
    if migrate(settings) != 0:
        return 1
    banner = ""
    if settings.is_dev:
        banner = asyncio.run(load_demo(settings, installed_features().seeds))
    elif demo := asyncio.run(_demo_accounts(settings)):
        print(f"mode: prod 拒绝启动：数据库里仍有开发模式的演示账号 {'、'.join(demo)}"
              f"（演示密码人人皆知）。先删除它们：python run.py remove-demo-accounts",
              file=sys.stderr)
        return 2
    host, port = settings.server.host, settings.server.port
    base = f"http://{host}:{port}"
    print(f"小哥红驿 ({settings.mode}) 在 {base}/wechat 等待微信回调。")
    if settings.is_dev:
        print(f"在终端里和它聊天：.venv/bin/python run.py chat --openid demo-rider\n"
              f"健康检查：{base}/healthz\n{banner}")
    # aiohttp's run_app, with a deadline for request heads (bodies: bot/web/hangups.py)
    server.run(create_app(settings), host=host, port=port,
               head_timeout_s=settings.server.head_timeout_s, loop=_event_loop(settings))
    return 0


async def _demo_accounts(settings: Settings) -> list[str]:
    """The dev demo console accounts still active in this database (prod refuses them)."""
    from bot.dev.demo import DEMO_ACCOUNTS
    from models import staff

    async with _transaction(settings) as (session, _now):
        return [u.username for u in await staff.active_accounts_named(session, DEMO_ACCOUNTS)]


async def remove_demo_accounts(settings: Settings) -> int:
    from bot.dev.demo import DEMO_ACCOUNTS
    from models import staff

    async with _transaction(settings) as (session, now):
        done = await staff.remove_accounts(session, DEMO_ACCOUNTS, now)
    if not done:
        print(f"没有演示账号（{'、'.join(DEMO_ACCOUNTS)}），无需删除。")
    for name, what in sorted(done.items()):
        print(f"演示账号 {name}：" + ("已删除（连同其绑定码）。" if what == "deleted" else
                                    "仍被引用，已停用（解除微信绑定，密码失效，绑定码已删除）。"))
    return 0


def _event_loop(settings: Settings) -> asyncio.AbstractEventLoop:
    if settings.server.event_loop == "uvloop":
        try:
            import uvloop
        except ImportError:  # not built for this platform: the standard loop still works
            print("uvloop 不可用，改用 asyncio 事件循环。")
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("密码（至少8位）：")
        if getpass.getpass("再输入一次：") != first:
            raise ValueError("两次输入的密码不一致")
        return first
    return sys.stdin.readline().rstrip("\n")


def create_user(
    settings: Settings, name: str, role: str, grid: str | None, group: str | None,
    display_name: str | None = None,
) -> int:
    from models import staff

    try:
        password = _read_password()
    except (ValueError, EOFError) as exc:
        print(f"未创建：{exc}", file=sys.stderr)
        return 2
    if migrate(settings) != 0:
        return 1

    async def _create() -> str:
        async with _transaction(settings) as (session, now):
            user = await staff.create_user(session, name, role, password, now, grid, group,
                                           display_name=display_name)
            return await staff.issue_bind_code(session, user, now)

    try:
        code = asyncio.run(_create())
    except staff.StaffError as exc:
        print(f"未创建：{staff_error_text(exc.reason)}", file=sys.stderr)
        return 2
    print(f"已创建控制台账号 {name}（{staff.ROLES[role]}）。")
    print(f"绑定码：{code}（10分钟内有效，用本人微信向公众号发送「绑定 {code}」）")
    return 0


def staff_error_text(reason: str) -> str:
    return T.staff_error_text(reason)  # the console's accounts page says the same


@contextlib.asynccontextmanager
async def _transaction(settings: Settings) -> AsyncIterator[tuple[AsyncSession, datetime]]:
    """(session, now) in one transaction on the configured database, for a one-off command."""
    from bot.clock import SystemClock
    from bot.db import make_engine, session_factory

    engine = make_engine(settings.database.url)
    try:
        async with session_factory(engine)() as session, session.begin():
            yield session, SystemClock().now()
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def _services(settings: Settings) -> AsyncIterator[Services]:
    """The database and WeChat API, as the server has them, for a one-off command."""
    from bot.app import Services
    from bot.clock import SystemClock
    from bot.db import make_engine

    engine = make_engine(settings.database.url)
    # Every feature's expanders: the worker may meet any due row while it drains.
    services = Services(settings, engine, SystemClock(), installed_features())
    await services.start()
    try:
        yield services
    finally:
        await services.close()
        await engine.dispose()


async def notify(settings: Settings, audience: str, title: str, body: str, url: str | None,
                 at: str | None) -> int:
    from bot.db import session_factory
    from bot.web.api import BadTime, parse_time
    from models import notice as notices
    from models import push_counts

    async with _services(settings) as services:
        sessions = session_factory(services.engine)
        try:
            async with sessions() as session, session.begin():
                notice = await notices.create(session, title, body, audience,
                                              services.clock.now(), url=url,
                                              send_at=parse_time(at), created_by="cli")
        except BadTime as exc:
            print(f"通知未创建：{exc}", file=sys.stderr)
            return 2
        except notices.NoticeError as exc:
            print(f"通知未创建：{T.notice_error(exc.code, exc.details)}", file=sys.stderr)
            return 2
        if notice.status == "scheduled":
            when = notice.send_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            print(f"通知 {notice.id} 已安排在 {when} 发送（由运行中的服务发出）。")
            return 0
        assert services.worker is not None
        finished = await services.worker.drain(notice.subject, timeout_s=120)
        async with sessions() as session:
            counts = await push_counts.counts(session, notice.subject)
    print(f"通知 {notice.id}：{notice.recipients} 位接收人。")
    print(format_counts(counts))
    if not finished:
        print("（仍有未发完的，运行中的服务会继续发送）")
    return 0


def format_counts(counts: dict[str, Any]) -> str:
    channel_names = {"kefu": "客服消息", "template": "模板消息"}
    lines = [f"  已发送 {sum(counts['sent'].values())}："
             + "，".join(f"{channel_names.get(k, k)} {v}" for k, v in counts["sent"].items())]
    lines.append(f"  待发送 {counts['pending']}")
    for status, label in (("failed", "失败"), ("undeliverable", "无法送达")):
        for reason, n in counts[status].items():
            lines.append(f"  {label} {n}：{reason}")
    return "\n".join(lines)


def import_members(settings: Settings, path: str) -> int:
    from models.member_import import COLUMNS
    from models.member_import import import_members as do_import

    try:
        rows = read_csv(path, COLUMNS)
    except FileError as exc:
        print(exc, file=sys.stderr)
        return 2
    if migrate(settings, quiet=True) != 0:
        return 1

    async def _run() -> Any:
        async with _transaction(settings) as (session, now):
            # A report with rejected rows has written nothing: all or nothing.
            return await do_import(session, rows, now, T.INVALID)

    report = asyncio.run(_run())
    if report.rejected:
        print(f"未导入任何数据：{len(report.rejected)} 行有误。", file=sys.stderr)
        for line, reason in report.rejected:
            print(f"  第{line}行：{reason}", file=sys.stderr)
        return 2
    print(f"导入完成：新增 {report.added}，更新 {report.changed}，未变 {report.unchanged}。")
    return 0


async def push_menu(settings: Settings) -> int:
    """The default menu, then each staff role's conditional menu (bot/wechat/menu_push.py)."""
    from bot.db import session_factory
    from bot.wechat.client import WechatError
    from bot.wechat.menu import MenuError
    from bot.wechat.menu_push import push_menus

    async with _services(settings) as services:
        assert services.api is not None
        try:
            done = await push_menus(services.api, session_factory(services.engine),
                                    settings.menu, services.clock.now())
        except MenuError as exc:
            print(T.MENU_INVALID.format(problems=exc), file=sys.stderr)
            return 2
        except WechatError as exc:
            print(T.MENU_PUSH_FAILED.format(error=exc), file=sys.stderr)
            return 1
    print("\n".join(done.lines()))
    return 0


async def import_stations(settings: Settings, path: str) -> int:
    from models import station_import as imports

    return await import_rows(lambda: _transaction(settings), path, "驿站", imports.COLUMNS,
                             imports.REQUIRED, lambda session, rows, now: imports.import_stations(
                                 session, rows, settings.checkin.default_radius_m, now))


async def import_courses(settings: Settings, path: str) -> int:
    """A published or moved course's reminders are planned in the import's transaction
    (due rows); the running bot sends them, and the pushes a move or a promotion queued."""
    from handlers.school.wording import COURSE_TEXTS
    from models import course_import as imports

    return await import_rows(lambda: _transaction(settings), path, "课程", imports.COLUMNS,
                             imports.REQUIRED, lambda session, rows, now: imports.import_courses(
                                 session, rows, settings.checkin.default_radius_m, now,
                                 COURSE_TEXTS, "cli",
                                 offsets=settings.school.reminder_offsets))


async def create_group(settings: Settings, name: str, industry: str,
                       leader: str | None) -> int:
    from models import group as groups

    reasons = {
        "name_length": "小组名称应为2到40个字",
        "industry": f"行业委员会须为：{'、'.join(groups.COMMITTEES)}",
        "name_taken": "已有同名小组",
        "leader": f"没有角色为 leader 的控制台账号 {leader}（先用 create-user 创建）",
    }
    try:
        async with _transaction(settings) as (session, now):
            group = await groups.create(session, name, industry, now, leader)
    except groups.GroupError as exc:
        print(f"未创建：{reasons.get(exc.reason, exc.reason)}", file=sys.stderr)
        return 2
    print(f"已创建云上党小组「{group.name}」（{group.industry}）。")
    print(f"邀请码：{group.code}（成员发送「加入小组 {group.code}」或扫小组二维码加入）")
    return 0


async def import_grids(settings: Settings, path: str) -> int:
    from models.grid import import_grids as do_import

    try:
        collection = await asyncio.to_thread(read_json, path)
    except FileError as exc:
        print(exc, file=sys.stderr)
        return 2
    async with _transaction(settings) as (session, now):
        report = await do_import(session, collection, now)
    if report.rejected:
        print(f"未导入任何网格：{len(report.rejected)} 处有误。", file=sys.stderr)
        for where, reason in report.rejected:
            print(f"  {where}：{reason}", file=sys.stderr)
        return 2
    print(f"导入完成：新增 {len(report.added)}，更新 {len(report.changed)}，"
          f"未变 {len(report.unchanged)}。")
    return 0


async def qrcodes(settings: Settings, out: str) -> int:
    """Dev mode draws each code locally with the scene as its text (the chat and the
    simulator scan that); prod asks WeChat for permanent codes and keeps their URLs
    (bot/qrcodes.py, which the console's 二维码 page uses too)."""
    from pathlib import Path

    from bot.db import session_factory
    from bot.qrcodes import scene_image
    from bot.wechat.client import WechatError
    from models.views import scenes

    folder = Path(out)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    async with _services(settings) as services:
        sessions = session_factory(services.engine)
        async with sessions() as session:
            targets = await scenes.printable(session)
        for scene, filename in targets:
            try:
                image = await scene_image(settings.is_dev, services.api, sessions, scene,
                                          services.clock.now)
            except WechatError as exc:
                print(f"{scene}：生成失败（{exc}）", file=sys.stderr)
                return 1
            await asyncio.to_thread((folder / filename).write_bytes, image)
    print(f"已生成 {len(targets)} 个二维码：{folder}/")
    return 0
