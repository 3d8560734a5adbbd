-- Issue 10: R11.6 conflicts run on the case engine as workflow `conflict` (the event-customers
-- preset declares it). Each conflict becomes a case with the fields `party_a`, `party_b`,
-- `event` (the joint event's name), `summary`, `award_to` and `argued`, and its steps: opened,
-- each sign-off in its seat (`coordinator`, `head_of:party_a`, `head_of:party_b`), the
-- coordinator's escalation (its reason the step's note), the general manager's ruling. Each
-- step keeps the decision the history recorded for it (a sign-off that settled or
-- escalated the conflict keeps that decision). The parties are the case's people. The fines stay
-- the ledger entries they were, and the history keeps its conflict events unchanged (the chain
-- is never rewritten).

-- The new case of conflict c is (the highest case id before) + c.id.
CREATE TEMPORARY TABLE conflict_cases AS
    SELECT c.id AS conflict_id, (SELECT COALESCE(MAX(id), 0) FROM cases) + c.id AS case_id FROM conflicts c;

-- Each sign-off with its seat as the workflow names it, and whether it was the last (the one
-- that settled the conflict, or escalated it by differing).
CREATE TEMPORARY TABLE conflict_signs AS
    SELECT s.id, s.tenant_id, s.conflict_id, s.staff_id, s.award_to, s.argued, s.note, s.signed_at,
           CASE WHEN s.seat = 'coordinator' THEN 'coordinator'
                WHEN s.seat = 'head:' || c.unit_a THEN 'head_of:party_a'
                ELSE 'head_of:party_b' END AS role,
           CASE WHEN s.id = (SELECT MAX(l.id) FROM conflict_signoffs l WHERE l.conflict_id = s.conflict_id)
                THEN CASE WHEN c.status = 'settled' THEN 'settled'
                          WHEN c.escalated_at IS NOT NULL AND c.escalated_by IS NULL THEN 'escalated'
                          ELSE 'open' END
                ELSE 'open' END AS to_state,
           c.customer_id, c.policy_version
    FROM conflict_signoffs s JOIN conflicts c ON c.id = s.conflict_id;

INSERT INTO cases (id, tenant_id, workflow, policy_version, state, customer_id, fields, opened_by, opened_at, updated_at, overdue_since)
SELECT m.case_id, c.tenant_id, 'conflict', c.policy_version, c.status, c.customer_id,
       json_object('party_a', c.party_a, 'party_b', c.party_b,
                   'event', (SELECT e.name FROM joint_events e WHERE e.id = c.event_id),
                   'summary', c.summary, 'award_to', c.award_to,
                   'argued', json(CASE WHEN c.argued IS NULL THEN 'null' WHEN c.argued THEN 'true' ELSE 'false' END)),
       c.opened_by, c.opened_at,
       COALESCE(c.closed_at, c.escalated_at, (SELECT MAX(s.signed_at) FROM conflict_signoffs s WHERE s.conflict_id = c.id), c.opened_at),
       NULL
FROM conflicts c JOIN conflict_cases m ON m.conflict_id = c.id;

-- The decision the history recorded for a conflict's event, else a plain one naming the rule
-- (looked up by tenant and customer first, through the history's customer index).
CREATE TEMPORARY VIEW conflict_decisions AS
    SELECT ev.tenant_id, ev.customer_id, ev.entity_id AS conflict_id, ev.action, ev.actor_id, ev.decision_json
    FROM events ev WHERE ev.entity = 'conflict' AND ev.decision_json IS NOT NULL;

INSERT INTO case_steps (tenant_id, case_id, action, role, staff_id, from_state, to_state, note, fields, at, decision_json)
SELECT c.tenant_id, m.case_id, 'open', NULL, c.opened_by, '', 'open', NULL,
       json_object('party_a', c.party_a, 'party_b', c.party_b,
                   'event', (SELECT e.name FROM joint_events e WHERE e.id = c.event_id), 'summary', c.summary),
       c.opened_at,
       COALESCE((SELECT d.decision_json FROM conflict_decisions d WHERE d.tenant_id = c.tenant_id AND d.customer_id = c.customer_id
                 AND d.conflict_id = c.id AND d.action = 'open' LIMIT 1),
                json_object('rule', 'R11.6', 'policy_version', c.policy_version, 'facts', json_object('conflict_id', c.id),
                            'text', json_object('zh', '记录冲突（R11.6）', 'en', 'Conflict recorded (R11.6)')))
FROM conflicts c JOIN conflict_cases m ON m.conflict_id = c.id ORDER BY c.id;

INSERT INTO case_steps (tenant_id, case_id, action, role, staff_id, from_state, to_state, note, fields, at, decision_json)
SELECT s.tenant_id, m.case_id, 'sign', s.role, s.staff_id, 'open', s.to_state, NULLIF(s.note, ''),
       json_object('award_to', s.award_to, 'argued', json(CASE WHEN s.argued THEN 'true' ELSE 'false' END)),
       s.signed_at,
       COALESCE((SELECT d.decision_json FROM conflict_decisions d WHERE d.tenant_id = s.tenant_id AND d.customer_id = s.customer_id
                 AND d.conflict_id = s.conflict_id
                 AND d.action = CASE s.to_state WHEN 'settled' THEN 'settle' WHEN 'escalated' THEN 'escalate' ELSE 'sign' END
                 AND (s.to_state <> 'open' OR d.actor_id = s.staff_id) LIMIT 1),
                json_object('rule', 'R11.6', 'policy_version', s.policy_version, 'facts', json_object('conflict_id', s.conflict_id),
                            'text', json_object('zh', '签署处理意见（R11.6）', 'en', 'Signed the outcome (R11.6)')))
FROM conflict_signs s JOIN conflict_cases m ON m.conflict_id = s.conflict_id ORDER BY s.id;

INSERT INTO case_steps (tenant_id, case_id, action, role, staff_id, from_state, to_state, note, fields, at, decision_json)
SELECT c.tenant_id, m.case_id, 'escalate', 'coordinator', c.escalated_by, 'open', 'escalated', c.escalation_reason,
       '{}', c.escalated_at,
       COALESCE((SELECT d.decision_json FROM conflict_decisions d WHERE d.tenant_id = c.tenant_id AND d.customer_id = c.customer_id
                 AND d.conflict_id = c.id AND d.action = 'escalate' LIMIT 1),
                json_object('rule', 'R11.6', 'policy_version', c.policy_version, 'facts', json_object('conflict_id', c.id),
                            'text', json_object('zh', '上报总经理（R11.6）', 'en', 'Escalated to the general manager (R11.6)')))
FROM conflicts c JOIN conflict_cases m ON m.conflict_id = c.id
WHERE c.escalated_by IS NOT NULL ORDER BY c.id;

INSERT INTO case_steps (tenant_id, case_id, action, role, staff_id, from_state, to_state, note, fields, at, decision_json)
SELECT c.tenant_id, m.case_id, 'decide', 'general_manager', c.closed_by, 'escalated', 'decided', NULLIF(c.closing_note, ''),
       json_object('award_to', c.award_to, 'argued', json(CASE WHEN c.argued THEN 'true' ELSE 'false' END)), c.closed_at,
       COALESCE((SELECT d.decision_json FROM conflict_decisions d WHERE d.tenant_id = c.tenant_id AND d.customer_id = c.customer_id
                 AND d.conflict_id = c.id AND d.action = 'decide' LIMIT 1),
                json_object('rule', 'R11.6', 'policy_version', c.policy_version, 'facts', json_object('conflict_id', c.id),
                            'text', json_object('zh', '总经理裁决（R11.6）', 'en', 'Ruled by the general manager (R11.6)')))
FROM conflicts c JOIN conflict_cases m ON m.conflict_id = c.id
WHERE c.status = 'decided' ORDER BY c.id;

INSERT INTO case_people (tenant_id, case_id, staff_id)
SELECT c.tenant_id, m.case_id, c.party_a FROM conflicts c JOIN conflict_cases m ON m.conflict_id = c.id
UNION
SELECT c.tenant_id, m.case_id, c.party_b FROM conflicts c JOIN conflict_cases m ON m.conflict_id = c.id;

DROP VIEW conflict_decisions;
DROP TABLE conflict_signs;
DROP TABLE conflict_cases;
DROP TABLE conflict_signoffs;
DROP TABLE conflicts;
