"""小哥党校 reminders: scheduler start-up with every job persisted, and how late reminders
reach the outbox when 1,000 fall due within one minute.

    .venv/bin/python bench/school_bench.py [--courses 1000] [--per-course 10] [--starts 7]
                                           [--window 60] [--no-sqlite]
                                           [--db postgresql+asyncpg://postgres@127.0.0.1:5432/bench]

SQLite (a temp file) always; the database at --db as well when given (its schema `public`
is dropped and recreated). Per database, on a freshly migrated database with N courses and
N × per-course registered members, each enrolled in one course, the real clock, the real
Scheduler (APScheduler, jobs in the same database) and the event loop running here:

1. start-up: cold starts (new Scheduler(settings).start()) with no reminder jobs stored,
   then the courses planned (2 jobs each at offsets 24h, 1h), then cold starts with all
   of them stored. Each start is timed to start() returning and to its first job (the
   planning job, due at once) having run; the median of --starts is shown;
2. lateness: every course moved so that its 1 h reminder falls due within one minute
   (--window; 0 puts them all at one instant), the window opening after the re-plan is
   done; the scheduler runs until each course's enrollees have their outbox rows. A
   reminder's lateness is its first row's created_at minus its due time (start − 1 h).

The start-up figures stand beside the same start with no reminder job stored (same run,
same data); the lateness beside the time to the job's return (its rows committed), taken
from APScheduler's job-executed event. Nothing in the bot is patched: the bench only adds a
listener to the Scheduler's APScheduler instance.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import jobs  # noqa: E402
from bot.app import Services  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.db import make_engine  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.scheduler import JOBS_TABLE, PLAN_JOB, Scheduler  # noqa: E402
from bot.settings import Settings, load_settings  # noqa: E402
from models.course import Course, Enrolment  # noqa: E402
from models.member import Member  # noqa: E402
from models.outbox import Push  # noqa: E402

OFFSETS = [timedelta(hours=24), timedelta(hours=1)]  # config.yaml's school.reminder_offsets
REMIND_S = 3600  # the reminder the lateness run measures (its due times: --window)

log = logging.getLogger("school_bench")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else math.nan


# --- the database ---------------------------------------------------------------------------


async def fresh(url: str) -> None:
    if url.startswith("postgresql"):
        parsed = make_url(url)
        engine = create_async_engine(parsed.set(database="postgres"),
                                     isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            exists = (await conn.execute(text("SELECT 1 FROM pg_database WHERE datname=:n"),
                                         {"n": parsed.database})).first()
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        await engine.dispose()
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await asyncio.to_thread(upgrade, url)


async def seed(engine: AsyncEngine, n_courses: int, per_course: int, now: datetime) -> None:
    """Members, published courses 3+ days ahead (marked planned, so the store starts empty)
    and per_course enrolments each, by core executemany."""
    members = [{"openid": f"school-{i:06d}", "name": f"学员{i}", "mobile": "13800000000",
                "industry": "外卖送餐", "platform": "美团", "party_status": "中共党员",
                "consent_at": now, "registered_at": now, "created_at": now, "followed": True,
                "points": 0, "kefu_used": 0, "kefu_used_event": 0}
               for i in range(n_courses * per_course)]
    start0 = now + timedelta(days=3)
    course_rows = [{"id": i + 1, "code": f"B{i:05d}", "title": f"党课第{i}讲",
                    "instructor": "王老师", "description": "", "place": "武进驿站",
                    "lat": 31.70, "lng": 119.95, "radius_m": 200, "online_url": None,
                    "capacity": per_course, "hours": 1.0, "audience": "all",
                    "status": "published", "start_at": start0 + timedelta(minutes=i),
                    "end_at": start0 + timedelta(minutes=i + 60), "timed_at": now,
                    "revision": 1, "planned_revision": 1, "created_by": "bench",
                    "created_at": now} for i in range(n_courses)]
    async with engine.begin() as conn:
        for lo in range(0, len(members), 5000):
            await conn.execute(insert(Member), members[lo:lo + 5000])
        ids = (await conn.execute(select(Member.id).order_by(Member.id))).scalars().all()
        await conn.execute(insert(Course), course_rows)
        enrol = [{"course_id": i // per_course + 1, "member_id": mid, "status": "enrolled",
                  "queued_at": now, "enrolled_at": now, "method": "", "hours": 0.0}
                 for i, mid in enumerate(ids)]
        for lo in range(0, len(enrol), 5000):
            await conn.execute(insert(Enrolment), enrol[lo:lo + 5000])
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT setval(pg_get_serial_sequence('course', 'id'), "
                                    "(SELECT max(id) FROM course))"))
            await conn.execute(text("ANALYZE"))


async def stored_jobs(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text(f"SELECT count(*) FROM {JOBS_TABLE}"))).scalar_one()


# --- the scheduler, watched -----------------------------------------------------------------


@dataclass
class Watch:
    """Listens to a Scheduler's APScheduler events (in the scheduler's threads)."""

    t0: float = 0.0
    first_job_done: float | None = None
    first_job_seen: threading.Event = field(default_factory=threading.Event)
    done: dict[str, float] = field(default_factory=dict)  # reminder job id → due to done, s
    errors: list[str] = field(default_factory=list)

    def attach(self, sched: Scheduler) -> None:
        # The bench reaches into the wrapper for the APScheduler instance: listeners only.
        sched._scheduler.add_listener(self._on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def _on_event(self, ev: Any) -> None:
        # Dispatched in the worker thread as the job returns: its rows are committed.
        if ev.job_id.startswith("course:"):
            self.done[ev.job_id] = (datetime.now(UTC) - ev.scheduled_run_time).total_seconds()
        if ev.code == EVENT_JOB_ERROR:
            self.errors.append(f"{ev.job_id}: {ev.exception!r}")
        if ev.job_id == PLAN_JOB and self.first_job_done is None:
            self.first_job_done = time.perf_counter() - self.t0
            self.first_job_seen.set()


@dataclass
class Start:
    start_ms: float
    ready_ms: float  # start() called → its first job (the planning job) has run
    sched: Scheduler
    watch: Watch


async def cold_start(settings: Settings) -> Start:
    """A new Scheduler on the stored jobs, as a restarted process makes one."""
    watch = Watch(t0=time.perf_counter())
    sched = Scheduler(settings)  # its job store's engine: counted in start-up
    watch.attach(sched)
    await asyncio.to_thread(sched.start)
    start_ms = (time.perf_counter() - watch.t0) * 1000
    if not await asyncio.to_thread(watch.first_job_seen.wait, 600):
        raise RuntimeError("the scheduler's planning job did not run within 600 s")
    return Start(start_ms, (watch.first_job_done or math.nan) * 1000, sched, watch)


async def stop(sched: Scheduler) -> None:
    await asyncio.to_thread(sched.shutdown)


async def start_ups(settings: Settings, k: int) -> tuple[list[float], list[float], float]:
    """k cold starts; (start() ms, ready ms, last one's load-every-job ms)."""
    starts, readies = [], []
    load_ms = math.nan
    for _ in range(k):
        s = await cold_start(settings)
        starts.append(s.start_ms)
        readies.append(s.ready_ms)
        t0 = time.perf_counter()
        await asyncio.to_thread(s.sched.next_runs, "course:")
        load_ms = (time.perf_counter() - t0) * 1000
        await stop(s.sched)
    return starts, readies, load_ms


# --- one database ---------------------------------------------------------------------------


@dataclass
class Figures:
    rows: dict[str, str] = field(default_factory=dict)
    ok: bool = True

    def add(self, name: str, value: str) -> None:
        self.rows[name] = value
        print(f"    {name}: {value}", flush=True)


def ms(v: float) -> str:
    return "—" if math.isnan(v) else f"{v:,.0f} ms" if v >= 100 else f"{v:.1f} ms"


async def run_db(label: str, url: str, args: argparse.Namespace) -> Figures:
    out = Figures()
    n, per = args.courses, args.per_course
    print(f"\n[{label}] fresh database, {n:,} courses × {per} enrolments …", flush=True)
    await fresh(url)
    settings = load_settings(ROOT / "config.yaml", database={"url": url},
                             school={"reminder_offsets": OFFSETS})
    engine = make_engine(url)
    services = Services(settings, engine, SystemClock())  # no HTTP: worker None, rows stay
    jobs.bind_runtime(asyncio.get_running_loop(), services)
    try:
        t0 = time.perf_counter()
        await seed(engine, n, per, services.clock.now())
        print(f"    seeded in {time.perf_counter() - t0:.1f} s", flush=True)

        # 1. start-up: empty store, plan, every job stored
        await stop((await cold_start(settings)).sched)  # creates the job table; unmeasured
        empty_start, empty_ready, _ = await start_ups(settings, args.starts)
        empty_jobs = await stored_jobs(engine)
        async with engine.begin() as conn:
            await conn.execute(update(Course).values(planned_revision=-1))
        s = await cold_start(settings)
        t0 = time.perf_counter()
        planned = await asyncio.to_thread(s.sched.plan_courses)  # waits for the job's pass
        plan_s = time.perf_counter() - t0 + s.ready_ms / 1000
        await stop(s.sched)
        full_jobs = await stored_jobs(engine)
        full_start, full_ready, load_ms = await start_ups(settings, args.starts)
        out.add("plan all courses (jobs written)",
                f"{plan_s:.1f} s ({full_jobs - empty_jobs:,} jobs, "
                f"{(full_jobs - empty_jobs) / plan_s:,.0f}/s)")
        if full_jobs - empty_jobs != len(OFFSETS) * n:
            out.ok = False
            print(f"    ! expected {len(OFFSETS) * n} reminder jobs; planned={planned}")
        med = statistics.median
        out.add(f"start(), {empty_jobs} jobs stored", ms(med(empty_start)))
        out.add(f"start(), {full_jobs:,} jobs stored", ms(med(full_start)))
        out.add("  ratio (start())", f"{med(full_start) / med(empty_start):.2f}×")
        out.add(f"first job run, {empty_jobs} jobs stored", ms(med(empty_ready)))
        out.add(f"first job run, {full_jobs:,} jobs stored", ms(med(full_ready)))
        out.add("  ratio (first job run)", f"{med(full_ready) / med(empty_ready):.2f}×")
        out.add(f"load every job (get_jobs), {full_jobs:,}", ms(load_ms))

        # 2. lateness: every course moved so its 1 h reminder falls due within a minute
        lead_s = max(args.lead, math.ceil(1.5 * plan_s) + 10)
        now = services.clock.now()
        window = now + timedelta(seconds=lead_s)
        step = timedelta(seconds=args.window / n)
        due = {i + 1: window + i * step for i in range(n)}
        async with engine.begin() as conn:
            await conn.execute(
                update(Course).where(Course.id == bindparam("cid")).values(
                    start_at=bindparam("s"), end_at=bindparam("e"), timed_at=now,
                    revision=Course.revision + 1),
                [{"cid": cid, "s": at + timedelta(seconds=REMIND_S),
                  "e": at + timedelta(seconds=REMIND_S + 3600)} for cid, at in due.items()])
        print(f"    moved {n:,} courses: 1 h reminders due from +{lead_s} s over "
              f"{args.window:g} s; re-planning …", flush=True)
        s = await cold_start(settings)
        t0 = time.perf_counter()
        await asyncio.to_thread(s.sched.plan_courses)
        replan_s = time.perf_counter() - t0 + s.ready_ms / 1000
        runs = await asyncio.to_thread(s.sched.next_runs, "course:")
        margin = (window - services.clock.now()).total_seconds()
        want = {f"course:{cid}:remind:{REMIND_S}" for cid in due}
        opened = f"{margin:.1f} s later" if margin > 0 else "BEFORE it was done"
        out.add("re-plan moved courses", f"{replan_s:.1f} s, window opened {opened}")
        if set(runs) != want:
            out.ok = False
            print(f"    ! jobs after re-plan: {len(runs)} (want exactly the {n} 1 h ones)")
        expected = n * per
        deadline = window + timedelta(seconds=args.window + args.timeout)
        subjects = Push.subject.like(f"course:%:remind{REMIND_S}:%")  # type: ignore[attr-defined]
        rows = 0
        while services.clock.now() < deadline:
            await asyncio.sleep(1.0)
            async with engine.connect() as conn:
                rows = (await conn.execute(select(func.count()).select_from(Push)
                                           .where(subjects))).scalar_one()
            if rows >= expected and not await asyncio.to_thread(s.sched.next_runs, "course:"):
                break
        await asyncio.sleep(0.5)  # a straggler's commit
        await stop(s.sched)
        async with engine.connect() as conn:
            found = (await conn.execute(
                select(Push.subject, func.min(Push.created_at), func.count(),
                       func.count(func.distinct(Push.openid)))
                .where(subjects).group_by(Push.subject))).all()
            starts = dict((await conn.execute(select(Course.id, Course.start_at))).all())
        late: list[float] = []
        dup = wrong = 0
        for subject, first, count, distinct in found:
            cid = int(subject.split(":")[1])
            first = first if first.tzinfo else first.replace(tzinfo=UTC)
            start = starts[cid] if starts[cid].tzinfo else starts[cid].replace(tzinfo=UTC)
            late.append((first - (start - timedelta(seconds=REMIND_S))).total_seconds() * 1000)
            dup += count - distinct
            wrong += count != per
        total = sum(c for _, _, c, _ in found)
        done = [v * 1000 for v in s.watch.done.values()]
        out.add("reminders delivered / missing", f"{len(found):,} / {n - len(found):,}")
        out.add("outbox rows (expected)", f"{total:,} ({expected:,})"
                + (f", {wrong} courses ≠ {per}" if wrong else ""))
        out.add("duplicate (subject, openid)", f"{dup}")
        out.add("lateness p50", ms(pct(late, 0.5)))
        out.add("lateness p99", ms(pct(late, 0.99)))
        out.add("lateness max", ms(max(late, default=math.nan)))
        out.add("due → job done (rows committed) p50", ms(pct(done, 0.5)))
        out.add("due → job done (rows committed) p99", ms(pct(done, 0.99)))
        if s.watch.errors:
            print(f"    ! {len(s.watch.errors)} job errors, first: {s.watch.errors[0]}")
        out.ok = out.ok and not s.watch.errors and total == expected and not dup \
            and len(found) == n
        print(f"    ({rows:,} rows seen at the last poll)", flush=True)
    finally:
        await engine.dispose()
    return out


def print_table(n: int, per: int, k: int, window: float, results: dict[str, Figures]
                ) -> None:
    names = list(next(iter(results.values())).rows)
    width = max(len(x) for x in names) + 2
    cols = list(results)
    cw = max(24, *(max(len(v) for v in f.rows.values()) + 2 for f in results.values()))
    print(f"\n小哥党校 reminders: {n:,} courses, {n * per:,} enrolments, offsets 24h+1h; "
          f"start-ups are the median of {k}; lateness = first outbox row's created_at − due "
          f"time, {n:,} reminders due within {window:g} s\n")
    print(f"{'figure':<{width}}" + "".join(f"{c:>{cw}}" for c in cols))
    print("-" * (width + cw * len(cols)))
    for name in names:
        print(f"{name:<{width}}" + "".join(f"{results[c].rows.get(name, '—'):>{cw}}"
                                           for c in cols))
    print("\n" + "  ".join(f"{c}: {'ok' if f.ok else 'CHECK FAILED'}"
                           for c, f in results.items()))


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--courses", type=int, default=1_000)
    ap.add_argument("--per-course", type=int, default=10, help="enrolments per course")
    ap.add_argument("--starts", type=int, default=7, help="cold starts per case (median)")
    ap.add_argument("--lead", type=int, default=20,
                    help="seconds from moving the courses to the first due reminder (at "
                         "least 1.5 × the planning time + 10)")
    ap.add_argument("--window", type=float, default=60.0,
                    help="the reminders fall due evenly within this many seconds (0: all at "
                         "one instant)")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds to wait after the window for missing rows")
    ap.add_argument("--db", help="also this PostgreSQL database (schema public is dropped)")
    ap.add_argument("--no-sqlite", action="store_true", help="only the --db database")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="    %(levelname)s %(name)s: %(message)s")

    runs: list[tuple[str, Callable[[str], str]]] = []
    if not args.no_sqlite:
        runs.append(("SQLite", lambda tmp: f"sqlite+aiosqlite:///{tmp}/school_bench.db"))
    if args.db:
        name = "PostgreSQL" if args.db.startswith("postgresql") else make_url(
            args.db).get_backend_name()
        runs.append((name, lambda _tmp: args.db))
    results: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory(prefix="school_bench-") as tmp:
        for label, url_of in runs:
            try:
                results[label] = await run_db(label, url_of(tmp), args)
            except Exception as exc:
                log.exception("%s failed", label)
                print(f"{label} skipped: {type(exc).__name__}: {exc}")
    if not results:
        return 1
    print_table(args.courses, args.per_course, args.starts, args.window, results)
    return 0 if all(f.ok for f in results.values()) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
