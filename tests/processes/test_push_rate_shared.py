"""`push.rate_per_s` is the account's, not a process's: two `run.py serve` instances on one
database and one WeChat sandbox together stay at or under it, and every recipient gets
exactly one message.

Real processes: the sandbox on its own, two bots whose outbox workers both send (small
batches, so both take part). The sandbox stamps each delivery with its own clock; the
deliveries are counted over sliding one-second windows.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bot.db import make_engine, session_factory
from models import notice as notices
from models.member import Member
from models.outbox import Push
from tests.processes.test_command_line import all_rows, env_for, free_port, http_json, wait_until

ROOT = Path(__file__).resolve().parents[2]
N = 400
RATE = 40  # sends per second, for both instances together
CONCURRENCY = 4  # a wave; also the shared bucket's burst (min(concurrency, rate))
BURST = min(CONCURRENCY, RATE)
BATCH = 20
# Between the draw from the bucket and the sandbox's clock: the statement that marks the
# wave sending and the HTTP call. Sends released at t may be stamped a little later.
SLACK_S = 0.1


async def seed_members(url: str) -> None:
    from bot.migrate import upgrade

    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            now = datetime.now(UTC)
            await session.exec(insert(Member).values([
                {"openid": f"rate-{i:04d}", "name": "测试", "mobile": "13800000000",
                 "industry": "外卖送餐", "platform": "美团", "party_status": "中共党员",
                 "consent_at": now, "registered_at": now, "created_at": now, "followed": True,
                 "points": 0, "kefu_used": 0, "kefu_used_event": 0,
                 # Nobody wrote lately: the template channel, no 客服 allowance involved.
                 "last_inbound_at": now - timedelta(days=3)}
                for i in range(N)]))
    finally:
        await engine.dispose()


async def create_notice(url: str) -> str:
    engine = make_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            notice = await notices.create(session, "高温提醒", "午间注意防暑", "all",
                                          datetime.now(UTC))
            return notice.subject
    finally:
        await engine.dispose()


def sent_by(port: int) -> float:
    """Template pushes this instance recorded as sent (its /metrics, from 127.0.0.1)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        body = resp.read().decode()
    found = re.search(r'xiaoge_pushes_total\{channel="template",result="sent"\} (\S+)', body)
    return float(found.group(1)) if found else 0.0


def max_in_window(times: list[datetime], width: timedelta) -> int:
    """The most deliveries stamped within any window [t, t + width)."""
    times = sorted(times)
    most, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - width:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


def test_two_instances_share_the_rate(db_url: str) -> None:
    asyncio.run(seed_members(db_url))
    sandbox_port = free_port()
    ports = [free_port(), free_port()]
    sandbox_url = f"http://127.0.0.1:{sandbox_port}/sandbox"
    envs = [env_for(db_url, port, XIAOGE_WECHAT__API_BASE_URL=sandbox_url,
                    XIAOGE_PUSH__RATE_PER_S=str(RATE), XIAOGE_PUSH__BATCH_SIZE=str(BATCH),
                    XIAOGE_PUSH__CONCURRENCY=str(CONCURRENCY)) for port in ports]
    sandbox = subprocess.Popen([sys.executable, "-m", "bot.dev.sandbox", "--port",
                                str(sandbox_port)], cwd=ROOT, env=envs[0],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    logs = [tempfile.TemporaryFile(mode="w+") for _ in ports]  # noqa: SIM115 (closed below)
    bots: list[subprocess.Popen[str]] = []
    try:
        wait_until(lambda: http_json(f"{sandbox_url}/control/stats"), 20, "the sandbox")
        for env, log in zip(envs, logs, strict=True):
            bots.append(subprocess.Popen([sys.executable, "run.py", "serve"], cwd=ROOT,
                                         env=env, stdout=log, stderr=subprocess.STDOUT,
                                         text=True))
        for port in ports:
            wait_until(lambda p=port: http_json(f"http://127.0.0.1:{p}/healthz"), 60,
                       "an instance to come up")
        subject = asyncio.run(create_notice(db_url))  # both workers poll for it

        def settled() -> bool:
            rows = all_rows(db_url, Push)
            return len(rows) == N and all(r.status == "sent" for r in rows)

        wait_until(settled, 90, "the two instances to send the notice", every=0.5)
        messages = http_json(f"{sandbox_url}/messages")
        per_instance = [sent_by(port) for port in ports]
    finally:
        for proc in [*bots, sandbox]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        outputs = []
        for log in logs:
            log.seek(0)
            outputs.append(log.read())
            log.close()
    for out in outputs:
        assert "Traceback" not in out, out[-3000:]

    assert {r.subject for r in all_rows(db_url, Push)} == {subject}
    delivered = Counter(m["touser"] for m in messages)
    assert set(delivered) == {f"rate-{i:04d}" for i in range(N)}
    assert max(delivered.values()) == 1, "a recipient got the notice twice"
    # Both instances sent a real share: the rate held for the two of them together.
    assert sum(per_instance) == N and min(per_instance) >= N // 10, per_instance

    stamps = [datetime.fromisoformat(m["time"]) for m in messages]
    # The burst rule: within any window of T seconds, at most RATE × (T + SLACK_S) + BURST
    # sends, BURST being one wave (min(concurrency, rate) = 4). Each instance alone at
    # 40/s would make it about 80.
    most = max_in_window(stamps, timedelta(seconds=1))
    bound = RATE * (1 + SLACK_S) + BURST
    assert most <= bound, (f"{most} sends within one second; at most {bound} allowed",
                           Counter(t.replace(microsecond=0).isoformat() for t in stamps))
    span = (max(stamps) - min(stamps)).total_seconds()
    # And so the whole notice takes at least (N − BURST) / RATE seconds, less the slack.
    assert span >= (N - BURST) / RATE - 2 * SLACK_S, f"{N} sends in {span:.1f} s"
