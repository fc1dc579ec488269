"""push_bench's output: one scenario's details, the results table, and the cProfile
summaries (time by library and the top functions)."""

from __future__ import annotations

import cProfile
import pstats
from collections import Counter
from pathlib import Path
from typing import Any

from bench.push_instrument import ThreadProfiles
from bench.push_scenario import Result

ROOT = Path(__file__).resolve().parent.parent

BUCKETS = (
    ("epoll wait (idle: sandbox / DB thread)", ("select.epoll", "selectors.py")),
    ("idle, waiting for work (DB thread)", ("'get' of '_queue.SimpleQueue'",)),
    # aiosqlite calls sqlite3 through functools.partial, which cProfile does not see as a
    # call: SQLite's own execution time is this loop's own time.
    ("aiosqlite worker loop incl. sqlite3 C", ("_connection_worker_thread", "sqlite3.")),
    ("aiosqlite glue", ("aiosqlite", "_queue.SimpleQueue")),
    ("SQLAlchemy (greenlet bridge)", ("greenlet",)),
    ("asyncpg", ("asyncpg",)),
    ("SQLAlchemy ORM", ("sqlalchemy/orm",)),
    ("SQLAlchemy core/engine/sql", ("sqlalchemy",)),
    ("sqlmodel", ("sqlmodel",)),
    ("aiohttp/yarl/multidict", ("aiohttp", "yarl", "multidict")),
    ("json", ("json",)),
    ("socket syscalls", ("_socket.socket",)),
    ("asyncio (loop, tasks, futures)", ("asyncio", "_asyncio")),
    ("bot/models code", ("/bot/", "/models/")),
)


def bucket_of(key: tuple[str, int, str]) -> str:
    filename, _, func = key
    where = f"{filename} {func}"
    for name, needles in BUCKETS:
        if any(needle in where for needle in needles):
            return name
    return "other" if filename != "~" else "other builtins"


def profile_report(title: str, stats: pstats.Stats, top: int = 18) -> list[str]:
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    by_bucket: Counter[str] = Counter()
    for key, value in raw.items():
        by_bucket[bucket_of(key)] += value[2]
    lines = [f"{title}: {total:.2f} s profiled (tottime)"]
    lines += [f"  {share:6.2f} s {100 * share / total:5.1f}%  {name}"
              for name, share in by_bucket.most_common()]
    lines.append(f"  top {top} functions by own time:")
    ranked = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in ranked:
        short = filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        lines.append(f"  {tt:6.2f} s own {ct:6.2f} s cum {nc:8d}×  {short}:{line} {func}")
    interesting = ("_claim", "_record", "_send", "drain", "run_once", "claim",
                   "members_by_openid", "close_abandoned", "has_due", "get", "call", "_raw",
                   "send_template", "create", "expand", "enqueue", "flush", "commit")
    mine = [(k, v) for k, v in raw.items()
            if ("/bot/" in k[0] or "/models/" in k[0]) and k[2].strip("<>") in interesting]
    if mine:
        lines.append("  bot/models functions, cumulative:")
    for (filename, line, func), (_cc, nc, _tt, ct, _c) in sorted(
            mine, key=lambda kv: kv[1][3], reverse=True)[:14]:
        short = filename.replace(str(ROOT) + "/", "")
        lines.append(f"  {ct:6.2f} s cum {nc:8d}×  {short}:{line} {func}")
    orm = [(k, v) for k, v in raw.items() if k[0].endswith("sqlalchemy/orm/session.py")
           and k[2] in ("_get_impl", "_autoflush", "flush", "commit", "execute")]
    if orm:
        lines.append("  SQLAlchemy session entry points, cumulative (get = SELECT + autoflush):")
    for (filename, line, func), (_cc, nc, _tt, ct, _c) in sorted(
            orm, key=lambda kv: kv[1][3], reverse=True):
        short = filename.split("site-packages/")[-1]
        lines.append(f"  {ct:6.2f} s cum {nc:8d}×  {short}:{line} {func}")
    return lines


# --- the run ------------------------------------------------------------------------------


def fmt(x: float, digits: int = 0) -> str:
    return "-" if x != x else f"{x:,.{digits}f}"  # NaN: not measured


def print_table(results: list[Result]) -> None:
    head = ["database", "scenario", "N", "seconds", "sends/s", "CPU ms/push",
            "sandbox CPU ms/push", "baseline sends/s", "ratio", "exactly-once"]
    rows = [[r.database, r.scenario, str(r.n), fmt(r.seconds, 2), fmt(r.sends_per_s),
             fmt(r.cpu_ms, 3), fmt(r.sandbox_cpu_ms, 3), fmt(r.base_per_s),
             fmt(r.sends_per_s / r.base_per_s, 2), r.check] for r in results]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    line = "  ".join("-" * w for w in widths)
    print("\n" + "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print(line)
    for r in rows:
        print("  ".join(c.rjust(w) if 2 <= i <= 8 else c.ljust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    print("ratio = outbox sends/s ÷ raw send_template sends/s at the same concurrency "
          "(1.0 = no outbox overhead)")


def print_result(res: Result) -> None:
    """One scenario's details and its summary line, as it finishes."""
    for line in res.details:
        print(f"    {line}")
    print(f"    → {fmt(res.seconds, 2)} s, {fmt(res.sends_per_s)} sends/s, "
          f"{fmt(res.cpu_ms, 3)} CPU ms/push, baseline {fmt(res.base_per_s)}/s, "
          f"{res.check}", flush=True)


def print_profiles(profiles: list[tuple[str, cProfile.Profile, ThreadProfiles | None]],
                   profile_dir: Path | None) -> None:
    """Each database's cProfile'd clean run summarised; the .prof kept in `profile_dir`."""
    for db, prof, threads in profiles:
        print(f"\n=== cProfile, {db}, clean scenario (notice creation → drained; "
              "cProfile slows everything, read the shares) ===")
        main_stats = pstats.Stats(prof)
        for line in profile_report("event-loop thread", main_stats):
            print(line)
        if threads and threads.profiles:
            db_stats = pstats.Stats(threads.profiles[0])
            for extra in threads.profiles[1:]:
                db_stats.add(extra)
            for line in profile_report(f"aiosqlite threads ({len(threads.profiles)})",
                                       db_stats, top=8):
                print(line)
        if profile_dir:
            profile_dir.mkdir(parents=True, exist_ok=True)
            out = profile_dir / f"push_{db}.prof"
            main_stats.dump_stats(out)
            print(f"  saved {out} (snakeviz / python -m pstats)")
