-- Counters of the templates' anti-fraud caps and rate thresholds (SPEC
-- §11.3, §11.4), kept by the claim batches: claims per (template, key,
-- value, period) — `key` a context field (`device_id`, `ip`, …) or
-- `claims_per_minute`; `period` the local day, -1 for ever, or the minute.
CREATE TABLE risk_counts (
    template_id  TEXT NOT NULL,
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,
    period       BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    CONSTRAINT risk_counts_pk PRIMARY KEY (template_id, key, value, period)
);
