# One task runner. `make run` and `make test` are the whole set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
CLIENTS := clients
NPM_STAMP := $(CLIENTS)/node_modules/.installed

.PHONY: run test test-fast check lint e2e format bench migrate schema reliability load scale-check memory-check clean

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

# The edit loop: everything but the process, fault and fuzz tests (marked `slow`).
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

# Front-end clients (Apollo, urql, graphql-ws, a page in headless Chromium) against a real
# `caseload serve`; see clients/. npm packages come from the committed lock file.
$(NPM_STAMP): $(CLIENTS)/package.json $(CLIENTS)/package-lock.json
	cd $(CLIENTS) && npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

e2e: $(STAMP)
	$(CLIENTS)/ensure-tools.sh
	$(MAKE) $(NPM_STAMP)
	cd $(CLIENTS) && npm test

# Every habit CI enforces, in one target (CI runs it before the tests): ruff (with complexity
# and unused-noqa rules), the formatter, mypy strict and the import contracts in .importlinter.
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

lint: check

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

memory-check: $(STAMP)
	$(BIN)/python -m bench.upload_memory

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache $(CLIENTS)/node_modules $(CLIENTS)/generated
