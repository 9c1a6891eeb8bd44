#!/usr/bin/env bash
# Statistics latency for a template with 10 million coupons (issue 5).
#
#   bench/run-stats.sh [DATABASE_URL] [COUPONS] [REQUESTS]
#
# Starts `couponflow serve` (release build) on a fresh database (a
# temporary SQLite file by default; pass a postgres:// URL of an empty
# database for PostgreSQL), creates and approves a template through the
# API, then loads COUPONS (10,000,000) claimed coupons of it straight in
# SQL, spread over a year, with the hourly roll-ups the outbox dispatcher
# would have kept for them (one INSERT … SELECT … GROUP BY hour over the
# coupons). Then it times REQUESTS (50) calls of
# GET /v1/stats/templates/{id} (daily series) and of ?granularity=hour with
# curl, and prints the median and the 95th percentile. Needs curl, python3
# and, for PostgreSQL, psql.
set -euo pipefail
cd "$(dirname "$0")/.."

database_url="${1:-sqlite://$(mktemp -d)/stats.db}"
coupons="${2:-10000000}"
requests="${3:-50}"
port="${COUPONFLOW_BENCH_PORT:-18081}"
base="http://127.0.0.1:$port"
admin="cf_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

cargo build --release -q -p couponflow
binary="${CARGO_TARGET_DIR:-target}/release/couponflow"

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
template=$(call POST /v1/templates "$admin" '{"name":"stats bench","benefit":{"kind":"cash","amount":500},
  "scope":{"include":{"all":true}},"validity":{"type":"relative","days":30}}' | field id)
call POST "/v1/templates/$template/submit" "$admin" >/dev/null
call POST "/v1/templates/$template/reviews" "$reviewer" '{"decision":"approve"}' >/dev/null

# A year of claims from 2026-01-01, one every (year / COUPONS) microseconds.
start=1767225600000000
step=$(( 31536000000000 / coupons ))
hour=3600000000
load_sql_common="
  INSERT INTO stats_hourly (template_id, campaign_id, hour, claimed, used, discount, sales, orders)
  SELECT template_id, '', bound_at / $hour, COUNT(*),
         SUM(CASE WHEN state = 'redeemed' THEN 1 ELSE 0 END),
         SUM(CASE WHEN state = 'redeemed' THEN face_value ELSE 0 END),
         SUM(CASE WHEN state = 'redeemed' THEN 10000 ELSE 0 END),
         SUM(CASE WHEN state = 'redeemed' THEN 1 ELSE 0 END)
  FROM coupons WHERE template_id = '$template' GROUP BY template_id, bound_at / $hour;"
t0=$(date +%s)
case "$database_url" in
  sqlite:*)
    file="${database_url#sqlite://}"; file="${file%%\?*}"
    python3 - "$file" <<EOF
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=60)
db.execute("PRAGMA journal_mode=WAL")
chunk = 1000000
for first in range(0, $coupons, chunk):
    last = min(first + chunk, $coupons)
    db.execute(f"""
      WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {last})
      INSERT INTO coupons (code, template_id, user_id, state, valid_from, valid_until, face_value, source,
                           request_id, user_seq, created_at, bound_at, updated_at)
      SELECT printf('B%011d', i), '$template', 'u-' || i, CASE WHEN i % 3 = 0 THEN 'redeemed' ELSE 'available' END,
             $start + i * $step, $start + i * $step + 2592000000000, 500, 'claim', 'r-' || i, 1,
             $start + i * $step, $start + i * $step, $start + i * $step FROM n""")
    db.commit()
    # One chunk's WAL at a time, so the file does not grow to the whole load.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.execute("""$load_sql_common""")
db.commit()
EOF
    ;;
  postgres:*)
    psql -q "$database_url" <<EOF
INSERT INTO coupons (code, template_id, user_id, state, valid_from, valid_until, face_value, source,
                     request_id, user_seq, created_at, bound_at, updated_at)
SELECT 'B' || lpad(i::text, 11, '0'), '$template', 'u-' || i, CASE WHEN i % 3 = 0 THEN 'redeemed' ELSE 'available' END,
       $start + i * $step, $start + i * $step + 2592000000000, 500, 'claim', 'r-' || i, 1,
       $start + i * $step, $start + i * $step, $start + i * $step FROM generate_series(0::bigint, $coupons - 1) AS i;
$load_sql_common
ANALYZE coupons; ANALYZE stats_hourly;
EOF
    ;;
esac
echo "== machine: $(nproc) cores, $(uname -r); database: ${database_url%%:*}"
echo "== loaded $coupons coupons and their roll-ups in $(( $(date +%s) - t0 )) s"

time_calls() { # path
  for _ in $(seq 1 "$requests"); do
    curl -s -o /dev/null -w '%{time_total}\n' "$base$1" -H "Authorization: Bearer $admin"
  done | sort -n | awk '{ t[NR] = $1 * 1000 } END { printf "median %.1f ms, p95 %.1f ms over %d calls\n", t[int((NR + 1) / 2)], t[int(NR * 0.95)], NR }'
}
call GET "/v1/stats/templates/$template" "$admin" | python3 -c "import json,sys; f=json.load(sys.stdin)['figures']; print('== figures: claimed', f['claimed'], 'used', f['used'], 'discount', f['discount'])"
echo "== GET /v1/stats/templates/{id} (daily series over the year)"
time_calls "/v1/stats/templates/$template"
echo "== GET /v1/stats/templates/{id}?granularity=hour (8,760 periods)"
time_calls "/v1/stats/templates/$template?granularity=hour"
echo "== GET /healthz (baseline for the same curl loop)"
time_calls "/healthz"
