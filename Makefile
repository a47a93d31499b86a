# MedGov — the two set-up commands are `make demo` and `make test` (see README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

TEST_ENV := SECRET_KEY=medgov-test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz \
	DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/medgov} \
	REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} \
	LANGUAGE_CODE=en MEDGOV_HTTPS=0 MEDGOV_VAR_DIR=$(CURDIR)/var/test

# Benchmarks use their own database and Redis database, so they never meet a running test suite.
BENCH_ENV := $(TEST_ENV) DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/medgov_bench} \
	REDIS_URL=$${BENCH_REDIS_URL:-redis://127.0.0.1:6379/9} MEDGOV_VAR_DIR=$(CURDIR)/var/bench

.PHONY: install demo test test-fast test-faults test-browser lint bench-import bench-audit bench-pages load clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The embedded demo: SQLite, a filesystem broker (no Redis), two simulated model servers, a real worker.
demo: install
	./scripts/demo.sh

# The whole suite (unit, API, real Celery workers, fault injection and browser tests) on PostgreSQL and Redis.
test: install
	./scripts/ensure_services.sh
	$(TEST_ENV) $(VENV)/bin/ruff check .
	$(TEST_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: install
	$(TEST_ENV) $(VENV)/bin/pytest -m "not slow and not browser" $(PYTEST_ARGS)

test-faults: install
	./scripts/ensure_services.sh
	$(TEST_ENV) $(VENV)/bin/pytest -m slow $(PYTEST_ARGS)

test-browser: install
	$(TEST_ENV) $(VENV)/bin/pytest -m browser $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check . || true

bench-import: install
	$(BENCH_ENV) $(PY) scripts/bench_import.py

bench-audit: install
	$(BENCH_ENV) $(PY) scripts/bench_audit.py

bench-pages: install
	$(BENCH_ENV) $(PY) scripts/bench_pages.py

load: install
	$(BENCH_ENV) $(PY) scripts/load_test.py

clean:
	rm -rf var/ .pytest_cache
