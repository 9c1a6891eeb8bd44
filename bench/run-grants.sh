#!/usr/bin/env bash
# How long a 100,000-user staff grant takes, end to end through the CLI
# (issue 4's grant benchmark): upload the CSV, let the server's background
# job issue every coupon, poll until done.
#
#   bench/run-grants.sh [USERS] [POSTGRES_URL]
#
# Builds the release binary, then for SQLite (a fresh temporary file) and
# PostgreSQL (a fresh database cf_bench_<pid> on POSTGRES_URL, default
# postgres://postgres:postgres@127.0.0.1:5432/postgres, dropped at the end;
# skipped when psql cannot reach it): starts `couponflow serve`, creates and
# approves a template through the API, writes USERS (default 100,000) user
# ids to a CSV and times `couponflow grants create --csv`. Needs curl,
# python3 and psql.
set -euo pipefail
cd "$(dirname "$0")/.."

users="${1:-100000}"
admin_url="${2:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
port="${COUPONFLOW_BENCH_PORT:-18090}"
base="http://127.0.0.1:$port"
admin="cf_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
work="$(mktemp -d)"
database="cf_bench_$$"

cargo build --release -q -p couponflow
binary="${CARGO_TARGET_DIR:-target}/release/couponflow"

python3 - "$users" > "$work/users.csv" <<'PY'
import sys
print("user_id")
for n in range(int(sys.argv[1])):
    print(f"user-{n:07d}")
PY

server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  wait 2>/dev/null || true
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

call() { # method path key [body]
  curl -sf -X "$1" "$base$2" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' ${4:+-d "$4"}
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

run() { # label database_url
  COUPONFLOW_BOOTSTRAP_ADMIN_KEY="$admin" COUPONFLOW_LOG=warn \
    "$binary" serve --database-url "$2" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
  local reviewer template start end
  reviewer=$(call POST /v1/api-keys "$admin" '{"role":"reviewer","label":"bench"}' | field key)
  template=$(call POST /v1/templates "$admin" '{"name":"全员补偿券","benefit":{"kind":"cash","amount":500},
    "scope":{"include":{"all":true}},"validity":{"type":"relative","days":30},"limits":{"per_user":1}}' | field id)
  call POST "/v1/templates/$template/submit" "$admin" >/dev/null
  call POST "/v1/templates/$template/reviews" "$reviewer" '{"decision":"approve"}' >/dev/null
  start=$(date +%s.%N)
  "$binary" grants create --server "$base" --key "$admin" --template "$template" --csv "$work/users.csv" >/dev/null
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); \
print(f'$1: {n:,} users granted in {s:.1f} s ({n/s:,.0f} users/s)')" "$start" "$end" "$users"
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
}

run sqlite "sqlite://$work/bench.db"
if psql -q "$admin_url" -c "CREATE DATABASE $database" >/dev/null 2>&1; then
  run postgres "${admin_url%/*}/$database"
else
  echo "postgres: skipped ($admin_url is not reachable)"
fi
