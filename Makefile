# The habits of this repository. Every target does its own set-up on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
export AIRFLOW_HOME := $(CURDIR)
export UV_PYTHON_DOWNLOADS := never
# `airflow standalone` starts its components as `airflow …` found on PATH.
export PATH := $(CURDIR)/.venv/bin:$(PATH)
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
AIRFLOW := $(BIN)/airflow
STAMP := .airflow/.setup-done
# The API server's port; `make airflow AIRFLOW_PORT=8081` runs a second instance beside one.
AIRFLOW_PORT ?= 8080

.PHONY: help setup run test test-fast lint bench airflow airflow-distributed clean

help:
	@echo "make run      set up, then run the ingest DAG once over seeds/ into data/tradewire.duckdb"
	@echo "make test     set up, then run the test suite"
	@echo "make test-fast  unit and DAG integrity tests only (no integration tests), under a minute"
	@echo "make lint     ruff (with Airflow AIR rules) and mypy"
	@echo "make bench    throughput benchmarks (bench/)"
	@echo "make airflow  scheduler, DAG processor, triggerer and UI on http://127.0.0.1:$(AIRFLOW_PORT)"
	@echo "make airflow-distributed  the same under the CeleryExecutor: PostgreSQL, Redis, two Celery workers"

# uv itself is bootstrapped with pip into .tools/, so a machine with only Python and make works.
$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv>=0.5,<1"

# Bytecode compiled once at install: every process (Airflow task, extraction worker) otherwise
# recompiles what it imports when PYTHONDONTWRITEBYTECODE is set, ~1 s each.
$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $@

$(STAMP): $(VENV)/.synced airflow.cfg dags/pools.json
	$(BIN)/python -m ingest.airflow_home
	$(AIRFLOW) db migrate > .airflow/db-migrate.log 2>&1 || { cat .airflow/db-migrate.log; exit 1; }
	$(AIRFLOW) pools import dags/pools.json > /dev/null
	@touch $@

setup: $(STAMP)

run: setup
	@mkdir -p data
	$(AIRFLOW) dags reserialize > /dev/null 2>&1
	$(AIRFLOW) dags test trade_news_ingest > .airflow/last-run.log 2>&1 \
		|| { tail -n 60 .airflow/last-run.log; echo "DAG run failed; full log in .airflow/last-run.log"; exit 1; }
	@grep -E "DagRun Finished|state=" .airflow/last-run.log | tail -n 1 || true
	$(BIN)/tradewire refresh --db data/tradewire.duckdb
	$(BIN)/tradewire sql --db data/tradewire.duckdb "SELECT run_id, seen, new, updated, unchanged, failed FROM ingest_runs ORDER BY started_at DESC LIMIT 1"
	$(BIN)/tradewire sql --db data/tradewire.duckdb "SELECT a.title, a.published_at, a.us_china, string_agg(t.topic || ' ' || round(t.score, 2), ', ' ORDER BY t.score DESC) AS topics FROM articles a LEFT JOIN article_topics t USING (article_id) GROUP BY a.article_id, a.title, a.published_at, a.us_china, a.ingested_at ORDER BY a.ingested_at DESC LIMIT 20"

test: $(VENV)/.synced
	$(BIN)/python -m ingest.airflow_home
	$(BIN)/pytest -q

# Everything under tests/integration/ is marked `integration` by tests/conftest.py.
test-fast: $(VENV)/.synced
	$(BIN)/python -m ingest.airflow_home
	$(BIN)/pytest -q -m "not integration" tests/unit tests/dags

lint: $(VENV)/.synced
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.synced
	$(BIN)/python -m compileall -q ingest transforms bench
	$(BIN)/python -m bench.run_bench $(BENCH_ARGS)
	$(BIN)/python -m bench.bench_tagging

# The API server starts first and the other components once it answers; a busy port fails fast.
airflow: setup
	$(BIN)/python -m ingest.airflow_launch --port $(AIRFLOW_PORT)

# CeleryExecutor, PostgreSQL metadata DB, Redis broker (TRADEWIRE_AIRFLOW_METADATA_URL,
# TRADEWIRE_CELERY_BROKER_URL): the launcher creates and migrates the database and imports the
# pool first, then starts the components and TRADEWIRE_CELERY_WORKERS Celery workers. On a
# machine that does not own the DuckDB file: `make airflow-distributed LAUNCH_ARGS=--workers-only`.
airflow-distributed: $(VENV)/.synced
	$(BIN)/python -m ingest.airflow_home
	$(BIN)/python -m ingest.airflow_launch --profile distributed --port $(AIRFLOW_PORT) $(LAUNCH_ARGS)

clean:
	rm -rf .airflow data .pytest_cache .mypy_cache .ruff_cache
