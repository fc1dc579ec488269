"""Faults at district scale, with real processes: `run.py serve` instances, the
WeChat sandbox on its own (`python -m bot.sandbox`), and PostgreSQL.

1. kill -9 of one of three instances in the middle of a fan-out: the others finish it, no
   recipient gets the notice twice, and all but the one wave the dead instance had on the
   wire (closed as "outcome unknown", by design never resent) get it exactly once.
2. PostgreSQL killed (immediate stop, as in a crash) and started again under a steady
   stream of callbacks, on a private cluster of the test's own, never the shared server:
   the bot answers fast during the outage, recovers by itself, and loses nothing it had
   answered before.
3. WeChat's API answering HTTP 500 and 45009 (daily quota) for a while: pushes wait, then
   every one goes out exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sqlalchemy import insert

from bot import texts as T
from bot.db import make_engine, session_factory
from bot.dev.peer import WechatPeer
from bot.settings import DEMO_API_TOKEN, load_settings
from models import outbox
from models.checkin import Checkin
from models.member import Member
from models.outbox import Push
from tests.browser_util import IN_CI, PHONE
from tests.processes.test_command_line import (
    ROOT,
    all_rows,
    env_for,
    free_port,
    http_json,
    run,
    wait_until,
)

FINAL = ("sent", "failed", "undeliverable")


# --- helpers: processes, HTTP, polling ----------------------------------------------------


def start_serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "run.py", "serve"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def wait_healthy(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    def up() -> bool:
        assert proc.poll() is None, f"serve exited:\n{log.read_text()[-3000:]}"
        return health(port)[0] == 200

    wait_until(up, 90, f"serve on port {port} to come up")


def start_sandbox(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bot.dev.sandbox", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/sandbox"
    wait_until(lambda: http_json(f"{url}/control/stats"), 30, "the sandbox")
    return proc, url


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_records(log: Path) -> list[dict[str, Any]]:
    """serve's JSON log lines (other lines, e.g. aiohttp's start banner, are skipped)."""
    records = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records


def assert_clean_log(log: Path) -> None:
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "Error handling request" not in text, text[-5000:]
    assert not PHONE.search(text), f"an unmasked phone number in {log.name}"


def seed_members(url: str, prefix: str, n: int) -> None:
    """n registered followers (outside the 客服 window: notices go as templates)."""

    async def _seed() -> None:
        engine = make_engine(url)
        try:
            async with session_factory(engine)() as session, session.begin():
                now = datetime.now(UTC)
                await session.exec(insert(Member).values([
                    {"openid": f"{prefix}{i:04d}", "name": "测试", "mobile": "13800000000",
                     "industry": "外卖送餐", "platform": "美团", "party_status": "中共党员",
                     "consent_at": now, "registered_at": now, "created_at": now,
                     "followed": True, "points": 0, "kefu_used": 0, "kefu_used_event": 0}
                    for i in range(n)]))
        finally:
            await engine.dispose()

    asyncio.run(_seed())


def create_notice(port: int, title: str, body: str) -> int:
    """POST /api/v1/notices, as the console or another system does."""
    made = http_json(f"http://127.0.0.1:{port}/api/v1/notices",
                     {"title": title, "body": body, "audience": "all"},
                     headers={"Authorization": f"Bearer {DEMO_API_TOKEN}"}, timeout=20)
    return int(made["id"])


def pushes_sent(port: int) -> float:
    """What this instance's worker recorded as sent (its /metrics)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("xiaoge_pushes_total{") and 'result="sent"' in line)


def settled(url: str, n: int) -> list[Push] | None:
    rows = all_rows(url, Push)
    return rows if len(rows) == n and all(r.status in FINAL for r in rows) else None


# --- 1. kill -9 of one instance of three, mid fan-out --------------------------------------

INSTANCES = 3
FANOUT_N = 300
FANOUT_BATCH = 8
FANOUT_CONCURRENCY = 4
FANOUT_DELAY_S = 0.2  # every send takes this long at the sandbox: the fan-out takes a while
# Short, so the survivors take over the dead instance's rows soon; still far longer than a
# batch takes (two waves of FANOUT_DELAY_S), so no live worker's rows are taken from it.
FANOUT_LEASE_S = 6


def test_kill_9_of_one_instance_mid_fanout(pg_db_url: str, tmp_path: Path) -> None:
    url = pg_db_url
    seed_members(url, "fan-", FANOUT_N)
    base_env = env_for(url, free_port())
    sandbox, sandbox_url = start_sandbox(base_env)
    ports = [free_port() for _ in range(INSTANCES)]
    logs = [tmp_path / f"serve-{i}.log" for i in range(INSTANCES)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        http_json(f"{sandbox_url}/control/faults", {"delay_s": FANOUT_DELAY_S})
        for port, log in zip(ports, logs, strict=True):
            procs.append(start_serve(env_for(
                url, port, XIAOGE_WECHAT__API_BASE_URL=sandbox_url, XIAOGE_PUSH__RATE_PER_S="0",
                XIAOGE_PUSH__BATCH_SIZE=str(FANOUT_BATCH),
                XIAOGE_PUSH__CONCURRENCY=str(FANOUT_CONCURRENCY),
                XIAOGE_PUSH__LEASE_S=str(FANOUT_LEASE_S),
                XIAOGE_REPORTS__PHOTO_DIR=str(tmp_path / "photos")), log))
        for port, proc, log in zip(ports, procs, logs, strict=True):
            wait_healthy(port, proc, log)

        create_notice(ports[-1], "暴雨预警", "就近到驿站避雨")

        def delivered() -> int:
            return len(http_json(f"{sandbox_url}/messages"))

        wait_until(lambda: delivered() >= FANOUT_N // 5, 60, "a fifth of the pushes")
        # The victim: an instance whose worker is sending (all of them, normally).
        sent_by = [pushes_sent(p) for p in ports]
        victim = next((i for i, n in enumerate(sent_by) if n > 0), None)
        assert victim is not None, sent_by
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait()
        at_kill = delivered()
        assert at_kill < FANOUT_N * 0.8, "the kill came too late to test anything"

        rows = wait_until(lambda: settled(url, FANOUT_N), 120,
                          "the surviving instances to finish the fan-out", every=0.5)
        messages = http_json(f"{sandbox_url}/messages")
        survivors = [p for i, p in enumerate(ports) if i != victim]
        assert sum(pushes_sent(p) for p in survivors) > 0
    finally:
        stop_all([*procs, sandbox])
    for i, log in enumerate(logs):
        if i != victim:
            assert_clean_log(log)

    delivered_to = Counter(m["touser"] for m in messages)
    by_status = Counter(r.status for r in rows)
    crashed = [r for r in rows if r.reason == outbox.REASON_CRASHED]
    print(f"sent before the kill by instance: {sent_by}; killed #{victim} at {at_kill} "
          f"delivered; rows {dict(by_status)}, {len(crashed)} in flight at the kill, of "
          f"which {sum(r.openid in delivered_to for r in crashed)} arrived")
    assert len(delivered_to) == len(messages) <= FANOUT_N  # nobody got it twice
    assert len(messages) > at_kill  # the survivors went on
    # The one wave the dead instance had on the wire is closed as "outcome unknown" (it may
    # well have arrived), never resent; every other push was sent, once.
    assert len(crashed) <= FANOUT_CONCURRENCY, by_status
    assert by_status["sent"] + len(crashed) == FANOUT_N, by_status
    assert all(delivered_to[r.openid] == 1 for r in rows if r.status == "sent")
    missing = {r.openid for r in rows} - set(delivered_to)
    assert missing <= {r.openid for r in crashed}, "a push that was not in flight was lost"


# --- 2. PostgreSQL stopped and started under load -----------------------------------------

OUTAGE_S = 5.0  # how long PostgreSQL is down
CALLBACK_DEADLINE_S = 4.0  # every callback answers within this, outage or not
RECOVERY_S = 15.0  # after PostgreSQL is back, the bot answers normally again within this
LOAD_WORKERS = 6
LOAD_EVERY_S = 0.1  # one callback this often (half 帮助, half a station scan)
PG_MEMBERS = 400
SCHEDULER_TAKEOVER_S = 2  # the scheduler stands down when its lock's connection breaks


@dataclass
class PrivateCluster:
    bindir: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str) -> None:
        cmd = [str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
        if done.returncode != 0:
            log = self.data.parent / "pg.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise AssertionError(f"pg_ctl {' '.join(args)} failed: {done.stdout}"
                                 f"{done.stderr}\n{tail}")

    def start(self) -> None:
        self.ctl("-o", f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1 "
                 "-c fsync=off -c max_connections=100", "-l", str(self.data.parent / "pg.log"),
                 "-w", "-t", "60", "start")

    def stop(self, mode: str) -> None:
        self.ctl("-m", mode, "-w", "-t", "60", "stop")


def _cannot(reason: str) -> NoReturn:
    """Skip with the reason; under CI=true (which has PostgreSQL and runs as root) fail."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def private_pg() -> Iterator[PrivateCluster]:
    """A PostgreSQL cluster of this test's own (initdb in a temp dir, trust auth, a free
    port), so it can be stopped without touching the server other tests use."""
    import pwd

    initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                     key=lambda p: [int(x) for x in Path(p).parts[-3].split(".") if x.isdigit()])
    if not initdbs:
        _cannot("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb)")
    try:
        postgres = pwd.getpwnam("postgres")
    except KeyError:
        _cannot("no 'postgres' system user to run a private PostgreSQL cluster as")
    if os.geteuid() not in (0, postgres.pw_uid):
        _cannot("a private PostgreSQL cluster needs root (for runuser) or the postgres user")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        _cannot("runuser not found: cannot start PostgreSQL as the postgres user")
    bindir = Path(initdbs[-1]).parent
    # /tmp, not pytest's tmp_path: the postgres user cannot enter root's 0700 directories.
    top = Path(tempfile.mkdtemp(prefix="xiaoge-pg-"))
    try:
        os.chown(top, postgres.pw_uid, postgres.pw_gid)
        data = top / "data"
        cmd = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
               "-E", "UTF8", "--locale=C", "--no-sync"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        made = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stdout + made.stderr
        cluster = PrivateCluster(bindir, data, free_port())
        cluster.start()
        try:
            yield cluster
        finally:
            with contextlib.suppress(AssertionError):  # not running
                cluster.stop("immediate")
    finally:
        shutil.rmtree(top, ignore_errors=True)


@dataclass
class Call:
    kind: str  # "help" or "scan"
    openid: str
    sent_at: float  # time.monotonic()
    seconds: float
    status: int  # HTTP status; 0: no answer at all
    reply: str | None  # the text reply; "success" for an empty one


def test_postgresql_restart_under_load(private_pg: PrivateCluster, tmp_path: Path) -> None:
    url = private_pg.url
    env = env_for(url, free_port(), XIAOGE_REPORTS__PHOTO_DIR=str(tmp_path / "photos"),
                  XIAOGE_SERVER__SCHEDULER_TAKEOVER_S=str(SCHEDULER_TAKEOVER_S))
    port = int(env["XIAOGE_SERVER__PORT"])
    assert run(["migrate"], env).returncode == 0
    seed_members(url, "o-pg-", PG_MEMBERS)
    stations = tmp_path / "stations.csv"
    stations.write_text("code,name,kind,lat,lng,hours\nHT01,湖塘红色驿站,驿站,31.7093,"
                        "119.9512,24h\n", encoding="utf-8")
    imported = run(["import-stations", str(stations)], env)
    assert imported.returncode == 0, imported.stderr
    demo = load_settings(ROOT / "config.yaml").wechat
    peer = WechatPeer(demo.token, demo.app_id, demo.encoding_aes_key)

    def callback(kind: str, openid: str) -> Call:
        now = int(time.time())
        xml = (peer.text(openid, "帮助", create_time=now) if kind == "help"
               else peer.event(openid, "SCAN", "st:HT01", create_time=now))
        signed = peer.sign(xml)
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/wechat?{urllib.parse.urlencode(signed.params)}",
            data=signed.body.encode(), method="POST", headers={"Content-Type": "text/xml"})
        started = time.monotonic()
        status, reply = 0, None
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                status, body = r.status, r.read().decode()
            reply = "success" if body == "success" else peer.read_reply(body)["Content"]
        except urllib.error.HTTPError as err:
            status = err.code
        except OSError:
            pass
        return Call(kind, openid, started, time.monotonic() - started, status, reply)

    log = tmp_path / "serve.log"
    proc = start_serve(env, log)
    calls: list[Call] = []
    stop_load = threading.Event()

    def load(pool: ThreadPoolExecutor) -> None:
        futures = []
        for i in range(PG_MEMBERS):
            if stop_load.is_set():
                break
            futures.append(pool.submit(callback, "scan", f"o-pg-{i:04d}"))
            futures.append(pool.submit(callback, "help", f"o-pg-help-{i:04d}"))
            time.sleep(2 * LOAD_EVERY_S)
        calls.extend(f.result() for f in futures)

    try:
        wait_healthy(port, proc, log)
        with ThreadPoolExecutor(max_workers=LOAD_WORKERS) as pool:
            loader = threading.Thread(target=load, args=(pool,))
            loader.start()
            try:
                time.sleep(3)  # normal operation first
                down_at = time.monotonic()
                private_pg.stop("immediate")  # as in a crash: recovery from the WAL
                time.sleep(OUTAGE_S)
                private_pg.start()
                up_at = time.monotonic()

                def answers_again() -> bool:
                    probe = callback("help", f"o-pg-probe-{time.monotonic_ns()}")
                    return probe.status == 200 and T.HELP_HEADER in (probe.reply or "")

                wait_until(answers_again, RECOVERY_S, "the bot to answer after PostgreSQL "
                           "came back", every=0.3)
                recovered_at = time.monotonic()
                recovered_wall = datetime.now(UTC)
                time.sleep(3)  # normal operation after
            finally:
                stop_load.set()
                loader.join(timeout=120)
        # Healthy again, and the scheduler, which stood down when its lock's connection
        # broke, leads again: all without a restart.
        _, body = wait_until(lambda: (h := health(port))[0] == 200
                             and h[1]["scheduler"] == "leader" and h, 20,
                             "/healthz to be ok and the scheduler to lead again")
        assert body["status"] == "ok" and body["database"] == "ok"
        assert proc.poll() is None, "serve died"
    finally:
        stop_all([proc])

    assert calls and not loader.is_alive()
    slow = [c for c in calls if c.seconds >= CALLBACK_DEADLINE_S]
    assert not slow, f"{len(slow)} callbacks took ≥ {CALLBACK_DEADLINE_S} s: {slow[:3]}"
    before = [c for c in calls if c.sent_at + c.seconds < down_at]
    during = [c for c in calls if down_at <= c.sent_at < up_at]
    after = [c for c in calls if c.sent_at >= recovered_at + 1]
    assert len(before) >= 5 and len(during) >= 10 and len(after) >= 5, (
        len(before), len(during), len(after))

    def normal(c: Call) -> bool:
        expected = T.HELP_HEADER if c.kind == "help" else "签到成功"
        return c.status == 200 and expected in (c.reply or "")

    print(f"{len(calls)} callbacks: {len(before)} before the outage, {len(during)} during, "
          f"{len(after)} after; slowest {max(c.seconds for c in calls):.2f} s; back "
          f"{recovered_at - up_at:.1f} s after PostgreSQL")
    assert all(normal(c) for c in before), [c for c in before if not normal(c)][:3]
    assert all(normal(c) for c in after), [c for c in after if not normal(c)][:3]
    # While the database is down the bot answers at once with its apology (never a hang,
    # never a 5xx, never a reply that claims something happened).
    assert all(c.status == 200 and (c.reply == T.ERROR or normal(c)) for c in during), [
        c for c in during if not (c.status == 200 and (c.reply == T.ERROR or normal(c)))][:3]
    assert sum(c.reply == T.ERROR for c in during) >= len(during) // 2

    # Nothing answered as done was lost with the restart.
    checked_in = {c.openid for c in calls if c.kind == "scan" and normal(c)}
    members = {m.id: m.openid for m in all_rows(url, Member)}
    stored = {members[c.member_id] for c in all_rows(url, Checkin)}
    assert checked_in <= stored, sorted(checked_in - stored)[:5]

    text = log.read_text(errors="replace")
    assert not PHONE.search(text), "an unmasked phone number in the server's log"
    records = log_records(log)
    failed = sum(1 for c in calls if not normal(c))
    with_traceback = [r for r in records if r.get("exc")]
    # At most one traceback per failed callback, plus the background loops' (outbox worker,
    # photo fetcher, scheduler) about one a second each while the database is down.
    assert len(with_traceback) <= failed + 3 * (up_at - down_at + RECOVERY_S), (
        len(with_traceback), failed)
    settled_wall = recovered_wall.timestamp() + 5
    late = [r for r in with_traceback
            if datetime.fromisoformat(r["ts"]).timestamp() > settled_wall]
    assert not late, f"tracebacks after the recovery: {late[:2]}"


# --- 3. WeChat's API answering 500 and 45009 for a while ----------------------------------

QUOTA_N = 50
# The issue asks for "a minute"; CI's budget allows ~15 s. XIAOGE_TEST_FAULT_WINDOW_S=60
# runs the real minute by hand (about 45 s longer).
FAULT_WINDOW_S = float(os.environ.get("XIAOGE_TEST_FAULT_WINDOW_S", "15"))
# The quota pause (production: 600 s after 45009) shortened so that the pushes resume soon
# after the window. A quota answer spends no attempt and puts its row off for the pause;
# only the 500s spend attempts, and with a third of the window per pause a row meets at
# most ~4 of them, well under max_attempts (8): the backoff tail after the window is
# seconds, not minutes.
QUOTA_PAUSE_S = max(3.0, FAULT_WINDOW_S / 3)
QUOTA_CONCURRENCY = 4


def test_wechat_errors_and_quota_for_a_while(pg_db_url: str, tmp_path: Path) -> None:
    url = pg_db_url
    seed_members(url, "quota-", QUOTA_N)
    env = env_for(url, free_port())
    port = int(env["XIAOGE_SERVER__PORT"])
    sandbox, sandbox_url = start_sandbox(env)
    log = tmp_path / "serve.log"
    procs = [sandbox]
    try:
        # Half the sends get an HTTP 500, the other half 45009 (daily quota reached).
        http_json(f"{sandbox_url}/control/faults", {"http_status": 500, "rate": 0.5})
        http_json(f"{sandbox_url}/control/faults", {"errcode": 45009})
        procs.append(start_serve(env | {
            "XIAOGE_WECHAT__API_BASE_URL": sandbox_url,
            "XIAOGE_PUSH__CONCURRENCY": str(QUOTA_CONCURRENCY),
            "XIAOGE_PUSH__BATCH_SIZE": "10",
            "XIAOGE_PUSH__DAILY_QUOTA_PAUSE_S": str(QUOTA_PAUSE_S),
            "XIAOGE_PUSH__MINUTE_QUOTA_PAUSE_S": str(QUOTA_PAUSE_S),
            "XIAOGE_REPORTS__PHOTO_DIR": str(tmp_path / "photos")}, log))
        wait_healthy(port, procs[-1], log)
        create_notice(port, "系统维护", "今晚22点驿站小程序维护")
        window_ends = time.monotonic() + FAULT_WINDOW_S
        while time.monotonic() < window_ends:
            assert http_json(f"{sandbox_url}/messages") == []  # nothing gets through
            time.sleep(0.5)
        in_window = http_json(f"{sandbox_url}/control/stats")
        cleared_at = datetime.now(UTC)  # before the DELETE: a send right after it counts
        cleared = time.monotonic()
        http_json(f"{sandbox_url}/control/faults", method="DELETE")
        rows = wait_until(lambda: settled(url, QUOTA_N), 90, "the pushes to go out",
                          every=0.5)
        resumed_in = time.monotonic() - cleared
        messages = http_json(f"{sandbox_url}/messages")
        after = http_json(f"{sandbox_url}/control/stats")
    finally:
        stop_all(procs)
    assert_clean_log(log)

    # Both faults were met, and the worker paused on the quota instead of hammering: one
    # wave of sends per pause (an all-500 wave is followed by another), not 50 pushes
    # retried on their own backoff (about 200 calls in 15 s).
    faulted = in_window["faulted"]
    print(f"in the {FAULT_WINDOW_S:.0f} s window: {in_window['calls']}, faults {faulted}; "
          f"all sent {resumed_in:.1f} s after; attempts "
          f"{sorted(Counter(r.attempts for r in rows).items())}")
    assert faulted.get("http 500", 0) > 0 and faulted.get("errcode 45009", 0) > 0, faulted
    tried = in_window["calls"].get("/cgi-bin/message/template/send", 0)
    pauses = FAULT_WINDOW_S / (0.8 * QUOTA_PAUSE_S) + 1
    assert tried <= 3 * QUOTA_CONCURRENCY * pauses, (tried, faulted)
    paused = [r for r in log_records(log) if "pausing pushes" in r.get("msg", "")]
    assert 1 <= len(paused) <= pauses + 1, len(paused)

    # Then the pushes resumed at the end of the pause under way, and every one went out,
    # exactly once, after the faults were cleared.
    first = min(datetime.fromisoformat(m["time"]) for m in messages)
    assert (first - cleared_at).total_seconds() < 1.2 * QUOTA_PAUSE_S + 5
    assert Counter(r.status for r in rows) == {"sent": QUOTA_N}
    assert all(r.attempts <= load_settings(ROOT / "config.yaml").push.max_attempts
               for r in rows)
    assert any(r.attempts >= 2 for r in rows), "no push was retried"
    delivered_to = Counter(m["touser"] for m in messages)
    assert set(delivered_to) == {r.openid for r in rows}
    assert max(delivered_to.values()) == 1
    assert all(datetime.fromisoformat(m["time"]) >= cleared_at for m in messages)
    # Exactly one call per push got through: the rest were refused by the injected faults.
    calls = after["calls"]["/cgi-bin/message/template/send"]
    assert calls - sum(after["faulted"].values()) == QUOTA_N, after
