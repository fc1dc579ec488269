"""Helpers for the browser tests: Debian's Chromium driven by Playwright, and a real
`run.py serve` on a free port with a database of its own.

Without /usr/bin/chromium (or Playwright) a browser test is skipped with the reason —
except under CI=true, where that is a failure: CI installs chromium (see .ci/run).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")  # unmasked; logs show 138****8000


def need_browser() -> None:
    """Skip (or, under CI=true, fail) when the browser cannot be driven here."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install -e '.[dev]')"
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true but the browser test cannot run: {problem}", pytrace=False)
        pytest.skip(f"browser test skipped: {problem}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(db_url: str, port: int, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOGE_")}
    env.update(XIAOGE_DATABASE__URL=db_url, XIAOGE_SERVER__PORT=str(port),
               XIAOGE_REPORTS__PHOTO_DIR=str(tmp / "photos"), **extra)
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@contextmanager
def running_server(tmp: Path, db_url: str | None = None, **extra_env: str
                   ) -> Iterator[tuple[str, dict[str, str]]]:
    """`run.py serve` in dev mode (migrated, demo data loaded at start) on `db_url`, or on a
    fresh SQLite database in `tmp`, with `extra_env` (XIAOGE_* settings); yields its base URL
    and environment. Its log goes to tmp/server.log and, when it stops, must hold no
    traceback and no unmasked phone."""
    port = free_port()
    env = env_for(db_url or f"sqlite+aiosqlite:///{tmp / 'xiaoge.db'}", port, tmp, **extra_env)
    log = tmp / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "run.py", "serve"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"server did not come up:\n{log.read_text()}")
            time.sleep(0.2)
        yield base, env
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out = log.read_text()
    assert "Traceback" not in out and "Error handling request" not in out, out[-5000:]
    assert not PHONE.search(out), "a phone number in the server's log"


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium under Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()
