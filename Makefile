# The two commands of the README: `make app` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install app demo test test-fast lint browser bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: the CPU wheel. The project's range then installs nothing more.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[all]'
	touch $@

install: $(VENV)/.installed

app: install
	$(BIN)/workbench app

demo: install
	$(BIN)/workbench demo

# Debian's chromium for the browser tests (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# ruff, then the import contracts in pyproject.toml (layers, no cycles, the store through its facade).
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: install browser lint
	$(BIN)/python -m pytest -q

# No browser, nothing marked slow: the loop while editing.
test-fast: install lint
	$(BIN)/python -m pytest -q -m "not browser and not slow"

# Each benchmark prints its figures as ratios to their goals (see the README's Benchmarks section).
bench: install
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
