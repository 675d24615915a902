# Everything a newcomer needs: `make run` serves the demo, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run serve migrate demo test test-fast test-faults test-client lint fmt revision bench browser-deps clean

$(STAMP): requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Embedded default: SQLite file, SQL-backed sessions, photos in ./photos.
# `make run PORT=8080 HOST=0.0.0.0` to listen elsewhere.
HOST ?= 127.0.0.1
PORT ?= 8000
run: install
	$(BIN)/iwm migrate
	$(BIN)/iwm demo-data
	$(BIN)/iwm serve --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/iwm serve

migrate: install
	$(BIN)/iwm migrate

demo: install
	$(BIN)/iwm demo-data

# Chromium and its driver for the browser tests (Debian packages; needs root or sudo).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

# pytest-xdist: a test process per core, each with its own databases, Redis prefix, photo
# folder and S3 server; the browser tests stay together on one of them.
TEST_WORKERS ?= auto
XDIST := -n $(TEST_WORKERS) --dist loadgroup

# The whole suite, on the embedded default and on PostgreSQL + Redis + S3 (loopback).
test: install browser-deps
	$(BIN)/pytest -p no:cacheprovider $(XDIST)

# PostgreSQL, Redis, S3 and a worker failing one at a time under load, against
# `iwm serve --workers 2` on private instances (about 4 minutes); prints the faults table
# and keeps it in build/faults/table.txt.
test-faults: install
	IWM_FAULTS=1 $(BIN)/pytest -p no:cacheprovider -p no:xdist tests/faults

# A typed client generated from /openapi.json by openapi-python-client (installed from the
# package registry into a throwaway environment) walks the main operations of a live server.
test-client: install
	IWM_CLIENT_TEST=1 $(BIN)/pytest -p no:cacheprovider -p no:xdist tests/client

test-fast: install
	$(BIN)/pytest -x -q -m "not browser" $(XDIST)

lint: install
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy src tools
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff format src tests bench tools
	$(BIN)/ruff check --fix src tests bench tools

revision: install
	$(BIN)/alembic revision --autogenerate -m "$(m)"

bench: install
	$(BIN)/python bench/kiosk_fleet.py

clean:
	rm -rf $(VENV) iwm.db iwm.db-* photos .iwm-secret build
