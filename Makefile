# The two commands: `make run` and `make test`. Everything either needs installs here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
TESTDEPS := $(VENV)/.test-installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint typecheck frontend-test pytest schema bench console chromium clean

$(RUNTIME): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e .
	touch $@

$(TESTDEPS): $(RUNTIME) pyproject.toml
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

# The console: built by Vite from frontend/ (npm ci only when the lock file changes),
# or the placeholder page where there is no frontend/package.json.
FRONTEND_SOURCES := $(shell find frontend/src frontend/index.html frontend/graphiql.html \
	frontend/vite.config.ts frontend/tsconfig.json frontend/codegen.ts schema.graphql \
	-type f 2>/dev/null)
NODE_MODULES := frontend/node_modules/.installed
CONSOLE := frontend/dist/.built

$(NODE_MODULES): frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

ifneq ($(wildcard frontend/package.json),)
$(CONSOLE): $(NODE_MODULES) $(FRONTEND_SOURCES)
	cd frontend && npm run build
	touch $@
else
$(CONSOLE): frontend/placeholder/index.html
	rm -rf frontend/dist && mkdir -p frontend/dist && cp frontend/placeholder/index.html frontend/dist/
	touch $@
endif

console: $(CONSOLE)

# Browser tests drive Debian's Chromium (never a downloaded browser build), with CJK
# fonts so that screenshots of the zh-CN console show characters, not empty boxes.
chromium:
	@{ command -v chromium >/dev/null && fc-list :lang=zh 2>/dev/null | grep -q .; } || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium fonts-noto-cjk >/dev/null; \
	  else echo "Install Debian's chromium and fonts-noto-cjk (as root) to run the browser tests" >&2; exit 1; fi; }

# WORKERS=4 make run: four server processes (PostgreSQL only; see README).
run: $(RUNTIME) console
	$(PY) -m imaging_billing.cli serve

lint: $(TESTDEPS)
	$(VENV)/bin/ruff format --check backend tests
	$(VENV)/bin/ruff check backend tests
	cd backend && ../$(VENV)/bin/lint-imports ../pyproject.toml

typecheck: $(TESTDEPS)
	$(VENV)/bin/mypy

frontend-test: $(NODE_MODULES) console
	@if [ -f frontend/package.json ]; then cd frontend && npm test && npm run size; fi

pytest: $(TESTDEPS) console chromium
	$(PY) -m pytest -q

test: lint typecheck frontend-test pytest

schema: $(RUNTIME)
	$(VENV)/bin/strawberry export-schema imaging_billing.api.schema:schema --app-dir backend > schema.graphql.tmp
	mv schema.graphql.tmp schema.graphql

bench: $(TESTDEPS)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(PY) -m tests.bench.run

clean:
	rm -rf $(VENV) frontend/dist var
