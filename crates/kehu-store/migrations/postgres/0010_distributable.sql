-- Keys that scale out (issue 9 §4): every tenant table's primary key, unique constraints and
-- foreign keys include tenant_id, so the schema can be distributed by tenant_id (Citus), with
-- tenants, clock and schema_migrations as reference tables (docs/scaling.md). Rows are kept:
-- constraints are rebuilt in place, and re-adding each foreign key with tenant_id checks that
-- no row refers to another tenant's row (the migration fails, and changes nothing, if one does).
-- SQLite keeps its rowid keys: one file is never distributed.

-- 1. Foreign keys between tenant tables go first (they depend on the keys below).
ALTER TABLE activities DROP CONSTRAINT IF EXISTS activities_confirmed_by_fkey;
ALTER TABLE activities DROP CONSTRAINT IF EXISTS activities_customer_id_fkey;
ALTER TABLE activities DROP CONSTRAINT IF EXISTS activities_staff_id_fkey;
ALTER TABLE api_tokens DROP CONSTRAINT IF EXISTS api_tokens_staff_id_fkey;
ALTER TABLE claims DROP CONSTRAINT IF EXISTS claims_confirmed_by_fkey;
ALTER TABLE claims DROP CONSTRAINT IF EXISTS claims_customer_id_fkey;
ALTER TABLE claims DROP CONSTRAINT IF EXISTS claims_ended_by_fkey;
ALTER TABLE claims DROP CONSTRAINT IF EXISTS claims_event_id_fkey;
ALTER TABLE claims DROP CONSTRAINT IF EXISTS claims_event_unit_fkey;
ALTER TABLE claims DROP CONSTRAINT IF EXISTS claims_filed_by_fkey;
ALTER TABLE claims DROP CONSTRAINT IF EXISTS claims_reassigned_from_fkey;
ALTER TABLE claims DROP CONSTRAINT IF EXISTS claims_registered_by_fkey;
ALTER TABLE claims DROP CONSTRAINT IF EXISTS claims_staff_id_fkey;
ALTER TABLE complaints DROP CONSTRAINT IF EXISTS complaints_customer_id_fkey;
ALTER TABLE complaints DROP CONSTRAINT IF EXISTS complaints_found_by_fkey;
ALTER TABLE complaints DROP CONSTRAINT IF EXISTS complaints_reassigned_to_fkey;
ALTER TABLE complaints DROP CONSTRAINT IF EXISTS complaints_resolved_by_fkey;
ALTER TABLE complaints DROP CONSTRAINT IF EXISTS complaints_staff_id_fkey;
ALTER TABLE conflict_signoffs DROP CONSTRAINT IF EXISTS conflict_signoffs_award_to_fkey;
ALTER TABLE conflict_signoffs DROP CONSTRAINT IF EXISTS conflict_signoffs_conflict_id_fkey;
ALTER TABLE conflict_signoffs DROP CONSTRAINT IF EXISTS conflict_signoffs_staff_id_fkey;
ALTER TABLE conflicts DROP CONSTRAINT IF EXISTS conflicts_award_to_fkey;
ALTER TABLE conflicts DROP CONSTRAINT IF EXISTS conflicts_closed_by_fkey;
ALTER TABLE conflicts DROP CONSTRAINT IF EXISTS conflicts_customer_id_fkey;
ALTER TABLE conflicts DROP CONSTRAINT IF EXISTS conflicts_escalated_by_fkey;
ALTER TABLE conflicts DROP CONSTRAINT IF EXISTS conflicts_event_id_fkey;
ALTER TABLE conflicts DROP CONSTRAINT IF EXISTS conflicts_opened_by_fkey;
ALTER TABLE conflicts DROP CONSTRAINT IF EXISTS conflicts_party_a_fkey;
ALTER TABLE conflicts DROP CONSTRAINT IF EXISTS conflicts_party_b_fkey;
ALTER TABLE conflicts DROP CONSTRAINT IF EXISTS conflicts_unit_a_fkey;
ALTER TABLE conflicts DROP CONSTRAINT IF EXISTS conflicts_unit_b_fkey;
ALTER TABLE customer_keys DROP CONSTRAINT IF EXISTS customer_keys_customer_id_fkey;
ALTER TABLE customers DROP CONSTRAINT IF EXISTS customers_created_by_fkey;
ALTER TABLE customers DROP CONSTRAINT IF EXISTS customers_referrer_id_fkey;
ALTER TABLE event_attendance DROP CONSTRAINT IF EXISTS event_attendance_checked_in_by_fkey;
ALTER TABLE event_attendance DROP CONSTRAINT IF EXISTS event_attendance_claim_id_fkey;
ALTER TABLE event_attendance DROP CONSTRAINT IF EXISTS event_attendance_customer_id_fkey;
ALTER TABLE event_attendance DROP CONSTRAINT IF EXISTS event_attendance_event_id_fkey;
ALTER TABLE event_helpers DROP CONSTRAINT IF EXISTS event_helpers_customer_id_fkey;
ALTER TABLE event_helpers DROP CONSTRAINT IF EXISTS event_helpers_event_id_fkey;
ALTER TABLE event_helpers DROP CONSTRAINT IF EXISTS event_helpers_granted_by_fkey;
ALTER TABLE event_helpers DROP CONSTRAINT IF EXISTS event_helpers_helper_id_fkey;
ALTER TABLE joint_events DROP CONSTRAINT IF EXISTS joint_events_created_by_fkey;
ALTER TABLE ledger_entries DROP CONSTRAINT IF EXISTS ledger_entries_created_by_fkey;
ALTER TABLE ledger_entries DROP CONSTRAINT IF EXISTS ledger_entries_customer_id_fkey;
ALTER TABLE ledger_entries DROP CONSTRAINT IF EXISTS ledger_entries_refers_to_fkey;
ALTER TABLE ledger_entries DROP CONSTRAINT IF EXISTS ledger_entries_reverses_fkey;
ALTER TABLE ledger_entries DROP CONSTRAINT IF EXISTS ledger_entries_staff_id_fkey;
ALTER TABLE sales DROP CONSTRAINT IF EXISTS sales_change_to_fkey;
ALTER TABLE sales DROP CONSTRAINT IF EXISTS sales_closed_by_fkey;
ALTER TABLE sales DROP CONSTRAINT IF EXISTS sales_credited_to_fkey;
ALTER TABLE sales DROP CONSTRAINT IF EXISTS sales_customer_id_fkey;
ALTER TABLE sales DROP CONSTRAINT IF EXISTS sales_event_id_fkey;
ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_staff_id_fkey;
ALTER TABLE staff DROP CONSTRAINT IF EXISTS staff_unit_id_fkey;
ALTER TABLE units DROP CONSTRAINT IF EXISTS units_parent_id_fkey;

-- 2. Primary keys with tenant_id first.
ALTER TABLE activities DROP CONSTRAINT activities_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE claims DROP CONSTRAINT claims_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE complaints DROP CONSTRAINT complaints_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE conflict_signoffs DROP CONSTRAINT conflict_signoffs_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE conflicts DROP CONSTRAINT conflicts_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE customers DROP CONSTRAINT customers_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE deadlines DROP CONSTRAINT deadlines_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE event_attendance DROP CONSTRAINT event_attendance_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE event_helpers DROP CONSTRAINT event_helpers_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE joint_events DROP CONSTRAINT joint_events_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE sales DROP CONSTRAINT sales_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE sessions DROP CONSTRAINT sessions_pkey, ADD PRIMARY KEY (tenant_id, token_hash);
ALTER TABLE staff DROP CONSTRAINT staff_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE units DROP CONSTRAINT units_pkey, ADD PRIMARY KEY (tenant_id, id);

-- 3. Unique constraints and unique indexes with tenant_id.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_token_hash_key, ADD CONSTRAINT api_tokens_token_hash_key UNIQUE (tenant_id, token_hash);
ALTER TABLE conflict_signoffs DROP CONSTRAINT conflict_signoffs_conflict_id_seat_key, ADD CONSTRAINT conflict_signoffs_conflict_id_seat_key UNIQUE (tenant_id, conflict_id, seat);
ALTER TABLE conflict_signoffs DROP CONSTRAINT conflict_signoffs_conflict_id_staff_id_key, ADD CONSTRAINT conflict_signoffs_conflict_id_staff_id_key UNIQUE (tenant_id, conflict_id, staff_id);
DROP INDEX ledger_reversal;
CREATE UNIQUE INDEX ledger_reversal ON ledger_entries (tenant_id, reverses) WHERE reverses IS NOT NULL;

-- 4. The foreign keys again, each with tenant_id on both sides.
ALTER TABLE activities ADD CONSTRAINT activities_confirmed_by_fkey FOREIGN KEY (tenant_id, confirmed_by) REFERENCES staff (tenant_id, id);
ALTER TABLE activities ADD CONSTRAINT activities_customer_id_fkey FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id);
ALTER TABLE activities ADD CONSTRAINT activities_staff_id_fkey FOREIGN KEY (tenant_id, staff_id) REFERENCES staff (tenant_id, id);
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_staff_id_fkey FOREIGN KEY (tenant_id, staff_id) REFERENCES staff (tenant_id, id);
ALTER TABLE claims ADD CONSTRAINT claims_confirmed_by_fkey FOREIGN KEY (tenant_id, confirmed_by) REFERENCES staff (tenant_id, id);
ALTER TABLE claims ADD CONSTRAINT claims_customer_id_fkey FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id);
ALTER TABLE claims ADD CONSTRAINT claims_ended_by_fkey FOREIGN KEY (tenant_id, ended_by) REFERENCES staff (tenant_id, id);
ALTER TABLE claims ADD CONSTRAINT claims_event_id_fkey FOREIGN KEY (tenant_id, event_id) REFERENCES joint_events (tenant_id, id);
ALTER TABLE claims ADD CONSTRAINT claims_event_unit_fkey FOREIGN KEY (tenant_id, event_unit) REFERENCES units (tenant_id, id);
ALTER TABLE claims ADD CONSTRAINT claims_filed_by_fkey FOREIGN KEY (tenant_id, filed_by) REFERENCES staff (tenant_id, id);
ALTER TABLE claims ADD CONSTRAINT claims_reassigned_from_fkey FOREIGN KEY (tenant_id, reassigned_from) REFERENCES claims (tenant_id, id);
ALTER TABLE claims ADD CONSTRAINT claims_registered_by_fkey FOREIGN KEY (tenant_id, registered_by) REFERENCES staff (tenant_id, id);
ALTER TABLE claims ADD CONSTRAINT claims_staff_id_fkey FOREIGN KEY (tenant_id, staff_id) REFERENCES staff (tenant_id, id);
ALTER TABLE complaints ADD CONSTRAINT complaints_customer_id_fkey FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id);
ALTER TABLE complaints ADD CONSTRAINT complaints_found_by_fkey FOREIGN KEY (tenant_id, found_by) REFERENCES staff (tenant_id, id);
ALTER TABLE complaints ADD CONSTRAINT complaints_reassigned_to_fkey FOREIGN KEY (tenant_id, reassigned_to) REFERENCES staff (tenant_id, id);
ALTER TABLE complaints ADD CONSTRAINT complaints_resolved_by_fkey FOREIGN KEY (tenant_id, resolved_by) REFERENCES staff (tenant_id, id);
ALTER TABLE complaints ADD CONSTRAINT complaints_staff_id_fkey FOREIGN KEY (tenant_id, staff_id) REFERENCES staff (tenant_id, id);
ALTER TABLE conflict_signoffs ADD CONSTRAINT conflict_signoffs_award_to_fkey FOREIGN KEY (tenant_id, award_to) REFERENCES staff (tenant_id, id);
ALTER TABLE conflict_signoffs ADD CONSTRAINT conflict_signoffs_conflict_id_fkey FOREIGN KEY (tenant_id, conflict_id) REFERENCES conflicts (tenant_id, id);
ALTER TABLE conflict_signoffs ADD CONSTRAINT conflict_signoffs_staff_id_fkey FOREIGN KEY (tenant_id, staff_id) REFERENCES staff (tenant_id, id);
ALTER TABLE conflicts ADD CONSTRAINT conflicts_award_to_fkey FOREIGN KEY (tenant_id, award_to) REFERENCES staff (tenant_id, id);
ALTER TABLE conflicts ADD CONSTRAINT conflicts_closed_by_fkey FOREIGN KEY (tenant_id, closed_by) REFERENCES staff (tenant_id, id);
ALTER TABLE conflicts ADD CONSTRAINT conflicts_customer_id_fkey FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id);
ALTER TABLE conflicts ADD CONSTRAINT conflicts_escalated_by_fkey FOREIGN KEY (tenant_id, escalated_by) REFERENCES staff (tenant_id, id);
ALTER TABLE conflicts ADD CONSTRAINT conflicts_event_id_fkey FOREIGN KEY (tenant_id, event_id) REFERENCES joint_events (tenant_id, id);
ALTER TABLE conflicts ADD CONSTRAINT conflicts_opened_by_fkey FOREIGN KEY (tenant_id, opened_by) REFERENCES staff (tenant_id, id);
ALTER TABLE conflicts ADD CONSTRAINT conflicts_party_a_fkey FOREIGN KEY (tenant_id, party_a) REFERENCES staff (tenant_id, id);
ALTER TABLE conflicts ADD CONSTRAINT conflicts_party_b_fkey FOREIGN KEY (tenant_id, party_b) REFERENCES staff (tenant_id, id);
ALTER TABLE conflicts ADD CONSTRAINT conflicts_unit_a_fkey FOREIGN KEY (tenant_id, unit_a) REFERENCES units (tenant_id, id);
ALTER TABLE conflicts ADD CONSTRAINT conflicts_unit_b_fkey FOREIGN KEY (tenant_id, unit_b) REFERENCES units (tenant_id, id);
ALTER TABLE customer_keys ADD CONSTRAINT customer_keys_customer_id_fkey FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id);
ALTER TABLE customers ADD CONSTRAINT customers_created_by_fkey FOREIGN KEY (tenant_id, created_by) REFERENCES staff (tenant_id, id);
ALTER TABLE customers ADD CONSTRAINT customers_referrer_id_fkey FOREIGN KEY (tenant_id, referrer_id) REFERENCES customers (tenant_id, id);
ALTER TABLE event_attendance ADD CONSTRAINT event_attendance_checked_in_by_fkey FOREIGN KEY (tenant_id, checked_in_by) REFERENCES staff (tenant_id, id);
ALTER TABLE event_attendance ADD CONSTRAINT event_attendance_claim_id_fkey FOREIGN KEY (tenant_id, claim_id) REFERENCES claims (tenant_id, id);
ALTER TABLE event_attendance ADD CONSTRAINT event_attendance_customer_id_fkey FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id);
ALTER TABLE event_attendance ADD CONSTRAINT event_attendance_event_id_fkey FOREIGN KEY (tenant_id, event_id) REFERENCES joint_events (tenant_id, id);
ALTER TABLE event_helpers ADD CONSTRAINT event_helpers_customer_id_fkey FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id);
ALTER TABLE event_helpers ADD CONSTRAINT event_helpers_event_id_fkey FOREIGN KEY (tenant_id, event_id) REFERENCES joint_events (tenant_id, id);
ALTER TABLE event_helpers ADD CONSTRAINT event_helpers_granted_by_fkey FOREIGN KEY (tenant_id, granted_by) REFERENCES staff (tenant_id, id);
ALTER TABLE event_helpers ADD CONSTRAINT event_helpers_helper_id_fkey FOREIGN KEY (tenant_id, helper_id) REFERENCES staff (tenant_id, id);
ALTER TABLE joint_events ADD CONSTRAINT joint_events_created_by_fkey FOREIGN KEY (tenant_id, created_by) REFERENCES staff (tenant_id, id);
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_created_by_fkey FOREIGN KEY (tenant_id, created_by) REFERENCES staff (tenant_id, id);
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_customer_id_fkey FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id);
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_refers_to_fkey FOREIGN KEY (tenant_id, refers_to) REFERENCES ledger_entries (tenant_id, id);
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_reverses_fkey FOREIGN KEY (tenant_id, reverses) REFERENCES ledger_entries (tenant_id, id);
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_staff_id_fkey FOREIGN KEY (tenant_id, staff_id) REFERENCES staff (tenant_id, id);
ALTER TABLE sales ADD CONSTRAINT sales_change_to_fkey FOREIGN KEY (tenant_id, change_to) REFERENCES staff (tenant_id, id);
ALTER TABLE sales ADD CONSTRAINT sales_closed_by_fkey FOREIGN KEY (tenant_id, closed_by) REFERENCES staff (tenant_id, id);
ALTER TABLE sales ADD CONSTRAINT sales_credited_to_fkey FOREIGN KEY (tenant_id, credited_to) REFERENCES staff (tenant_id, id);
ALTER TABLE sales ADD CONSTRAINT sales_customer_id_fkey FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id);
ALTER TABLE sales ADD CONSTRAINT sales_event_id_fkey FOREIGN KEY (tenant_id, event_id) REFERENCES joint_events (tenant_id, id);
ALTER TABLE sessions ADD CONSTRAINT sessions_staff_id_fkey FOREIGN KEY (tenant_id, staff_id) REFERENCES staff (tenant_id, id);
ALTER TABLE staff ADD CONSTRAINT staff_unit_id_fkey FOREIGN KEY (tenant_id, unit_id) REFERENCES units (tenant_id, id);
ALTER TABLE units ADD CONSTRAINT units_parent_id_fkey FOREIGN KEY (tenant_id, parent_id) REFERENCES units (tenant_id, id);

-- 5. A presented cookie or token is looked up by its hash alone (it does not say its tenant):
-- an index of its own, as the unique key that led with the hash used to be.
CREATE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX api_tokens_token_hash ON api_tokens (token_hash);
