-- R11.3: joint events of several divisions. An invitation is a claim naming the event; the
-- division it counts for is the inviter's unit when it was registered. Each confirmed invitation
-- is filed by its division's cut-off (a deadline of kind "event_filing").
CREATE TABLE joint_events (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    session TEXT NOT NULL CHECK (session IN ('afternoon', 'evening')),
    -- The divisions' unit ids in the organiser's order: the first closes its invitations first.
    divisions TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES staff(id),
    created_at BIGINT NOT NULL,
    policy_version BIGINT NOT NULL
);
CREATE INDEX joint_events_tenant ON joint_events(tenant_id, starts_at);

ALTER TABLE claims ADD COLUMN event_id BIGINT REFERENCES joint_events(id);
ALTER TABLE claims ADD COLUMN event_unit BIGINT REFERENCES units(id);
ALTER TABLE claims ADD COLUMN filing_due BIGINT;
ALTER TABLE claims ADD COLUMN filed_at BIGINT;
ALTER TABLE claims ADD COLUMN filed_by BIGINT REFERENCES staff(id);
CREATE INDEX claims_event ON claims(event_id, event_unit) WHERE event_id IS NOT NULL;
