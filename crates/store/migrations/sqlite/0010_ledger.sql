-- The budget ledger (SPEC §12): double-entry, per issuer (`platform` or a
-- shop id) and template, in minor units. A posting is the set of entries
-- that share `posting`; its amounts (debit positive, credit negative) add
-- up to zero. Accounts: `budget` (the issuer's marketing budget, credited
-- when money is reserved), `escrow` (reserved for the template), `expense`
-- (spent on redemptions), `released` (given back to the budget).
-- `template_shop` is the shop of a shop or shared template (NULL for the
-- platform's), so settlement can group a shared template's two sides.

CREATE TABLE ledger_entries (
    posting        TEXT NOT NULL,
    line           INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    issuer         TEXT NOT NULL,
    template_id    TEXT NOT NULL,
    template_shop  TEXT,
    account        TEXT NOT NULL,
    code           TEXT,
    amount         INTEGER NOT NULL,
    at             INTEGER NOT NULL,
    CONSTRAINT ledger_entries_pk PRIMARY KEY (posting, line),
    CONSTRAINT ledger_entries_kind CHECK (kind IN ('reserve', 'expense', 'release', 'return', 'end')),
    CONSTRAINT ledger_entries_account CHECK (account IN ('budget', 'escrow', 'expense', 'released')),
    CONSTRAINT ledger_entries_amount CHECK (amount <> 0)
);
CREATE INDEX ledger_entries_template ON ledger_entries (template_id, at);
CREATE INDEX ledger_entries_code ON ledger_entries (code) WHERE code IS NOT NULL;

-- Append-only: an entry, once written, is never changed or removed.
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only');
END;

CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only');
END;
