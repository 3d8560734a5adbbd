-- Trust for the people who use Kehu (issue 8): API tokens expire; failed logins are counted in
-- the database, per tenant and username and per client address, so the limit holds across
-- restarts and several `kehu serve` processes; a staff member's sessions and tokens can be
-- ended together (a deactivation ends both, a password reset the sessions).

ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
-- Tokens minted before tokens expired get the default life (90 days), counted from this migration.
UPDATE api_tokens SET expires_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 7776000000
 WHERE expires_at IS NULL;
CREATE INDEX api_tokens_staff ON api_tokens(tenant_id, staff_id);
CREATE INDEX sessions_staff ON sessions(tenant_id, staff_id);

-- Failed logins in the current window per key: `user:NAME` within a tenant, `addr:IP` with
-- tenant_id 0 (an address belongs to no tenant).
CREATE TABLE login_throttle (
    tenant_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
