"""The commands behind run.py. Each returns a process exit code."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from bot import texts as T
from bot.clock import SHANGHAI
from bot.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from bot.app import Services

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
        logs.setup(json_lines=settings.server.log_format == "json")
        return serve(settings, args.port)
    if command == "migrate":
        return migrate(settings)
    if command == "create-user":
        return create_user(settings, args.name, args.role, args.grid, args.group)
    if command in ("notify", "menu", "import-stations", "import-courses", "import-grids",
                   "qrcodes", "create-group") and migrate(
            settings, quiet=True) != 0:
        return 1
    if command == "notify":
        return asyncio.run(notify(settings, args.audience, args.title, args.body, args.url,
                                  args.at))
    if command == "import-members":
        return import_members(settings, args.file)
    if command == "menu":
        return asyncio.run(push_menu(settings))
    if command == "import-stations":
        return asyncio.run(import_stations(settings, args.file))
    if command == "import-courses":
        return asyncio.run(import_courses(settings, args.file))
    if command == "create-group":
        return asyncio.run(create_group(settings, args.name, args.industry, args.leader))
    if command == "import-grids":
        return asyncio.run(import_grids(settings, args.file))
    if command == "qrcodes":
        return asyncio.run(qrcodes(settings, args.out))
    if command == "chat":
        from bot.dev.chat import run_chat

        return asyncio.run(run_chat(settings, args.openid, url=args.url, aes=args.aes))
    raise AssertionError(command)


def migrate(settings: Settings, quiet: bool = False) -> int:
    from bot.migrate import upgrade

    try:
        upgrade(settings.database.url)
    except Exception as exc:
        print(f"数据库迁移失败 ({settings.database.url.split('@')[-1]}): {exc}", file=sys.stderr)
        return 1
    if not quiet:
        print("数据库已是最新结构。")
    return 0


def serve(settings: Settings, port: int | None) -> int:
    from aiohttp import web

    from bot.app import create_app
    from bot.dev.demo import load_demo

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
                access_log=None, handle_signals=True, loop=_event_loop(settings))
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
    settings: Settings, name: str, role: str, grid: str | None, group: str | None
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
            user = await staff.create_user(session, name, role, password, now, grid, group)
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
    return {
        "unknown_role": "角色必须是 admin、instructor、leader 或 officer",
        "bad_username": "用户名不能为空、不能有空格、最长64个字符",
        "short_password": "密码至少8位",
        "username_taken": "用户名已存在",
    }.get(reason, reason)


@contextlib.asynccontextmanager
async def _transaction(settings: Settings) -> AsyncIterator[tuple[Any, Any]]:
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
    services = Services(settings, engine, SystemClock())
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
    from models import outbox

    async with _services(settings) as services:
        sessions = session_factory(services.engine)
        try:
            async with sessions() as session, session.begin():
                notice = await notices.create(session, title, body, audience,
                                              services.clock.now(), url=url,
                                              send_at=parse_time(at), created_by="cli")
        except (BadTime, notices.NoticeError) as exc:
            print(f"通知未创建：{exc}", file=sys.stderr)
            return 2
        if notice.status == "scheduled":
            when = notice.send_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            print(f"通知 {notice.id} 已安排在 {when} 发送（由运行中的服务发出）。")
            return 0
        assert services.worker is not None
        finished = await services.worker.drain(notice.subject, timeout_s=120)
        async with sessions() as session:
            counts = await outbox.counts(session, notice.subject)
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
    import csv

    from models.member_import import COLUMNS
    from models.member_import import import_members as do_import

    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            if header != COLUMNS:
                print(f"文件表头应为 {','.join(COLUMNS)}，实际是 {','.join(header)}",
                      file=sys.stderr)
                return 2
            rows = [(reader.line_num, {k.strip(): v or "" for k, v in row.items() if k})
                    for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        print(f"无法读取 {path}：{exc}", file=sys.stderr)
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
    from bot.wechat.client import WechatError
    from bot.wechat.menu import MenuError, validate

    try:
        menu = validate(settings.menu)
    except MenuError as exc:
        print(f"菜单不符合微信的规则：\n{exc}", file=sys.stderr)
        return 2
    async with _services(settings) as services:
        assert services.api is not None
        try:
            await services.api.create_menu(menu)
        except WechatError as exc:
            print(f"推送菜单失败：{exc}", file=sys.stderr)
            return 1
    n = sum(len(b.get("sub_button", [])) or 1 for b in menu["button"])
    print(f"菜单已推送（{len(menu['button'])} 个一级菜单，{n} 个按钮）；微信客户端约5分钟内刷新。")
    return 0


class FileError(Exception):
    """An import file that cannot be read as a whole."""


def read_rows(path: str, item: str = "驿站") -> list[tuple[int, dict[str, Any]]]:
    """The rows of a CSV (with a header) or YAML (a list of mappings) file, with their
    line numbers; `item` names what each row is, for the messages."""
    import csv

    import yaml

    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise FileError(f"无法读取 {path}：{exc}") from None
    if path.lower().endswith((".yaml", ".yml")):
        try:
            data = yaml.safe_load(text)
            nodes = yaml.compose(text)
        except yaml.YAMLError as exc:
            raise FileError(f"{path} 不是有效的 YAML：{exc}") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise FileError(f"{path} 应是一个列表，每项是一个{item}（键与 CSV 表头相同）")
        lines = [n.start_mark.line + 1 for n in nodes.value] if nodes else []
        return list(zip(lines, data, strict=True))
    try:
        reader = csv.DictReader(text.splitlines())
        rows = [(reader.line_num, {(k or "").strip(): v for k, v in row.items()})
                for row in reader]
    except csv.Error as exc:
        raise FileError(f"{path} 不是有效的 CSV：{exc}") from None
    return rows


async def import_stations(settings: Settings, path: str) -> int:
    from models import station_import as imports

    return await _import_file(settings, path, "驿站", imports.COLUMNS, imports.REQUIRED,
                              lambda session, rows, now: imports.import_stations(
                                  session, rows, settings.checkin.default_radius_m, now))


async def import_courses(settings: Settings, path: str) -> int:
    """The running bot plans the reminders of what changed by itself (the courses'
    revisions) and sends the pushes a move or a promotion queued."""
    from models import course_import as imports

    return await _import_file(settings, path, "课程", imports.COLUMNS, imports.REQUIRED,
                              lambda session, rows, now: imports.import_courses(
                                  session, rows, settings.checkin.default_radius_m, now,
                                  T.COURSE_TEXTS, "cli"))


async def _import_file(settings: Settings, path: str, item: str, columns: list[str],
                       required: list[str], do_import: Any) -> int:
    """A CSV or YAML file upserted by code, all or nothing: the report of what was added,
    changed and unchanged, or every broken row with its line and nothing written."""
    try:
        rows = await asyncio.to_thread(read_rows, path, item)
    except FileError as exc:
        print(exc, file=sys.stderr)
        return 2
    if rows and (missing := [c for c in required if c not in rows[0][1]]):
        print(f"缺少列：{', '.join(missing)}（表头应为 {','.join(columns)}）", file=sys.stderr)
        return 2
    async with _transaction(settings) as (session, now):
        report = await do_import(session, rows, now)
        if report.rejected:
            await session.rollback()  # all or nothing
    if report.rejected:
        print(f"未导入任何{item}：{len(report.rejected)} 行有误。", file=sys.stderr)
        for line, reason in report.rejected:
            print(f"  第{line}行：{reason}", file=sys.stderr)
        return 2
    print(f"导入完成：新增 {len(report.added)}，更新 {len(report.changed)}，"
          f"未变 {len(report.unchanged)}。")
    for label, codes in (("新增", report.added), ("更新", report.changed)):
        if codes:
            print(f"  {label}：{'、'.join(codes)}")
    return 0


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


def _read_json(path: str) -> Any:
    import json

    try:
        with open(path, encoding="utf-8-sig") as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError) as exc:
        raise FileError(f"无法读取 {path}：{exc}") from None
    except ValueError as exc:
        raise FileError(f"{path} 不是有效的 JSON：{exc}") from None


async def import_grids(settings: Settings, path: str) -> int:
    from models.grid import import_grids as do_import

    try:
        collection = await asyncio.to_thread(_read_json, path)
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
    simulator scan that); prod asks WeChat for permanent codes and keeps their URLs."""
    import io
    from pathlib import Path

    import segno
    from sqlmodel import col, select

    from bot.db import session_factory
    from bot.wechat.client import WechatError
    from models import qr
    from models import station as stations
    from models.course import Course
    from models.group import PartyGroup

    folder = Path(out)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    async with _services(settings) as services:
        sessions = session_factory(services.engine)
        async with sessions() as session:
            targets = [(f"st:{s.code}", f"station-{s.code}.png")
                       for s in await stations.all_active(session)]
            targets += [(f"grp:{g.code}", f"group-{g.code}.png")
                        for g in (await session.exec(select(PartyGroup))).all()]
            targets += [(f"crs:{c.code}", f"course-{c.code}.png")
                        for c in (await session.exec(select(Course).where(
                            Course.status == "published").order_by(col(Course.code)))).all()]
        for scene, filename in targets:
            if settings.is_dev:
                buf = io.BytesIO()
                segno.make(scene, error="m").save(buf, kind="png", scale=10, border=4)
                image = buf.getvalue()
            else:
                assert services.api is not None
                try:
                    made = await services.api.create_qrcode(scene)
                    image = await services.api.qrcode_image(made["ticket"])
                except WechatError as exc:
                    print(f"{scene}：生成失败（{exc}）", file=sys.stderr)
                    return 1
                async with sessions() as session, session.begin():
                    await qr.remember(session, scene, made["ticket"], made["url"],
                                      services.clock.now())
            await asyncio.to_thread((folder / filename).write_bytes, image)
    print(f"已生成 {len(targets)} 个二维码：{folder}/")
    return 0
