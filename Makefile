# nbflow: `make demo` runs the demo workflow, `make test` runs the tests.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast lint bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[demo,test,dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv with nbflow and its test tools

demo: $(STAMP) ## Run the demo workflow end to end
	$(BIN)/nbflow run demo

test: $(STAMP) ## Run the whole test suite (real kernels included)
	$(BIN)/python -m pytest

test-fast: $(STAMP) ## Only the tests that need no kernel and no install
	$(BIN)/python -m pytest -m "not kernel and not slow"

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check nbflow tests benchmarks
	$(BIN)/mypy nbflow

bench: $(STAMP) ## The fan-out benchmark against plain papermill
	$(BIN)/python benchmarks/fanout.py

clean: ## Remove run history, outputs and the virtual environment
	rm -rf .nbflow build $(VENV)
