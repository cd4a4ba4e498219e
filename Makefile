# The two commands: `make run` (set up everything, serve the demo) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Test workers (pytest-xdist); each gets its own databases.
TEST_WORKERS ?= 2

.PHONY: run test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

## run: venv, install, migrate the SQLite database, seed the demo once, serve on :8000
run: $(VENV)/.installed
	FACILITY_ENV=$${FACILITY_ENV:-dev} $(BIN)/facility db upgrade
	FACILITY_ENV=$${FACILITY_ENV:-dev} $(BIN)/facility demo seed
	FACILITY_ENV=$${FACILITY_ENV:-dev} $(BIN)/facility serve

## test: lint, type-check, then the suite on SQLite (and PostgreSQL if FACILITY_TEST_POSTGRES_URL)
test: lint typecheck
	$(BIN)/pytest -n $(TEST_WORKERS) -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

## bench: performance benchmarks (not tests); numbers go to docs/performance.md
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) facility.db facility.db-wal facility.db-shm var .mypy_cache .ruff_cache .pytest_cache
