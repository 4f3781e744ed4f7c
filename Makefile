# Two commands matter to a newcomer: `make demo` (a whole payment, end to end, locally) and
# `make test` (lint, type check, tests). Both set everything up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.13 is the Lambda runtime; pyenv exposes it as python3.13 (sam build needs it).
export PYENV_VERSION ?= 3.11.7:3.13.0
export SAM_CLI_TELEMETRY ?= 0
# Bytecode caches (__pycache__/, ignored by git) are written even where the environment says not to: without
# them every test process, local container and CLI run compiled the project's sources again, and pytest
# rewrote every test module again (collecting the suite took 14.5 s per process instead of 5.7).
unexport PYTHONDONTWRITEBYTECODE
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

SAM_BUILD_FLAGS ?= --cached --parallel

.PHONY: help venv lint format typecheck test test-fast validate build bench simulate demo serve sandbox go-live-check ops browser-deps clean \
	release deploy sync logs delete

help:
	@echo "make demo       run one complete payment locally, end to end"
	@echo "make test       lint, type check, validate the template and run every test"
	@echo "make serve      keep the local stack up and print a checkout link for a browser"
	@echo "make sandbox    run the Pay1st sandbox alone"
	@echo "make go-live-check [STACK=<stack> COUNTRIES=NG,ZA COMPARE_WITH=<sandbox stack>]"
	@echo "                Pay1st's go-live checklist against a deployed stack (or a local one)"
	@echo "make ops ARGS=\"--stack <stack> show <partnerReference>\""
	@echo "                the operator's command line (find, show, reconcile, replay-webhook, republish,"
	@echo "                redrive-fulfilments, report) against a deployed stack or --local"
	@echo "make bench      print the benchmark figures (cold init measured on the sam build output)"
	@echo "make release    build, check and write dist/ (zips, template, client wheel and sdist, checksums)"
	@echo "make deploy ENV=sandbox|production   sam deploy with samconfig.toml's environment"
	@echo "make sync ENV=sandbox                sam sync --watch (development stacks only)"
	@echo "make logs ENV=sandbox [FN=CreatePaymentFunction]   tail a stack's logs"
	@echo "make delete ENV=sandbox              sam delete, after saying what it keeps"
	@echo "make simulate [PAYMENTS=N] [SEED=S] [JOBS=J]"
	@echo "                the seeded simulation of the whole bundle (sim/): N payments through every fault"
	@echo "make lint | format | typecheck | validate | build"
	@echo "sam itself is .venv/bin/sam (make venv installs it): these targets use it"

$(STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# checkov cannot share .venv (requirements-checkov.txt says why): a virtualenv of its own, made on first use.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

# The browser test drives a system Chromium (Playwright's own browser download cannot work offline): Debian's
# /usr/bin/chromium by default, any other with CHROMIUM_PATH=<executable> (tests/local/test_browser.py reads it).
# apt-get is offered only where it exists (Debian and its kind); elsewhere (macOS, Fedora...) the message says
# to install Chromium with the system's own tools and set CHROMIUM_PATH.
DEBIAN_CHROMIUM ?= /usr/bin/chromium
export CHROMIUM_PATH ?= $(DEBIAN_CHROMIUM)
APT_GET ?= $(shell command -v apt-get 2>/dev/null)
browser-deps:
	@if [ -x "$(CHROMIUM_PATH)" ]; then exit 0; fi; \
	if [ "$(CHROMIUM_PATH)" != "$(DEBIAN_CHROMIUM)" ]; then \
		echo "CHROMIUM_PATH=$(CHROMIUM_PATH) is not an executable: point it at Chromium or Chrome"; exit 1; \
	elif [ -z "$(APT_GET)" ]; then \
		echo "no Chromium at $(DEBIAN_CHROMIUM) (the browser test needs one): install Chromium or Chrome with your"; \
		echo "system's package manager (macOS: brew install --cask chromium) and set CHROMIUM_PATH to its executable,"; \
		echo "e.g. make test CHROMIUM_PATH=/Applications/Chromium.app/Contents/MacOS/Chromium"; exit 1; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian chromium for the browser test"; \
		$(APT_GET) update -qq && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq chromium >/dev/null; \
	else \
		echo "chromium is missing: run 'sudo apt-get install -y chromium' (the browser test needs it), or set CHROMIUM_PATH"; exit 1; \
	fi

# Import rules (pyproject.toml [tool.importlinter]): the layer's packages are found where Lambda finds them.
# checkov scans template.yaml (CloudFormation rules); every check the template does not pass is skipped, with its
# reason: in .checkov.yaml for checks no function passes, in the resource's Metadata for one resource alone.
# --skip-download: no calls to the vendor's platform (offline, and faster).
# checkov does not expand Fn::ForEach (it passes over the loop), so it also scans the template as CloudFormation
# expands it: otherwise the per-function log groups and alarms would go unchecked.
EXPANDED_TEMPLATE := .aws-sam/expanded/template.json
lint: venv $(CHECKOV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=layers/pay1st $(BIN)/lint-imports --no-logo
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml --file template.yaml --framework cloudformation --quiet --compact --skip-download
	PYTHONPATH=local $(BIN)/python -m local_stack expand-template --output $(EXPANDED_TEMPLATE)
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml --file $(EXPANDED_TEMPLATE) --framework cloudformation --quiet --compact --skip-download

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: venv
	$(BIN)/mypy layers/pay1st local tools functions clients/python/src release sim

validate: venv
	$(BIN)/sam validate --lint

build: venv
	$(BIN)/sam build $(SAM_BUILD_FLAGS)

# Coverage ([tool.coverage] in pyproject.toml): a terminal report of the files not fully covered, and a floor.
# pytest-xdist runs the tests in PYTEST_WORKERS processes (pytest-cov combines their coverage), a file's tests
# in one worker (--dist loadfile) so a module's local stack starts once; PYTEST_WORKERS=0 runs in one process.
# Three on a 2-core machine: a worker waiting on a container, a subprocess or a webhook leaves its core to
# another (pytest took 127-140 s with 3, 143-145 s with 2, alternating runs on one machine).
PYTEST_WORKERS ?= 3
test: venv browser-deps lint typecheck validate
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --cov --cov-report=term

# The unit tier (pure logic and the in-memory store; tests/conftest.py sets the tiers from what a test runs on):
# seconds, no moto, no servers. `pytest -m integration` and `-m e2e` run the other two.
test-fast: venv
	$(BIN)/pytest -m unit -x -q

# Cold init is measured on what ships (.aws-sam/build), so the bench builds first.
bench: venv build
	$(BIN)/python bench/run.py

# The seeded simulation (sim/, README "Simulation"): the real handlers on the in-memory store, a simulated Pay1st,
# a virtual clock and one scheduler. The last line says how many invariant violations it found.
PAYMENTS ?= 1000
SEED ?= 1
# JOBS: cohorts at once, one process each (default: one per core; the result is the same).
JOBS ?=
simulate: venv
	PYTHONPATH=layers/pay1st:tools $(BIN)/python -m sim --payments $(PAYMENTS) --seed $(SEED) $(if $(JOBS),--jobs $(JOBS))

# A release: build, the release checks (versions, changelog, upgrade of the tables, the built layer's bytecode)
# and dist/<name>-<version>/ (release/dist.py says what it holds). Offline: sam build --cached reuses what it
# built, the client is built with the venv's setuptools, nothing is uploaded (sam deploy does that).
release: venv build validate
	$(BIN)/pytest -q -p no:cacheprovider tests/ship tests/layer/test_built_layer.py tests/functions/test_template.py
	$(BIN)/python -m release.dist

# Deploying (README "Deploy"): ENV is a samconfig.toml environment. release/stack.py refuses an unknown one and
# the placeholders samconfig ships (shop.example.com, payments-oncall@example.com, ...) before sam is called.
ENV ?=
FN ?=
deploy: venv
	@$(BIN)/python -m release.stack check-deploy $(ENV)
	$(BIN)/sam build $(SAM_BUILD_FLAGS)
	$(BIN)/sam deploy --config-env $(ENV)

# sam sync --watch updates the stack's code and template as you save, skipping change sets: development only.
sync: venv
	@$(BIN)/python -m release.stack check-sync $(ENV)
	$(BIN)/sam sync --watch --config-env $(ENV)

logs: venv
	@$(BIN)/python -m release.stack check-env $(ENV)
	$(BIN)/sam logs --config-env $(ENV) $(if $(FN),--name $(FN)) --tail

delete: venv
	@$(BIN)/python -m release.stack kept $(ENV)
	$(BIN)/sam delete --config-env $(ENV)

demo: venv
	PYTHONPATH=local $(BIN)/python -m local_stack demo

serve: venv
	PYTHONPATH=local $(BIN)/python -m local_stack serve

sandbox: venv
	PYTHONPATH=local $(BIN)/python -m pay1st_sandbox

# Pay1st's go-live checklist, step by step: STACK=<name> or ENV=<samconfig environment> (its stack_name and
# region) checks a deployed stack with your AWS credentials (COMPARE_WITH=<sandbox stack> for a production one);
# without either, a local stack started for the purpose. GO_LIVE_ARGS passes more options (e.g. --json,
# --region, --profile, --webhook-timeout 300); `python -m go_live -h` lists them.
STACK ?=
COUNTRIES ?= NG,ZA
COMPARE_WITH ?=
GO_LIVE_ARGS ?=
# make itself exits 2 whenever a recipe fails, so the check's own code is said on the last line (and in make's
# "Error N"): 1 = a step failed, 2 = the stack could not be checked. A pipeline wanting the bare code runs
# `PYTHONPATH=.:tools:local:layers/pay1st .venv/bin/python -m go_live ...` itself.
go-live-check: venv
	@PYTHONPATH=.:tools:local:layers/pay1st $(BIN)/python -m go_live --countries $(COUNTRIES) \
		$(if $(STACK),--stack $(STACK)) $(if $(ENV),--env $(ENV)) \
		$(if $(COMPARE_WITH),--compare-with $(COMPARE_WITH)) $(GO_LIVE_ARGS); code=$$?; \
	case $$code in \
		0) ;; \
		1) echo "go-live check exit 1: a step failed" >&2 ;; \
		2) echo "go-live check exit 2: the stack could not be checked" >&2 ;; \
		*) echo "go-live check exit $$code" >&2 ;; \
	esac; exit $$code

# The operator's command line (README "Operations"): ARGS="--stack <name> show <partnerReference>" (or ENV=<samconfig
# environment> and ARGS="show ..."), or ARGS="--local show ..." against `make serve`; `make ops ARGS=-h` lists them.
ARGS ?= -h
ops: venv
	PYTHONPATH=tools:local:layers/pay1st $(BIN)/python -m pay1st_ops $(if $(ENV),--env $(ENV)) $(ARGS)

clean:
	rm -rf dist .aws-sam .pytest_cache .ruff_cache .mypy_cache .import_linter_cache .coverage .coverage.* htmlcov
