# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test test-tools lint format migrate demo check-services contract clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# The embedded default needs a secret outside DEBUG: make one once, keep it in .env (git-ignored).
.env:
	@echo "SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env
	@echo "wrote .env with a fresh SECRET_KEY"

var:
	mkdir -p var/broker var/broker-processed var/cache var/prometheus

migrate: $(VENV)/.runtime .env var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

## run: set up, then serve the API (ASGI under gunicorn) + Celery worker + beat on the embedded default
## (logs as text when the output is a terminal, JSON otherwise; LOG_FORMAT overrides)
run: migrate
	$(BIN)/python manage.py seed_demo
	@$(BIN)/python manage.py welcome --port $(PORT)
	rm -rf var/prometheus && mkdir -p var/prometheus
	if [ -t 1 ]; then fmt=text; else fmt=json; fi; LOG_FORMAT=$${LOG_FORMAT:-$$fmt} \
	PORT=$(PORT) PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://127.0.0.1:$(PORT)} \
		PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/var/prometheus $(BIN)/honcho start -f Procfile

# The schema gates' tools (tests/test_schema_tools.py): Redocly, openapi-typescript and tsc at the
# versions of tests/client_ts/package-lock.json, installed once per lockfile change; a headless
# Chromium (Debian's) for the docs and admin page tests. Where npm or apt-get is missing those
# tests skip (and fail under SMARTMATE_REQUIRE_SERVICES=1).
NPM_TOOLS := var/npm/.installed

$(NPM_TOOLS): tests/client_ts/package.json tests/client_ts/package-lock.json | var
	mkdir -p var/npm
	cp tests/client_ts/package.json tests/client_ts/package-lock.json var/npm/
	cd var/npm && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test-tools:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(NPM_TOOLS); \
	else echo "npm not found: the schema tool tests will skip"; fi
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "chromium not installed: the browser tests will skip"

## test: set up, then run every test on the real parts (PostgreSQL, Redis, a Tansu broker it starts)
test: $(VENV)/.dev var test-tools
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: migrate
	$(BIN)/python manage.py seed_demo

check-services: $(VENV)/.runtime .env
	$(BIN)/python manage.py check_services

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
