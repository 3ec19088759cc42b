# citynav — two commands do all set-up:  `make run`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

## Serve the bundled sample city on http://$(HOST):$(PORT) (builds its snapshot on first use).
run: install
	$(BIN)/citynav serve --host $(HOST) --port $(PORT)

## Install test dependencies and run the whole suite (lint, architecture contracts, tests).
test: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

## Benchmarks (not part of the tests): see bench/README.md
bench: install
	$(BIN)/python bench/road.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
