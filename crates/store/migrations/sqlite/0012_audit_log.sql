-- Every staff action over the API (SPEC §11.6): who, what, the change asked
-- for and the resource as the answer left it. Append-only.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    role        TEXT NOT NULL,
    method      TEXT NOT NULL,
    path        TEXT NOT NULL,
    status      BIGINT NOT NULL,
    request     TEXT,
    response    TEXT
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
