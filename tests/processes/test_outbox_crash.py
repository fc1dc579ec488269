"""kill -9 in the middle of a fan-out, then a restart: no recipient gets a push twice, and
every push that was still pending is sent exactly once.

Real processes: the WeChat sandbox on its own, the bot (`run.py serve`, whose outbox worker
sends), killed with SIGKILL and started again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from bot.db import make_engine, session_factory
from models import notice as notices
from models import outbox
from models.member import Member
from models.outbox import Push
from tests.processes.test_command_line import all_rows, env_for, free_port, http_json, wait_until

ROOT = Path(__file__).resolve().parents[2]
N = 240
BATCH = 12
CONCURRENCY = 4


async def seed(url: str) -> str:
    from bot.migrate import upgrade

    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            now = datetime.now(UTC)
            await session.exec(insert(Member).values([
                {"openid": f"crash-{i:04d}", "name": "测试", "mobile": "13800000000",
                 "industry": "外卖送餐", "platform": "美团", "party_status": "中共党员",
                 "consent_at": now, "registered_at": now, "created_at": now, "followed": True,
                 "points": 0, "kefu_used": 0, "kefu_used_event": 0}
                for i in range(N)]))
            notice = await notices.create(session, "暴雨预警", "就近到驿站避雨", "all", now)
            return notice.subject
    finally:
        await engine.dispose()


def start_bot(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "run.py", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_kill_9_mid_fanout_then_restart(db_url: str) -> None:
    subject = asyncio.run(seed(db_url))
    sandbox_port, bot_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}/sandbox"
    env = env_for(db_url, bot_port, XIAOGE_WECHAT__API_BASE_URL=sandbox_url,
                  XIAOGE_PUSH__RATE_PER_S="0", XIAOGE_PUSH__BATCH_SIZE=str(BATCH),
                  XIAOGE_PUSH__CONCURRENCY=str(CONCURRENCY), XIAOGE_PUSH__LEASE_S="2")
    sandbox = subprocess.Popen([sys.executable, "-m", "bot.dev.sandbox", "--port",
                                str(sandbox_port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bots: list[subprocess.Popen[str]] = []
    try:
        wait_until(lambda: http_json(f"{sandbox_url}/control/stats"), 20, "the sandbox")
        http_json(f"{sandbox_url}/control/faults", {"delay_s": 0.02})  # every send takes a while

        first = start_bot(env)
        bots.append(first)
        wait_until(lambda: len(http_json(f"{sandbox_url}/messages")) >= N // 3, 60,
                   "a third of the pushes")
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        delivered_at_kill = len(http_json(f"{sandbox_url}/messages"))
        assert delivered_at_kill < N, "the kill came too late to test anything"

        second = start_bot(env)
        bots.append(second)

        def settled() -> bool:
            rows = all_rows(db_url, Push)
            # `claimed` is in flight too: a batch taken but not yet marked sending.
            return bool(rows) and all(r.status not in ("pending", "claimed", "sending")
                                      for r in rows)

        wait_until(settled, 90, "the restarted bot to finish the fan-out")
        messages = http_json(f"{sandbox_url}/messages")
    finally:
        for proc in [*bots, sandbox]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
    assert bots[-1].stderr is not None and "Traceback" not in bots[-1].stderr.read()

    rows = all_rows(db_url, Push)
    assert len(rows) == N and {r.subject for r in rows} == {subject}
    delivered = Counter(m["touser"] for m in messages)
    assert max(delivered.values()) == 1, "a recipient got the notice twice"
    by_status = Counter(r.status for r in rows)
    crashed = [r for r in rows if r.reason == outbox.REASON_CRASHED]
    # What the killed worker had in flight is closed, not resent: at most one batch.
    assert len(crashed) <= BATCH
    assert by_status["sent"] + len(crashed) == N, by_status
    # Every push recorded as sent arrived exactly once; those still pending at the kill
    # were sent by the restarted bot, exactly once.
    assert all(delivered[r.openid] == 1 for r in rows if r.status == "sent")
    assert len(delivered) >= N - len(crashed)
