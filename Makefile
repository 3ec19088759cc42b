# citynav — two commands do all set-up:  `make run`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
HASH   := $(shell sha256sum pyproject.toml | cut -c1-12)
# `make run` installs what serving (and building the sample city) needs; `make test` adds the
# `test` extra (test tools and every optional feature the tests cover: analysis, parquet).
RUN_STAMP  := $(VENV)/.installed-run-$(HASH)
TEST_STAMP := $(VENV)/.installed-test-$(HASH)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install install-test browser vendor lint bench clean

# The test install includes the run install, so after `make test` `make run` installs nothing.
$(RUN_STAMP): pyproject.toml
	@test -f $(TEST_STAMP) || { \
	  test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	  $(BIN)/python -m pip install --quiet --upgrade pip && \
	  $(BIN)/python -m pip install --quiet -e . && \
	  $(BIN)/python -m api.warmup; }
	@rm -f $(VENV)/.installed-run-*; touch $(RUN_STAMP)

$(TEST_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m api.warmup
	@rm -f $(VENV)/.installed-*; touch $(TEST_STAMP) $(RUN_STAMP)

install: $(RUN_STAMP)

install-test: $(TEST_STAMP)

## Serve the bundled sample city on http://$(HOST):$(PORT) (builds its snapshot on first use).
run: install
	$(BIN)/citynav serve --host $(HOST) --port $(PORT)

## Install test dependencies and run the whole suite (lint, architecture contracts, types,
## tests).
test: install-test browser
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## Debian's Chromium for the browser tests (tests/e2e), installed with apt when missing (and
## fonts-noto-cjk for the Chinese pages' screenshots).
## Without apt (or root/sudo) the browser tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "note: chromium is missing and apt-get is unavailable: browser tests will skip"; \
	  elif [ "$$(id -u)" = 0 ]; then \
	    (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) \
	      || echo "warning: installing chromium failed: browser tests will skip"; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    (sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y \
	      chromium) || echo "warning: installing chromium failed: browser tests will skip"; \
	  else \
	    echo "note: chromium is missing and needs root to install: browser tests will skip"; \
	  fi; }
	@# A Chinese font, so that screenshots of the zh-CN pages show characters (optional).
	@if command -v fc-list >/dev/null 2>&1 && [ -z "$$(fc-list :lang=zh 2>/dev/null)" ] \
	    && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk) \
	    >/dev/null 2>&1 \
	    || echo "note: fonts-noto-cjk not installed: Chinese text in screenshots shows as boxes"; \
	fi

## Refresh api/static/vendor from the pinned npm packages in web/ (needs npm) and the map's
## label glyphs in api/static/glyphs from Debian's DejaVu fonts (fonts-dejavu-core; freetype-py
## from the `vendor` extra). The results are committed, so `make run` and `make test` need
## neither npm nor the fonts.
vendor: install-test
	scripts/vendor-web.sh
	$(BIN)/python -m pip install --quiet -e ".[vendor]"
	$(BIN)/python scripts/make_glyphs.py

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

## Benchmarks (not part of the tests): see bench/README.md
bench: install-test
	$(BIN)/python bench/road.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
