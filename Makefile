# The two set-up commands: `make run` and `make test`. Both create and use .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make run CLOUD_PORT=8001 GATEWAY_PORT=8081` when another stack holds the defaults
CLOUD_PORT ?= $(or $(BERTH_CLOUD_PORT),8000)
GATEWAY_PORT ?= $(or $(BERTH_GATEWAY_PORT),8080)

.PHONY: run test lint deadcode bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/berth up --cloud-port $(CLOUD_PORT) --gateway-port $(GATEWAY_PORT)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/vulture berth vulture_whitelist.py --min-confidence 60
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/vulture berth vulture_whitelist.py --min-confidence 60

# dead-code candidates (not run by `make test`: see docs/architecture.md)
deadcode: $(STAMP)  # every candidate, the reviewed ones in vulture_whitelist.py included
	$(BIN)/vulture berth --min-confidence 60

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
