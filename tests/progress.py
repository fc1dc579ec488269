"""Progress per folder: a line as each folder of tests (unit, chat, api, …) finishes, with
its counts and wall time, and the same table at the end. Works with and without xdist."""

from __future__ import annotations

import time
from collections import Counter, defaultdict

import pytest

_expected: Counter[str] = Counter()
_done: Counter[str] = Counter()
_outcomes: defaultdict[str, Counter[str]] = defaultdict(Counter)
_first: dict[str, float] = {}
_last: dict[str, float] = {}
_reported: set[str] = set()


def folder_of(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0].split("/")
    return "/".join(path[:2]) if len(path) > 2 else path[0]


def _expect(nodeids: list[str]) -> None:
    if not _expected:
        _expected.update(folder_of(n) for n in nodeids)


def pytest_collection_finish(session: pytest.Session) -> None:
    _expect([item.nodeid for item in session.items])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: object, ids: list[str]) -> None:
    _expect(ids)


def _line(folder: str) -> str:
    counts = ", ".join(f"{n} {what}" for what, n in sorted(_outcomes[folder].items()))
    took = _last.get(folder, 0.0) - _first.get(folder, 0.0)
    return f"{folder}: {counts or 'nothing run'} in {took:.1f} s"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    folder = folder_of(report.nodeid)
    now = time.monotonic()
    _first.setdefault(folder, now)
    _last[folder] = now
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _outcomes[folder][report.outcome] += 1
    elif report.when == "teardown" and report.failed:
        _outcomes[folder]["error"] += 1
    if report.when != "teardown":
        return
    _done[folder] += 1
    if _expected and _done[folder] >= _expected[folder] and folder not in _reported:
        _reported.add(folder)
        reporter = _config.pluginmanager.get_plugin("terminalreporter") if _config else None
        if reporter is not None:
            reporter.write("\n")  # after the dots of the line under way
            reporter.write_line(f"done: {_line(folder)}")


_config: pytest.Config | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _config
    _config = config


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _outcomes:
        return
    terminalreporter.section("per folder")
    for folder in sorted(_outcomes):
        terminalreporter.write_line(_line(folder))
