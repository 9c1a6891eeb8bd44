-- Grant rules (SPEC §6.2.3), the mall's events that fire them, and the
-- failed redemption-code attempts (SPEC §6.2.4, counted for §11.5).

-- A rule grants its templates when an event of its type arrives and its
-- conditions hold. `conditions` and `templates` are JSON.
CREATE TABLE grant_rules (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    conditions   TEXT NOT NULL,
    templates    TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    enabled      BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    CONSTRAINT grant_rules_recipient CHECK (recipient IN ('user', 'inviter'))
);
CREATE INDEX grant_rules_event ON grant_rules (event_type, created_at, id);

-- One row per event id: the event is processed once. `body` is the event
-- as first posted (a repost with other content is refused); `outcome` is
-- the JSON answer, set once its grants are done (NULL: a repost runs them
-- again, and each grant replays its first answer).
CREATE TABLE mall_events (
    id           TEXT PRIMARY KEY,
    event_type   TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    body         TEXT NOT NULL,
    outcome      TEXT,
    received_at  BIGINT NOT NULL,
    processed_at BIGINT
);

-- Failed redemption-code attempts per subject (`user:<id>`, `ip:<addr>`)
-- and local day.
CREATE TABLE code_failures (
    subject      TEXT NOT NULL,
    day          BIGINT NOT NULL,
    failures     BIGINT NOT NULL,
    last_at      BIGINT NOT NULL,
    CONSTRAINT code_failures_pk PRIMARY KEY (subject, day)
);
