# FlashForge — the commands a developer and CI use. `make help` lists them.
CARGO ?= cargo
SHELL := /bin/bash

.PHONY: help run release test lint fmt clippy migrate docs docs-check bench-auth bench-assistant bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: ## Build and serve on http://127.0.0.1:8080 (SQLite under ./data, nothing else needed)
	$(CARGO) run --bin flashforge -- serve

release: ## Build the optimized binary (target/release/flashforge)
	$(CARGO) build --release --bin flashforge

test: ## Run the whole test suite (Postgres cases skip with a notice when Postgres is down)
	$(CARGO) test --workspace

lint: ## Check formatting and run clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

migrate: ## Apply pending migrations to the configured database
	$(CARGO) run --bin flashforge -- migrate up

docs: ## Regenerate docs/openapi.json from the code
	$(CARGO) run --quiet --bin flashforge -- openapi > docs/openapi.json.tmp
	mv docs/openapi.json.tmp docs/openapi.json

docs-check: ## Fail when docs/openapi.json differs from what the code generates
	@$(CARGO) run --quiet --bin flashforge -- openapi > target/openapi.generated.json
	@diff -u docs/openapi.json target/openapi.generated.json \
	  && echo "docs/openapi.json is up to date" \
	  || (echo "docs/openapi.json is stale: run 'make docs' and commit it"; exit 1)

bench-auth: ## Accounts benchmark: argon2 cost, login throughput, GET /me p99 idle vs login storm
	$(CARGO) bench -p flashforge --bench auth

bench-assistant: ## Assistant benchmark: time to first byte added over a mock provider, messages/s
	$(CARGO) bench -p flashforge --bench assistant

bench: bench-auth bench-assistant ## Every benchmark

clean: ## Remove build output and local data
	$(CARGO) clean
	rm -rf data
