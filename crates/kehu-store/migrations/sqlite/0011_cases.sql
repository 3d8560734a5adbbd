-- The case engine: a case of a workflow the policy declares (`[[workflows]]`), its fields as a
-- JSON object, and every step taken on it (who, in which role, from which state to which, the
-- note and the fields it set). A case is never deleted; its steps are its record.
CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    workflow TEXT NOT NULL,
    -- The policy version the case opened under.
    policy_version BIGINT NOT NULL,
    state TEXT NOT NULL,
    customer_id BIGINT REFERENCES customers(id),
    fields TEXT NOT NULL,
    opened_by BIGINT NOT NULL REFERENCES staff(id),
    opened_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX cases_workflow ON cases(tenant_id, workflow, state, id);
CREATE INDEX cases_customer ON cases(tenant_id, customer_id, id);
CREATE TABLE case_steps (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    case_id BIGINT NOT NULL REFERENCES cases(id),
    action TEXT NOT NULL,
    role TEXT,
    staff_id BIGINT NOT NULL REFERENCES staff(id),
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    note TEXT,
    fields TEXT NOT NULL,
    at BIGINT NOT NULL,
    decision_json TEXT NOT NULL
);
CREATE INDEX case_steps_case ON case_steps(tenant_id, case_id, id);
CREATE INDEX case_steps_staff ON case_steps(tenant_id, staff_id, case_id);
