"""`make bench`: the bot's callback speed beside three baselines and two same-work peers, a
50,000-recipient notice through the outbox, and the SQL statements per callback, in one
table with the targets of issue 19 marked met or not (printed by bench/run_report.py).

    .venv/bin/python bench/run.py [--duration 8] [--pg URL] [--no-pg] [--push-n N] [--only NAMES]

Every server is started here as its own process, on a free port, and measured by the
same load generator (bench/loadgen.py, a separate process: signed and AES callbacks,
built before the clock starts) in the same run:

- bare aiohttp answering `success` (the ceiling),
- a minimal aiohttp + wechatpy echo bot (signature, AES, parse, passive reply),
- a WeRoBot echo bot under gunicorn with 2 sync workers,
- the same-work peers on PostgreSQL (bench/baselines/peer_work.py: claim, member, window,
  check-in, reply stored with the claim, one transaction): (f) WeRoBot + SQLAlchemy Core +
  psycopg under gunicorn with 2 sync workers, (g) aiohttp + wechatpy + raw asyncpg with
  prepared statements; each first answers WeChat's retries correctly or says so,
- the bot (`run.py serve`) on SQLite and on PostgreSQL (one instance, then two
  instances behind the generator's round robin), with 5,000 registered members.

Scenarios: `帮助` (a keyword reply, dedup included) closed loop; the full mix (scan and
location check-ins, 附近, 我的, the six-step 上报 dialog, 课程, 帮助) closed loop; the full
mix open loop at a steady 500 requests/s (latency from each request's due time; the bot
and the peers), and, for the bot, open loop at half the rate it reached closed loop.
Then bench/statements.py counts the SQL round trips of 帮助, a scan check-in, a location
check-in and a report step through the bot's real app (SQLite, and PostgreSQL).
Errors are non-200 answers, answers later than WeChat's 5 s (WeChat would have dropped
them), plus, for the bot, callbacks its /metrics counted as failed or deferred. Peak RSS
is VmHWM summed over the server's processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run_report import (  # noqa: E402
    PEER_F,
    PEER_G,
    Row,
    language_report,
    report,
    statements_table,
)

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench"
PY = sys.executable
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"
INDUSTRIES = ["快递物流", "外卖送餐", "网约车", "道路货运"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process and its children, in MB."""
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            pids.extend(int(c) for c in children)
    for p in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return total / 1024


def wait_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-1500:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (405 for GET on a POST-only route is fine)
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer from {url}") from None
            time.sleep(0.2)


@dataclass
class Server:
    name: str
    ports: list[int]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    metrics: bool = False  # the bot: read its failure counts from /metrics

    def rss_mb(self) -> float:
        return sum(peak_rss_mb(p.pid) for p in self.procs)

    def failed(self) -> float:
        """Callbacks the bot answered with its error text or too late (deferred)."""
        total = 0.0
        for port in self.ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
            for m in re.finditer(r'^xiaoge_callbacks_total\{[^}]*outcome="(error|deferred)"'
                                 r'[^}]*\} ([0-9.e+]+)$', text, re.M):
                total += float(m.group(2))
        return total


@contextlib.contextmanager
def started(name: str, commands: list[list[str]], ports: list[int], workdir: Path,
            env: dict[str, str] | None = None, health: str = "/wechat",
            metrics: bool = False) -> Iterator[Server]:
    server = Server(name, ports, metrics=metrics)
    try:
        for i, (cmd, port) in enumerate(zip(commands, ports, strict=True)):
            slug = re.sub(r"\W+", "_", name)
            log = workdir / f"{slug}-{i}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {}),
                                             "XIAOGE_SERVER__PORT": str(port)})
            server.procs.append(proc)
            wait_up(f"http://127.0.0.1:{port}{health}", proc, log)
        yield server
    finally:
        for proc in server.procs:
            proc.terminate()
        for proc in server.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def load(ports: list[int], scenario: str, mode: str, duration: float, seed: int,
         **extra: object) -> dict[str, object]:
    cmd = [PY, str(ROOT / "bench" / "loadgen.py"), "--ports", ",".join(map(str, ports)),
           "--scenario", scenario, "--mode", mode, "--duration", str(duration),
           "--seed", str(seed)]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed: {out.stderr[-1500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def members_csv(path: Path, n: int) -> None:
    lines = ["openid,name,mobile,industry,platform,party_status"]
    for i in range(n):
        name = (SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)]
                + GIVEN[(i // 7) % len(GIVEN)])
        lines.append(f"o-bench{i},{name},139{i:08d},{INDUSTRIES[i % 4]},美团,中共党员")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def prepare_db(url: str, members: Path) -> None:
    env = {**os.environ, "XIAOGE_DATABASE__URL": url}
    for args in (["migrate"], ["import-members", str(members)]):
        out = subprocess.run([PY, "run.py", *args], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"run.py {args[0]} failed: {out.stdout}{out.stderr}")


def pg_reset(url: str) -> str | None:
    """Drop and recreate the bench database; the reason when PostgreSQL is unusable."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    admin, name = url.rsplit("/", 1)

    async def _reset() -> None:
        engine = create_async_engine(admin + "/postgres", isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    try:
        asyncio.run(_reset())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def bot_runs(server: Server, args: argparse.Namespace, rows: list[Row], seed: int,
             steady: bool = False) -> None:
    """Warm up, then 帮助 closed, mix closed; for the bot and the peers (`steady`) mix open
    at the steady rate; for the bot also mix open at half the rate it reached closed loop
    (its latency under a load it carries)."""
    load(server.ports, "mix", "closed", 2, seed, conns=args.conns, max_rate=3000,
         users=args.users)
    runs: list[tuple[str, str, dict[str, object]]] = [
        ("help", "closed", {"conns": args.conns, "max_rate": args.max_rate}),
        ("mix", "closed", {"conns": args.conns, "max_rate": args.max_rate}),
    ]
    if server.metrics or steady:
        runs.append(("mix", "open", {"conns": 64, "rate": args.rate}))
    for scenario, mode, extra in runs:
        seed += 1
        measure(server, args, rows, seed, scenario, mode, extra)
    if server.metrics:
        closed_mix = next(float(r.result["req_s"]) for r in reversed(rows)  # type: ignore[arg-type]
                          if r.server == server.name and r.scenario == "mix")
        half = max(10.0, round(closed_mix / 2, -1))
        measure(server, args, rows, seed + 1, "mix", "open", {"conns": 64, "rate": half})


def measure(server: Server, args: argparse.Namespace, rows: list[Row], seed: int,
            scenario: str, mode: str, extra: dict[str, object]) -> None:
    before = server.failed() if server.metrics else 0.0
    result = load(server.ports, scenario, mode, args.duration, seed, users=args.users,
                  **extra)
    failed = (server.failed() - before) if server.metrics else 0.0
    label = {"help": "帮助", "mix": "mix"}[scenario] + (
        f" open {float(extra['rate']):.0f}/s" if mode == "open" else "")  # type: ignore[arg-type]
    rows.append(Row(server.name, label, result, server.rss_mb(), failed,
                    len(server.procs) if server.metrics else 1))
    print(f"  {server.name:<22} {label:<14} {result['req_s']:>8} req/s  "
          f"p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms  "
          f"errors {int(result['errors']) + int(failed)}  "  # type: ignore[call-overload]
          f"loadgen CPU {result['loadgen_cpu']}", flush=True)


def push_run(url: str, n: int) -> dict[str, object]:
    """A notice to n members through the outbox to a sandbox process (push_bench's
    clean scenario, bench/push_scenario.py)."""
    from bench.push_sandbox import sandbox_process
    from bench.push_scenario import Scenario, run_scenario
    from bot.settings import PushSettings, load_settings

    settings = load_settings()
    push = PushSettings(rate_per_s=0, concurrency=settings.push.concurrency,
                        batch_size=settings.push.batch_size, max_attempts=20)
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp, \
            sandbox_process(Path(tmp)) as sb:
        res = asyncio.run(run_scenario("db", url, sb, settings, push, n,
                                       Scenario("clean"), "50k"))
    return {"sends_s": res.sends_per_s, "base_s": res.base_per_s, "check": res.check,
            "seconds": res.seconds}


def language_run() -> dict[str, float] | None:
    """bench/language_bench.py in a process of its own: what matching adds per message."""
    out = subprocess.run([PY, "bench/language_bench.py", "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if out.returncode == 0 and lines else None


def statements_run(args: argparse.Namespace, pg_problem: str | None) -> dict[str, object] | None:
    """bench/statements.py in a process of its own: SQL round trips per callback scenario."""
    cmd = [PY, "bench/statements.py", "--json"]
    cmd += ["--no-pg"] if pg_problem else ["--pg", args.pg + "_statements"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        print(f"statement counts failed: {out.stderr[-1500:]}")
        return None
    return json.loads(lines[-1])


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=8.0, help="seconds per measured run")
    p.add_argument("--conns", type=int, default=32, help="closed loop: connections")
    p.add_argument("--rate", type=float, default=500.0, help="open loop: requests/s")
    p.add_argument("--max-rate", type=float, default=6000.0,
                   help="closed loop: the most requests/s the plans are built for")
    p.add_argument("--users", type=int, default=5000)
    p.add_argument("--pg", default=DEFAULT_PG, help=f"PostgreSQL URL (default {DEFAULT_PG}); "
                   "the database is dropped and recreated")
    p.add_argument("--no-pg", action="store_true")
    p.add_argument("--push-n", type=int, default=50_000, help="notice recipients (0: skip)")
    p.add_argument("--only", help="comma-separated server names to run (substring match)")
    return p.parse_args()


def wanted(args: argparse.Namespace, name: str) -> bool:
    """Whether --only (comma-separated substrings) selects this server or push run."""
    return not args.only or any(w in name for w in args.only.split(","))


def baseline_commands() -> list[tuple[str, list[str]]]:
    """The baselines' names and commands ({port} to fill in); WeRoBot only when installed."""
    baselines: list[tuple[str, list[str]]] = [
        ("bare aiohttp", [PY, "bench/baselines/bare.py", "--port", "{port}"]),
        ("echo aiohttp+wechatpy", [PY, "bench/baselines/echo.py", "--port", "{port}"]),
    ]
    gunicorn = shutil.which("gunicorn", path=str(Path(PY).parent))
    try:
        import werobot  # noqa: F401
    except ImportError:
        gunicorn = None
    if gunicorn:
        baselines.append(("WeRoBot gunicorn -w 2", [
            gunicorn, "-w", "2", "-b", "127.0.0.1:{port}", "--chdir", "bench/baselines",
            "--log-level", "warning", "werobot_echo:application"]))
    else:
        print("WeRoBot baseline skipped: pip install '.[bench]' (werobot, gunicorn)")
    return baselines


def run_baselines(args: argparse.Namespace, work: Path, rows: list[Row], seed: int) -> int:
    """Each wanted baseline started and measured; returns the next seed."""
    for name, cmd in baseline_commands():
        if not wanted(args, name):
            continue
        port = free_port()
        with started(name, [[c.format(port=port) for c in cmd]], [port], work) as s:
            seed += 10
            bot_runs(s, args, rows, seed)
    return seed


def peer_commands(url: str) -> list[tuple[str, list[str], dict[str, str]]]:
    """The same-work peers' names, commands ({port} to fill in) and environments; (f) only
    when WeRoBot and gunicorn are installed."""
    tail = url.split("://", 1)[1]
    peers: list[tuple[str, list[str], dict[str, str]]] = []
    gunicorn = shutil.which("gunicorn", path=str(Path(PY).parent))
    try:
        import werobot  # noqa: F401
    except ImportError:
        gunicorn = None
    if gunicorn:
        peers.append((PEER_F, [gunicorn, "-w", "2", "-b", "127.0.0.1:{port}", "--chdir",
                               "bench/baselines", "--log-level", "warning",
                               "werobot_work:application"],
                      {"PEER_DATABASE_URL": f"postgresql+psycopg://{tail}"}))
    else:
        print(f"{PEER_F} skipped: pip install '.[bench]' (werobot, gunicorn)")
    peers.append((PEER_G, [PY, "bench/baselines/asyncpg_work.py", "--port", "{port}",
                           "--db", f"postgresql://{tail}"], {}))
    return peers


def run_peers(args: argparse.Namespace, work: Path, pg_problem: str | None, rows: list[Row],
              seed: int, checks: dict[str, str]) -> int:
    """Each wanted same-work peer on a fresh database of its own (the bench database's name
    + `_peers`, its tables and the members made by bench/baselines/peer_work.py), checked
    against WeChat's retries, then measured; returns the next seed."""
    from bench.baselines.peer_work import prepare, self_check

    names = [n for n in (PEER_F, PEER_G) if wanted(args, n)]
    if not names:
        return seed
    if pg_problem:
        print(f"peers skipped ({', '.join(names)}): they need PostgreSQL ({pg_problem})")
        return seed
    url = args.pg + "_peers"
    for name, cmd, env in peer_commands(url):
        if name not in names:
            continue
        problem = pg_reset(url)
        if problem:
            print(f"{name} skipped: {problem}")
            continue
        prepare(url, args.users)
        port = free_port()
        with started(name, [[c.format(port=port) for c in cmd]], [port], work, env) as s:
            checks[name] = self_check(port, url)
            print(f"  {name}: retry self-check {checks[name]}", flush=True)
            seed += 10
            bot_runs(s, args, rows, seed, steady=True)
    return seed


def run_bots(args: argparse.Namespace, work: Path, members: Path, pg_problem: str | None,
             rows: list[Row], seed: int) -> int:
    """The bot on SQLite, on PostgreSQL and as two instances on PostgreSQL, each on a
    freshly migrated database with the members imported; returns the next seed."""
    bots: list[tuple[str, str, int]] = [
        ("xiaoge SQLite", f"sqlite+aiosqlite:///{work / 'bench.db'}", 1)]
    if not pg_problem:
        bots += [("xiaoge PostgreSQL", args.pg, 1), ("xiaoge PostgreSQL ×2", args.pg, 2)]
    for name, url, n in bots:
        if not wanted(args, name):
            continue
        if url == args.pg and pg_reset(url):
            continue
        prepare_db(url, members)
        ports = [free_port() for _ in range(n)]
        env = {"XIAOGE_DATABASE__URL": url}
        cmds = [[PY, "run.py", "serve"] for _ in ports]
        with started(name, cmds, ports, work, env, health="/healthz", metrics=True) as s:
            seed += 10
            bot_runs(s, args, rows, seed)
    return seed


def run_pushes(args: argparse.Namespace, work: Path,
               pg_problem: str | None) -> dict[str, dict[str, object]]:
    """The --push-n notice on SQLite and PostgreSQL (each freshly migrated)."""
    from bot.migrate import upgrade

    pushes: dict[str, dict[str, object]] = {}
    targets = [("SQLite", f"sqlite+aiosqlite:///{work / 'push.db'}")]
    if not pg_problem:
        targets.append(("PostgreSQL", args.pg))
    for db, url in targets:
        if not wanted(args, f"push {db}"):
            continue
        if url == args.pg and pg_reset(url):
            continue
        upgrade(url)
        print(f"  push {db}: {args.push_n:,} recipients …", flush=True)
        pushes[db] = push_run(url, args.push_n)
    return pushes


def main() -> int:
    args = parse_args()
    rows: list[Row] = []
    pushes: dict[str, dict[str, object]] = {}
    peer_checks: dict[str, str] = {}
    print(f"bench: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{args.duration:.0f} s per run, {args.conns} connections (closed loop), "
          f"{args.users:,} users, half the callbacks in AES mode", flush=True)
    pg_problem = "--no-pg" if args.no_pg else pg_reset(args.pg)
    if pg_problem:
        print(f"PostgreSQL skipped: {pg_problem}")

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        members = work / "members.csv"
        members_csv(members, args.users)
        seed = run_baselines(args, work, rows, 100)
        seed = run_peers(args, work, pg_problem, rows, seed, peer_checks)
        run_bots(args, work, members, pg_problem, rows, seed)
        if args.push_n:
            pushes = run_pushes(args, work, pg_problem)
    counts = statements_run(args, pg_problem) if wanted(args, "statements") else None
    report(rows, pushes, args, peer_checks)
    statements_table(counts)
    if wanted(args, "language"):
        language_report(language_run(), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
