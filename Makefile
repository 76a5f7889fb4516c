# The two commands: `make run` and `make test`. Everything either needs installs here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
TESTDEPS := $(VENV)/.test-installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint typecheck pytest schema bench console clean

$(RUNTIME): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e .
	touch $@

$(TESTDEPS): $(RUNTIME) pyproject.toml
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

# The console: a Vite build when frontend/package.json exists, else the placeholder page.
console:
	@if [ -f frontend/package.json ]; then \
	  cd frontend && npm ci --no-audit --no-fund && npm run build; \
	else \
	  rm -rf frontend/dist && mkdir -p frontend/dist && cp frontend/placeholder/index.html frontend/dist/; \
	fi

run: $(RUNTIME) console
	$(PY) -m imaging_billing.cli serve

lint: $(TESTDEPS)
	$(VENV)/bin/ruff format --check backend tests
	$(VENV)/bin/ruff check backend tests

typecheck: $(TESTDEPS)
	$(VENV)/bin/mypy

pytest: $(TESTDEPS) console
	$(PY) -m pytest -q

test: lint typecheck pytest

schema: $(RUNTIME)
	$(VENV)/bin/strawberry export-schema imaging_billing.api.schema:schema --app-dir backend > schema.graphql.tmp
	mv schema.graphql.tmp schema.graphql

bench: $(TESTDEPS)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(PY) -m tests.bench.run

clean:
	rm -rf $(VENV) frontend/dist var
