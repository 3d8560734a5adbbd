-- A case a step of another case opened (`{ open = WORKFLOW }` in the policy, issue 10) names
-- the case it came from; the case page links both ways, so the link is indexed. The key
-- includes the tenant, as every key does (docs/scaling.md).
ALTER TABLE cases ADD COLUMN linked_from BIGINT;
ALTER TABLE cases ADD CONSTRAINT cases_linked_from_fkey
    FOREIGN KEY (tenant_id, linked_from) REFERENCES cases (tenant_id, id);
CREATE INDEX cases_linked_from ON cases(tenant_id, linked_from) WHERE linked_from IS NOT NULL;
