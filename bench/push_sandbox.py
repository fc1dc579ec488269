"""push_bench's sandbox: the `bot.dev.sandbox` process the pushes go to, its control API
(faults, deliveries, call counts) and the exactly-once check of what it delivered."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SandboxProc:
    proc: subprocess.Popen[bytes]
    base: str  # …/sandbox, what WechatApi takes as its base URL
    log_path: Path

    def cpu_s(self) -> float:
        """utime + stime of the sandbox process (Linux /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_ready(sb: SandboxProc, timeout_s: float = 20) -> None:
    """Poll the sandbox's stats page until it answers; raise if it exits or stays silent."""
    deadline = time.monotonic() + timeout_s
    while True:
        if sb.proc.poll() is not None:
            raise RuntimeError(f"sandbox exited ({sb.proc.returncode}): "
                               f"{sb.log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{sb.base}/control/stats", timeout=1) as r:
                r.read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"sandbox did not answer within {timeout_s:.0f} s") from None
            time.sleep(0.1)


@contextlib.contextmanager
def sandbox_process(workdir: Path) -> Iterator[SandboxProc]:
    port = free_port()
    log_path = workdir / f"sandbox-{port}.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot.dev.sandbox", "--port", str(port)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    sb = SandboxProc(proc, f"http://127.0.0.1:{port}/sandbox", log_path)
    try:
        wait_ready(sb)
        yield sb
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class SandboxControl:
    def __init__(self, http: aiohttp.ClientSession, base: str):
        self.http, self.base = http, base

    async def set_fault(self, fault: dict[str, Any]) -> None:
        async with self.http.post(f"{self.base}/control/faults", json=fault) as r:
            r.raise_for_status()

    async def clear_faults(self) -> None:
        async with self.http.delete(f"{self.base}/control/faults") as r:
            r.raise_for_status()

    async def per_user(self, prefix: str) -> Counter[str]:
        """Deliveries per recipient, for recipients whose openid starts with `prefix`."""
        async with self.http.get(f"{self.base}/messages") as r:
            r.raise_for_status()
            found = await r.json()
        return Counter(m["touser"] for m in found if m["touser"].startswith(prefix))

    async def template_calls(self) -> int:
        async with self.http.get(f"{self.base}/control/stats") as r:
            return (await r.json())["calls"].get("/cgi-bin/message/template/send", 0)


def check_once(per_user: Counter[str], expected: set[str], complete: bool = True) -> str:
    """'ok' when each expected openid got exactly one message (at most one if not complete)."""
    dup = sum(1 for c in per_user.values() if c > 1)
    stray = len(set(per_user) - expected)
    missing = len(expected - set(per_user))
    if not complete:
        return (f"≤1 ok ({len(per_user)}/{len(expected)} so far)" if not dup and not stray
                else f"FAIL dup={dup} stray={stray}")
    if dup or stray or missing:
        return f"FAIL missing={missing} dup={dup} stray={stray}"
    return f"ok {len(per_user)}/{len(expected)}"
