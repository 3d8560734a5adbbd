-- R11.2: a customer's attendance at a joint event, checked in at the door. One row per customer
-- and event: the referral points for a new customer brought to the event are charged on it.
CREATE TABLE event_attendance (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    event_id BIGINT NOT NULL REFERENCES joint_events(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    -- The invitation the customer came on.
    claim_id BIGINT REFERENCES claims(id),
    checked_in_by BIGINT NOT NULL REFERENCES staff(id),
    checked_in_at BIGINT NOT NULL,
    policy_version BIGINT NOT NULL,
    UNIQUE (tenant_id, event_id, customer_id)
);
CREATE INDEX event_attendance_customer ON event_attendance(tenant_id, customer_id);
