# Recon — two commands on a fresh machine with Python 3.11: `make run` and `make test`.
# Both create/update .venv from the lock file requirements/dev.txt by themselves.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := run
.PHONY: run setup test lint format smoke load lock clean

# Direct dependencies are declared in pyproject.toml; the exact versions of everything installed
# are pinned by requirements/dev.txt (development and tests) and requirements/runtime.txt (the
# production image), both compiled from it by `make lock`.
$(INSTALLED): requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Recon needs Python 3.11, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	touch $(INSTALLED)

## Set up (embedded PostgreSQL unless DATABASE_URL is set), load demo data, serve on :8000.
run: $(INSTALLED)
	$(BIN)/python -m recon_site.quickstart

## Migrate and load the demo data, then exit.
setup: $(INSTALLED)
	$(BIN)/python -m recon_site.quickstart --setup-only

## The whole test suite (embedded PostgreSQL unless DATABASE_URL is set), spread over the machine's
## cores (pytest-xdist; a test database and a Redis database per worker); `make test TESTS=tests/matching`
## runs a part of it, `make test WORKERS=0` in one process.
TESTS ?=
WORKERS ?= auto
test: $(INSTALLED)
	$(BIN)/python -m pytest -n $(WORKERS) $(TESTS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python scripts/check_module_size.py

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Boot `make run` from a clean state with no environment, call the API, stop it with Ctrl-C.
smoke: $(INSTALLED)
	$(BIN)/python scripts/smoke_quickstart.py

## The load test's longer form (README, Figures): 50 clients for 120 s over real HTTP to 2 gunicorn
## servers, 2 django-q2 clusters matching, against DATABASE_URL only: point it at a scratch
## database, its tenant stays there.
LOAD_CLIENTS ?= 50
LOAD_DURATION ?= 120
LOAD_INSTANCES ?= 2
load: $(INSTALLED)
	@test -n "$(DATABASE_URL)" || { echo "make load needs DATABASE_URL (a scratch database: the load's tenant stays)" >&2; exit 2; }
	$(BIN)/python manage.py migrate --no-input --verbosity 0
	$(BIN)/python manage.py load_test --clients $(LOAD_CLIENTS) --duration $(LOAD_DURATION) --instances $(LOAD_INSTANCES)

## Re-pin requirements/*.txt after a change to pyproject.toml's dependencies (keeps existing pins
## where they still fit; `make lock UPGRADE=--upgrade` takes the newest allowed versions).
LOCK := $(BIN)/uv pip compile pyproject.toml --python-version 3.11 --custom-compile-command "make lock" --quiet $(UPGRADE)
lock: $(INSTALLED)
	$(LOCK) --extra embedded --extra test --extra dev -o requirements/dev.txt
	$(LOCK) -c requirements/dev.txt -o requirements/runtime.txt

clean:
	rm -rf $(VENV) var/pgdata var/run
