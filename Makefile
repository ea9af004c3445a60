# The two commands: `make demo` and `make test`. Each runs the shared, idempotent setup first.
SHELL := /bin/bash
TOOLS ?= $(or $(HEXR_CACHE),$(HOME)/.cache/hexr)/tools
ENV := source $(TOOLS)/env.sh &&

.PHONY: setup policy build test test-unit test-integration demo bench bench-quick lint typecheck

setup:
	@bash scripts/setup.sh

policy: setup
	@$(ENV) bin/hexr policy build

# the compiled build a container image runs (HEXR_DIST=.hexr/dist bin/hexr sidecar ...): scripts/build-dist.sh
build: setup
	@$(ENV) bash scripts/build-dist.sh

lint: setup
	@$(ENV) npx biome lint .

typecheck: setup
	@$(ENV) npx tsc --noEmit -p .

test: setup
	@$(ENV) bin/hexr policy build
	@$(ENV) npx tsc --noEmit -p .
	@$(ENV) npx biome lint .
	@$(ENV) npx vitest run

test-unit: setup
	@$(ENV) npx vitest run --project unit

test-integration: setup policy
	@$(ENV) npx vitest run --project integration

demo: setup
	@$(ENV) bin/hexr policy build
	@$(ENV) bin/hexr demo $(DEMO_ARGS)

bench: setup policy
	@$(ENV) bin/hexr bench

bench-quick: setup policy
	@$(ENV) bin/hexr bench --quick

# Retrain the learned prompt-injection tier from pinned PyPI packages (a few minutes; not part of
# `make test`): see filters/guard/models/README.md. Python deps go in a venv outside the repo.
TRAIN_DIR ?= $(or $(HEXR_CACHE),$(HOME)/.cache/hexr)/train
.PHONY: train-injection
train-injection:
	@test -x $(TRAIN_DIR)/venv/bin/python || python3 -m venv $(TRAIN_DIR)/venv
	@$(TRAIN_DIR)/venv/bin/pip install -q -r scripts/train-injection/requirements.txt
	@$(ENV) $(TRAIN_DIR)/venv/bin/python scripts/train-injection/train.py --cache $(TRAIN_DIR)/pkgs
