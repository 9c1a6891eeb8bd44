-- The resource as it stood before a staff action (SPEC §11.6: before and
-- after), read by the audit layer just before the action ran; NULL for
-- actions that create something or name no single resource.
ALTER TABLE audit_log ADD COLUMN before TEXT;
