-- Nothing reads coupons by (template_id, state): the claim path reads a
-- template's coupons through the per-user index, statistics come from
-- roll-ups. The index cost one more B-tree insert per coupon issued.
DROP INDEX coupons_template;
