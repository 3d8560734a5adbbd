-- R11.9: complaints found against a staff member, with the limit by which each must be resolved.
-- A complaint is never deleted: resolving it or reaching its limit open fills in the columns
-- below, each with the decision that did it. Its fines are ledger entries whose subject names it
-- ("complaint:7:staff:3"), so each is charged once.
CREATE TABLE complaints (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    -- The staff member concerned (by default the customer's holder when it was found).
    staff_id BIGINT NOT NULL REFERENCES staff(id),
    -- The customer complained to the boss: the unit's manager is fined too.
    to_boss BOOLEAN NOT NULL,
    summary TEXT NOT NULL,
    found_at BIGINT NOT NULL,
    found_by BIGINT NOT NULL REFERENCES staff(id),
    due_at BIGINT NOT NULL,
    policy_version BIGINT NOT NULL,
    decision_json TEXT NOT NULL,
    resolved_at BIGINT,
    resolved_by BIGINT REFERENCES staff(id),
    resolution TEXT,
    resolved_decision_json TEXT,
    -- The limit passed with the complaint open: the fines and the handover were applied.
    escalated_at BIGINT,
    escalated_decision_json TEXT,
    -- Who took the customer over at the limit, if anyone.
    reassigned_to BIGINT REFERENCES staff(id)
);
CREATE INDEX complaints_tenant ON complaints(tenant_id, id);
CREATE INDEX complaints_customer ON complaints(tenant_id, customer_id, id);
-- The complaint page lists the open ones.
CREATE INDEX complaints_open ON complaints(tenant_id, due_at) WHERE resolved_at IS NULL;
