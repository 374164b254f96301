# Backchannel: `make run` for the quick start, `make test` for the whole suite on PostgreSQL and Redis.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SANDBOX_PORT ?= 8765

# The suite runs against these; scripts/ensure-services.sh starts (or installs) them on 127.0.0.1.
TEST_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/backchannel
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1

.PHONY: run test lint test-unit test-e2e install install-dev services system-packages run-packages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# No --generate-hashes: CI installs through registry mirrors that may serve other wheel files (see requirements.in).
LOCK_OPTIONS := --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links --no-emit-trusted-host
LOCK_ARGS ?=

## The locks, recompiled with pip-tools from the .in files: requirements.in into requirements.txt, then
## requirements-dev.in into requirements-dev.txt (held to requirements.txt). LOCK_ARGS=--upgrade moves the transitive pins.
.PHONY: lock
lock: install-dev
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile $(LOCK_OPTIONS) $(LOCK_ARGS) --output-file=requirements.txt requirements.in
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile $(LOCK_OPTIONS) $(LOCK_ARGS) --output-file=requirements-dev.txt requirements-dev.in

## Quick start: the production topology on this machine (uvicorn, a Celery worker, beat, the X sandbox) on
## PostgreSQL and Redis, under one supervisor; the demo account connected to the sandbox.
run: install run-packages services
	VENV=$(VENV) HOST=$(HOST) PORT=$(PORT) SANDBOX_PORT=$(SANDBOX_PORT) bash scripts/run-quickstart.sh

system-packages:
	bash scripts/install-system-packages.sh

run-packages:
	WITHOUT_CHROMIUM=1 bash scripts/install-system-packages.sh

services:
	bash scripts/ensure-services.sh

## Everything the tests need, then the suite: unit/integration tests, then browser tests in their own process.
test: install-dev system-packages services
	$(MAKE) --no-print-directory lint test-unit test-e2e

## Style, the architecture's contracts (.importlinter) and types; CONTRIBUTING.md says what each one checks.
lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DJANGO_DEBUG=1 $(BIN)/mypy accounts inbox twitter_channel config
	$(BIN)/mypy --config-file twitter_channel/sandbox/mypy.ini twitter_channel/sandbox
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=twitter_channel.sandbox.settings $(BIN)/python -m django makemigrations --check --dry-run x_sandbox

test-unit:
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/python -m pytest -m "not e2e" --create-db

test-e2e:
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/python -m pytest -m e2e --create-db

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .quickstart
