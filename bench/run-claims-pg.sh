#!/usr/bin/env bash
# Claims per second on PostgreSQL: two `couponflow serve` nodes sharing one
# database and one hot template, against the plain design (a transaction per
# claim, bench/plain-claim.sql under pgbench) measured in the same run on
# the same database (issue 3's PostgreSQL benchmark).
#
#   bench/run-claims-pg.sh [POSTGRES_URL] [DURATION_SECS] [CONNECTIONS_PER_NODE]
#
# POSTGRES_URL names a server and a database to connect to first (default
# postgres://postgres:postgres@127.0.0.1:5432/postgres); the run creates a
# fresh database cf_bench_<pid> there and drops it at the end. Needs wrk,
# pgbench, psql, curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

admin_url="${1:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
duration="${2:-10}"
connections="${3:-32}"
database="cf_bench_$$"
url="${admin_url%/*}/$database"
admin="cf_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
ports=(18081 18082)

# COUPONFLOW_BENCH_BINARY runs another build (an A/B against a saved binary).
binary="${COUPONFLOW_BENCH_BINARY:-}"
if [ -z "$binary" ]; then
  cargo build --release -q -p couponflow
  binary="${CARGO_TARGET_DIR:-target}/release/couponflow"
fi

psql -q "$admin_url" -c "CREATE DATABASE $database"
servers=()
cleanup() {
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true
}
trap cleanup EXIT
for port in "${ports[@]}"; do
  COUPONFLOW_BOOTSTRAP_ADMIN_KEY="$admin" COUPONFLOW_LOG=warn \
    "$binary" serve --database-url "$url" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  servers+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
done
base="http://127.0.0.1:${ports[0]}"

call() { # method path key [body]
  curl -sf -X "$1" "$base$2" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' ${4:+-d "$4"}
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
rate() { awk '/Requests\/sec/ {print $2}'; }

reviewer=$(call POST /v1/api-keys "$admin" '{"role":"reviewer","label":"bench"}' | field key)
service=$(call POST /v1/api-keys "$admin" '{"role":"service","label":"bench"}' | field key)
new_template() {
  local id
  id=$(call POST /v1/templates "$admin" "{\"name\":\"$1\",\"benefit\":{\"kind\":\"cash\",\"amount\":1},
    \"scope\":{\"include\":{\"all\":true}},\"validity\":{\"type\":\"relative\",\"days\":30},
    \"limits\":{\"total\":5000000,\"per_user\":1}}" | field id)
  call POST "/v1/templates/$id/submit" "$admin" >/dev/null
  call POST "/v1/templates/$id/reviews" "$reviewer" '{"decision":"approve"}' >/dev/null
  echo "$id"
}
plain=$(new_template "plain baseline")
hot=$(new_template "hot template")

echo "== machine: $(nproc) cores, $(uname -r); PostgreSQL: $(psql -tAq "$admin_url" -c 'SHOW server_version')"
echo "== baseline: a transaction per claim (pgbench -j2 -T$duration; its best client count is the baseline)"
baseline=0
for clients in 8 16 64; do
  tps=$(pgbench -n -M simple -c "$clients" -j 2 -T "$duration" -D tpl="'$plain'" \
    -f bench/plain-claim.sql "$url" 2>/dev/null | awk '/^tps/ {print $3}')
  echo "pgbench -c$clients: $tps transactions/s"
  baseline=$(python3 -c "print(max($baseline, round($tps)))")
done
echo "baseline: $baseline claims/s"
echo "== two nodes, one hot template: POST /v1/templates/$hot/claims (wrk -t1 -c$connections on each node)"
outputs=()
loaders=()
for port in "${ports[@]}"; do
  out=$(mktemp)
  outputs+=("$out")
  COUPONFLOW_BENCH_KEY="$service" COUPONFLOW_BENCH_RUN="n$port" \
    wrk -t1 -c"$connections" -d"${duration}s" --latency -s bench/claims.lua \
    "http://127.0.0.1:$port/v1/templates/$hot/claims" >"$out" &
  loaders+=($!)
done
wait "${loaders[@]}"
total=0
for i in "${!outputs[@]}"; do
  node_rate=$(rate <"${outputs[$i]}")
  echo "node $((i + 1)): $node_rate claims/s; $(grep -E '  99%' "${outputs[$i]}" | xargs) ; $(grep -E 'status' "${outputs[$i]}" | xargs)"
  total=$(python3 -c "print(round($total + $node_rate))")
done
echo "both nodes: $total claims/s = $(python3 -c "print(round($total / $baseline, 1))") x the baseline"
issued=$(call GET "/v1/templates/$hot" "$admin" | field issued)
stored=$(psql -tAq "$url" -c "SELECT COUNT(*) FROM coupons WHERE template_id = '$hot'")
echo "== coupons issued: $issued; stored: $stored"
