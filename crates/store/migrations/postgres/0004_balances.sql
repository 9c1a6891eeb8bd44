-- Balances (SPEC §7.7): a user's `points` and `wallet` (minor units of CNY),
-- each an append-only ledger of entries and one balance row that every
-- entry updates in the same unit. `version` counts the entries of the
-- balance; an entry's `seq` is the version it made, so a balance's entries
-- are totally ordered and paged by it.

CREATE TABLE balances (
    user_id      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    balance      BIGINT NOT NULL,
    version      BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    CONSTRAINT balances_pk PRIMARY KEY (user_id, kind),
    CONSTRAINT balances_kind CHECK (kind IN ('points', 'wallet')),
    -- The last guard: the use cases refuse an overdraft first.
    CONSTRAINT balances_not_negative CHECK (balance >= 0)
);

CREATE TABLE balance_entries (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    amount          BIGINT NOT NULL,
    balance_after   BIGINT NOT NULL,
    reason          TEXT NOT NULL,
    reference       TEXT NOT NULL,
    note            TEXT,
    idempotency_key TEXT NOT NULL,
    actor           TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    CONSTRAINT balance_entries_key UNIQUE (idempotency_key),
    CONSTRAINT balance_entries_seq UNIQUE (user_id, kind, seq),
    CONSTRAINT balance_entries_kind CHECK (kind IN ('points', 'wallet')),
    CONSTRAINT balance_entries_amount CHECK (amount <> 0),
    CONSTRAINT balance_entries_after CHECK (balance_after >= 0),
    CONSTRAINT balance_entries_reason CHECK (reason IN
        ('cashback', 'cashback_reversal', 'exchange', 'exchange_refund', 'adjustment'))
);

-- Append-only: an entry, once written, is never changed or removed.
CREATE FUNCTION balance_entries_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'balance_entries is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER balance_entries_no_update BEFORE UPDATE ON balance_entries
    FOR EACH ROW EXECUTE FUNCTION balance_entries_append_only();

CREATE TRIGGER balance_entries_no_delete BEFORE DELETE ON balance_entries
    FOR EACH ROW EXECUTE FUNCTION balance_entries_append_only();
