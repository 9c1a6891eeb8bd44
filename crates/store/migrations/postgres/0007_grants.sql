-- Staff grants (SPEC §6.2.2): a grant is a background job that issues one
-- template's coupons to a list of users (or a tag segment's members), in
-- chunks. `processed` is the job's cursor: users at positions 1..processed
-- have their outcome recorded; the chunk after it is issued next. A node
-- works a grant while it holds the lease (`lease_holder` until
-- `lease_until`); a dead node's lease expires and another node resumes.

CREATE TABLE grants (
    id                        TEXT PRIMARY KEY,
    template_id               TEXT NOT NULL,
    segment                   TEXT,
    reason                    TEXT,
    status                    TEXT NOT NULL,
    total                     BIGINT NOT NULL,
    duplicates                BIGINT NOT NULL,
    processed                 BIGINT NOT NULL DEFAULT 0,
    granted                   BIGINT NOT NULL DEFAULT 0,
    skipped_limit_reached     BIGINT NOT NULL DEFAULT 0,
    skipped_sold_out          BIGINT NOT NULL DEFAULT 0,
    skipped_budget_exhausted  BIGINT NOT NULL DEFAULT 0,
    skipped_not_in_audience   BIGINT NOT NULL DEFAULT 0,
    failed                    BIGINT NOT NULL DEFAULT 0,
    lease_holder              TEXT,
    lease_until               BIGINT,
    created_by                TEXT NOT NULL,
    created_at                BIGINT NOT NULL,
    started_at                BIGINT,
    finished_at               BIGINT,
    CONSTRAINT grants_status CHECK (status IN ('pending', 'running', 'done')),
    CONSTRAINT grants_progress CHECK (processed >= 0 AND processed <= total)
);
CREATE INDEX grants_created ON grants (created_at, id);
CREATE INDEX grants_open ON grants (status, created_at, id);

-- One row per distinct user of a grant, in upload order; the outcome is
-- NULL until the user's chunk is recorded.
CREATE TABLE grant_users (
    grant_id     TEXT NOT NULL,
    position     BIGINT NOT NULL,
    user_id      TEXT NOT NULL,
    outcome      TEXT,
    reason       TEXT,
    coupon_code  TEXT,
    CONSTRAINT grant_users_pk PRIMARY KEY (grant_id, position),
    CONSTRAINT grant_users_once UNIQUE (grant_id, user_id)
);

-- The tags the mall has told us a user carries (segments), used for the
-- audience of grants and for segment grants.
CREATE TABLE user_tags (
    user_id     TEXT NOT NULL,
    tag         TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT user_tags_pk PRIMARY KEY (user_id, tag)
);
CREATE INDEX user_tags_tag ON user_tags (tag, user_id);
