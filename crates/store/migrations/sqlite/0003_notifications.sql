-- Notifications (SPEC §6.3), SQLite flavour: the outbox written in the same
-- transaction as each state change, the in-app inbox, webhooks with their
-- delivery log, and the expiry reminders sent. Keep in step with
-- migrations/postgres/0003_notifications.sql.

-- One row per write unit that changed something; `events` is a JSON array
-- (a claim batch appends one row with all its events). `dispatched_at` is
-- set by the unit that fans the row out, in the same transaction as the
-- fan-out, so a row is fanned out once.
CREATE TABLE outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    events         TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    dispatched_at  INTEGER
);
CREATE INDEX outbox_pending ON outbox (id) WHERE dispatched_at IS NULL;

CREATE TABLE inbox_messages (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    title_zh     TEXT NOT NULL,
    body_zh      TEXT NOT NULL,
    title_en     TEXT NOT NULL,
    body_en      TEXT NOT NULL,
    data         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    read_at      INTEGER,
    CONSTRAINT inbox_messages_event UNIQUE (event_id)
);
CREATE INDEX inbox_messages_user ON inbox_messages (user_id, created_at, id);

CREATE TABLE webhooks (
    id           TEXT PRIMARY KEY,
    url          TEXT NOT NULL,
    events       TEXT NOT NULL,
    secret       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    deleted_at   INTEGER
);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_status      INTEGER,
    last_error       TEXT,
    next_attempt_at  INTEGER,
    lease_holder     TEXT,
    lease_until      INTEGER,
    delivered_at     INTEGER,
    created_at       INTEGER NOT NULL,
    CONSTRAINT webhook_deliveries_once UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, created_at, id);

-- A coupon's expiry reminder, once: the primary key is the guard that two
-- nodes running the job cannot both send it.
CREATE TABLE expiry_reminders (
    code         TEXT PRIMARY KEY,
    reminded_at  INTEGER NOT NULL
);
