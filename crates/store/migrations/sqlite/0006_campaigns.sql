-- Campaigns (SPEC §6.1): the campaign as the API takes it in `body` (JSON),
-- its stored status (draft, scheduled, paused, ended: `running` is computed
-- from the clock), and its window beside the body so the claim centre can
-- find the running campaigns by index.

CREATE TABLE campaigns (
    id           TEXT PRIMARY KEY,
    body         TEXT NOT NULL,
    status       TEXT NOT NULL,
    version      INTEGER NOT NULL,
    starts_at    INTEGER NOT NULL,
    ends_at      INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    CONSTRAINT campaigns_status CHECK (status IN ('draft', 'scheduled', 'paused', 'ended'))
);
CREATE INDEX campaigns_live ON campaigns (status, starts_at, id);

-- Refusals of campaign claims decided before the template's batcher (not
-- running, outside the rollout, …), so that a retried request id gets the
-- first answer even after its cause is gone. Refusals the batcher decides
-- are kept in claim_requests, and successful claims are their coupons.
CREATE TABLE campaign_claim_refusals (
    campaign_id  TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    template_id  TEXT NOT NULL,
    answer       TEXT NOT NULL,
    at           INTEGER NOT NULL,
    CONSTRAINT campaign_claim_refusals_pk PRIMARY KEY (campaign_id, template_id, user_id, request_id)
);
