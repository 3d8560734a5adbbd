-- R11.6: conflicts between two divisions' staff over a customer, settled afterwards by the
-- coordinator and the head of each party's division signing the same outcome, else ruled on by
-- an arbiter (the general manager) once escalated.
CREATE TABLE conflicts (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    event_id BIGINT REFERENCES joint_events(id),
    -- The two parties and the units they were in when the conflict was recorded: each unit's
    -- head signs the settlement.
    party_a BIGINT NOT NULL REFERENCES staff(id),
    unit_a BIGINT NOT NULL REFERENCES units(id),
    party_b BIGINT NOT NULL REFERENCES staff(id),
    unit_b BIGINT NOT NULL REFERENCES units(id),
    summary TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'escalated', 'settled', 'decided')),
    opened_by BIGINT NOT NULL REFERENCES staff(id),
    opened_at BIGINT NOT NULL,
    escalated_by BIGINT REFERENCES staff(id),
    escalated_at BIGINT,
    escalation_reason TEXT,
    -- The outcome, once settled or decided.
    award_to BIGINT REFERENCES staff(id),
    argued BOOLEAN,
    closed_by BIGINT REFERENCES staff(id),
    closed_at BIGINT,
    closing_note TEXT,
    policy_version BIGINT NOT NULL,
    CHECK (party_a <> party_b)
);
CREATE INDEX conflicts_tenant ON conflicts(tenant_id, status, id);
CREATE INDEX conflicts_customer ON conflicts(tenant_id, customer_id);

-- One sign-off per person and per seat ('coordinator' or 'head:<unit id>'), so two concurrent
-- sign-offs cannot fill one seat twice.
CREATE TABLE conflict_signoffs (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    conflict_id BIGINT NOT NULL REFERENCES conflicts(id),
    seat TEXT NOT NULL,
    staff_id BIGINT NOT NULL REFERENCES staff(id),
    award_to BIGINT NOT NULL REFERENCES staff(id),
    argued BOOLEAN NOT NULL,
    note TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    UNIQUE (conflict_id, seat),
    UNIQUE (conflict_id, staff_id)
);
