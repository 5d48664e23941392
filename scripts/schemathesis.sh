#!/usr/bin/env bash
# Schema-driven API testing: schemathesis generates requests from /api/v1/openapi.json and
# checks every answer: no 5xx, documented status codes, content types and response schemas.
#
#   scripts/schemathesis.sh [max-examples]      # CI: 5 examples per operation (the default)
#   scripts/schemathesis.sh 200                 # the long pass, by hand
#
# It starts the debug binary (target/debug/flashforge; built by `make test`) on a free port with
# the in-memory adapters, registers a user, and tests every operation with that user's token.
# Operations that end the token's session (logout, logout-all, password change, DELETE /me,
# DELETE of a session) run last, in a pass of their own, so that they do not turn the rest into
# 401s. schemathesis is installed (pinned) into ~/.cache/flashforge/schemathesis.
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${1:-5}"
VERSION="4.32.5"
VENV="${HOME}/.cache/flashforge/schemathesis"
BIN="${FLASHFORGE_BIN:-target/debug/flashforge}"

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$VERSION"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "schemathesis==$VERSION"
fi
[ -x "$BIN" ] || cargo build --quiet --bin flashforge

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=$(mktemp)
FLASHFORGE_ENV=test \
FLASHFORGE_CONFIG_DIR="$PWD/config" \
FLASHFORGE__AUTH__JWT_SECRET="schemathesis-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" \
FLASHFORGE__SERVER__PORT="$PORT" \
FLASHFORGE__DATABASE__URL="memory://" \
FLASHFORGE__LOG__LEVEL=warn \
    "$BIN" serve >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$PORT/health/live" >/dev/null && break
    sleep 0.1
done

token() {
    curl -fs -X POST "http://127.0.0.1:$PORT/api/v1/auth/register" \
        -H 'content-type: application/json' \
        -d "{\"username\":\"$1\",\"password\":\"correct horse battery staple\"}" |
        python3 -c 'import sys, json; print(json.load(sys.stdin)["access_token"])'
}

ENDING='^/api/v1/(auth/logout|auth/logout-all|me/password|me/delete|auth/sessions/\{session_id\})$'
CHECKS="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
run() {
    "$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
        --checks "$CHECKS" --phases "${PHASES:-examples,coverage,fuzzing}" \
        --max-examples "$EXAMPLES" --workers 2 --seed 1 \
        --suppress-health-check all --warnings off "$@"
}

status=0
echo "== every operation but those that end the session"
run -H "Authorization: Bearer $(token schemathesis.main)" \
    --exclude-path-regex "$ENDING" --exclude-path-regex '^/api/v1/me$' || status=1
echo "== GET/PATCH /api/v1/me"
run -H "Authorization: Bearer $(token schemathesis.me)" \
    --include-path /api/v1/me --exclude-method DELETE || status=1
echo "== the operations that end the session"
run -H "Authorization: Bearer $(token schemathesis.ending)" \
    --include-path-regex "$ENDING" || status=1
echo "== DELETE /api/v1/me"
# (schemathesis 4.32.5's coverage phase trips over its own cache on this operation: a tool error,
# not an answer of ours; examples and fuzzing cover it.)
PHASES=examples,fuzzing run -H "Authorization: Bearer $(token schemathesis.leaving)" \
    --include-path /api/v1/me --include-method DELETE || status=1
if grep -q "panicked" "$LOG"; then
    echo "the server panicked:"; grep -A3 panicked "$LOG"; status=1
fi
exit $status
