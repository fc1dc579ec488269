"""SQL round trips per callback: the bot's real app, in this process, on a freshly migrated
database (a SQLite temp file, and PostgreSQL when reachable), sent signed /wechat callbacks
as WeChat sends them; every statement SQLAlchemy sends is counted with engine events.

    .venv/bin/python bench/statements.py [--pg URL | --no-pg] [--json] [--sql]

Scenarios (one member registered through the chat first, with the demo stations loaded):
帮助; the same 帮助 again, as WeChat retries it (the same signed request); a scan check-in
(SCAN `st:HT01`); a location check-in (a location message at another demo station, as
loadgen's "location" action sends it); a report step (the description after 上报).

Counted: `statements` = every cursor execution (before_cursor_execute on the engines'
sync engines) other than BEGIN; `BEGIN`/`COMMIT` = transactions begun and committed (with
asyncpg SQLAlchemy's BEGIN is implicit, sent with the first statement as its own round
trip; SQLite's is an explicit `BEGIN IMMEDIATE`); rollbacks are shown when there are any.
Round trips = statements + BEGIN + COMMIT (+ rollbacks). `--pg` names a database of its own:
it is dropped and recreated.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_statements"
SCENARIOS = ["帮助", "帮助 (retry)", "帮助 (safe mode)", "scan check-in", "location check-in",
             "report step"]
OPENID = "o-statements-1"


@dataclass
class Count:
    statements: int = 0
    begins: int = 0
    commits: int = 0
    rollbacks: int = 0
    reply: str = ""
    sql: list[str] = field(default_factory=list)

    @property
    def round_trips(self) -> int:
        return self.statements + self.begins + self.commits + self.rollbacks


class Counter:
    """Engine events of every engine the app uses, counted into `current` when set."""

    def __init__(self, engines: list[Any]) -> None:
        from sqlalchemy import event

        self.current: Count | None = None
        for engine in {id(e): e for e in engines}.values():
            sync = engine.sync_engine
            event.listen(sync, "before_cursor_execute", self._execute)
            event.listen(sync, "begin", self._begin)
            event.listen(sync, "commit", self._commit)
            event.listen(sync, "rollback", self._rollback)

    def _execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.current is None:
            return
        if statement.lstrip().upper().startswith("BEGIN"):
            return  # SQLite's BEGIN IMMEDIATE: counted by the begin event
        self.current.statements += 1
        self.current.sql.append(" ".join(statement.split())[:160])

    def _begin(self, conn: Any) -> None:
        if self.current is not None:
            self.current.begins += 1

    def _commit(self, conn: Any) -> None:
        if self.current is not None:
            self.current.commits += 1

    def _rollback(self, conn: Any) -> None:
        if self.current is not None:
            self.current.rollbacks += 1

    @contextmanager
    def counting(self) -> Iterator[Count]:
        self.current = Count()
        try:
            yield self.current
        finally:
            self.current = None


def _stations() -> list[dict[str, Any]]:
    demo = ROOT / "handlers" / "stations" / "demo_stations.yaml"
    return list(yaml.safe_load(demo.read_text(encoding="utf-8")))


async def measure(url: str, workdir: Path) -> dict[str, Count]:
    """Each scenario's statements against a migrated, empty database at `url`."""
    from aiohttp.test_utils import TestClient, TestServer

    import handlers
    from bot.app import CONSOLE_ENGINE, ENGINE, PIPELINE, create_app
    from bot.dev.demo import load_demo
    from bot.dev.peer import Mode, WechatPeer
    from bot.dev.sandbox import create_sandbox
    from bot.settings import load_settings

    base = load_settings(ROOT / "config.yaml")
    sandbox = TestServer(create_sandbox(base.wechat.app_id, base.wechat.app_secret))
    await sandbox.start_server()
    settings = load_settings(ROOT / "config.yaml", database={"url": url},
                             wechat={"api_base_url": str(sandbox.make_url("")).rstrip("/")},
                             reports={"photo_dir": str(workdir / "photos")})
    features = handlers.install()
    with redirect_stdout(io.StringIO()):  # its greeting with the demo bind codes
        await load_demo(settings, features.seeds)
    app = create_app(settings, features=features, background=False, scheduler=False,
                     sandbox=False)
    client = TestClient(TestServer(app))
    await client.start_server()
    w = settings.wechat
    peer = WechatPeer(w.token, w.app_id, w.encoding_aes_key)
    counter = Counter([app[ENGINE], app[CONSOLE_ENGINE]])

    async def post(params: dict[str, str], body: str, mode: Mode = "plain") -> str:
        resp = await client.post("/wechat", params=params, data=body.encode(),
                                 headers={"Content-Type": "text/xml"})
        text = await resp.text()
        if resp.status != 200:
            raise RuntimeError(f"/wechat answered {resp.status}: {text[:200]}")
        await app[PIPELINE].drain(grace_s=2)
        fields = peer.read_reply(text, mode)
        return str(fields.get("Content", fields.get("MsgType", ""))) if fields else text

    async def send(xml: str) -> str:
        req = peer.sign(xml)
        return await post(req.params, req.body)

    async def counted(name: str, xml: str, retry: str | None = None,
                      mode: Mode = "plain") -> None:
        req = peer.sign(xml, mode)
        with counter.counting() as count:
            count.reply = await post(req.params, req.body, mode)
        counts[name] = count
        if retry:  # WeChat retrying it: the same signed request again
            with counter.counting() as again:
                again.reply = await post(req.params, req.body)
            counts[retry] = again

    counts: dict[str, Count] = {}
    stations = _stations()
    try:
        for answer in ("注册", "张三", "13800138000", "2", "美团", "1", "同意"):
            await send(peer.text(OPENID, answer))
        await counted("帮助", peer.text(OPENID, "帮助"), retry="帮助 (retry)")
        # Safe mode (AES): the msg_signature covers the body, no signature is noted.
        await counted("帮助 (safe mode)", peer.text(OPENID, "帮助"), mode="aes")
        await counted("scan check-in", peer.event(OPENID, "SCAN", f"st:{stations[0]['code']}"))
        near = (float(stations[1]["lat"]) + 0.0001, float(stations[1]["lng"]) + 0.0001)
        await counted("location check-in", peer.location(OPENID, *near))
        await send(peer.text(OPENID, "上报"))
        await counted("report step", peer.text(OPENID, "路灯坏了，晚上很黑"))
    finally:
        await client.close()
        await sandbox.close()
    return {name: counts[name] for name in SCENARIOS}


def fresh_sqlite(workdir: Path) -> str:
    from bot.migrate import upgrade

    url = f"sqlite+aiosqlite:///{workdir / 'statements.db'}"
    upgrade(url)
    return url


def fresh_pg(url: str) -> str | None:
    """Drop, recreate and migrate the database at `url`; the reason when that fails."""
    from bench.run import pg_reset
    from bot.migrate import upgrade

    if problem := pg_reset(url):
        return problem
    upgrade(url)
    return None


def table(results: dict[str, dict[str, Count]], notes: list[str]) -> str:
    dbs = list(results)
    lines = ["SQL round trips per callback (bench/statements.py: statements + BEGIN + COMMIT; "
             "the bot's real app, signed /wechat callbacks)",
             "| scenario | " + " | ".join(dbs) + " |",
             "|---|" + "---:|" * len(dbs)]
    for name in SCENARIOS:
        cells = []
        for db in dbs:
            c = results[db][name]
            extra = f" + {c.rollbacks} ROLLBACK" if c.rollbacks else ""
            cells.append(f"{c.round_trips} ({c.statements} + {c.begins} BEGIN + "
                         f"{c.commits} COMMIT{extra})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += notes
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg", default=DEFAULT_PG, help="a database of its own (dropped, recreated)")
    p.add_argument("--no-pg", action="store_true")
    p.add_argument("--json", action="store_true", help="last line: the counts and the table")
    p.add_argument("--sql", action="store_true", help="print each scenario's statements")
    args = p.parse_args()
    results: dict[str, dict[str, Count]] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-statements-") as tmp:
        work = Path(tmp)
        results["SQLite"] = asyncio.run(measure(fresh_sqlite(work), work))
        problem = "--no-pg" if args.no_pg else fresh_pg(args.pg)
        if problem:
            notes.append(f"PostgreSQL skipped: {problem}")
        else:
            results["PostgreSQL"] = asyncio.run(measure(args.pg, work))
    out = table(results, notes)
    if args.sql:
        for db, counts in results.items():
            for name, c in counts.items():
                print(f"\n{db} · {name} → {c.reply[:60]!r}")
                print("\n".join(f"  {s}" for s in c.sql))
    if args.json:
        print(json.dumps({"table": out, "counts": {
            db: {n: {**asdict(c), "round_trips": c.round_trips} for n, c in counts.items()}
            for db, counts in results.items()}}, ensure_ascii=False))
    else:
        print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
