-- Statistics roll-ups (SPEC §10): one row per template, campaign ('' for
-- none) and UTC hour (microseconds since the epoch / 3,600,000,000), kept
-- by the outbox dispatcher in the unit that marks the events dispatched,
-- so every event counts once. Figures over a range sum these rows, however
-- many coupons the template has.
CREATE TABLE stats_hourly (
    template_id  TEXT NOT NULL,
    campaign_id  TEXT NOT NULL,
    hour         BIGINT NOT NULL,
    generated    BIGINT NOT NULL DEFAULT 0,
    claimed      BIGINT NOT NULL DEFAULT 0,
    granted      BIGINT NOT NULL DEFAULT 0,
    new_users    BIGINT NOT NULL DEFAULT 0,
    used         BIGINT NOT NULL DEFAULT 0,
    returned     BIGINT NOT NULL DEFAULT 0,
    expired      BIGINT NOT NULL DEFAULT 0,
    voided       BIGINT NOT NULL DEFAULT 0,
    discount     BIGINT NOT NULL DEFAULT 0,
    sales        BIGINT NOT NULL DEFAULT 0,
    orders       BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT stats_hourly_pk PRIMARY KEY (template_id, campaign_id, hour)
);
CREATE INDEX stats_hourly_campaign ON stats_hourly (campaign_id, hour);
