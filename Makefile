# The two commands of the README: `make run` and `make test`. Both install what they need into
# a local virtual environment (.venv) first; the stamp file makes the second run instant.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# the web UI's front-end packages (lightweight-charts, axe-core for the browser tests), from npm
# with the committed lock file; the gateway serves them from web/node_modules (no CDN)
NODE_STAMP := web/node_modules/.installed
$(NODE_STAMP): web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

run: $(STAMP) $(NODE_STAMP)
	$(BIN)/herbx serve --demo

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy engine gateway grading web loadtest settlement

bench: $(STAMP)
	$(BIN)/herbx bench engine --orders 200000 --seed 42

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache web/node_modules
