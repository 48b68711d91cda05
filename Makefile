# The two commands of the README: `make app` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install app demo test test-fast lint browser bench i18n

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

# Debian's chromium for the browser tests (Playwright cannot download browsers here), and a CJK font: without
# one, the Chinese interface's screenshots show boxes where a Chinese user sees characters.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	@fc-list :lang=zh 2>/dev/null | grep -q . || { apt-get update -qq && apt-get install -y -qq fonts-noto-cjk >/dev/null; }

# The app's message catalogues (workbench/app/i18n.py): extract the texts of workbench/app with Babel, merge them
# into each language's .po (translate the new entries there), then compile the .mo that the app reads.
I18N_POT := $(VENV)/workbench.pot
i18n: install
	$(BIN)/pybabel -q extract -F babel.cfg -k _ -k N_ -k ngettext:1,2 --no-default-keywords --no-location \
		--sort-output -o $(I18N_POT) workbench/app
	$(BIN)/pybabel update -D workbench -i $(I18N_POT) -d workbench/app/locale --no-fuzzy-matching --width 120
	$(BIN)/pybabel compile -D workbench -d workbench/app/locale --statistics

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

# Rasa Open Source 3.6.21 runs on Python 3.10 only: its own environment, never imported by the workbench.
.PHONY: rasa rasa-install rasa-train rasa-serve rasa-stop
PY310      ?= $(lastword $(wildcard $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)/versions/3.10.*/bin/python3.10))
RASA_VENV  ?= .venv-rasa
RASA_DIR   := bots/rasa
RASA_PORT  ?= 5005
RASA_ENV   := RASA_TELEMETRY_ENABLED=false HOME=$(CURDIR)/$(RASA_DIR)/.home
RASA_URL   := http://127.0.0.1:$(RASA_PORT)
RASA_UP    := $(PYTHON) -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' $(RASA_URL)/status 2>/dev/null

$(RASA_VENV)/.installed:
	@test -n "$(PY310)" || { echo "no Python 3.10 under pyenv root: install one (pyenv install 3.10) or set PY310"; exit 1; }
	$(PY310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install -q rasa==3.6.21
	touch $@

rasa-install: $(RASA_VENV)/.installed

# The Rasa tests start a real server from the bundled assistant: its environment and model come first.
test: rasa-train

# Regenerate the assistant from the bundled data, then train only when its files changed (hash stamp).
rasa-train: rasa-install
	$(PYTHON) bots/rasa/build.py
	@mkdir -p $(RASA_DIR)/.home
	@h=$$(cat $(RASA_DIR)/config.yml $(RASA_DIR)/domain.yml $(RASA_DIR)/data/*.yml | sha256sum | cut -c1-16); \
	if [ "$$(cat $(RASA_DIR)/models/.stamp 2>/dev/null)" != "$$h" ] || [ ! -f $(RASA_DIR)/models/support.tar.gz ]; then \
		cd $(RASA_DIR) && $(RASA_ENV) ../../$(RASA_VENV)/bin/rasa train --fixed-model-name support --out models >train.log 2>&1 \
		|| { tail -20 train.log; exit 1; }; echo "$$h" > models/.stamp; \
	else echo "rasa: model up to date ($$h)"; fi

# Foreground server on 127.0.0.1:$(RASA_PORT), the REST channel and the HTTP API enabled.
rasa: rasa-train
	cd $(RASA_DIR) && $(RASA_ENV) exec ../../$(RASA_VENV)/bin/rasa run --enable-api -i 127.0.0.1 -p $(RASA_PORT) -m models/support.tar.gz

# Background server for tests and scripts: returns once the status endpoint answers.
rasa-serve: rasa-train
	@if $(RASA_UP); then echo "rasa: already up at $(RASA_URL)"; exit 0; fi; \
	(cd $(RASA_DIR) && $(RASA_ENV) exec nohup ../../$(RASA_VENV)/bin/rasa run --enable-api -i 127.0.0.1 -p $(RASA_PORT) \
		-m models/support.tar.gz >serve-$(RASA_PORT).log 2>&1) & echo $$! > $(RASA_DIR)/serve-$(RASA_PORT).pid; \
	for i in $$(seq 1 300); do $(RASA_UP) && { echo "rasa: up at $(RASA_URL)"; exit 0; }; sleep 1; done; \
	tail -20 $(RASA_DIR)/serve-$(RASA_PORT).log; exit 1

rasa-stop:
	@if [ -f $(RASA_DIR)/serve-$(RASA_PORT).pid ]; then kill $$(cat $(RASA_DIR)/serve-$(RASA_PORT).pid) 2>/dev/null || true; rm -f $(RASA_DIR)/serve-$(RASA_PORT).pid; fi
