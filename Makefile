# 小哥红驿 · the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The machine's PostgreSQL; tests against it are skipped (and say so) when it is unreachable.
XIAOGE_TEST_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
export XIAOGE_TEST_DATABASE_URL

.PHONY: run test check lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) run.py serve

# Tests run in TEST_WORKERS processes (pytest-xdist; each has a PostgreSQL database of its
# own, made beside XIAOGE_TEST_DATABASE_URL's) and print a line as each folder finishes.
# A test file runs on one worker (--dist loadfile): its tests may share a server.
TEST_WORKERS ?= 2

test: $(STAMP) check
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# The static checks `make test` runs first: lint, the import contracts (layers, the platform
# naming no feature, independent features; see [tool.importlinter]) and types ([tool.mypy]).
check: $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

# Callback speed beside the baselines and the same-work peers, statements per callback, and a
# 50,000-recipient notice (a few minutes; PostgreSQL's databases `bench`, `bench_peers` and
# `bench_statements` are dropped and recreated). BENCH_ARGS="--help" lists options.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	touch $(BENCH_STAMP)

bench: $(STAMP) $(BENCH_STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
