-- Rules that run on time (issue 3): claim lifecycle columns, follow-up confirmation (R5.2),
-- the deadline queue and the ledger of penalties, points and rewards.

-- When a claim stopped standing (lapsed, cancelled), the rule that ended it and, for a
-- cancellation, who cancelled it and why (R5.6). A reassigned claim points at the void one (R5.3).
ALTER TABLE claims ADD COLUMN ended_at BIGINT;
ALTER TABLE claims ADD COLUMN ended_rule TEXT;
ALTER TABLE claims ADD COLUMN ended_by BIGINT REFERENCES staff(id);
ALTER TABLE claims ADD COLUMN end_reason TEXT;
ALTER TABLE claims ADD COLUMN reassigned_from BIGINT REFERENCES claims(id);
-- R3.1: when the contact the registration records took place (submitted by a cut-off after it).
ALTER TABLE claims ADD COLUMN contact_at BIGINT;

-- R5.2: a leader confirms the second follow-up.
ALTER TABLE activities ADD COLUMN confirmed_at BIGINT;
ALTER TABLE activities ADD COLUMN confirmed_by BIGINT REFERENCES staff(id);

-- "At due_at evaluate rule for subject": one row per (kind, subject), moved when a later event
-- changes the limit, deleted in the transaction that fires it. The scheduler reads only due rows,
-- so its cost follows what is due, not the number of customers.
CREATE TABLE deadlines (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    -- The customer the subject belongs to: firing locks it, as every change to a customer does.
    customer_id BIGINT,
    due_at BIGINT NOT NULL,
    rule TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, kind, subject_id)
);
CREATE INDEX deadlines_due ON deadlines(due_at, id);

-- Append-only: a reversal is a new row pointing at the one it reverses.
CREATE TABLE ledger_entries (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    staff_id BIGINT REFERENCES staff(id),
    customer_id BIGINT REFERENCES customers(id),
    kind TEXT NOT NULL CHECK (kind IN ('penalty', 'points', 'reward')),
    code TEXT NOT NULL,
    rule TEXT NOT NULL,
    amount BIGINT NOT NULL,
    points BIGINT NOT NULL,
    -- How many occurrences the entry stands for (R5.11: three shortfalls in one entry).
    quantity BIGINT NOT NULL,
    flag TEXT,
    at BIGINT NOT NULL,
    period TEXT NOT NULL,
    policy_version BIGINT NOT NULL,
    decision_json TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    -- What an automatic entry is about ("claim:12"), so a rule charges it once.
    subject TEXT,
    reverses BIGINT REFERENCES ledger_entries(id),
    -- The entry this one refers to (R6.1: the violation a store manager failed to supervise).
    refers_to BIGINT REFERENCES ledger_entries(id),
    created_by BIGINT REFERENCES staff(id),
    note TEXT NOT NULL
);
CREATE INDEX ledger_staff ON ledger_entries(tenant_id, staff_id, period, code);
CREATE INDEX ledger_period ON ledger_entries(tenant_id, period);
CREATE UNIQUE INDEX ledger_subject ON ledger_entries(tenant_id, code, subject) WHERE subject IS NOT NULL;
CREATE UNIQUE INDEX ledger_reversal ON ledger_entries(reverses) WHERE reverses IS NOT NULL;

-- Customer pools (公海): the pool a customer nobody holds is in, and since when. A claim taken
-- from a pool names it (daily limits per member).
ALTER TABLE customers ADD COLUMN pool_id TEXT;
ALTER TABLE customers ADD COLUMN pooled_at BIGINT;
CREATE INDEX customers_pool ON customers(tenant_id, pool_id, pooled_at) WHERE pool_id IS NOT NULL;
ALTER TABLE claims ADD COLUMN from_pool TEXT;

-- Tags on a customer that rules read (R1.6: out_of_town, selected; R1.7: pending_project),
-- comma-separated.
ALTER TABLE customers ADD COLUMN tags TEXT NOT NULL DEFAULT '';

-- R5.3: finding the void claims not yet reassigned.
CREATE INDEX claims_reassigned ON claims(reassigned_from) WHERE reassigned_from IS NOT NULL;

-- R11.7: the kind of service an activity was (before, during, after sale, regular care).
ALTER TABLE activities ADD COLUMN kind TEXT;
