-- Keys that scale out (issue 9 §4) concern PostgreSQL only: there every tenant table's primary
-- key, unique constraints and foreign keys now include tenant_id, so the schema can be
-- distributed by tenant_id (docs/scaling.md). A SQLite file is never distributed; its tables
-- keep their rowid keys, which its single writer relies on. Queries carry tenant equality on
-- both backends alike.
SELECT 1;
