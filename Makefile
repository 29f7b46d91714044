# accessgraph: the two commands of README.md are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ASSETS := src/accessgraph/static/graphiql/index.html
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
HOST ?= 127.0.0.1
PORT ?= 8000
FUZZ_SECONDS ?= 120

.PHONY: install run test lint types test-sqlite test-postgres fuzz browser-deps schema bench clean

## install: a virtualenv with the package and its dev tools, and the GraphiQL assets
install: $(VENV)/.installed $(ASSETS)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(ASSETS): frontend/package.json frontend/package-lock.json frontend/build.mjs $(wildcard frontend/src/*)
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run build

## run: install, migrate the SQLite default and serve on http://127.0.0.1:8000/graphql
run: install
	$(BIN)/accessgraph serve --host $(HOST) --port $(PORT)

## browser-deps: Debian's Chromium for the GraphiQL browser test
browser-deps:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium (or set ACCESSGRAPH_SKIP_BROWSER=1)"; exit 1; fi; }

lint: install
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)

types: install
	$(BIN)/mypy

test-sqlite: install browser-deps
	$(BIN)/python -m pytest -q

test-postgres: install
	@$(BIN)/python -c "import asyncio, asyncpg; asyncio.run(asyncpg.connect('$(PG_TEST_URL)'.replace('+asyncpg', ''), timeout=5))" \
	  || { echo "PostgreSQL is not reachable at $(PG_TEST_URL): start it, or set PG_TEST_URL"; exit 1; }
	ACCESSGRAPH_TEST_DATABASE_URL=$(PG_TEST_URL) ACCESSGRAPH_SKIP_BROWSER=1 $(BIN)/python -m pytest -q

## fuzz: schemathesis against a served instance, as an admin, for FUZZ_SECONDS (tests/fuzz)
fuzz: install
	$(BIN)/python tests/fuzz/fuzz_graphql.py --seconds $(FUZZ_SECONDS)

## test: install everything, then lint, type-check, run the suite on SQLite and PostgreSQL, fuzz
test: lint types test-sqlite test-postgres fuzz

schema: install
	$(BIN)/accessgraph schema > schema.graphql

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) frontend/node_modules src/accessgraph/static/graphiql bench/.work
