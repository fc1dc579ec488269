"""小哥党校 reminders through due rows (models/due.py): how fast courses are re-planned, and
how late their reminders reach the outbox.

Setup: a fresh database (SQLite file, and PostgreSQL with --db), N published courses with
`per_course` enrolments each. Then:

1. planning: every course moved (models.course_lifecycle.move, one transaction each, as the API and
   the console do) so that its 1 h reminder falls due within --window seconds, starting
   --lead seconds later; each move re-plans the course's due rows in its transaction.
2. lateness: --workers outbox workers (bot.push.worker.OutboxWorker with the features'
   expanders, polling as run_forever does; the sending half is not run) expand the rows
   as they fall due. A reminder's lateness is its first outbox row's created_at minus its
   due time (start − 1 h); every enrollee must have exactly one row.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import handlers  # noqa: E402
from bot import texts as T  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.db import make_engine, session_factory  # noqa: E402
from bot.features import Platform  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.push.worker import IDLE_POLL_S, OutboxWorker  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from models import course_lifecycle as lifecycle  # noqa: E402
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
    """Members, published courses 3+ days ahead (no due rows: the moves plan them) and
    per_course enrolments each, by core executemany."""
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
                    "revision": 1, "created_by": "bench",
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
    clock = SystemClock()
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        t0 = time.perf_counter()
        await seed(engine, n, per, clock.now())
        print(f"    seeded in {time.perf_counter() - t0:.1f} s", flush=True)

        # 1. planning: every course moved so its 1 h reminder falls due within the window
        now = clock.now()
        window = now + timedelta(seconds=args.lead)
        step = timedelta(seconds=args.window / n)
        due_at = {i + 1: window + i * step for i in range(n)}
        t0 = time.perf_counter()
        for cid, at in due_at.items():
            async with sessions() as s, s.begin():
                c = await s.get(Course, cid)
                assert c is not None
                start = at + timedelta(seconds=REMIND_S)
                await lifecycle.move(s, c, start, start + timedelta(hours=1), clock.now(),
                                   T.COURSE_MOVED, offsets=OFFSETS)
        plan_s = time.perf_counter() - t0
        margin = (window - clock.now()).total_seconds()
        out.add("move + re-plan every course", f"{plan_s:.1f} s ({n / plan_s:,.0f}/s), "
                + (f"window opens {margin:.1f} s later" if margin > 0
                   else "window opened BEFORE it was done (raise --lead)"))

        # 2. lateness: the workers expand the rows as they fall due
        platform = Platform(settings, sessions, clock, None)  # type: ignore[arg-type]
        expanders = {kind: make(platform) for kind, make in handlers.install().due.items()}
        workers = [OutboxWorker(sessions, None, settings.push, {}, clock,  # type: ignore[arg-type]
                                expanders=expanders) for _ in range(args.workers)]
        moved_subjects = Push.subject.like("course:%:moved:%")  # type: ignore[attr-defined]
        subjects = Push.subject.like(f"course:%:remind{REMIND_S}:%")  # type: ignore[attr-defined]
        deadline = window + timedelta(seconds=args.window + args.timeout)
        expected = n * per
        errors: list[str] = []

        async def poll(w: OutboxWorker) -> None:
            while clock.now() < deadline:
                try:
                    taken = await w.expand_due()
                except Exception as exc:  # counted, then the bench goes on
                    errors.append(repr(exc))
                    taken = 0
                if not taken:
                    await asyncio.sleep(IDLE_POLL_S)
                async with engine.connect() as conn:
                    rows = (await conn.execute(select(func.count()).select_from(Push)
                                               .where(subjects))).scalar_one()
                if rows >= expected:
                    return

        await asyncio.gather(*(poll(w) for w in workers))
        async with engine.connect() as conn:
            found = (await conn.execute(
                select(Push.subject, func.min(Push.created_at), func.count(),
                       func.count(func.distinct(Push.openid)))
                .where(subjects).group_by(Push.subject))).all()
            told = (await conn.execute(select(func.count()).select_from(Push)
                                       .where(moved_subjects))).scalar_one()
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
        out.add("moves told (outbox rows)", f"{told:,}")
        out.add("reminders delivered / missing", f"{len(found):,} / {n - len(found):,}")
        out.add("outbox rows (expected)", f"{total:,} ({expected:,})"
                + (f", {wrong} courses ≠ {per}" if wrong else ""))
        out.add("duplicate (subject, openid)", f"{dup}")
        out.add("lateness p50", ms(pct(late, 0.5)))
        out.add("lateness p99", ms(pct(late, 0.99)))
        out.add("lateness max", ms(max(late, default=math.nan)))
        if errors:
            print(f"    ! {len(errors)} expansion errors, first: {errors[0]}")
        out.ok = not errors and total == expected and not dup and len(found) == n \
            and min(late, default=0) >= -1000  # never early (1 s of clock rounding)
    finally:
        await engine.dispose()
    return out


def print_table(n: int, per: int, k: int, window: float, results: dict[str, Figures]
                ) -> None:
    names = list(next(iter(results.values())).rows)
    width = max(len(x) for x in names) + 2
    cols = list(results)
    cw = max(24, *(max(len(v) for v in f.rows.values()) + 2 for f in results.values()))
    print(f"\n小哥党校 reminders (due rows): {n:,} courses, {n * per:,} enrolments, offsets "
          f"24h+1h, {k} worker(s); lateness = first outbox row's created_at − due time, "
          f"{n:,} reminders due within {window:g} s\n")
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
    ap.add_argument("--workers", type=int, default=2, help="outbox workers expanding rows")
    ap.add_argument("--lead", type=int, default=30,
                    help="seconds from the start of the moves to the first due reminder (more "
                         "than the moves take)")
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
    print_table(args.courses, args.per_course, args.workers, args.window, results)
    return 0 if all(f.ok for f in results.values()) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
