"""Load generator for the callback benchmark: signed (and AES) WeChat callbacks from many
distinct users, over plain asyncio HTTP/1.1 keep-alive connections.

    python bench/loadgen.py --ports 8080 --scenario mix --mode closed --duration 8 --conns 32
    python bench/loadgen.py --ports 8080 --scenario mix --mode open --rate 500 --duration 10

It prints one JSON object: requests, seconds, req_s, p50/p99/max latency (ms), errors by
kind (non-200, connection errors, timeouts, and answers later than WeChat's 5 s, which
WeChat would have dropped), and this process's own CPU use (so one can tell whether the
generator was the limit).

Every request is built and signed before the clock starts, so signing and AES encryption
cost the measured run nothing. Each connection owns its own users and sends their steps
in order, so a dialog (上报 → description → 跳过 → location → category → 确认) arrives in
sequence as a phone would send it.

- closed loop: each connection sends its next request as soon as the previous answer is
  in; requests/s is the server's capacity at that concurrency.
- open loop: request i is due at t0 + i/rate whatever the server does (connection
  i mod conns sends it); latency counts from the due time, so a stalled server is not
  hidden by the generator waiting for it (no coordinated omission).

A server that answers `Connection: close` (gunicorn's sync worker) is reconnected for
the next request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.dev.peer import WechatPeer  # noqa: E402
from bot.settings import load_settings  # noqa: E402

# The realistic mix: actions a rider does, with weights (a report is six requests).
MIX: list[tuple[str, int]] = [
    ("scan", 5), ("location", 3), ("nearby", 3), ("mine", 3), ("report", 2),
    ("courses", 3), ("help", 1),
]
WUJIN = (31.68, 119.95)
WECHAT_DEADLINE_S = 5.0
LATE = -2  # answered, but after WeChat's deadline: counted as an error


def _stations() -> list[tuple[str, float, float]]:
    demo = ROOT / "handlers" / "stations" / "demo_stations.yaml"
    rows = yaml.safe_load(demo.read_text(encoding="utf-8"))
    return [(r["code"], float(r["lat"]), float(r["lng"])) for r in rows]


class Builder:
    """Builds the raw HTTP requests, signed now (their timestamps stay inside the bot's
    allowed clock skew for the few minutes of a run)."""

    def __init__(self, port: int, aes_share: float, seed: int):
        w = load_settings(ROOT / "config.yaml").wechat
        self.peer = WechatPeer(w.token, w.app_id, w.encoding_aes_key)
        self.port = port
        self.aes_share = aes_share
        self.rng = random.Random(seed)
        self.stations = _stations()
        # Fresh MsgIds for every run: WeChat's are 64-bit and never reused.
        self.msg_id = time.time_ns() // 1000 + seed * 10**12
        self.now = int(time.time())
        self.event_time: dict[str, int] = {}

    def _next_msg_id(self) -> int:
        self.msg_id += 1
        return self.msg_id

    def _event_time(self, openid: str) -> int:
        # An event's dedup key is sender + CreateTime + event: one user's events get
        # distinct times, as a real phone's would.
        t = self.event_time.get(openid, self.now) + 1
        self.event_time[openid] = t
        return t

    def _raw(self, xml: str) -> bytes:
        mode = "aes" if self.rng.random() < self.aes_share else "plain"
        signed = self.peer.sign(xml, mode, timestamp=self.now)
        query = "&".join(f"{k}={v}" for k, v in signed.params.items())
        body = signed.body.encode()
        head = (f"POST /wechat?{query} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n")
        return head.encode() + body

    def text(self, openid: str, content: str) -> bytes:
        return self._raw(self.peer.text(openid, content, msg_id=self._next_msg_id(),
                                        create_time=self.now))

    def location(self, openid: str, lat: float, lng: float) -> bytes:
        return self._raw(self.peer.location(openid, lat, lng, msg_id=self._next_msg_id(),
                                            create_time=self.now))

    def scan(self, openid: str, scene: str) -> bytes:
        return self._raw(self.peer.event(openid, "SCAN", scene,
                                         create_time=self._event_time(openid)))

    def action(self, name: str, openid: str) -> list[bytes]:
        rng = self.rng
        code, lat, lng = rng.choice(self.stations)
        near = (lat + rng.uniform(-0.0005, 0.0005), lng + rng.uniform(-0.0005, 0.0005))
        if name == "scan":
            return [self.scan(openid, f"st:{code}")]
        if name == "location":
            return [self.location(openid, *near)]
        if name == "nearby":
            return [self.text(openid, "附近"), self.location(openid, *near)]
        if name == "mine":
            return [self.text(openid, "我的")]
        if name == "courses":
            return [self.text(openid, "课程")]
        if name == "help":
            return [self.text(openid, "帮助")]
        if name == "report":
            spot = (WUJIN[0] + rng.uniform(-0.08, 0.08), WUJIN[1] + rng.uniform(-0.12, 0.12))
            what = rng.choice(["路灯坏了，晚上很黑", "井盖松动有响声", "垃圾堆在路边没人清",
                               "充电桩坏了", "路面塌陷一个坑"])
            return [self.text(openid, "上报"), self.text(openid, what), self.text(openid, "跳过"),
                    self.location(openid, *spot), self.text(openid, "1"),
                    self.text(openid, "确认")]
        raise ValueError(name)


def build(scenario: str, port: int, conns: int, per_conn: int, users: int, user_base: int,
          aes_share: float, seed: int) -> list[list[bytes]]:
    """`per_conn` requests for each connection; connection k owns users k, k+conns, …"""
    b = Builder(port, aes_share, seed)
    names = [n for n, _ in MIX]
    weights = [w for _, w in MIX]
    plans: list[list[bytes]] = []
    for k in range(conns):
        own = [f"o-bench{user_base + i}" for i in range(k, users, conns)] or [f"o-bench{k}"]
        out: list[bytes] = []
        while len(out) < per_conn:
            openid = b.rng.choice(own)
            if scenario == "help":
                out.append(b.text(openid, "帮助"))
            else:
                out.extend(b.action(b.rng.choices(names, weights)[0], openid))
        plans.append(out)
    return plans


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bool]] | None = None
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed mid-response"))

    def _complete(self) -> None:
        if self.waiter is None or self.waiter.done():
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        at = head.find(b"content-length:")
        if at < 0:
            self.waiter.set_exception(ConnectionError("no content-length"))
            return
        line_end = head.find(b"\r\n", at)
        length = int(head[at + 15: line_end if line_end >= 0 else len(head)])
        total = end + 4 + length
        if len(self.buf) < total:
            return
        del self.buf[:total]
        self.waiter.set_result((int(head[9:12]), b"connection: close" not in head))

    async def request(self, raw: bytes) -> tuple[int, bool]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


class Client:
    def __init__(self, host: str, port: int, timeout_s: float):
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.conn: Conn | None = None

    async def send(self, raw: bytes) -> int:
        """The HTTP status (0: connection error, -1: timeout)."""
        loop = asyncio.get_running_loop()
        try:
            if self.conn is None or self.conn.lost:
                _, self.conn = await loop.create_connection(Conn, self.host, self.port)
            status, keep = await asyncio.wait_for(self.conn.request(raw), self.timeout_s)
        except TimeoutError:
            self._drop()
            return -1
        except OSError:
            self._drop()
            return 0
        if not keep:
            self._drop()
        return status

    def _drop(self) -> None:
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.close()
        self.conn = None


async def connect_all(args: argparse.Namespace, plans: list[list[bytes]]) -> list[Client]:
    """One connected client per plan, round robin over the ports, before the clock starts."""
    ports = [int(p) for p in args.ports.split(",")]
    clients = [Client(args.host, ports[k % len(ports)], args.timeout)
               for k in range(len(plans))]
    for c in clients:
        c.conn = (await asyncio.get_running_loop().create_connection(
            Conn, c.host, c.port))[1]
    return clients


def summarize(latencies: list[float], statuses: dict[int, int], wall: float, cpu: float,
              exhausted: int) -> dict[str, object]:
    """The printed result: rate, latency percentiles, errors by kind, this process's CPU."""
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else 0.0

    names = {0: "connection error", -1: "timeout", LATE: "over WeChat's 5 s"}
    errors = {names.get(s, str(s)): n for s, n in statuses.items() if s != 200}
    return {
        "requests": len(latencies), "seconds": round(wall, 3),
        "req_s": round(len(latencies) / wall, 1) if wall else 0.0,
        "p50_ms": round(pct(0.50), 2), "p99_ms": round(pct(0.99), 2),
        "max_ms": round(ordered[-1] * 1000, 2) if ordered else 0.0,
        "errors": sum(errors.values()), "error_statuses": errors,
        "loadgen_cpu": round(cpu / wall, 2) if wall else 0.0,
        "plans_exhausted": exhausted,
    }


async def run(args: argparse.Namespace, plans: list[list[bytes]]) -> dict[str, object]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    clients = await connect_all(args, plans)
    exhausted = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    deadline = t0 + args.duration

    def note(status: int, latency: float) -> None:
        latencies.append(latency)
        if status == 200 and latency > WECHAT_DEADLINE_S:
            status = LATE  # WeChat would have given up on it (and retried)
        statuses[status] = statuses.get(status, 0) + 1

    async def closed(client: Client, plan: list[bytes]) -> None:
        nonlocal exhausted
        for raw in plan:
            started = time.perf_counter()
            if started >= deadline:
                return
            note(await client.send(raw), time.perf_counter() - started)
        exhausted += 1

    async def opened(k: int, client: Client, plan: list[bytes]) -> None:
        nonlocal exhausted
        n = len(plans)
        for j, raw in enumerate(plan):
            due = t0 + (k + j * n) / args.rate
            if due >= deadline:
                return
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            note(await client.send(raw), time.perf_counter() - due)
        exhausted += 1

    if args.mode == "closed":
        await asyncio.gather(*(closed(c, p) for c, p in zip(clients, plans, strict=True)))
    else:
        await asyncio.gather(*(opened(k, c, p)
                               for k, (c, p) in enumerate(zip(clients, plans, strict=True))))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    for c in clients:
        c._drop()
    return summarize(latencies, statuses, wall, cpu, exhausted)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--ports", required=True,
                   help="comma-separated; connections go round robin over them (several "
                        "instances behind a load balancer)")
    p.add_argument("--scenario", choices=["help", "mix"], default="mix")
    p.add_argument("--mode", choices=["closed", "open"], default="closed")
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--conns", type=int, default=32)
    p.add_argument("--rate", type=float, default=500.0, help="open loop: requests per second")
    p.add_argument("--max-rate", type=float, default=6000.0,
                   help="closed loop: requests built per second of run (the plan's size)")
    p.add_argument("--users", type=int, default=5000)
    p.add_argument("--user-base", type=int, default=0)
    p.add_argument("--aes-share", type=float, default=0.5, help="share sent in AES mode")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=10.0)
    args = p.parse_args()
    rate = args.rate if args.mode == "open" else args.max_rate
    per_conn = math.ceil(rate * args.duration / args.conns) + 8
    plans = build(args.scenario, int(args.ports.split(",")[0]), args.conns, per_conn,
                  args.users, args.user_base, args.aes_share, args.seed)
    print(json.dumps(asyncio.run(run(args, plans))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
