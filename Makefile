# jobhub: `make run` and `make test` are all a new machine needs (see README.md).
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv run test soak scale bench bench-pages screenshots lint format up down clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

venv: $(STAMP) ## Create .venv and install jobhub with its development tools

run: $(STAMP) ## Run jobhub on the embedded default (no servers): worker, beat, a first job; Ctrl-C stops
	$(BIN)/jobhub serve

TEST_WORKERS ?= 2

test: $(STAMP) ## Run the tests, TEST_WORKERS files at a time (PostgreSQL and Redis found or started; see README)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m "not scale"

screenshots: $(STAMP) ## Rewrite docs/screenshots/*.png from the browser tests (headless Chromium)
	JOBHUB_SCREENSHOTS=1 $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m browser

soak: $(STAMP) ## The fault-injection tests, longer: 100 workers killed mid-job (see README, Reliability)
	JOBHUB_SOAK_KILLS=100 $(BIN)/pytest -s tests/acceptance/test_faults.py

scale: $(STAMP) ## Many hosts (network namespaces; root): jobs/s on 1, 2, 3 worker hosts, a host cut off
	JOBHUB_SCALE_JOBS=2000 JOBHUB_SCALE_RATIO=2.5 $(BIN)/pytest -s tests/acceptance/test_hosts.py

bench: $(STAMP) ## Benchmark jobhub against plain Celery, the enqueue rates, the API and workflows (README, Performance)
	$(BIN)/python -m tests.bench
	$(BIN)/python -m tests.bench.enqueue
	$(BIN)/python -m tests.bench.api
	$(BIN)/python -m tests.bench.workflows

bench-pages: $(STAMP) ## The dashboard's pages on 1,000,000 jobs: p50/p99 against 100 ms
	$(BIN)/python -m tests.bench --pages

lint: $(STAMP) ## ruff (lint and format check), mypy --strict, and the import layers (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP) ## Apply ruff's formatting and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

up: ## Start the compose stack: postgres, redis, migrate, worker, beat, api, flower
	docker compose up --detach --wait

down: ## Stop the compose stack
	docker compose down

clean: ## Remove the virtual environment, the embedded data folder and caches
	rm -rf $(VENV) .jobhub .pytest_cache .mypy_cache .ruff_cache
