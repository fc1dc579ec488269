"""Demo data for dev mode (`make run`): loaded at every dev start, idempotently.

Clearly demo: nothing here is real. The platform makes the demo console accounts; each
feature adds its own demo set through `Features.seeds` (stations, grids, …).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import select

from bot.clock import SystemClock
from bot.db import lock_key, make_engine, session_factory
from bot.features import Seed
from bot.settings import Settings
from models import staff
from models.staff import ConsoleUser

DEMO_OFFICER = "demo-officer"
DEMO_ADMIN = "demo-admin"
DEMO_ADMIN_PASSWORD = "xiaoge-demo"
# Its argon2 hash, made once here: hashing at every dev start took 64 MiB for a moment.
DEMO_PASSWORD_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$5S7rejIyh2zkOHJEvh4aOg$"
                      "XxRQ9RA9pd4lMnN08+oFSdmVPTnZSZFpKvtwADM6Vl0")
# The console accounts dev mode makes; prod refuses to start while one is active
# (`run.py remove-demo-accounts` removes them).
DEMO_ACCOUNTS = (DEMO_ADMIN, DEMO_OFFICER)


async def load_demo(settings: Settings, seeds: Iterable[Seed] = ()) -> None:
    if not settings.is_dev:
        raise RuntimeError("demo data is for dev mode only")
    engine = make_engine(settings.database.url)
    lines: list[str] = []
    try:
        async with session_factory(engine)() as session, session.begin():
            # Several instances starting at once load the demo data one after the other.
            await lock_key(session, "xiaoge:demo-data")
            now = SystemClock().now()
            codes = {}
            for username, role in ((DEMO_ADMIN, "admin"), (DEMO_OFFICER, "officer")):
                user = (await session.exec(select(ConsoleUser).where(
                    ConsoleUser.username == username))).first()
                if user is None:
                    user = await staff.create_user(session, username, role,
                                                   DEMO_ADMIN_PASSWORD, now,
                                                   hashed=DEMO_PASSWORD_HASH)
                codes[username] = await staff.issue_bind_code(session, user, now)
            for seed in seeds:
                if (line := await seed(session, settings, now)) is not None:
                    lines.append(line)
    finally:
        await engine.dispose()
    print(*lines, sep="\n")
    print(f"演示管理员 {DEMO_ADMIN}（密码 {DEMO_ADMIN_PASSWORD}）"
          f"的绑定码：{codes[DEMO_ADMIN]}；演示网格员 {DEMO_OFFICER} 的绑定码："
          f"{codes[DEMO_OFFICER]}。10分钟内在聊天中发送「绑定 绑定码」试试。\n"
          f"控制台：http://{settings.server.host}:{settings.server.port}/console/ · "
          f"模拟器：http://{settings.server.host}:{settings.server.port}/simulator/")
