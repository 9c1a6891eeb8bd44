-- Every `risk.alert` event (SPEC §11.3, §11.5), kept queryable for the
-- console: written by the outbox dispatcher in the unit that dispatches
-- the event, so each alert is recorded once on any number of nodes.
CREATE TABLE risk_alerts (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    at           BIGINT NOT NULL,
    rule         TEXT NOT NULL,
    level        TEXT NOT NULL,
    template_id  TEXT,
    subject      TEXT,
    value        BIGINT,
    threshold    BIGINT,
    data         TEXT NOT NULL
);
CREATE INDEX risk_alerts_template ON risk_alerts (template_id, seq);
