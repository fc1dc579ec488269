"""Demo data for dev mode (`make run`): loaded at every dev start, idempotently.

Clearly demo: nothing here is real (names 演示…, phones 1380000xxxx, openids demo-rider-NN).
The platform makes the demo console accounts (one per role) and the demo members; each
feature adds its own demo set through `Features.seeds` (stations and check-ins, grids and
reports, the group, courses, notices), in the order the features are installed.

Idempotent: every set is found by its fixed demo key (username, openid, course code, group
name, notice title …) and made only when missing, all in one transaction under a lock, so
several instances starting at once load it once. Times are relative to the first start;
later starts rewrite nothing, except what keeps the demo alive (decided here):
- the course that starts "within the hour" and the group's upcoming activity are moved to
  start within the hour again once their start has passed;
- the check-ins of the last 30 days are topped up for days not yet covered (one per
  member, station and day at most, by the table's unique key).
A second start on the same day adds nothing.

The pushes the demo's past steps wrote are recorded as sent when they were written (they are
history), so a start sends no burst of old pushes to the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import SystemClock
from bot.db import lock_key, make_engine, session_factory
from bot.features import Seed
from bot.settings import Settings
from models import outbox, staff
from models.base import insert_for
from models.member import Member
from models.staff import ConsoleUser

DEMO_ADMIN = "demo-admin"
DEMO_OFFICER = "demo-officer"
DEMO_TEACHER = "demo-teacher"
DEMO_LEADER = "demo-leader"
DEMO_ADMIN_PASSWORD = "xiaoge-demo"
# Its argon2 hash, made once here: hashing at every dev start took 64 MiB for a moment.
DEMO_PASSWORD_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$5S7rejIyh2zkOHJEvh4aOg$"
                      "XxRQ9RA9pd4lMnN08+oFSdmVPTnZSZFpKvtwADM6Vl0")
# The demo console account of each role, with the role's name in the banner.
DEMO_ROLES = {DEMO_ADMIN: ("admin", "管理员"), DEMO_TEACHER: ("instructor", "讲师"),
              DEMO_LEADER: ("leader", "党小组长"), DEMO_OFFICER: ("officer", "网格员")}
# The console accounts dev mode makes; prod refuses to start while one is active
# (`run.py remove-demo-accounts` removes them).
DEMO_ACCOUNTS = tuple(DEMO_ROLES)

RIDER_PREFIX = "demo-rider-"
# The demo members: name, industry, platform, party status. Openid demo-rider-NN, phone
# 138000000NN: fake, and plainly so.
RIDERS = (
    ("演示·王建军", "外卖送餐", "美团", "中共党员"),
    ("演示·李晓峰", "外卖送餐", "饿了么", "中共党员"),
    ("演示·张伟", "快递物流", "顺丰", "预备党员"),
    ("演示·刘洋", "快递物流", "中通", "中共党员"),
    ("演示·陈静", "网约车", "滴滴出行", "入党积极分子"),
    ("演示·杨帆", "外卖送餐", "美团", "中共党员"),
    ("演示·赵磊", "道路货运", "货拉拉", "中共党员"),
    ("演示·黄敏", "快递物流", "京东", "群众"),
    ("演示·周强", "网约车", "T3出行", "中共党员"),
    ("演示·吴刚", "外卖送餐", "饿了么", "入党积极分子"),
    ("演示·徐丽", "网络主播", "抖音", "中共党员"),
    ("演示·孙浩", "道路货运", "满帮", "预备党员"),
    ("演示·马超", "外卖送餐", "美团", "中共党员"),
    ("演示·朱琳", "快递物流", "邮政", "中共党员"),
    ("演示·胡斌", "网约车", "曹操出行", "群众"),
    ("演示·郭涛", "外卖送餐", "美团", "中共党员"),
    ("演示·何欢", "数字经济", "闲鱼", "入党积极分子"),
    ("演示·林峰", "快递物流", "圆通", "中共党员"),
)


def rider_openid(n: int) -> str:
    """The openid of demo member n (1-based)."""
    return f"{RIDER_PREFIX}{n:02d}"


async def demo_members(session: AsyncSession) -> list[Member]:
    """The demo members, demo-rider-01 first (the features' seeds use them)."""
    return list((await session.exec(select(Member).where(
        col(Member.openid).startswith(RIDER_PREFIX)).order_by(col(Member.openid)))).all())


async def _accounts(session: AsyncSession, now: datetime) -> dict[str, str]:
    """The demo console accounts, made when missing; a fresh bind code for the admin and
    the officer."""
    codes = {}
    for username, (role, _) in DEMO_ROLES.items():
        user = (await session.exec(select(ConsoleUser).where(
            ConsoleUser.username == username))).first()
        if user is None:
            user = await staff.create_user(session, username, role, DEMO_ADMIN_PASSWORD, now,
                                           hashed=DEMO_PASSWORD_HASH,
                                           display_name=f"演示{DEMO_ROLES[username][1]}")
        elif user.display_name is None:  # made before accounts had names
            user.display_name = f"演示{DEMO_ROLES[username][1]}"
            session.add(user)
        if username in (DEMO_ADMIN, DEMO_OFFICER):
            codes[username] = await staff.issue_bind_code(session, user, now)
    return codes


async def _members(session: AsyncSession, now: datetime) -> None:
    """The demo members, consent given offline, registered over the last 60 days (the last
    one today); most wrote within the last month."""
    have = {m.openid for m in await demo_members(session)}
    rows = []
    for n, (name, industry, platform, party) in enumerate(RIDERS, 1):
        if rider_openid(n) in have:
            continue
        joined = now - (timedelta(days=60 - 2.5 * (n - 1)) if n < len(RIDERS)
                        else timedelta(minutes=5))
        wrote = None if n % 6 == 0 else now - timedelta(days=n % 20, hours=2 * n)
        rows.append({"openid": rider_openid(n), "name": name, "mobile": f"138000000{n:02d}",
                     "industry": industry, "platform": platform, "party_status": party,
                     "consent_at": joined, "consent_source": "offline",
                     "registered_at": joined, "followed": True, "points": 0,
                     "created_at": joined, "last_inbound_at": wrote, "kefu_used": 0,
                     "kefu_used_event": 0})
    if rows:
        conn = await session.connection()
        await conn.execute(insert_for(session, Member).on_conflict_do_nothing(
            index_elements=["openid"]), rows)


async def _last_push(session: AsyncSession) -> int:
    return (await session.exec(select(func.max(outbox.Push.id)))).one() or 0


async def _pushes_as_history(session: AsyncSession, after: int, now: datetime) -> None:
    """The pushes this load's past steps wrote (ids after `after`, dated before now): sent
    when written. What it did now (moving the demo course ahead) goes out as usual."""
    await session.exec(update(outbox.Push).where(
        col(outbox.Push.id) > after, col(outbox.Push.status) == "pending",
        col(outbox.Push.created_at) < now).values(
        status="sent", channel="kefu", attempts=1, sent_at=outbox.Push.created_at))


async def load_demo(settings: Settings, seeds: Iterable[Seed] = (),
                    now: datetime | None = None) -> str:
    """Load the demo data (idempotently); the dev banner, to print at start."""
    if not settings.is_dev:
        raise RuntimeError("demo data is for dev mode only")
    engine = make_engine(settings.database.url)
    lines: list[str] = []
    try:
        async with session_factory(engine)() as session, session.begin():
            # Several instances starting at once load the demo data one after the other.
            await lock_key(session, "xiaoge:demo-data")
            now = now or SystemClock().now()
            codes = await _accounts(session, now)
            if settings.dev.demo_data == "full":  # basic: no members, so no rows of theirs
                await _members(session, now)
            await session.flush()
            before = await _last_push(session)
            for seed in seeds:
                if (line := await seed(session, settings, now)) is not None:
                    lines.append(line)
            await _pushes_as_history(session, before, now)
    finally:
        await engine.dispose()
    return banner(settings, lines, codes)


def banner(settings: Settings, parts: Sequence[str], codes: dict[str, str]) -> str:
    """What dev mode prints at start: the demo data, where to go, what to try first."""
    base = f"http://{settings.server.host}:{settings.server.port}"
    logins = " · ".join(f"{role} {name}" for name, (_, role) in DEMO_ROLES.items())
    return "\n".join((
        f"演示数据已就绪（每次启动只补缺，不重复添加）：{len(RIDERS)} 名演示会员 · "
        f"{' · '.join(parts)}",
        f"控制台 {base}/console/ 演示账号（密码均为 {DEMO_ADMIN_PASSWORD}）：{logins}",
        f"模拟器 {base}/simulator/",
        "先试试：",
        "  1. 在模拟器里发送“帮助”，再点“扫码签到”或发“附近驿站”",
        f"  2. 用 {DEMO_ADMIN} 登录，在“上报”里给待派单的工单派单、批准延期",
        "  3. 看“总览”页的30天签到、驿站排行和办结率、满意率",
        f"  4. 用 {DEMO_TEACHER} 登录看一小时内开课的课程，用 {DEMO_LEADER} 看小组活动与点名",
        f"演示管理员 {DEMO_ADMIN}（密码 {DEMO_ADMIN_PASSWORD}）的绑定码：{codes[DEMO_ADMIN]}；"
        f"演示网格员 {DEMO_OFFICER} 的绑定码：{codes[DEMO_OFFICER]}"
        "（10分钟内在聊天中发送「绑定 绑定码」）",
    ))
