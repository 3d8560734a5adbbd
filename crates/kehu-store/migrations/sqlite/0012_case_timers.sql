-- Timers of the case engine (issue 10): a step a timer takes is nobody's, so case_steps.staff_id
-- may be NULL; a case a timer found late says since when (`overdue_since`, cleared when the case
-- moves or a step restarts the timer). The timers themselves are rows of `deadlines`, kind
-- `case:<timer>`, subject the case. SQLite cannot drop NOT NULL in place: the table is rebuilt
-- with its rows and indexes.
CREATE TABLE case_steps_new (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    case_id BIGINT NOT NULL REFERENCES cases(id),
    action TEXT NOT NULL,
    role TEXT,
    staff_id BIGINT REFERENCES staff(id),
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    note TEXT,
    fields TEXT NOT NULL,
    at BIGINT NOT NULL,
    decision_json TEXT NOT NULL
);
INSERT INTO case_steps_new (id, tenant_id, case_id, action, role, staff_id, from_state, to_state, note, fields, at, decision_json)
    SELECT id, tenant_id, case_id, action, role, staff_id, from_state, to_state, note, fields, at, decision_json FROM case_steps;
DROP TABLE case_steps;
ALTER TABLE case_steps_new RENAME TO case_steps;
CREATE INDEX case_steps_case ON case_steps(tenant_id, case_id, id);
CREATE INDEX case_steps_staff ON case_steps(tenant_id, staff_id, case_id);
ALTER TABLE cases ADD COLUMN overdue_since BIGINT;
CREATE INDEX cases_overdue ON cases(tenant_id, overdue_since) WHERE overdue_since IS NOT NULL;
-- A case's timers are found by their subject (the case), whatever their kind.
CREATE INDEX deadlines_subject ON deadlines(tenant_id, subject_id);
