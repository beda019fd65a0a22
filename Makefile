# pipeserve: `make serve` trains (if needed) and serves the example; `make test` checks everything.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
SHARED ?= ../shared
PIP_FLAGS ?= --quiet
# dvc runs stage commands (`python`, `pipeserve`) from the project's environment.
export PATH := $(BIN):$(PATH)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip

# The examples are projects of their own (examples/*/pyproject.toml): their packages hold the
# pipeline builders that params.yaml names, installed next to pipeserve as a user's would be.
EXAMPLES := examples/iris examples/credit
EXAMPLE_INSTALLS := $(foreach example,$(EXAMPLES),-e $(example))

$(VENV)/.train: $(VENV)/bin/python pyproject.toml $(CONSTRAINTS) $(EXAMPLES:%=%/pyproject.toml)
	$(BIN)/pip install $(PIP_FLAGS) -c $(CONSTRAINTS) -e '.[train]' $(EXAMPLE_INSTALLS)
	touch $@

$(VENV)/.dev: $(VENV)/bin/python pyproject.toml $(CONSTRAINTS) $(EXAMPLES:%=%/pyproject.toml)
	$(BIN)/pip install $(PIP_FLAGS) -c $(CONSTRAINTS) -e '.[dev]' $(EXAMPLE_INSTALLS)
	touch $@ $(VENV)/.train

.PHONY: install
install: $(VENV)/.train ## create .venv with the project and its training tools

.PHONY: models
models: $(VENV)/.train ## run the DVC pipeline (prepare, train, evaluate, bundle) if anything changed
	$(BIN)/dvc repro

.PHONY: serve
serve: models ## train if needed, then serve the models on 127.0.0.1:8080 (granian, 2 workers)
	$(BIN)/pipeserve serve

.PHONY: dev
dev: models ## Flask's development server with reload
	$(BIN)/flask --app pipeserve.api run --port $${PIPESERVE_PORT:-8080} --debug

.PHONY: test
test: $(VENV)/.dev browser lint typecheck pytest bandit audit deploy-check container ## everything CI runs

# The model card tests drive a real headless Chromium: Debian's package, installed when missing.
.PHONY: browser
browser: ## install Debian's chromium for the page tests, if missing
	command -v chromium > /dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

# The docs' picture of a model card: the project's iris bundle in the browser test's Chromium (the
# bundle is pinned by dvc.lock, so the picture changes only with it or with the page's look).
.PHONY: card-screenshot
card-screenshot: models $(VENV)/.dev browser ## write docs/images/model-card.png (the iris card in Chromium)
	CARD_SCREENSHOT=$(CURDIR)/docs/images/model-card.png $(BIN)/pytest --no-cov -q \
		tests/integration/test_model_card_browser.py

.PHONY: lint
lint: $(VENV)/.dev ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: format
format: $(VENV)/.dev ## apply ruff's formatting and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: typecheck
typecheck: $(VENV)/.dev ## mypy (strict) over src and tools
	$(BIN)/mypy

# Spark (pyspark, in the dev extra) needs a Java runtime: Debian's when there is none, as root.
.PHONY: java
java: ## a Java runtime for Spark, from Debian's packages if `java` is missing
	@command -v java >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; \
	  else echo "Spark needs Java 17+: apt-get install -y openjdk-17-jre-headless" >&2; exit 1; fi; }

.PHONY: pytest
pytest: $(VENV)/.dev java ## the test suite with branch coverage
	OPENSHIFT_SCHEMAS=$(SHARED)/data/openshift-schemas $(BIN)/pytest --cov --cov-report=term $(PYTEST_ARGS)

.PHONY: bandit
bandit: $(VENV)/.dev ## security lint of the package
	$(BIN)/bandit -q -c pyproject.toml -r src

# Accepted advisories, each with no fixed release to move to:
# - skops>=0.6 (safety-db lists every release since 0.6, no fix published): a skops file can name
#   types that run code on load. pipeserve checks each file's sha256 against bundle.json before
#   loading and passes an explicit trusted-type list, never trusted=True (pipeserve.bundle.io).
# - diskcache<=5.6.3 (pickle in its cache directory): pulled in by DVC, a training/dev tool that is
#   not installed in the serving image; only DVC writes its cache directories.
AUDIT_ACCEPTED := --ignore 'skops>=0.6' --ignore 'diskcache<=5.6.3'

.PHONY: audit
audit: $(VENV)/.dev ## offline vulnerability audit of the locked dependencies
	$(BIN)/python tools/offline_audit.py --lock $(CONSTRAINTS) --db-dir $(SHARED)/data/vulnerability-db \
		--skip pipeserve $(AUDIT_ACCEPTED)

.PHONY: audit-online
audit-online: $(VENV)/.dev ## pip-audit against the online advisory service (needs internet)
	$(BIN)/pip-audit --strict -r $(CONSTRAINTS)

CHECKOV_VENV := .venv-checkov

# checkov pins clash with the project's: it lives in its own environment, frozen in its own file.
$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	rm -rf $(CHECKOV_VENV) && $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install $(PIP_FLAGS) -r requirements/checkov.txt
	touch $@

.PHONY: manifests
manifests: $(VENV)/.dev ## render deploy/kubernetes and deploy/openshift (kustomize) into build/deploy/
	mkdir -p build/deploy
	$(BIN)/kubectl kustomize deploy/kubernetes > build/deploy/kubernetes.yaml
	$(BIN)/kubectl kustomize deploy/openshift > build/deploy/openshift.yaml

# Skipped for every resource, so here rather than in each object's annotations:
# - CKV_K8S_21 (default namespace): the manifests are namespace-agnostic on purpose; the namespace
#   is chosen when applying (`kubectl apply -k … -n NS`, `oc project NS`) or by an overlay.
# Other skips are annotations on the object they concern (checkov.io/skipN) or comments in the
# Dockerfile (checkov:skip), each with its reason.
CHECKOV_SKIPS := CKV_K8S_21

.PHONY: deploy-check
deploy-check: manifests $(CHECKOV_VENV)/.installed ## checkov's Kubernetes and Dockerfile checks, offline
	timeout 600 $(CHECKOV_VENV)/bin/checkov --skip-download --compact --quiet \
		--framework kubernetes dockerfile --skip-check $(CHECKOV_SKIPS) \
		-f build/deploy/kubernetes.yaml -f build/deploy/openshift.yaml -f Dockerfile

# Exactly the files the Dockerfile reads (the allow-list in .dockerignore; a test keeps the two
# equal). `oc start-build --from-dir` would upload the whole checkout, .venv included.
CONTEXT_FILES := Dockerfile .dockerignore pyproject.toml README.md requirements/constraints.txt src models

.PHONY: context
context: models ## the image's build context as build/context.tar (oc start-build --from-archive)
	mkdir -p build
	tar -cf build/context.tar --exclude=__pycache__ --exclude='*.egg-info' $(CONTEXT_FILES)

.PHONY: container
container: models ## build the image with podman and run it as OpenShift would (skipped if podman cannot run, unless CI=true)
	tools/container_check.sh

.PHONY: lock
lock: ## re-resolve the newest allowed dependencies into requirements/constraints.txt
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install $(PIP_FLAGS) '.[dev]'
	{ echo "# Resolved by 'make lock'; every environment installs with -c this file."; \
	  .lock-venv/bin/pip freeze --exclude pipeserve | LC_ALL=C sort -f; } > $(CONSTRAINTS)
	rm -rf .lock-venv

.PHONY: docs
docs: $(VENV)/.dev ## regenerate docs/settings.md (from pipeserve.settings) and docs/performance.md (from the newest bench run)
	$(BIN)/python tools/settings_doc.py docs/settings.md
	$(BIN)/python -m tools.performance_doc

.PHONY: clean
clean: ## remove the environment and caches (not data or models)
	rm -rf $(VENV) $(CHECKOV_VENV) $(MLSERVER_VENV) .pytest_cache .mypy_cache .ruff_cache .coverage build/deploy

# The stacks the benchmark compares with (the seed design on Gunicorn, FastAPI on uvicorn).
$(VENV)/.bench: $(VENV)/.train pyproject.toml $(CONSTRAINTS)
	$(BIN)/pip install $(PIP_FLAGS) -c $(CONSTRAINTS) -e '.[train,bench]'
	touch $@

BENCH_ARGS ?=
.PHONY: bench
bench: models $(VENV)/.bench ## pipeserve vs the seed design, FastAPI, a minimal ONNX app, hello; wrk on 127.0.0.1 (~6 min)
	$(BIN)/python -m benchmarks.bench $(BENCH_ARGS)

# MLServer pins its own versions of shared libraries: it lives in its own environment.
# uvloop 0.22 breaks MLServer 1.7.1's inference workers (they die at start, so every model is
# "not found"; SeldonIO/MLServer#2286): its users pin uvloop below 0.22.
MLSERVER_VENV := .venv-mlserver
MLSERVER_PINS := 'mlserver==1.7.1' 'mlserver-sklearn==1.7.1' 'scikit-learn==1.9.*' 'uvloop<0.22'
$(MLSERVER_VENV)/.installed:
	rm -rf $(MLSERVER_VENV) && $(PYTHON) -m venv $(MLSERVER_VENV)
	$(MLSERVER_VENV)/bin/pip install $(PIP_FLAGS) $(MLSERVER_PINS)
	touch $@

.PHONY: bench-peers
bench-peers: models $(VENV)/.bench $(MLSERVER_VENV)/.installed ## make bench plus MLServer 1.7 (mlserver-sklearn, defaults)
	$(BIN)/python -m benchmarks.bench --peers $(BENCH_ARGS)

BENCH_BATCH_ARGS ?=
.PHONY: bench-batch
bench-batch: models $(VENV)/.dev java ## batch scoring rows/s: local engine vs Spark local[2] (1M iris, 200k credit rows)
	$(BIN)/python -m benchmarks.batch $(BENCH_BATCH_ARGS)

SOAK_SECONDS ?= 600
.PHONY: soak
soak: models ## real server, 64 clients for SOAK_SECONDS (600): errors, latency, worker RSS (not part of test)
	$(BIN)/python -m benchmarks.soak --seconds $(SOAK_SECONDS) $(SOAK_ARGS)
