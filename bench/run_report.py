"""`make bench`'s printed result (bench/run.py measures, this prints): the table of runs, the
ratios of the bot to the same-work peers, the notice figures, the statement counts, and the
targets of issue 19, each marked met or not."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

PEER_F = "peer f WeRoBot+SQLAlchemy"
PEER_G = "peer g asyncpg"
BOT_PG = "xiaoge PostgreSQL"  # the one instance the targets are about
BOT_SQLITE = "xiaoge SQLite"


@dataclass
class Row:
    server: str
    scenario: str
    result: dict[str, object]
    rss_mb: float
    failed: float = 0.0
    instances: int = 1

    @property
    def errors(self) -> int:
        return int(self.result["errors"]) + int(self.failed)  # type: ignore[call-overload]


def fmt(x: object) -> str:
    if isinstance(x, float):
        return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"
    return str(x)


def rate_of(rows: list[Row], server: str, scenario: str) -> float | None:
    """req/s of a server's run of a scenario, None if it did not run."""
    for r in rows:
        if r.server == server and r.scenario == scenario:
            return float(r.result["req_s"])  # type: ignore[arg-type]
    return None


def target_line(ok: bool | None, text: str) -> None:
    mark = "n/a " if ok is None else ("MET " if ok else "NOT MET")
    print(f"  [{mark:<7}] {text}")


def _bots(rows: list[Row]) -> list[str]:
    names = [r.server for r in rows]
    return sorted({n for n in names if n.startswith("xiaoge")}, key=names.index)


def ratios(rows: list[Row]) -> None:
    """Each bot's req/s over each peer's, for 帮助 and the mix (closed loop, same run)."""
    bots = _bots(rows)
    if not bots or not any(rate_of(rows, p, "mix") for p in (PEER_F, PEER_G)):
        return
    print("\n| bot | 帮助 / f | 帮助 / g | mix / f | mix / g |\n|---|---:|---:|---:|---:|")
    for b in bots:
        cells = []
        for scenario in ("帮助", "mix"):
            mine = rate_of(rows, b, scenario)
            for peer in (PEER_F, PEER_G):
                theirs = rate_of(rows, peer, scenario)
                cells.append(f"{mine / theirs:.2f}" if mine and theirs else "–")
        print(f"| {b} | " + " | ".join(cells) + " |")


def _ratio_target(rows: list[Row], bot: str, scenario: str, peer: str, factor: float,
                  note: str = "") -> None:
    mine, theirs = rate_of(rows, bot, scenario), rate_of(rows, peer, scenario)
    label = f"{bot}: {scenario} ≥ {factor:g} × {peer}{note}"
    if mine is None or not theirs:
        target_line(None, f"{label} (not measured in this run)")
        return
    target_line(mine >= factor * theirs, f"{label}: {mine:,.0f} vs {theirs:,.0f} req/s "
                f"({mine / theirs:.2f}×)")


def steady_target(rows: list[Row], bot: str, rate: float) -> None:
    """p99 < 50 ms at a steady `rate` on the mix (open loop), one instance, no errors."""
    for r in rows:
        if r.server == bot and r.scenario == f"mix open {rate:.0f}/s":
            p99 = float(r.result["p99_ms"])  # type: ignore[arg-type]
            got = float(r.result["req_s"])  # type: ignore[arg-type]
            target_line(p99 < 50 and got >= 0.98 * rate and r.errors == 0,
                        f"{bot}: p99 {p99} ms < 50 ms at a steady {rate:.0f}/s on the mix "
                        f"(sustained {got:,.0f}/s, {r.errors} errors)")
            return
    target_line(None, f"{bot}: p99 < 50 ms at a steady {rate:.0f}/s (not measured)")


def targets(rows: list[Row], pushes: dict[str, dict[str, object]],
            args: argparse.Namespace) -> None:
    """Issue 19's targets: ratios on PostgreSQL (one instance), SQLite's mix against (f),
    the steady rate, errors and RSS of every bot, the notice on both databases."""
    print("\nTargets (issue 19; ratios in this run):")
    if not _bots(rows) and not pushes:
        print("  (no bot and no notice in this run)")
    if any(r.server == BOT_PG for r in rows):
        _ratio_target(rows, BOT_PG, "帮助", PEER_G, 0.8)
        _ratio_target(rows, BOT_PG, "mix", PEER_G, 0.6)
        _ratio_target(rows, BOT_PG, "帮助", PEER_F, 2)
        _ratio_target(rows, BOT_PG, "mix", PEER_F, 2)
        steady_target(rows, BOT_PG, args.rate)
    if any(r.server == BOT_SQLITE for r in rows):
        _ratio_target(rows, BOT_SQLITE, "mix", PEER_F, 1, " (f on PostgreSQL)")
    for b in _bots(rows):
        errors = sum(r.errors for r in rows if r.server == b)
        target_line(errors == 0, f"{b}: no errors ({errors})")
        rss = max(r.rss_mb for r in rows if r.server == b)
        per = next(r.instances for r in rows if r.server == b)
        target_line(rss / per < 200, f"{b}: peak RSS {rss / per:.0f} MB < 200 MB per instance")
    for db, p in pushes.items():
        s = float(p.get("sends_s", 0.0))  # type: ignore[arg-type]
        target_line(s >= 2000 and str(p.get("check", "")).startswith("ok"),
                    f"50,000-recipient notice on {db}: {s:,.0f} pushes/s ≥ 2,000, "
                    f"{p.get('check')}")


def statements_table(counts: dict[str, object] | None) -> None:
    """bench/statements.py's table, as it printed it (None: it failed or was not run)."""
    if counts is None:
        return
    print("\n" + str(counts.get("table", "")).rstrip())


def language_report(m: dict[str, float] | None, rows: list[Row]) -> None:
    """Beside the callback figures: intent matching's median per message (issue 16)."""
    if m is None:
        return
    from bench.language_bench import BUDGET_US, summary
    print(f"\n{summary(m)}")
    helps = [r for r in rows if r.server.startswith("xiaoge") and r.scenario == "帮助"]
    if helps:
        p50_ms = float(helps[0].result["p50_ms"])  # type: ignore[arg-type]
        print(f"  = {m['rank_p50_us'] / 1000 / p50_ms:.2f} of the bot's p50 callback for 帮助 "
              f"({helps[0].server}, {p50_ms} ms)")
    target_line(m["rank_p50_us"] < BUDGET_US,
                f"intent matching: median {m['rank_p50_us']:.0f} µs < 1 ms per message")


def report(rows: list[Row], pushes: dict[str, dict[str, object]],
           args: argparse.Namespace, peer_checks: dict[str, str] | None = None) -> None:
    print("\n| server | scenario | req/s | p50 ms | p99 ms | errors | peak RSS MB "
          "| loadgen CPU |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r.server} | {r.scenario} | {fmt(float(r.result['req_s']))} "  # type: ignore[arg-type]
              f"| {r.result['p50_ms']} | {r.result['p99_ms']} | {r.errors} "
              f"| {r.rss_mb:.0f} | {r.result['loadgen_cpu']} |")
    ratios(rows)
    if peer_checks:
        print()
    for peer, check in (peer_checks or {}).items():
        print(f"{peer}: WeChat's retries (one stored reply, one check-in, one point): {check}")
    for db, p in pushes.items():
        print(f"\n50,000-recipient notice, outbox → sandbox, {db}: "
              f"{fmt(p.get('sends_s', 0.0))} pushes/s ({p.get('check')}; raw API baseline "
              f"{fmt(p.get('base_s', 0.0))}/s)")
    targets(rows, pushes, args)
