#!/usr/bin/env bash
# The supply-chain checks with cargo-deny and scripts/deny.toml (`make deny`, .ci/run).
# Installs cargo-deny when missing (`cargo install --locked`: minutes on 2 cores, once). The
# advisory database comes from GitHub: when GitHub does not answer, the advisories are skipped
# with a notice and licenses, bans and sources are still checked (DENY_REQUIRE_ADVISORIES=1
# makes that a failure).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deny --version >/dev/null 2>&1; then
    echo "cargo-deny is missing: installing it (cargo install --locked cargo-deny)"
    cargo install --locked cargo-deny
fi

checks=(licenses bans sources)
if timeout 15 git ls-remote --exit-code https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
    checks=(advisories "${checks[@]}")
elif [[ "${DENY_REQUIRE_ADVISORIES:-0}" == 1 ]]; then
    echo "github.com (the RustSec advisory database) cannot be reached" >&2
    exit 1
else
    echo "NOTICE: github.com (the RustSec advisory database) cannot be reached: advisories skipped"
fi
exec cargo deny --config scripts/deny.toml check "${checks[@]}"
