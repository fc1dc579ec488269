"""Push throughput: a notice to N members through the outbox, against the sandbox.

    .venv/bin/python bench/push_bench.py [--n 10000] [--pg URL] [--no-pg | --no-sqlite]
                                         [--profile]

Per database (SQLite in a temp file; PostgreSQL at --pg, skipped with the reason when
unreachable) and per scenario, on a fresh database and a fresh sandbox process:

1. a baseline: N raw WechatApi.send_template calls, same concurrency, no database;
2. N registered members (core insert), a notice to "all" (templates: nobody wrote
   recently), an OutboxWorker with rate_per_s=0 draining the notice. Timed from the
   notice's creation to drained; CPU is this process's (time.process_time, every
   thread, so aiosqlite's too), never the sandbox's (read from /proc separately);
3. the sandbox's deliveries checked: every recipient exactly once.

Scenarios: clean; 5% transient "system busy" (errcode -1); optionally a short probe
with 5% quota errors (45011), which pauses the worker ~60 s per error by design, so
it is capped in time and reports how far it got (see README.md).

--profile adds one cProfile run of the clean scenario per database (main thread and
aiosqlite's threads) and prints where the worker's time goes.
"""

# The parts: push_sandbox.py (the sandbox process and its control API), push_db.py
# (databases and members), push_instrument.py (the worker's steps timed, SQL counted,
# thread profiles), push_scenario.py (the baseline and one scenario), push_report.py (the
# table and the profile summaries); this file is the command line and the loop over them.

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: `bench` is not an installed package

from bench.push_db import DEFAULT_PG, pg_fresh, pg_problem  # noqa: E402
from bench.push_instrument import ThreadProfiles  # noqa: E402
from bench.push_report import print_profiles, print_result, print_table  # noqa: E402
from bench.push_sandbox import sandbox_process  # noqa: E402
from bench.push_scenario import Result, Scenario, run_scenario  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.settings import PushSettings, Settings, load_settings  # noqa: E402

log = logging.getLogger("push_bench")

Profiled = tuple[str, cProfile.Profile, ThreadProfiles | None]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=10_000, help="members / pushes (default 10000)")
    p.add_argument("--pg", default=DEFAULT_PG, help=f"PostgreSQL URL (default {DEFAULT_PG})")
    p.add_argument("--no-pg", action="store_true", help="SQLite only")
    p.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    p.add_argument("--concurrency", type=int, help="push.concurrency (default: config)")
    p.add_argument("--batch-size", type=int, help="push.batch_size (default: config)")
    p.add_argument("--max-attempts", type=int, default=20,
                   help="push.max_attempts (default 20)")
    p.add_argument("--quota-probe-s", type=float, default=15.0,
                   help="cap of the 45011 probe per database (0: skip; default 15)")
    p.add_argument("--profile", action="store_true",
                   help="also one cProfile'd clean run per database, summarised")
    p.add_argument("--profile-dir", type=Path, help="keep the .prof files here")
    return p.parse_args()


def push_settings(args: argparse.Namespace, settings: Settings) -> PushSettings:
    """config.yaml's push settings, overridden from the command line, never rate-limited."""
    return PushSettings(
        rate_per_s=0,
        concurrency=args.concurrency or settings.push.concurrency,
        batch_size=args.batch_size or settings.push.batch_size,
        max_attempts=args.max_attempts,
    )


def scenarios_for(args: argparse.Namespace) -> list[Scenario]:
    scenarios = [
        Scenario("clean"),
        Scenario("5% errcode -1", {"errcode": -1, "rate": 0.05}),
    ]
    if args.quota_probe_s > 0:
        scenarios.append(Scenario(f"5% 45011 (≤{args.quota_probe_s:.0f}s)",
                                  {"errcode": 45011, "rate": 0.05}, args.quota_probe_s))
    return scenarios


def databases(args: argparse.Namespace, workdir: Path) -> list[tuple[str, Callable[[int], str]]]:
    """(name, make a fresh database for run k and return its URL): SQLite copies of one
    migrated template; PostgreSQL's schema reset, unless skipped (the reason printed)."""
    template = workdir / "template.db"
    upgrade(f"sqlite+aiosqlite:///{template}")

    def sqlite_db(k: int) -> str:
        path = workdir / f"bench-{k}.db"
        shutil.copy(template, path)
        return f"sqlite+aiosqlite:///{path}"

    def pg_db(_k: int) -> str:
        pg_fresh(args.pg)
        return args.pg

    found: list[tuple[str, Callable[[int], str]]] = (
        [] if args.no_sqlite else [("sqlite", sqlite_db)])
    if args.no_pg:
        print("PostgreSQL skipped: --no-pg")
    elif problem := pg_problem(args.pg):
        print(f"PostgreSQL skipped: {problem}")
    else:
        found.append(("postgresql", pg_db))
    return found


def run_one(db: str, url: str, workdir: Path, settings: Settings, push: PushSettings, n: int,
            scenario: Scenario, k: int, profiled: bool) -> tuple[Result, Profiled | None]:
    """One scenario on a fresh sandbox process; a failure is a result, not the end."""
    prof = cProfile.Profile() if profiled else None
    threads = ThreadProfiles() if profiled else None
    try:
        with sandbox_process(workdir) as sb:
            res = asyncio.run(run_scenario(db, url, sb, settings, push, n,
                                           scenario, f"{k:02d}", prof, threads))
    except Exception as exc:
        log.exception("scenario failed")
        res = Result(db, scenario.name, n, check=f"ERROR {type(exc).__name__}")
    return res, ((db, prof, threads) if prof is not None else None)


def main() -> int:
    args = parse_args()
    # A plain SIGTERM would skip the finally blocks that stop the sandbox process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.WARNING, format="    %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bot.push.worker").setLevel(logging.ERROR)  # quota warnings, one per error

    settings = load_settings()
    push = push_settings(args, settings)
    scenarios = scenarios_for(args)
    print(f"push bench: N={args.n}, concurrency={push.concurrency}, "
          f"batch_size={push.batch_size}, max_attempts={push.max_attempts}, rate_per_s=0, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")

    results: list[Result] = []
    profiles: list[Profiled] = []
    with tempfile.TemporaryDirectory(prefix="push_bench-") as tmp:
        workdir = Path(tmp)
        k = 0
        for db, make_db in databases(args, workdir):
            runs = [(s, False) for s in scenarios]
            if args.profile:
                runs.append((Scenario("clean (cProfile)"), True))
            for scenario, profiled in runs:
                k += 1
                url = make_db(k)
                print(f"\n[{db}] {scenario.name} …", flush=True)
                res, profile = run_one(db, url, workdir, settings, push, args.n, scenario, k,
                                       profiled)
                print_result(res)
                if profile is not None:
                    profiles.append(profile)
                else:
                    results.append(res)

    print_profiles(profiles, args.profile_dir)
    print_table(results)
    return 0 if all(r.check.startswith(("ok", "≤1 ok")) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
