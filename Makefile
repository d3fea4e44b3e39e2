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
	$(BIN)/pip install --quiet -e '.[dev,load]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/herbx serve --demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy engine gateway grading web loadtest settlement

bench: $(STAMP)
	$(BIN)/herbx bench engine --orders 200000 --seed 42

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
