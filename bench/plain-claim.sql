-- pgbench script: the plain design issue 3 compares against — one claim,
-- one transaction: lock the hot template row, count the user's coupons,
-- insert the coupon, bump the counter, commit (durably). Run by
-- bench/run-claims-pg.sh with -D "tpl='<template id>'" (quoted: pgbench substitutes text).
\set n random(1, 2000000000)
BEGIN;
SELECT issued, budget_used FROM templates WHERE id = :tpl FOR UPDATE;
SELECT COUNT(*) FROM coupons WHERE user_id = 'pgb-' || :n AND template_id = :tpl;
INSERT INTO coupons (code, template_id, user_id, state, valid_from, valid_until, face_value, source,
                     request_id, user_seq, created_at, bound_at, updated_at)
  VALUES (upper(substr(md5(random()::text || :n), 1, 12)), :tpl, 'pgb-' || :n, 'available',
          0, 4102444800000000, 1, 'claim', 'pgb-' || :n, 1, 0, 0, 0);
UPDATE templates SET issued = issued + 1, budget_used = budget_used + 1 WHERE id = :tpl;
COMMIT;
