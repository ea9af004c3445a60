# The two commands: `make demo` and `make test`. Each runs the shared, idempotent setup first.
SHELL := /bin/bash
TOOLS ?= $(or $(HEXR_CACHE),$(HOME)/.cache/hexr)/tools
ENV := source $(TOOLS)/env.sh &&

.PHONY: setup policy test test-unit test-integration demo bench bench-quick lint typecheck

setup:
	@bash scripts/setup.sh

policy: setup
	@$(ENV) bin/hexr policy build

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
