-- The claimer's phone, masked (138****5678), for the claim records of
-- SPEC §10; NULL when the claim's context carried none.
ALTER TABLE coupons ADD COLUMN phone_masked TEXT;
