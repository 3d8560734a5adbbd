-- Timers of the case engine (issue 10): a step a timer takes is nobody's, so case_steps.staff_id
-- may be NULL; a case a timer found late says since when (`overdue_since`, cleared when the case
-- moves or a step restarts the timer). The timers themselves are rows of `deadlines`, kind
-- `case:<timer>`, subject the case.
ALTER TABLE case_steps ALTER COLUMN staff_id DROP NOT NULL;
ALTER TABLE cases ADD COLUMN overdue_since BIGINT;
CREATE INDEX cases_overdue ON cases(tenant_id, overdue_since) WHERE overdue_since IS NOT NULL;
-- A case's timers are found by their subject (the case), whatever their kind.
CREATE INDEX deadlines_subject ON deadlines(tenant_id, subject_id);
