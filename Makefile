# One task runner. `make run` and `make test` are the whole set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test lint format bench migrate schema reliability load scale-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/caseload serve

migrate: $(STAMP)
	$(BIN)/caseload migrate

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: $(STAMP)
	$(BIN)/caseload export-schema > schema.graphql

bench: $(STAMP)
	$(BIN)/python -m bench.list_clients
	$(BIN)/python -m bench.readers
	$(BIN)/python -m bench.import_throughput

reliability: $(STAMP)
	$(BIN)/python scripts/reliability.py

# LOAD_ARGS="--postgres" (a throwaway PostgreSQL) or "--database-url URL"; see bench/load.py.
LOAD_ARGS ?=
load: $(STAMP)
	$(BIN)/python -m bench.load $(LOAD_ARGS)

scale-check: $(STAMP)
	$(BIN)/python -m bench.scale_check

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
