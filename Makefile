# Tsunagu: the two commands (make up, make test) and the developer's helpers.
#
# Nothing is looked up when this file is read: uv is found (or installed) by deploy/tools/uv.sh
# each time a recipe runs, and every provisioning step says what it does before it does it.
SHELL := /bin/bash
TOOLS := deploy/tools
UV_RUN := $(TOOLS)/uv.sh
PYTEST_ARGS ?=

.PHONY: up down test test-fast lint fmt asyncapi bench bench-full env kafka test-tools

env: ## uv (installed if missing) and the virtual environment from uv.lock
	@[ -d .venv ] || echo "[tsunagu] creating the Python environment from uv.lock (the first run downloads for a minute or two) ..."
	@$(UV_RUN) sync --frozen --quiet

kafka: env ## Java, Maven and the Kafka jars for the local broker (not needed with TSUNAGU_KAFKA_BOOTSTRAP)
	@if [ -z "$${TSUNAGU_KAFKA_BOOTSTRAP:-}" ]; then \
	  $(TOOLS)/ensure-system.sh java maven && \
	  $(UV_RUN) run --frozen python -m tsunagu.devstack jars; \
	fi

test-tools: ## Chromium and CJK fonts (browser tests), kustomize (deploy checks)
	@$(TOOLS)/ensure-system.sh chromium cjk-fonts
	@if [ -z "$${KUSTOMIZE:-}" ]; then $(TOOLS)/install-kustomize.sh >/dev/null; fi

up: env kafka ## run the whole system: Kafka, PostgreSQL, the four services, demo data
	@$(UV_RUN) run --frozen python -m tsunagu.devstack up

down: ## stop what `make up` started
	@$(UV_RUN) run --frozen python -m tsunagu.devstack down

test: env kafka test-tools ## the whole suite on real Kafka and PostgreSQL (started on test ports)
	@$(UV_RUN) run --frozen pytest $(PYTEST_ARGS)

test-fast: env ## unit tests only (no infrastructure)
	@$(UV_RUN) run --frozen pytest -m "not integration and not browser" $(PYTEST_ARGS)

lint: env ## ruff (lint and format check), mypy (strict for shared/), import contracts, AsyncAPI files current
	@$(UV_RUN) run --frozen ruff check .
	@$(UV_RUN) run --frozen ruff format --check .
	@$(UV_RUN) run --frozen mypy shared/src
	@$(UV_RUN) run --frozen lint-imports
	@$(UV_RUN) run --frozen tsunagu asyncapi --check

asyncapi: env ## regenerate services/*/asyncapi.yaml from the contracts and the topic registry
	@$(UV_RUN) run --frozen tsunagu asyncapi

fmt: env ## format and autofix
	@$(UV_RUN) run --frozen ruff check --fix .
	@$(UV_RUN) run --frozen ruff format .

bench: env kafka ## quick benchmark (about a minute); see benchmarks/README.md
	@$(UV_RUN) run --frozen python -m benchmarks.run --quick

bench-full: env kafka ## the full benchmark run recorded in benchmarks/README.md
	@$(UV_RUN) run --frozen python -m benchmarks.run --full
