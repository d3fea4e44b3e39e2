# The two commands of the README: `make run` and `make test`. Both install what they need into
# a local virtual environment (.venv) first; the stamp file makes the second run instant.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean loadtest fuzz core bench-peers

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,load]'
	touch $(STAMP)

# the web UI's front-end packages (lightweight-charts, axe-core for the browser tests), from npm
# with the committed lock file; the gateway serves them from web/node_modules (no CDN)
NODE_STAMP := web/node_modules/.installed
$(NODE_STAMP): web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# the compiled core (mypyc; engine/tools/compiled.py) for `herbx serve` and `herbx engine`: built
# here, not on first use, when a C compiler is present (about half a minute; instant while the
# engine's sources are unchanged); without one, one line says the interpreted core will run
core: $(STAMP)
	$(BIN)/python -m engine.tools.compiled

install: $(STAMP) $(NODE_STAMP) core

run: $(STAMP) $(NODE_STAMP) core
	$(BIN)/herbx serve --demo

test: $(STAMP) $(NODE_STAMP) core
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy engine gateway grading web loadtest settlement

bench: $(STAMP)
	$(BIN)/herbx bench engine --orders 200000 --seed 42

# Load test (docs/loadtest.md): USERS locust users for DURATION against `herbx serve --demo`
# (GATEWAYS=0) or `herbx engine` + GATEWAYS gateways over Redis; reports under var/loadtest/.
USERS ?= 200
DURATION ?= 60s
GATEWAYS ?= 0
loadtest: $(STAMP)
	$(BIN)/python -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("locust") is None)' \
		|| $(BIN)/pip install --quiet -e '.[load]'
	$(BIN)/herbx loadtest --users $(USERS) --duration $(DURATION) --gateways $(GATEWAYS)

# Fuzzing at length (docs/loadtest.md): schemathesis per role, every phase, then hostile
# WebSocket frames, SIGKILL and restart; the last line is JSON (cases, failures).
EXAMPLES ?= 50
WS_EXAMPLES ?= 2000
fuzz: $(STAMP)
	$(BIN)/herbx fuzz --examples $(EXAMPLES) --ws-examples $(WS_EXAMPLES)

# our engine beside liquibook, pyorderbook and matching-engine on the engine issue's peer driver
# (PEER_DRIVER=path/to/peer_bench.py; the peers go into throwaway virtual environments)
bench-peers: $(STAMP) core
	$(BIN)/herbx bench peers --peer-driver "$(PEER_DRIVER)"

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache web/node_modules
