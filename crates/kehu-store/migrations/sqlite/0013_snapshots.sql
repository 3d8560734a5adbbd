-- Profile snapshots (R1.8): a customer's profile and the fields of the case that took it, as
-- they stood, kept unchanged (no statement of Kehu updates or deletes a row). `subject` names the
-- step that took it (a case and a step), so a step applied twice keeps one.
CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    case_id BIGINT REFERENCES cases(id),
    subject TEXT NOT NULL,
    taken_at BIGINT NOT NULL,
    content TEXT NOT NULL,
    decision_json TEXT NOT NULL,
    UNIQUE (tenant_id, subject)
);
CREATE INDEX snapshots_customer ON snapshots(tenant_id, customer_id, id);
