# apimeter developer commands. Everything runs from a local virtualenv built on Python 3.13 when
# pyenv has it (Lambda's runtime), else python3.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY313 := $(shell pyenv prefix 3.13.0 2>/dev/null)
BOOT_PYTHON := $(if $(PY313),$(PY313)/bin/python,python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The client is also tested on the oldest Python it is tested on, installed as a user installs it.
PY311 := $(shell command -v python3.11 2>/dev/null)
VENV311 := .venv-py311
STAMP311 := $(VENV311)/.installed
PORT ?= 3000
# Who becomes a platform administrator offline (the template's PlatformAdminEmails parameter).
ADMIN_EMAILS ?= demo@apimeter.local
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help install browser dashboard dev demo watch dev-reset rollup pipeline recompute test test-fast test-client lint audit build fuzz soak cost bench bench-client bench-forecast bench-anomaly bench-pipeline bench-live bench-dashboard openapi clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt layers/apimeter/requirements.txt constraints.txt clients/python/pyproject.toml clients/python/requirements-test.txt
	@test -x $(PY) || $(BOOT_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt \
		$$($(PY) -c 'import sys; print("-c constraints.txt" if sys.version_info[:2] == (3, 13) else "")')
	@echo "$(CURDIR)/layers/apimeter" > $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/apimeter-layer.pth
	@echo "$(CURDIR)" >> $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/apimeter-layer.pth
	@touch $(STAMP)

install: $(STAMP) ## create the virtualenv with every pinned dependency

# The dashboard has no build step; npm only fetches its pinned chart library (uPlot), copied into
# dashboard/vendor/ (git-ignored) beside its licence, and served from the project like the rest.
UPLOT := dashboard/vendor/uPlot.iife.min.js
$(UPLOT): dashboard/package.json
	cd dashboard && npm install --no-package-lock --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p dashboard/vendor
	cp dashboard/node_modules/uplot/dist/uPlot.iife.min.js dashboard/node_modules/uplot/dist/uPlot.min.css \
		dashboard/node_modules/uplot/LICENSE dashboard/vendor/
	@touch $(UPLOT)

dashboard: $(UPLOT) ## the web dashboard's pinned chart library (npm), for make dev and sam build

dev: $(STAMP) $(UPLOT) ## start the whole stack offline on 127.0.0.1:$(PORT)
	$(PY) -m offline --port $(PORT) --parameter PlatformAdminEmails=$(ADMIN_EMAILS)

demo: $(STAMP) ## replay real traffic (../shared/data: a web server's log, LLM calls) into the running offline stack's demo project through the Python client; ARGS="--limit 500" or "--data DIR"
	$(PY) -m offline.replay --url http://127.0.0.1:$(PORT) $(ARGS)

rollup: ## run the rollup schedule now on the running offline stack (finalize finished hours)
	@curl -sf -X POST http://127.0.0.1:$(PORT)/_offline/schedules/RollupFunction && echo

pipeline: ## run the hourly pipeline now on the running offline stack (its state machine, on moto's Step Functions); HOUR=2026-11-29T07 judges that hour
	@curl -sf -X POST http://127.0.0.1:$(PORT)/_offline/schedules/HourlyPipeline $(if $(HOUR),-d '{"hour": "$(HOUR)"}') && echo

recompute: $(STAMP) ## backfill on the running offline stack: make recompute PROJECT=prj_... FROM=... TO=...
	@test -n "$(PROJECT)" -a -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make recompute PROJECT=prj_... FROM=<ISO> TO=<ISO>"; exit 2; }
	$(PY) -m tools.recompute --project $(PROJECT) --from $(FROM) --to $(TO)

watch: $(STAMP) ## print the demo project's live messages (WebSocket) from the running offline stack
	$(PY) -m tools.watch --url http://127.0.0.1:$(PORT) $(ARGS)

dev-reset: ## wipe the offline stack's saved data
	rm -rf .offline

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

browser: ## Debian's chromium and chromium-driver, for the browser tests (installed with apt-get when missing)
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		echo "installing chromium and chromium-driver with apt-get"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

test: $(STAMP) $(UPLOT) browser ## lint, template checks and every test (unit, integration, e2e and browser, then the slow proofs; the client on 3.11 too)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory audit
	$(VENV)/bin/sam validate --lint
	$(PY) -m pytest -m "not slow"
	$(PY) -m pytest -m slow --no-cov -q  # minutes of moto writes; coverage tracing would double them
	$(MAKE) --no-print-directory test-client

$(STAMP311): clients/python/requirements-test.txt
	rm -rf $(VENV311)
	$(PY311) -m venv $(VENV311)
	$(VENV311)/bin/python -m pip install --quiet --disable-pip-version-check -r clients/python/requirements-test.txt
	@touch $(STAMP311)

test-client: ## the Python client's tests on Python 3.11, installed from ./clients/python into its own virtualenv
ifeq ($(PY311),)
	@echo "test-client: no python3.11 on PATH; the client was tested on $$($(PY) -V) only" >&2
else
	@$(MAKE) --no-print-directory $(STAMP311)
	$(VENV311)/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./clients/python
	cd clients/python && ../../$(VENV311)/bin/python -m pytest -q -p no:cacheprovider
endif

test-fast: $(STAMP) ## unit and integration tests, without the slow replay of the access log
	$(PY) -m pytest tests/unit tests/integration --no-cov -q -m "not slow"

lint: $(STAMP) ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@# bench/'s scripts import each other by bare name (bench/ is sys.path[0] when they run).
	MYPYPATH=bench $(VENV)/bin/mypy bench

# pip-audit asks a vulnerability service about each pin (PyPI's JSON API, or OSV with
# AUDIT_SERVICE=osv). --strict makes a pin it could not check a failure: where the service cannot be
# reached, every pin "could not be audited" and the audit fails instead of passing on no data.
# AUDIT_DEPENDENCIES=no skips pip-audit, and says so.
AUDIT_SERVICE ?= pypi
audit: $(STAMP) ## bandit over the code (layers, functions, offline, tools); pip-audit over every pinned dependency
	$(VENV)/bin/bandit -q -c pyproject.toml -r layers functions offline tools
ifeq ($(AUDIT_DEPENDENCIES),no)
	@echo "audit: pip-audit NOT RUN (AUDIT_DEPENDENCIES=no): the pins were not checked for known vulnerabilities" >&2
else
	@$(VENV)/bin/pip-audit --strict --no-deps --disable-pip --progress-spinner off --vulnerability-service $(AUDIT_SERVICE) \
		-r constraints.txt 2>&1 | grep -v "encouraged to fully hash\|Consider using a tool like" ; \
	status=$${PIPESTATUS[0]}; if [ $$status -ne 0 ]; then \
		echo "audit: pip-audit failed: a pin has a known vulnerability (listed above), or the $(AUDIT_SERVICE) vulnerability service could not be reached or does not know the pins (\"could not be audited\"). Try AUDIT_SERVICE=osv; AUDIT_DEPENDENCIES=no skips this check." >&2; \
		exit $$status; fi
endif

build: $(STAMP) $(UPLOT) ## sam build (arm64, python3.13)
	@test -n "$(PY313)" || { echo "sam build needs Python 3.13 (pyenv install 3.13.0)"; exit 1; }
	PATH="$(PY313)/bin:$$PATH" $(VENV)/bin/sam build

fuzz: $(STAMP) ## fuzz every operation of the HTTP API with schemathesis on the running stack (make dev); ARGS=--max-examples 100
	$(PY) -m tools.fuzz --url http://127.0.0.1:$(PORT) $(ARGS)

soak: $(STAMP) ## the soak under faults: 200,000 events through ingest, streams and rollups on moto with every fault of offline/faults.py on; exits 1 on any mismatch (ARGS="--events 20000 --seed 3")
	$(PY) -m tools.soak $(ARGS)

cost: $(STAMP) ## what running apimeter costs per million events: the access log replayed through the real handlers on moto, every AWS call metered (ARGS="--events 10000 --single 1000")
	$(PY) -m tools.cost $(ARGS)

bench: $(STAMP) ## benchmarks: ingest domain path, stream aggregation, cold-start imports of the authorizer and ingest, the busiest events partition
	$(PY) bench/ingest.py
	$(PY) bench/aggregate.py
	$(PY) bench/coldstart.py
	$(PY) bench/partitions.py

bench-client: $(STAMP) ## the Python client: track() cost, middleware overhead (Starlette, Flask), memory under an outage
	$(PY) bench/client.py $(ARGS)

bench-forecast: $(STAMP) ## forecast backtests (MASE, interval coverage); more series: make bench-forecast ARGS="a.csv --horizon 1d"
	$(PY) bench/forecast.py $(ARGS)

bench-pipeline: $(STAMP) ## the hourly pipeline's fan-out offline over N projects: make bench-pipeline ARGS="50 200 1000"
	$(PY) bench/pipeline.py $(ARGS)

bench-live: $(STAMP) ## live figures offline: POST answer to WebSocket minute message, 1 and 200 sockets (ARGS="--posts 20 --parameter AggregationWindowSeconds=0")
	$(PY) bench/live.py $(ARGS)

bench-dashboard: $(STAMP) $(UPLOT) browser ## the dashboard: JavaScript and CSS sizes (gzip), and the overview's first paint with data in Chromium on the running stack (after make dev, make demo)
	$(PY) bench/dashboard.py --url http://127.0.0.1:$(PORT) $(ARGS)

bench-anomaly: $(STAMP) ## NAB scores of the anomaly detector; another corpus: make bench-anomaly ARGS=path/to/NAB/data
	$(PY) bench/anomaly.py $(ARGS)

openapi: $(STAMP) ## regenerate docs/openapi.json (HTTP API) and docs/asyncapi.json (live WebSocket API) from the code
	$(PY) -m tools.openapi > docs/openapi.json
	$(PY) -m tools.asyncapi > docs/asyncapi.json

clean: ## remove build output and caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage $(VENV311)
