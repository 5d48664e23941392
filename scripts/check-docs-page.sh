#!/usr/bin/env bash
# Renders /docs/ of a running FlashForge in headless Chromium (apt-get install chromium), saves a
# screenshot, and fails if any request the page made did not answer 2xx/3xx.
# Usage: scripts/check-docs-page.sh [base-url] [server-log]   (defaults: http://127.0.0.1:8080, none)
set -euo pipefail
base="${1:-http://127.0.0.1:8080}"
log="${2:-}"
out="${SCREENSHOT:-docs-page.png}"
profile="$(mktemp -d)"
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$profile" --virtual-time-budget=10000)
chromium "${flags[@]}" --window-size=1280,1000 --screenshot="$out" "$base/docs/" 2>/dev/null
dom="$(chromium "${flags[@]}" --dump-dom "$base/docs/" 2>/dev/null)"
rm -rf "$profile"
grep -q 'opblock-summary-path' <<<"$dom" || { echo "Swagger UI did not render any operation"; exit 1; }
echo "rendered $(grep -o 'opblock-summary-path"' <<<"$dom" | wc -l) operations; screenshot: $out"
if [[ -n "$log" ]]; then
  failed="$(grep -o 'route=[^ ]* status=[0-9]*' "$log" | grep -Ev 'status=(2|3)[0-9][0-9]' || true)"
  [[ -z "$failed" ]] || { echo "failed requests:"; echo "$failed"; exit 1; }
  echo "every request of the page answered 2xx/3xx"
fi
