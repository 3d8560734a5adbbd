-- Kehu schema, SQLite dialect. Times are milliseconds since the Unix epoch (UTC).
-- Append-only: a landed migration is never edited; changes go in a new file.

CREATE TABLE tenants (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    policy_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE policy_versions (
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    version BIGINT NOT NULL,
    file_name TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

CREATE TABLE units (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    parent_id BIGINT REFERENCES units(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX units_tenant ON units(tenant_id, parent_id);

CREATE TABLE staff (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    unit_id BIGINT REFERENCES units(id),
    username TEXT NOT NULL,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, username)
);
CREATE INDEX staff_username ON staff(username);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    staff_id BIGINT NOT NULL REFERENCES staff(id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    staff_id BIGINT NOT NULL REFERENCES staff(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL CHECK (kind IN ('person', 'company')),
    name TEXT NOT NULL,
    name_norm TEXT NOT NULL,
    grade TEXT,
    source TEXT,
    referrer_id BIGINT REFERENCES customers(id),
    agent TEXT,
    created_by BIGINT REFERENCES staff(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX customers_tenant_id ON customers(tenant_id, id);
CREATE INDEX customers_name_norm ON customers(tenant_id, name_norm);
-- Foreign-key columns lead an index, so undoing a registration (a duplicate found in a group
-- commit deletes its customer row) checks the referencing tables by lookup, not by scan.
CREATE INDEX customers_referrer ON customers(referrer_id);

-- Normalised identifiers (phone, company name): one customer per key and tenant.
CREATE TABLE customer_keys (
    tenant_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX customer_keys_customer ON customer_keys(customer_id);

-- Search terms: CJK 1- and 2-grams, Latin and digit 3-grams.
CREATE TABLE customer_terms (
    tenant_id BIGINT NOT NULL,
    term TEXT NOT NULL,
    customer_id BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, term, customer_id)
) WITHOUT ROWID;

-- Customers whose name is not in customer_terms yet. Creates only add a row here; a background
-- indexer moves them into the term index in batches, and search reads this table too, so a new
-- customer is found at once.
CREATE TABLE search_queue (
    tenant_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
) WITHOUT ROWID;

CREATE TABLE claims (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    staff_id BIGINT NOT NULL REFERENCES staff(id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'valid', 'expired', 'void', 'cancelled')),
    registered_at BIGINT NOT NULL,
    registered_by BIGINT NOT NULL REFERENCES staff(id),
    effective_at BIGINT,
    confirmed_at BIGINT,
    confirmed_by BIGINT REFERENCES staff(id),
    confirmed_role TEXT,
    valid_until BIGINT,
    policy_version BIGINT NOT NULL
);
CREATE INDEX claims_customer ON claims(customer_id);
CREATE INDEX claims_staff ON claims(staff_id, status);

CREATE TABLE activities (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    staff_id BIGINT NOT NULL REFERENCES staff(id),
    channel TEXT NOT NULL,
    at BIGINT NOT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX activities_customer ON activities(customer_id, at);

-- The history: hash-chained per tenant; history_heads holds each chain's end.
CREATE TABLE events (
    tenant_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    actor_id BIGINT,
    entity TEXT NOT NULL,
    entity_id BIGINT NOT NULL,
    customer_id BIGINT,
    action TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    decision_json TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX events_customer ON events(tenant_id, customer_id, seq);

CREATE TABLE history_heads (
    tenant_id BIGINT PRIMARY KEY,
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);

CREATE TABLE clock (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    offset_ms BIGINT NOT NULL
);
