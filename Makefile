# The two commands: `make run` and `make test`. Everything either needs installs here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
TESTDEPS := $(VENV)/.test-installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint typecheck frontend-test pytest schema bench console chromium clean pacs gateway-demo bench-gateway

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

# A real PACS for the gateway tests and the demo: Debian's Orthanc, its Python plugin
# (Orthanc 1.10, orthanc-python 4.0) and dcmtk's storescu.
pacs:
	@{ command -v Orthanc >/dev/null && command -v storescu >/dev/null \
	   && [ -f /usr/share/orthanc/plugins/libOrthancPython.so ]; } || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      orthanc orthanc-python dcmtk >/dev/null; \
	  else echo "Install Debian's orthanc, orthanc-python and dcmtk (as root) to run the PACS tests" >&2; exit 1; fi; }

# Orthanc with the billing plugin against `make run`'s server (started first, in another
# terminal) and the demo institution: then `storescu 127.0.0.1 4242 study/*.dcm`.
BILLING_URL ?= http://127.0.0.1:8000
DEMO_VAR ?= var
GATEWAY_PORTS ?= 8042 4242
gateway-demo: pacs $(TESTDEPS)
	@test -f $(DEMO_VAR)/demo-credentials.json || { echo "Start 'make run' first: it writes $(DEMO_VAR)/demo-credentials.json" >&2; exit 1; }
	PYTHONPATH=backend $(PY) -m tests.support.pacs $(DEMO_VAR)/gateway/study
	PYTHONPATH=backend $(PY) -m imaging_gateway.orthanc_config \
	  $(DEMO_VAR)/demo-credentials.json $(DEMO_VAR)/gateway $(BILLING_URL) $(GATEWAY_PORTS)
	Orthanc $(DEMO_VAR)/gateway/orthanc.json

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

pytest: $(TESTDEPS) console chromium pacs
	$(PY) -m pytest -q --durations=30

test: lint typecheck frontend-test pytest

schema: $(RUNTIME)
	$(VENV)/bin/strawberry export-schema imaging_billing.api.schema:schema --app-dir backend > schema.graphql.tmp
	mv schema.graphql.tmp schema.graphql

bench: $(TESTDEPS)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(PY) -m tests.bench.run

# The Orthanc plugin's latency and outage drain (about 3 minutes; tests/bench/gateway_latency.py).
bench-gateway: $(TESTDEPS) pacs
	$(PY) -m tests.bench.gateway_latency

clean:
	rm -rf $(VENV) frontend/dist var
