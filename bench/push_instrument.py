"""push_bench's instrumentation: the outbox worker's claim / send / record steps timed
(wall and CPU) with the SQL statements each sends, and cProfile for aiosqlite's threads."""

from __future__ import annotations

import cProfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.push.worker import OutboxWorker


@dataclass
class Phases:
    """Wall and CPU time of the worker's claim / record steps and of whole passes, and the
    SQL statements each step sends (the worker is sequential, so attribution is exact)."""

    wall: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    cpu: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: Counter[str] = field(default_factory=Counter)
    claim_walls: list[float] = field(default_factory=list)
    send_latency_s: float = 0.0
    sends: int = 0
    first_idle: float | None = None  # perf_counter when a pass first found nothing due
    current: str = "setup"  # whose SQL statements are counted
    statements: Counter[str] = field(default_factory=Counter)
    executemany: Counter[str] = field(default_factory=Counter)
    _worker: Any = None

    def count_sql(self, engine: AsyncEngine) -> None:
        def on_execute(_conn: Any, _cursor: Any, _stmt: str, _params: Any, _ctx: Any,
                       many: bool) -> None:
            self.statements[self.current] += 1
            self.executemany[self.current] += many

        event.listen(engine.sync_engine, "before_cursor_execute", on_execute)

    def wrap(self, worker: OutboxWorker) -> None:
        self._worker = worker
        for name in ("_claim", "_record", "run_once"):
            setattr(worker, name, self._timed(name.strip("_"), getattr(worker, name)))
        send = worker._send

        async def timed_send(push: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await send(push)
            finally:
                self.send_latency_s += time.perf_counter() - t0
                self.sends += 1

        worker._send = timed_send  # type: ignore[method-assign]

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            if name == "run_once" and self._worker._paused_until > time.monotonic():
                name_ = "paused"  # run_once only sleeps (quota pause)
            else:
                name_ = name
            w0, c0 = time.perf_counter(), time.process_time()
            result = None
            if name_ in ("claim", "record"):
                self.current = name_
            try:
                result = await fn(*args, **kwargs)
                return result
            finally:
                if name_ in ("claim", "record"):
                    self.current = "drain"
                w = time.perf_counter() - w0
                self.wall[name_] += w
                self.cpu[name_] += time.process_time() - c0
                self.calls[name_] += 1
                if name_ == "claim":
                    self.claim_walls.append(w)
                if name_ == "run_once" and result == 0 and self.first_idle is None:
                    self.first_idle = time.perf_counter()

        return timed

    def summary(self, n: int) -> list[str]:
        busy = self.calls["run_once"] and self.wall["run_once"]
        send_wall = self.wall["run_once"] - self.wall["claim"] - self.wall["record"]
        send_cpu = self.cpu["run_once"] - self.cpu["claim"] - self.cpu["record"]
        lines = []
        for name, w, c, k in (("claim", self.wall["claim"], self.cpu["claim"],
                               self.calls["claim"]),
                              ("send (rest)", send_wall, send_cpu, self.calls["run_once"]),
                              ("record", self.wall["record"], self.cpu["record"],
                               self.calls["record"])):
            share = 100 * w / busy if busy else 0
            lines.append(f"{name:>14}: wall {w:6.2f} s ({share:4.1f}% of passes), "
                         f"CPU {c:6.2f} s = {1000 * c / n:.3f} ms/push, {k} calls")
        cw = self.claim_walls
        if len(cw) >= 20:
            first, last = sum(cw[:10]) / 10, sum(cw[-10:]) / 10
            lines.append(f"{'':>14}  claim wall: first 10 avg {1000 * first:.1f} ms, "
                         f"last 10 avg {1000 * last:.1f} ms")
        if self.sends:
            mean_ms = 1000 * self.send_latency_s / self.sends
            if self.calls["paused"]:
                lines.append(f"{'':>14}  paused (quota): {self.wall['paused']:.1f} s in "
                             f"{self.calls['paused']} passes")
            lines.append(f"{'':>14}  mean send latency {mean_ms:.2f} ms over {self.sends} sends")
        sql = ", ".join(
            f"{k} {v}" + (f" ({v / self.calls[k]:.0f}/call)" if self.calls[k] else "")
            + (f" of which {self.executemany[k]} executemany" if self.executemany[k] else "")
            for k, v in self.statements.items() if k != "setup")
        lines.append(f"{'':>14}  SQL statements: {sql}")
        return lines


class ThreadProfiles:
    """cProfile for threads started while installed (aiosqlite runs each connection in one)."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []

    def _hook(self, *_: Any) -> None:
        prof = cProfile.Profile()
        self.profiles.append(prof)
        prof.enable()  # replaces this hook, for this thread

    def install(self) -> None:
        threading.setprofile(self._hook)

    def remove(self) -> None:
        threading.setprofile(None)  # type: ignore[arg-type]
