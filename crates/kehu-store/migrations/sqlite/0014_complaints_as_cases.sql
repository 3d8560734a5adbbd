-- Issue 10: R11.9 complaints run on the case engine as workflow `complaint` (the
-- event-customers preset declares it). Each complaint becomes a case with the same fields
-- (`staff`, `to_boss`, `summary`, `resolution`) and its steps: opened when it was found, the
-- timer `unresolved` when its limit passed open, `resolve` when it was resolved; each step keeps
-- the decision the complaint recorded. A pending limit becomes the case's timer. The fines stay
-- the ledger entries they were (their subjects name the complaint), and the history keeps its
-- complaint events unchanged (the chain is never rewritten).
--
-- The people a case names in its staff fields (the staff member a complaint is about): they see
-- the case as its own people do (docs/policy.md, "Who sees a case").
CREATE TABLE case_people (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    case_id BIGINT NOT NULL REFERENCES cases(id),
    staff_id BIGINT NOT NULL REFERENCES staff(id),
    PRIMARY KEY (tenant_id, case_id, staff_id)
);
CREATE INDEX case_people_staff ON case_people(tenant_id, staff_id, case_id);

-- The entries a case charged are found by its customer (and their subjects, `case:ID:...`).
CREATE INDEX ledger_customer ON ledger_entries(tenant_id, customer_id, id);

-- The new case of complaint k is (the highest case id before) + k.id.
CREATE TEMPORARY TABLE complaint_cases AS
    SELECT k.id AS complaint_id, (SELECT COALESCE(MAX(id), 0) FROM cases) + k.id AS case_id FROM complaints k;

INSERT INTO cases (id, tenant_id, workflow, policy_version, state, customer_id, fields, opened_by, opened_at, updated_at, overdue_since)
SELECT m.case_id, k.tenant_id, 'complaint', k.policy_version,
       CASE WHEN k.resolved_at IS NOT NULL THEN 'resolved' WHEN k.escalated_at IS NOT NULL THEN 'escalated' ELSE 'open' END,
       k.customer_id,
       json_object('staff', k.staff_id, 'to_boss', json(CASE WHEN k.to_boss THEN 'true' ELSE 'false' END),
                   'summary', k.summary, 'resolution', k.resolution),
       k.found_by, k.found_at, COALESCE(k.resolved_at, k.escalated_at, k.found_at), NULL
FROM complaints k JOIN complaint_cases m ON m.complaint_id = k.id;

INSERT INTO case_steps (tenant_id, case_id, action, role, staff_id, from_state, to_state, note, fields, at, decision_json)
SELECT k.tenant_id, m.case_id, 'open', NULL, k.found_by, '', 'open', NULL,
       json_object('staff', k.staff_id, 'to_boss', json(CASE WHEN k.to_boss THEN 'true' ELSE 'false' END), 'summary', k.summary),
       k.found_at, k.decision_json
FROM complaints k JOIN complaint_cases m ON m.complaint_id = k.id;

INSERT INTO case_steps (tenant_id, case_id, action, role, staff_id, from_state, to_state, note, fields, at, decision_json)
SELECT k.tenant_id, m.case_id, 'unresolved', NULL, NULL, 'open', 'escalated', NULL, '{}', k.escalated_at, k.escalated_decision_json
FROM complaints k JOIN complaint_cases m ON m.complaint_id = k.id
WHERE k.escalated_at IS NOT NULL AND (k.resolved_at IS NULL OR k.escalated_at <= k.resolved_at);

INSERT INTO case_steps (tenant_id, case_id, action, role, staff_id, from_state, to_state, note, fields, at, decision_json)
SELECT k.tenant_id, m.case_id, 'resolve', NULL, k.resolved_by,
       CASE WHEN k.escalated_at IS NOT NULL AND k.escalated_at <= k.resolved_at THEN 'escalated' ELSE 'open' END,
       'resolved', NULL, json_object('resolution', k.resolution), k.resolved_at, k.resolved_decision_json
FROM complaints k JOIN complaint_cases m ON m.complaint_id = k.id
WHERE k.resolved_at IS NOT NULL;

INSERT INTO case_people (tenant_id, case_id, staff_id)
SELECT k.tenant_id, m.case_id, k.staff_id FROM complaints k JOIN complaint_cases m ON m.complaint_id = k.id;

-- A limit still to come is the case's timer now.
UPDATE deadlines SET kind = 'case:unresolved',
       subject_id = (SELECT m.case_id FROM complaint_cases m WHERE m.complaint_id = deadlines.subject_id)
WHERE kind = 'complaint_due' AND subject_id IN (SELECT complaint_id FROM complaint_cases);
DELETE FROM deadlines WHERE kind = 'complaint_due';

DROP TABLE complaint_cases;
DROP TABLE complaints;
