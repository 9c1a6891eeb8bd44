-- Couponflow schema, PostgreSQL flavour. Times are microseconds since the Unix
-- epoch (UTC); JSON documents are TEXT; money is integer minor units.
-- Keep in step with migrations/sqlite/0001_init.sql (same tables, same
-- columns, same constraint names).

CREATE TABLE templates (
    id           TEXT PRIMARY KEY,
    body         TEXT NOT NULL,
    status       TEXT NOT NULL,
    version      BIGINT NOT NULL,
    review_step  TEXT,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    issued       BIGINT NOT NULL DEFAULT 0,
    generated    BIGINT NOT NULL DEFAULT 0,
    budget_used  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX templates_status ON templates (status, id);

CREATE TABLE template_events (
    template_id  TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    action       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    at           BIGINT NOT NULL,
    reason       TEXT,
    detail       TEXT,
    CONSTRAINT template_events_pk PRIMARY KEY (template_id, seq)
);

CREATE TABLE coupons (
    code         TEXT PRIMARY KEY,
    template_id  TEXT NOT NULL,
    user_id      TEXT,
    state        TEXT NOT NULL,
    valid_from   BIGINT,
    valid_until  BIGINT,
    face_value   BIGINT NOT NULL,
    source       TEXT NOT NULL,
    request_id   TEXT,
    user_seq     BIGINT,
    day          BIGINT,
    day_seq      BIGINT,
    batch_id     TEXT,
    order_id     TEXT,
    hidden       BIGINT NOT NULL DEFAULT 0,
    store_id     TEXT,
    staff_id     TEXT,
    created_at   BIGINT NOT NULL,
    bound_at     BIGINT,
    updated_at   BIGINT NOT NULL,
    -- The per-user guard, led by the user so it also serves the wallet.
    CONSTRAINT coupons_per_user UNIQUE (user_id, template_id, user_seq)
);
-- Every index below is one more page written per coupon issued: claims at
-- flash-sale rates are bound by those writes, so each index is partial
-- where it can be (day_seq is set only when the template has a daily limit;
-- batch_id only for unbound codes).
CREATE UNIQUE INDEX coupons_per_user_per_day ON coupons (user_id, template_id, day, day_seq)
    WHERE day_seq IS NOT NULL;
CREATE INDEX coupons_expiry ON coupons (state, valid_until);
CREATE INDEX coupons_template ON coupons (template_id, state);
CREATE INDEX coupons_batch ON coupons (batch_id, code) WHERE batch_id IS NOT NULL;

CREATE TABLE coupon_history (
    code         TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    from_state   TEXT,
    to_state     TEXT NOT NULL,
    at           BIGINT NOT NULL,
    reason       TEXT NOT NULL,
    order_id     TEXT,
    actor        TEXT,
    CONSTRAINT coupon_history_pk PRIMARY KEY (code, seq)
);

CREATE TABLE claim_requests (
    template_id  TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    status       BIGINT NOT NULL,
    answer       TEXT NOT NULL,
    at           BIGINT NOT NULL,
    CONSTRAINT claim_requests_pk PRIMARY KEY (template_id, request_id)
);

CREATE TABLE idempotency (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT NOT NULL,
    answer       TEXT NOT NULL,
    at           BIGINT NOT NULL,
    CONSTRAINT idempotency_pk PRIMARY KEY (scope, key)
);

CREATE TABLE orders (
    order_id     TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    state        TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE order_coupons (
    order_id     TEXT NOT NULL,
    code         TEXT NOT NULL,
    CONSTRAINT order_coupons_pk PRIMARY KEY (order_id, code)
);

CREATE TABLE refunds (
    refund_id    TEXT PRIMARY KEY,
    order_id     TEXT NOT NULL,
    body         TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX refunds_order ON refunds (order_id, at);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    key_hash     TEXT NOT NULL,
    role         TEXT NOT NULL,
    shops        TEXT NOT NULL,
    templates    TEXT NOT NULL,
    label        TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    CONSTRAINT api_keys_hash UNIQUE (key_hash)
);

CREATE TABLE code_batches (
    id           TEXT PRIMARY KEY,
    template_id  TEXT NOT NULL,
    requested    BIGINT NOT NULL,
    generated    BIGINT NOT NULL,
    status       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT
);

CREATE TABLE leases (
    name         TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    until_at     BIGINT NOT NULL
);
