#!/usr/bin/env bash
# Claims per second on the durable claim path, against a no-op JSON endpoint
# of the same server measured in the same run (SPEC issue 3's benchmark).
#
#   bench/run-claims.sh [DATABASE_URL] [DURATION_SECS] [CONNECTIONS]
#
# Starts `couponflow serve` (release build) on a fresh database (a temporary
# SQLite file by default), creates and approves a template through the API,
# then runs wrk on 127.0.0.1: first GET /healthz (the baseline), then
# POST /v1/templates/{id}/claims with a new user and request id per request
# (bench/claims.lua). Needs wrk (`apt-get install wrk`), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

database_url="${1:-sqlite://$(mktemp -d)/bench.db}"
duration="${2:-10}"
connections="${3:-64}"
port="${COUPONFLOW_BENCH_PORT:-18080}"
base="http://127.0.0.1:$port"
admin="cf_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

# COUPONFLOW_BENCH_BINARY runs another build (an A/B against a saved binary).
binary="${COUPONFLOW_BENCH_BINARY:-}"
if [ -z "$binary" ]; then
  cargo build --release -q -p couponflow
  binary="${CARGO_TARGET_DIR:-target}/release/couponflow"
fi

COUPONFLOW_BOOTSTRAP_ADMIN_KEY="$admin" COUPONFLOW_LOG=warn \
  "$binary" serve --database-url "$database_url" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

call() { # method path key [body]
  curl -sf -X "$1" "$base$2" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' ${4:+-d "$4"}
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

reviewer=$(call POST /v1/api-keys "$admin" '{"role":"reviewer","label":"bench"}' | field key)
service=$(call POST /v1/api-keys "$admin" '{"role":"service","label":"bench"}' | field key)
template=$(call POST /v1/templates "$admin" '{"name":"bench 1分券","benefit":{"kind":"cash","amount":1},
  "scope":{"include":{"all":true}},"validity":{"type":"relative","days":30},
  "limits":{"total":5000000,"per_user":1}}' | field id)
call POST "/v1/templates/$template/submit" "$admin" >/dev/null
call POST "/v1/templates/$template/reviews" "$reviewer" '{"decision":"approve"}' >/dev/null

echo "== machine: $(nproc) cores, $(uname -r); database: ${database_url%%:*}"
echo "== baseline: GET /healthz (wrk -t2 -c$connections -d${duration}s)"
wrk -t2 -c"$connections" -d"${duration}s" --latency "$base/healthz" | grep -E "Requests/sec|  50%|  99%|Non-2xx"
echo "== claims: POST /v1/templates/$template/claims"
# COUPONFLOW_BENCH_PERF=<file> records the server's CPU profile during the
# claims run (perf record -e cpu-clock -g; needs linux-perf).
if [ -n "${COUPONFLOW_BENCH_PERF:-}" ]; then
  perf record -e cpu-clock -F 2000 -g -o "$COUPONFLOW_BENCH_PERF" -p "$server" -- sleep "$duration" >/dev/null 2>&1 &
fi
COUPONFLOW_BENCH_KEY="$service" COUPONFLOW_BENCH_RUN="run$$" \
  wrk -t2 -c"$connections" -d"${duration}s" --latency -s bench/claims.lua "$base/v1/templates/$template/claims" |
  grep -E "Requests/sec|  50%|  99%|Non-2xx|status"
wait_perf=$(jobs -p | grep -v "^$server\$" || true)
[ -n "$wait_perf" ] && wait $wait_perf 2>/dev/null || true
# COUPONFLOW_BENCH_METRICS=<file> keeps the server's /metrics after the run
# (its own view of request durations, beside wrk's).
if [ -n "${COUPONFLOW_BENCH_METRICS:-}" ]; then
  curl -sf "$base/metrics" >"$COUPONFLOW_BENCH_METRICS" || true
fi
issued=$(call GET "/v1/templates/$template" "$admin" | field issued)
echo "== coupons issued and stored: $issued"
