-- The campaign a coupon was claimed through (SPEC §6.1), for per-campaign
-- statistics; NULL for coupons that came any other way.
ALTER TABLE coupons ADD COLUMN campaign_id TEXT;
