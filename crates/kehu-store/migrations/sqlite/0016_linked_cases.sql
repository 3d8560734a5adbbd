-- A case a step of another case opened (`{ open = WORKFLOW }` in the policy, issue 10) names
-- the case it came from; the case page links both ways, so the link is indexed. Cases are never
-- deleted, so the link cannot dangle.
ALTER TABLE cases ADD COLUMN linked_from BIGINT REFERENCES cases(id);
CREATE INDEX cases_linked_from ON cases(tenant_id, linked_from) WHERE linked_from IS NOT NULL;
