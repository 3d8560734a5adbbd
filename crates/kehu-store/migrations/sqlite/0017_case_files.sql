-- Files attached to a case (licences, ID copies, inspection opinions): one row per attachment,
-- naming its content by SHA-256. The bytes are kept once per content on the local disk
-- (`files::Blobs`), however many cases attach them. No statement of Kehu updates or deletes a
-- row: an attachment stays on the record.
CREATE TABLE case_files (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    case_id BIGINT NOT NULL REFERENCES cases(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    staff_id BIGINT REFERENCES staff(id),
    at BIGINT NOT NULL
);
CREATE INDEX case_files_case ON case_files(tenant_id, case_id, id);
