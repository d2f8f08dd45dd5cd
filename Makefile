# Tsunagu: the two commands (make up, make test) and the developer's helpers.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PYTEST_ARGS ?=

.PHONY: up down test test-fast lint fmt bench bench-full env typecheck asyncapi kafka-manifests

env: ## create or update the virtual environment from the lock file
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

up: env ## run the whole system: Kafka, PostgreSQL, the four services, demo data
	@$(UV) run --frozen python -m tsunagu.devstack up

down: ## stop what `make up` started
	@$(UV) run --frozen python -m tsunagu.devstack down

test: env ## the whole suite on real Kafka and PostgreSQL (started on test ports)
	@$(UV) run --frozen pytest $(PYTEST_ARGS)

test-fast: env ## unit tests only (no infrastructure)
	@$(UV) run --frozen pytest -m "not integration and not browser" $(PYTEST_ARGS)

lint: env ## ruff (lint and format check) and mypy (strict for shared/)
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy shared/src

fmt: env ## format and autofix
	@$(UV) run --frozen ruff check --fix .
	@$(UV) run --frozen ruff format .

bench: env ## quick benchmark (about a minute); see benchmarks/README.md
	@$(UV) run --frozen python -m benchmarks.run --quick

bench-full: env ## the full benchmark run recorded in benchmarks/README.md
	@$(UV) run --frozen python -m benchmarks.run --full
