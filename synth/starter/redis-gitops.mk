# The Redis Sentinel broker of Airflow, rendered by redis-gitops (written by `redis-gitops init`).
# `include` this file from your Makefile; it adds redis-synth, redis-check and redis-plan. Needs python3 (venv),
# Node.js (cdk8s renders with it) and promtool (Debian: apt-get install nodejs prometheus).
REDIS_GITOPS_HERE := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
REDIS_GITOPS_SOURCE ?= __TOOL_SOURCE__
REDIS_GITOPS_VENV ?= $(REDIS_GITOPS_HERE)/.venv-redis-gitops
# Set REDIS_GITOPS to an installed redis-gitops to use it instead of the pinned one.
REDIS_GITOPS ?= $(REDIS_GITOPS_VENV)/bin/redis-gitops
REDIS_GITOPS_BIN := $(abspath $(REDIS_GITOPS))
BASE ?= origin/main

$(REDIS_GITOPS_VENV)/bin/redis-gitops:
	python3 -m venv $(REDIS_GITOPS_VENV)
	$(REDIS_GITOPS_VENV)/bin/pip install --quiet "$(REDIS_GITOPS_SOURCE)"

.PHONY: redis-synth redis-check redis-plan

## Render the spec (every environment) into dist/, then gate it.
redis-synth: $(REDIS_GITOPS)
	cd $(REDIS_GITOPS_HERE) && $(REDIS_GITOPS_BIN) synth && $(REDIS_GITOPS_BIN) check

## The pull request's gate: dist/ matches the spec, schemas, promtool, policies.
redis-check: $(REDIS_GITOPS)
	cd $(REDIS_GITOPS_HERE) && $(REDIS_GITOPS_BIN) check

## What merging does to the running brokers, from BASE (default origin/main).
redis-plan: $(REDIS_GITOPS)
	cd $(REDIS_GITOPS_HERE) && $(REDIS_GITOPS_BIN) plan --base $(BASE)
