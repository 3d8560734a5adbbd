-- Who a sale counts for (R5.7, R11.5): each sale keeps the staff member it is credited to and the
-- decision that said so. A special-case change of credit (R5.7) is signed by each required role
-- in turn; until the last signs, the proposal waits on the sale.
CREATE TABLE sales (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    closed_by BIGINT NOT NULL REFERENCES staff(id),
    credited_to BIGINT NOT NULL REFERENCES staff(id),
    event_id BIGINT REFERENCES joint_events(id),
    at BIGINT NOT NULL,
    rule TEXT NOT NULL,
    policy_version BIGINT NOT NULL,
    decision_json TEXT NOT NULL,
    note TEXT NOT NULL,
    change_to BIGINT REFERENCES staff(id),
    change_signed TEXT NOT NULL DEFAULT '',
    change_reason TEXT
);
CREATE INDEX sales_customer ON sales(tenant_id, customer_id, at);
CREATE INDEX sales_credited ON sales(tenant_id, credited_to, at);

-- R11.5: the current inviter's consent for another staff member to help with a customer at an event.
CREATE TABLE event_helpers (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    event_id BIGINT NOT NULL REFERENCES joint_events(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    helper_id BIGINT NOT NULL REFERENCES staff(id),
    granted_by BIGINT NOT NULL REFERENCES staff(id),
    at BIGINT NOT NULL,
    UNIQUE (tenant_id, event_id, customer_id, helper_id)
);
