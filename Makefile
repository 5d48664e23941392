# FlashForge — the commands a developer and CI use. `make help` lists them.
CARGO ?= cargo
SHELL := /bin/bash
# The binary that client-ts and docs-check run; unset, they build it. CI points it at the one
# `make test` just built (its features differ from a plain build's, so this spares a rebuild).
FLASHFORGE_BIN ?=

.PHONY: help run models release test lint fmt clippy migrate docs docs-check openapi-lint bench-auth bench-assistant bench-knowledge bench-flashcards bench-fairness bench-load bench-crud bench-backup bench bench-all schemathesis client-ts web web-dev web-check web-test check-deploy deny clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: models ## Build and serve on http://127.0.0.1:8080 (SQLite, the vector index and files under ./data)
	$(CARGO) run --bin flashforge -- serve

models: ## Fetch the embedding model into ./models (cached in ~/.cache/flashforge; checksum-verified)
	@scripts/fetch-model.sh models/all-MiniLM-L6-v2

release: ## Build the optimized binary (target/release/flashforge)
	$(CARGO) build --release --bin flashforge

test: ## Run the whole test suite (Postgres cases skip with a notice when Postgres is down)
	$(CARGO) test --workspace

lint: ## Check formatting, source sizes (files <= 800 lines, functions <= 120) and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	@scripts/check-sizes.py
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

migrate: ## Apply pending migrations to the configured database
	$(CARGO) run --bin flashforge -- migrate up

docs: ## Regenerate docs/openapi.json from the code
	$(CARGO) run --quiet --bin flashforge -- openapi > docs/openapi.json.tmp
	mv docs/openapi.json.tmp docs/openapi.json

docs-check: ## Fail when docs/openapi.json differs from what the code generates
	@$(if $(FLASHFORGE_BIN),$(FLASHFORGE_BIN),$(CARGO) run --quiet --bin flashforge --) openapi > target/openapi.generated.json
	@diff -u docs/openapi.json target/openapi.generated.json \
	  && echo "docs/openapi.json is up to date" \
	  || (echo "docs/openapi.json is stale: run 'make docs' and commit it"; exit 1)

openapi-lint: ## Lint docs/openapi.json with Redocly's recommended rules (docs/redocly.yaml; run `npm ci --prefix docs` first)
	npx --no-install --prefix docs redocly lint docs/openapi.json --config docs/redocly.yaml

bench-auth: ## Accounts benchmark: argon2 cost, login throughput, GET /me p99 idle vs login storm
	$(CARGO) bench -p flashforge --bench auth

bench-assistant: ## Assistant benchmark: time to first byte added over a mock provider, messages/s
	$(CARGO) bench -p flashforge --bench assistant

bench-knowledge: models ## Knowledge-base benchmark: 100-page PDF ingestion breakdown, search latency and recall@10 at 10k/100k chunks
	$(CARGO) bench -p flashforge --bench knowledge

bench-flashcards: ## Flashcards benchmark: 100k cards on Postgres, list first vs 90%-deep page, due queue, query plans
	$(CARGO) bench -p flashforge --bench flashcards

bench-fairness: models ## Fairness benchmark: one user's upload behind another's backlog of 50, against one document alone (SQLite and Postgres)
	$(CARGO) bench -p flashforge --bench fairness

bench-load: models ## The load benchmark: the release server on Postgres under wrk, scenario by scenario, with the ratios (pgbench, deep page, raw search, raw ingestion) and memory
	$(CARGO) bench -p flashforge --bench load

bench-crud: models ## The load benchmark's CRUD part alone (the cards seeded, no search or ingestion): GET, list, create against pgbench; with PEER_URL, against the FastAPI template
	LOAD_CRUD_ONLY=1 $(CARGO) bench -p flashforge --bench load

bench-backup: models ## Backup benchmark: a backup's size against the data's du (fixture deployment), backup and restore time of 100 documents
	$(CARGO) bench -p flashforge --bench backup

bench: bench-load bench-fairness ## The load and fairness benchmarks (docs/BENCHMARKS.md)

bench-all: bench-load bench-fairness bench-backup bench-auth bench-assistant bench-knowledge bench-flashcards ## Every benchmark

schemathesis: ## Schema-driven API testing against the debug binary (EXAMPLES=200 for the long pass)
	scripts/schemathesis.sh $${EXAMPLES:-5}

client-ts: ## The generated TypeScript client: types match docs/openapi.json, tsc (strict), the user journey against the debug binary
	$(if $(FLASHFORGE_BIN),@echo "using $(FLASHFORGE_BIN)",$(CARGO) build --bin flashforge)
	npm ci --prefix tests/client-ts --no-audit --no-fund
	npm --prefix tests/client-ts run check
	FLASHFORGE_BIN="$(abspath $(or $(FLASHFORGE_BIN),target/debug/flashforge))" npm --prefix tests/client-ts test

web: ## Rebuild the study web app into crates/web/dist (committed; the binary embeds it) and print its size
	npm ci --prefix crates/web --no-audit --no-fund
	npm --prefix crates/web run build

web-dev: ## The web app's dev server on http://127.0.0.1:5173 with hot reload, proxying the API to FLASHFORGE_API (default: `make run`'s http://127.0.0.1:8080)
	npm ci --prefix crates/web --no-audit --no-fund
	npm --prefix crates/web run dev

web-check: ## Fail when crates/web/dist differs from what its sources build (like docs-check), and print the bundle size
	npm ci --prefix crates/web --no-audit --no-fund
	npm --prefix crates/web run check
	rm -rf target/web-dist
	FLASHFORGE_WEB_OUT="$(abspath target/web-dist)" npm --prefix crates/web run bundle
	@diff -r crates/web/dist target/web-dist \
	  && echo "crates/web/dist is up to date" \
	  || (echo "crates/web/dist is stale: run 'make web' and commit it"; exit 1)
	npm --prefix crates/web run --silent size

web-test: ## The study app in a real browser (Debian's chromium, playwright-core) against the debug binary: the whole journey (SQLite, then Postgres), CORS from another origin; screenshots in crates/web/test-results
	$(if $(FLASHFORGE_BIN),@echo "using $(FLASHFORGE_BIN)",$(CARGO) build --bin flashforge)
	npm ci --prefix crates/web --no-audit --no-fund
	FLASHFORGE_BIN="$(abspath $(or $(FLASHFORGE_BIN),target/debug/flashforge))" npm --prefix crates/web test

deny: ## Supply chain: advisories (when GitHub answers), licenses, banned/duplicate crates, sources (cargo-deny, scripts/deny.toml)
	@scripts/deny.sh

check-deploy: ## Validate deploy/: compose, nginx -t, Kubernetes schemas, yamllint, hadolint
	scripts/check-deploy.sh

clean: ## Remove build output and local data
	$(CARGO) clean
	rm -rf data
