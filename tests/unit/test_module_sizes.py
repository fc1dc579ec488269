"""No module over 500 lines outside migrations/ and tests/: a longer one is split by what it
is about (see docs/ and the layout in README.md)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 500
SKIPPED = {"migrations", "tests", ".venv", "venv", "build", "dist", "data", "node_modules"}


def _modules() -> list[Path]:
    return [path for path in ROOT.rglob("*.py")
            if not SKIPPED & set(path.relative_to(ROOT).parts[:-1])
            and not any(part.startswith(".") or part.endswith(".egg-info")
                        for part in path.relative_to(ROOT).parts[:-1])]


def test_no_module_is_over_500_lines() -> None:
    modules = _modules()
    assert modules, "no modules found"
    sizes = {path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
             for path in modules}
    over = sorted((n, name) for name, n in sizes.items() if n > MAX_LINES)
    assert not over, f"modules over {MAX_LINES} lines:\n" + "\n".join(
        f"  {name}: {n}" for n, name in reversed(over))
