#!/usr/bin/env bash
# The API tour of docs/API.md, runnable: a fresh server, a template through
# review, a claim, a quote, an order locked, paid and refunded.
#   docs/api-tour.sh            (needs curl and python3; builds the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p couponflow
dir=$(mktemp -d)
export ADMIN=cf_0123456789abcdef0123456789abcdef
COUPONFLOW_BOOTSTRAP_ADMIN_KEY=$ADMIN "${CARGO_TARGET_DIR:-target}/release/couponflow" serve \
  --database-url "sqlite://$dir/tour.db" --listen 127.0.0.1:18181 >/dev/null 2>&1 &
trap 'kill $!' EXIT
for _ in $(seq 50); do curl -sf localhost:18181/healthz >/dev/null && break; sleep 0.1; done
API=http://127.0.0.1:18181
j() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
say() { printf '\n# %s\n' "$*"; }

say "keys: a reviewer and the mall's service key (admin only)"
REVIEWER=$(curl -s $API/v1/api-keys -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"role":"reviewer","label":"审核-张三"}' | j "['key']")
SERVICE=$(curl -s $API/v1/api-keys -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"role":"service","label":"商城后端"}' | j "['key']")

say "a template, created as a draft"
TPL=$(curl -s $API/v1/templates -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d '{
  "name": "满300减50", "description": "全场通用",
  "benefit": {"kind": "threshold", "tiers": [{"min_amount": 30000, "off": 5000}]},
  "scope": {"include": {"all": true}},
  "validity": {"type": "relative", "days": 30},
  "limits": {"total": 1000, "per_user": 1}}' | j "['id']")
echo "template $TPL"

say "submit, then a second person approves"
curl -s -X POST $API/v1/templates/$TPL/submit -H "Authorization: Bearer $ADMIN" | j "['status']"
curl -s $API/v1/templates/$TPL/reviews -H "Authorization: Bearer $REVIEWER" -H 'Content-Type: application/json' \
  -d '{"decision":"approve","reason":"预算已确认"}' | j "['status']"

say "the mall claims for user u-1; a retry with the same request_id answers the same coupon"
CODE=$(curl -s $API/v1/templates/$TPL/claims -H "Authorization: Bearer $SERVICE" -H 'Content-Type: application/json' \
  -d '{"user":{"id":"u-1"},"request_id":"req-1"}' | j "['code']")
curl -s $API/v1/templates/$TPL/claims -H "Authorization: Bearer $SERVICE" -H 'Content-Type: application/json' \
  -d '{"user":{"id":"u-1"},"request_id":"req-1"}' | j "['code']"
echo "coupon $CODE"
say "a second claim for u-1 is refused: per_user is 1"
curl -s $API/v1/templates/$TPL/claims -H "Authorization: Bearer $SERVICE" -H 'Content-Type: application/json' \
  -d '{"user":{"id":"u-1"},"request_id":"req-2"}' | j "['code']"

say "the wallet"
curl -s "$API/v1/users/u-1/coupons?state=available" -H "Authorization: Bearer $SERVICE" | j "['items'][0]['state']"

CART='{"user":{"id":"u-1"},"lines":[{"line_id":"1","sku":"sku-1","unit_price":20000,"quantity":2}],"shipping_fee":1000,"select":"best"}'
say "a quote over the user's coupons"
curl -s $API/v1/quote -H "Authorization: Bearer $SERVICE" -H 'Content-Type: application/json' -d "$CART" | j "['payable']"

say "lock the order, pay it, refund one unit"
curl -s $API/v1/orders/o-1/lock -H "Authorization: Bearer $SERVICE" -H 'Content-Type: application/json' -d "$CART" | j "['state']"
curl -s -X POST $API/v1/orders/o-1/redeem -H "Authorization: Bearer $SERVICE" | j "['state']"
curl -s $API/v1/orders/o-1/refunds -H "Authorization: Bearer $SERVICE" -H 'Content-Type: application/json' \
  -d '{"refund_id":"rf-1","lines":[{"line_id":"1","quantity":1}]}' | j "['amount']"

say "the coupon and its history"
curl -s $API/v1/coupons/$CODE -H "Authorization: Bearer $ADMIN" | j "['history'][-1]['to']"
