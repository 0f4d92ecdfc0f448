# The two commands of the README: `make synth` (install, render, gate) and `make test` (everything tested).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The tests' extras (Airflow, its Celery provider, pytest, the upload's rclone) and the Airflow package: only
# `make test`, `faults` and `bench` need them; rendering and the gate install the project alone.
TEST_STAMP := $(VENV)/.installed-test
LINT_STAMP := $(VENV)/.installed-lint
# Debian packages the tests run for real (Redis 7.0 servers and Sentinels, the exporter, ShellCheck; openssl
# makes the TLS tests' certificates).
# The gate itself runs promtool (prometheus), so the first command installs that one too; iproute2 gives the
# network-namespace tests `ip` (a minimal Debian has none).
DEB_GATE_PACKAGES := prometheus
DEB_PACKAGES := redis-server redis-sentinel prometheus-redis-exporter $(DEB_GATE_PACKAGES) shellcheck openssl iproute2
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

# The CRD schemas that travel with the repository (synth/crd_schemas/README.md): source and pinned commit.
CRD_CATALOG := https://raw.githubusercontent.com/datreeio/CRDs-catalog
CRD_CATALOG_COMMIT := 7b1e26ef9deea49293714d204c1a2270aab1178f
CRD_DIR := synth/crd_schemas

.PHONY: install install-test lint synth check test faults bench schema crd-schemas deb-packages deb-packages-gate clean

# The project and airflow_broker/ (the runtime's Sentinel connections are shared with Airflow's transport).
$(STAMP): pyproject.toml airflow_broker/pyproject.toml
	@command -v node >/dev/null 2>&1 || { \
	  echo "Node.js is missing: cdk8s runs its generator on Node.js (18 or newer)."; \
	  echo "On Debian: apt-get update && apt-get install -y nodejs"; exit 1; }
	@command -v python3 >/dev/null 2>&1 || { echo "python3 is missing: apt-get install -y python3 python3-venv"; exit 1; }
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e . -e ./airflow_broker
	@touch $@

$(TEST_STAMP): $(STAMP) airflow_broker/pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,airflow,lint]' -e ./airflow_broker
	@touch $@

$(LINT_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[lint]'
	@touch $@

install: $(STAMP)

install-test: $(TEST_STAMP)

## Render cluster_spec.yaml into dist/ (atomically), refresh the spec's JSON Schema and the generated docs pages,
## then run the gate.
synth: install deb-packages-gate
	$(BIN)/redis-gitops synth
	$(BIN)/redis-gitops schema --out cluster_spec.schema.json
	$(BIN)/redis-gitops docs --out docs
	$(BIN)/redis-gitops check

## The pull-request gate: dist/ matches the spec, every object is schema-valid (and kubeconform-valid when it is
## on PATH), and the policies in policies/ pass on dist/ as it is; then the code's own checks (lint). With
## BASE=origin/main it also plans the change from that commit and stops what is refused or disruptive unless the
## spec acknowledges it (docs/review/plan.md).
check: install deb-packages-gate lint
	$(BIN)/redis-gitops check $(if $(BASE),--base $(BASE))

## ruff (lint and format), the import contracts, actionlint on the workflow.
lint: $(LINT_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/actionlint .github/workflows/*.yml

schema: install
	$(BIN)/redis-gitops schema --out cluster_spec.schema.json

## Download the bundled CRD schemas again from the catalog at CRD_CATALOG_COMMIT; ADD=group/kind_version.json adds one.
crd-schemas:
	@set -e; cd $(CRD_DIR); for f in $$(find . -name '*.json' | sed 's|^\./||' | sort) $(ADD); do \
	  mkdir -p "$$(dirname "$$f")"; \
	  curl -sSfL "$(CRD_CATALOG)/$(CRD_CATALOG_COMMIT)/$$f" -o "$$f.tmp" && mv "$$f.tmp" "$$f" && echo "refreshed $$f"; \
	done

deb-packages-gate:
	@$(MAKE) --no-print-directory deb-packages DEB_PACKAGES="$(DEB_GATE_PACKAGES)"

deb-packages:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## Every test: spec rules, manifests, dist/ gate, and the pod scripts run on real Redis and Sentinel.
test: install-test deb-packages lint
	$(BIN)/pytest

## The fault suite alone: the tests marked `faults` (left out of make test for time), then three runs of each
## scenario (five of the hand-over and the rolling restart), the network ones (partition, new address) included,
## into build/faults/report.json, report.md and a PNG each; then docs/design/fault-results.md (and .json) from them.
faults: install-test deb-packages
	$(BIN)/pytest -m faults
	$(BIN)/python -m redis_gitops.faults --runs 3 --network
	$(BIN)/python -m redis_gitops.faults.airflow_worker --runs 3 --tasks 300
	$(BIN)/python -m redis_gitops.faults.airflow_partition --runs 3
	$(BIN)/python -m redis_gitops.faults.report

bench: install-test deb-packages
	$(BIN)/python scripts/bench_synth.py
	$(BIN)/python scripts/bench_environments.py
	$(BIN)/python scripts/bench_failover.py
	$(BIN)/python scripts/bench_transport.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
