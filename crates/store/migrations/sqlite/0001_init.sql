-- Couponflow schema, SQLite flavour. Times are microseconds since the Unix
-- epoch (UTC); JSON documents are TEXT; money is integer minor units.
-- Keep in step with migrations/postgres/0001_init.sql (same tables, same
-- columns, same constraint names).

CREATE TABLE templates (
    id           TEXT PRIMARY KEY,
    body         TEXT NOT NULL,
    status       TEXT NOT NULL,
    version      INTEGER NOT NULL,
    review_step  TEXT,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    issued       INTEGER NOT NULL DEFAULT 0,
    generated    INTEGER NOT NULL DEFAULT 0,
    budget_used  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX templates_status ON templates (status, id);

CREATE TABLE template_events (
    template_id  TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    action       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    at           INTEGER NOT NULL,
    reason       TEXT,
    detail       TEXT,
    CONSTRAINT template_events_pk PRIMARY KEY (template_id, seq)
);

CREATE TABLE coupons (
    code         TEXT PRIMARY KEY,
    template_id  TEXT NOT NULL,
    user_id      TEXT,
    state        TEXT NOT NULL,
    valid_from   INTEGER,
    valid_until  INTEGER,
    face_value   INTEGER NOT NULL,
    source       TEXT NOT NULL,
    request_id   TEXT,
    user_seq     INTEGER,
    day          INTEGER,
    day_seq      INTEGER,
    batch_id     TEXT,
    order_id     TEXT,
    hidden       INTEGER NOT NULL DEFAULT 0,
    store_id     TEXT,
    staff_id     TEXT,
    created_at   INTEGER NOT NULL,
    bound_at     INTEGER,
    updated_at   INTEGER NOT NULL,
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
    seq          INTEGER NOT NULL,
    from_state   TEXT,
    to_state     TEXT NOT NULL,
    at           INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    order_id     TEXT,
    actor        TEXT,
    CONSTRAINT coupon_history_pk PRIMARY KEY (code, seq)
);

CREATE TABLE claim_requests (
    template_id  TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    status       INTEGER NOT NULL,
    answer       TEXT NOT NULL,
    at           INTEGER NOT NULL,
    CONSTRAINT claim_requests_pk PRIMARY KEY (template_id, request_id)
);

CREATE TABLE idempotency (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    answer       TEXT NOT NULL,
    at           INTEGER NOT NULL,
    CONSTRAINT idempotency_pk PRIMARY KEY (scope, key)
);

CREATE TABLE orders (
    order_id     TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    state        TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
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
    at           INTEGER NOT NULL
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
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    CONSTRAINT api_keys_hash UNIQUE (key_hash)
);

CREATE TABLE code_batches (
    id           TEXT PRIMARY KEY,
    template_id  TEXT NOT NULL,
    requested    INTEGER NOT NULL,
    generated    INTEGER NOT NULL,
    status       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER
);

CREATE TABLE leases (
    name         TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    until_at     INTEGER NOT NULL
);
