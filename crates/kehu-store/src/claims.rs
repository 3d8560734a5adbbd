//! Claims: who registered which customer, when it took effect and its state. Kept forever;
//! cancelling changes the state, never deletes (R5.6).

use kehu_domain::claim::{ClaimFacts, ClaimStatus};
use kehu_domain::{RuleId, Timestamp};

use crate::db::{Arg, Db, Tx, placeholders};
use crate::visibility::{self, View};
use crate::{Result, StoreError, args, ms, ts};

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct ClaimRow {
    pub id: i64,
    pub tenant_id: i64,
    pub customer_id: i64,
    pub staff_id: i64,
    pub staff_name: String,
    pub customer_name: String,
    pub customer_grade: Option<String>,
    pub status: String,
    pub registered_at: i64,
    pub registered_by: i64,
    pub effective_at: Option<i64>,
    pub confirmed_at: Option<i64>,
    pub confirmed_by: Option<i64>,
    pub confirmer_name: Option<String>,
    pub confirmed_role: Option<String>,
    pub valid_until: Option<i64>,
    pub policy_version: i64,
    pub ended_at: Option<i64>,
    pub ended_rule: Option<String>,
    pub ended_by: Option<i64>,
    pub end_reason: Option<String>,
    pub reassigned_from: Option<i64>,
    pub contact_at: Option<i64>,
    pub from_pool: Option<String>,
    /// R11.3: the joint event this claim is an invitation to, the division it counts for, when
    /// it must be filed and when it was.
    pub event_id: Option<i64>,
    pub event_unit: Option<i64>,
    pub filing_due: Option<i64>,
    pub filed_at: Option<i64>,
    /// The holder's unit now.
    pub staff_unit: Option<i64>,
}

impl ClaimRow {
    pub fn status(&self) -> ClaimStatus {
        ClaimStatus::parse(&self.status).unwrap_or(ClaimStatus::Void)
    }

    /// What the domain needs to decide about this claim.
    pub fn facts(&self) -> ClaimFacts {
        ClaimFacts {
            id: self.id,
            staff_id: self.staff_id,
            staff_name: self.staff_name.clone(),
            status: self.status(),
            registered_at: ts(self.registered_at),
            effective_at: self.effective_at.map(ts),
            confirmed_at: self.confirmed_at.map(ts),
            confirmed_by_id: self.confirmed_by,
            confirmed_by_name: self.confirmer_name.clone(),
            confirmed_by_role: self.confirmed_role.clone(),
            ended_at: self.ended_at.map(ts),
            ended_rule: self.ended_rule.as_deref().and_then(|r| RuleId::parse(r).ok()),
            reassigned_from: self.reassigned_from,
            customer_grade: self.customer_grade.clone(),
            contact_at: self.contact_at.map(ts),
            division: self.event_unit.or(self.staff_unit),
            filing_due: self.filing_due.map(ts),
            filed_at: self.filed_at.map(ts),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let t = |v: Option<i64>| v.map(|v| ts(v).to_string());
        serde_json::json!({
            "id": self.id,
            "customer_id": self.customer_id,
            "staff_id": self.staff_id,
            "staff_name": self.staff_name,
            "status": self.status,
            "registered_at": ts(self.registered_at).to_string(),
            "registered_by": self.registered_by,
            "effective_at": t(self.effective_at),
            "confirmed_at": t(self.confirmed_at),
            "confirmed_by": self.confirmed_by,
            "valid_until": t(self.valid_until),
            "policy_version": self.policy_version,
            "ended_at": t(self.ended_at),
            "ended_rule": self.ended_rule,
            "ended_by": self.ended_by,
            "end_reason": self.end_reason,
            "reassigned_from": self.reassigned_from,
            "contact_at": t(self.contact_at),
            "from_pool": self.from_pool,
            "event_id": self.event_id,
            "event_unit": self.event_unit,
            "filing_due": t(self.filing_due),
            "filed_at": t(self.filed_at),
        })
    }
}

const SELECT: &str = "SELECT c.id, c.tenant_id, c.customer_id, c.staff_id, s.display_name AS staff_name, cu.name AS customer_name, cu.grade AS customer_grade, c.status, \
    c.registered_at, c.registered_by, c.effective_at, c.confirmed_at, c.confirmed_by, k.display_name AS confirmer_name, \
    c.confirmed_role, c.valid_until, c.policy_version, c.ended_at, c.ended_rule, c.ended_by, c.end_reason, c.reassigned_from, c.contact_at, c.from_pool, \
    c.event_id, c.event_unit, c.filing_due, c.filed_at, s.unit_id AS staff_unit \
    FROM claims c JOIN staff s ON s.tenant_id = c.tenant_id AND s.id = c.staff_id \
    JOIN customers cu ON cu.tenant_id = c.tenant_id AND cu.id = c.customer_id \
    LEFT JOIN staff k ON k.tenant_id = c.tenant_id AND k.id = c.confirmed_by";

/// A customer's valid claims (what ownership is decided on) as one JSON array of claim rows, for
/// a query that reads them together with the customer in one round trip (`$1` the tenant, `$2`
/// the customer). The object's keys are the [`SELECT`]'s column names, so it decodes as
/// [`ClaimRow`]s; `NULL` or `[]` when there are none.
pub(crate) fn valid_as_json(backend: crate::db::Backend) -> &'static str {
    static SQLITE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static POSTGRES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let build = |object: &str, array: &str| {
        let (columns, from) = SELECT
            .trim_start_matches("SELECT ")
            .split_once(" FROM ")
            .expect("the claims SELECT has a FROM");
        let pairs: Vec<String> = columns
            .split(',')
            .map(str::trim)
            .map(|c| match c.split_once(" AS ") {
                Some((expr, alias)) => format!("'{alias}', {expr}"),
                None => format!("'{}', {c}", c.rsplit('.').next().unwrap_or(c)),
            })
            .collect();
        format!(
            "(SELECT {array}({object}({})) FROM {from} WHERE c.tenant_id = $1 AND c.customer_id = $2 AND c.status = 'valid')",
            pairs.join(", ")
        )
    };
    match backend {
        crate::db::Backend::Sqlite => SQLITE.get_or_init(|| build("json_object", "json_group_array")),
        crate::db::Backend::Postgres => {
            POSTGRES.get_or_init(|| format!("{}::text", build("json_build_object", "json_agg")))
        }
    }
}

/// Locks the customer for the rest of the transaction (PostgreSQL) so that concurrent claims on
/// one customer are decided one after another. Fails with `NotFound` for another tenant's id.
pub async fn lock_customer(tx: &mut Tx, tenant_id: i64, customer_id: i64) -> Result<()> {
    let sql = format!(
        "SELECT id FROM customers WHERE tenant_id = $1 AND id = $2{}",
        tx.for_update()
    );
    let found: Option<(i64,)> = tx.fetch_optional(&sql, args![tenant_id, customer_id]).await?;
    found.map(|_| ()).ok_or(StoreError::NotFound)
}

/// As [`lock_customer`], only for a customer the reader sees; `NotFound` otherwise.
pub async fn lock_customer_in_view(tx: &mut Tx, tenant_id: i64, customer_id: i64, view: &View) -> Result<()> {
    let sql = format!(
        "SELECT c.id FROM customers c WHERE c.tenant_id = $1 AND c.id = $2{}{}",
        visibility::customers(view, "c"),
        tx.for_update()
    );
    let found: Option<(i64,)> = tx.fetch_optional(&sql, args![tenant_id, customer_id]).await?;
    found.map(|_| ()).ok_or(StoreError::NotFound)
}

/// A customer's claims, oldest first, inside a transaction.
pub async fn for_customer_tx(tx: &mut Tx, tenant_id: i64, customer_id: i64) -> Result<Vec<ClaimRow>> {
    tx.fetch_all(
        &format!("{SELECT} WHERE c.tenant_id = $1 AND c.customer_id = $2 ORDER BY c.id"),
        args![tenant_id, customer_id],
    )
    .await
}

/// A customer's claims the reader sees, oldest first.
pub async fn for_customer(db: &Db, tenant_id: i64, customer_id: i64, view: &View) -> Result<Vec<ClaimRow>> {
    db.fetch_all(
        &format!(
            "{SELECT} WHERE c.tenant_id = $1 AND c.customer_id = $2{} ORDER BY c.id",
            visibility::claims(view, "c")
        ),
        args![tenant_id, customer_id],
    )
    .await
}

/// Valid claims of several customers, for deriving owners on list pages.
pub async fn valid_for_customers(db: &Db, tenant_id: i64, ids: &[i64]) -> Result<Vec<ClaimRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{SELECT} WHERE c.tenant_id = $1 AND c.status = 'valid' AND c.customer_id IN ({}) ORDER BY c.id",
        placeholders(2, ids.len())
    );
    let mut a = args![tenant_id];
    a.extend(ids.iter().map(|i| Arg::from(*i)));
    db.fetch_all(&sql, a).await
}

/// A claim the reader sees; `NotFound` otherwise.
pub async fn get(db: &Db, tenant_id: i64, id: i64, view: &View) -> Result<ClaimRow> {
    db.fetch_one(
        &format!(
            "{SELECT} WHERE c.tenant_id = $1 AND c.id = $2{}",
            visibility::claims(view, "c")
        ),
        args![tenant_id, id],
    )
    .await
}

/// Whether the reader sees claim `id`, inside a transaction.
pub async fn in_view_tx(tx: &mut Tx, tenant_id: i64, id: i64, view: &View) -> Result<bool> {
    let found: Option<(i64,)> = tx
        .fetch_optional(
            &format!(
                "SELECT c.id FROM claims c WHERE c.tenant_id = $1 AND c.id = $2{}",
                visibility::claims(view, "c")
            ),
            args![tenant_id, id],
        )
        .await?;
    Ok(found.is_some())
}

/// Several claims by id, in id order, inside a transaction.
pub async fn get_many_tx(tx: &mut Tx, tenant_id: i64, ids: &[i64]) -> Result<Vec<ClaimRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{SELECT} WHERE c.tenant_id = $1 AND c.id IN ({}) ORDER BY c.id",
        placeholders(2, ids.len())
    );
    let mut a = args![tenant_id];
    a.extend(ids.iter().map(|i| Arg::from(*i)));
    tx.fetch_all(&sql, a).await
}

pub async fn get_tx(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<ClaimRow> {
    tx.fetch_one(
        &format!("{SELECT} WHERE c.tenant_id = $1 AND c.id = $2"),
        args![tenant_id, id],
    )
    .await
}

pub struct NewClaim {
    pub customer_id: i64,
    pub staff_id: i64,
    pub registered_by: i64,
    pub status: ClaimStatus,
    pub registered_at: Timestamp,
    pub effective_at: Option<Timestamp>,
    pub policy_version: u32,
    pub reassigned_from: Option<i64>,
    pub contact_at: Option<Timestamp>,
    pub from_pool: Option<String>,
}

pub async fn insert(tx: &mut Tx, tenant_id: i64, c: NewClaim) -> Result<ClaimRow> {
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO claims (tenant_id, customer_id, staff_id, status, registered_at, registered_by, effective_at, policy_version, \
             reassigned_from, contact_at, from_pool) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            args![
                tenant_id,
                c.customer_id,
                c.staff_id,
                c.status.as_str(),
                ms(c.registered_at),
                c.registered_by,
                c.effective_at.map(ms),
                i64::from(c.policy_version),
                c.reassigned_from,
                c.contact_at.map(ms),
                c.from_pool
            ],
        )
        .await?;
    get_tx(tx, tenant_id, id).await
}

/// Records a confirmation: the claim becomes valid from `effective_at`.
pub async fn confirm(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    by: i64,
    role: &str,
    at: Timestamp,
    effective_at: Timestamp,
) -> Result<ClaimRow> {
    tx.execute(
        "UPDATE claims SET status = 'valid', confirmed_at = $3, confirmed_by = $4, confirmed_role = $5, effective_at = $6 \
         WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
        args![tenant_id, id, ms(at), by, role, ms(effective_at)],
    )
    .await?;
    get_tx(tx, tenant_id, id).await
}

/// How a claim that stands ends: it lapsed (void, expired) or was cancelled. The row is kept
/// (R5.6); [`end`] returns `None` when the claim no longer stood (someone ended it first).
pub struct End<'a> {
    pub status: ClaimStatus,
    pub at: Timestamp,
    pub rule: &'a RuleId,
    pub by: Option<i64>,
    pub reason: Option<&'a str>,
}

pub async fn end(tx: &mut Tx, claim: &ClaimRow, e: End<'_>) -> Result<Option<ClaimRow>> {
    let n = tx
        .execute(
            "UPDATE claims SET status = $3, ended_at = $4, ended_rule = $5, ended_by = $6, end_reason = $7, valid_until = NULL \
             WHERE tenant_id = $1 AND id = $2 AND status IN ('pending', 'valid')",
            args![claim.tenant_id, claim.id, e.status.as_str(), ms(e.at), e.rule.as_str(), e.by, e.reason],
        )
        .await?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(ClaimRow {
        status: e.status.as_str().to_string(),
        ended_at: Some(ms(e.at)),
        ended_rule: Some(e.rule.to_string()),
        ended_by: e.by,
        end_reason: e.reason.map(str::to_string),
        valid_until: None,
        ..claim.clone()
    }))
}

/// Records the limit a valid claim must be followed up by (`None`: no limit).
pub async fn set_valid_until(tx: &mut Tx, tenant_id: i64, id: i64, until: Option<Timestamp>) -> Result<()> {
    tx.execute(
        "UPDATE claims SET valid_until = $3 WHERE tenant_id = $1 AND id = $2",
        args![tenant_id, id, until.map(ms)],
    )
    .await?;
    Ok(())
}

/// Claims held by a staff member: valid ones by their limit (most urgent first), then those
/// waiting for a signature, then the ended ones, newest first.
pub async fn for_staff(db: &Db, tenant_id: i64, staff_id: i64, limit: i64, view: &View) -> Result<Vec<ClaimRow>> {
    db.fetch_all(
        &format!(
            "{SELECT} WHERE c.tenant_id = $1 AND c.staff_id = $2{} \
             ORDER BY CASE c.status WHEN 'valid' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, \
             CASE WHEN c.valid_until IS NULL THEN 1 ELSE 0 END, c.valid_until, c.id DESC LIMIT $3",
            visibility::claims(view, "c")
        ),
        args![tenant_id, staff_id, limit],
    )
    .await
}

/// Claims waiting for a leader's signature that the reader sees, oldest first (R5.1: a card
/// takes effect when signed; an inbox's signatures).
pub async fn pending(db: &Db, tenant_id: i64, limit: i64, view: &View) -> Result<Vec<ClaimRow>> {
    db.fetch_all(
        &format!(
            "{SELECT} WHERE c.tenant_id = $1 AND c.status = 'pending'{} ORDER BY c.registered_at, c.id LIMIT $2",
            visibility::claims(view, "c")
        ),
        args![tenant_id, limit],
    )
    .await
}

/// Valid claims the reader sees whose holder has a follow-up no one has confirmed since the
/// claim took effect, oldest effect first: where a follow-up may wait for a leader (R5.2).
pub async fn with_unconfirmed(db: &Db, tenant_id: i64, limit: i64, view: &View) -> Result<Vec<ClaimRow>> {
    db.fetch_all(
        &format!(
            "{SELECT} WHERE c.tenant_id = $1 AND c.status = 'valid' AND EXISTS (SELECT 1 FROM activities a \
             WHERE a.tenant_id = c.tenant_id AND a.customer_id = c.customer_id AND a.staff_id = c.staff_id \
             AND a.confirmed_at IS NULL AND a.at >= c.effective_at){} ORDER BY c.effective_at, c.id LIMIT $2",
            visibility::claims(view, "c")
        ),
        args![tenant_id, limit],
    )
    .await
}

/// A holder's valid claims whose limit falls before `until`, soonest first (an inbox's
/// follow-ups due).
pub async fn due_before(db: &Db, tenant_id: i64, staff_id: i64, until: Timestamp, limit: i64) -> Result<Vec<ClaimRow>> {
    db.fetch_all(
        &format!(
            "{SELECT} WHERE c.tenant_id = $1 AND c.staff_id = $2 AND c.status = 'valid' \
             AND c.valid_until IS NOT NULL AND c.valid_until < $3 ORDER BY c.valid_until, c.id LIMIT $4"
        ),
        args![tenant_id, staff_id, ms(until), limit],
    )
    .await
}

/// The joint events with confirmed invitations of a division not yet filed: (event id, the
/// earliest cut-off, how many), earliest cut-off first (R11.3).
pub async fn unfiled(db: &Db, tenant_id: i64, unit_id: i64, limit: i64) -> Result<Vec<(i64, i64, i64)>> {
    db.fetch_all(
        "SELECT c.event_id, MIN(c.filing_due), COUNT(*) FROM claims c WHERE c.tenant_id = $1 AND c.event_unit = $2 \
         AND c.event_id IS NOT NULL AND c.status = 'valid' AND c.filed_at IS NULL AND c.filing_due IS NOT NULL \
         GROUP BY c.event_id ORDER BY MIN(c.filing_due), c.event_id LIMIT $3",
        args![tenant_id, unit_id, limit],
    )
    .await
}

/// Void claims not yet reassigned, those signed by `signer` when given, newest first (R5.3).
pub async fn void_unassigned(
    db: &Db,
    tenant_id: i64,
    signer: Option<i64>,
    limit: i64,
    view: &View,
) -> Result<Vec<ClaimRow>> {
    db.fetch_all(
        &format!(
            "{SELECT} WHERE c.tenant_id = $1 AND c.status = 'void' AND ($2 IS NULL OR c.confirmed_by = $2) \
             AND NOT EXISTS (SELECT 1 FROM claims r WHERE r.tenant_id = c.tenant_id AND r.reassigned_from = c.id){} \
             ORDER BY c.ended_at DESC, c.id DESC LIMIT $3",
            visibility::claims(view, "c")
        ),
        args![tenant_id, signer, limit],
    )
    .await
}

/// Records the signature on a claim created valid (a leader's reassignment, R5.3).
pub async fn confirm_valid(tx: &mut Tx, tenant_id: i64, id: i64, by: i64, at: Timestamp) -> Result<ClaimRow> {
    tx.execute(
        "UPDATE claims SET confirmed_at = $3, confirmed_by = $4 WHERE tenant_id = $1 AND id = $2",
        args![tenant_id, id, ms(at), by],
    )
    .await?;
    get_tx(tx, tenant_id, id).await
}

/// How many standing (pending or valid) claims a staff member holds.
pub async fn count_held(tx: &mut Tx, tenant_id: i64, staff_id: i64) -> Result<u32> {
    let (n,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM claims WHERE tenant_id = $1 AND staff_id = $2 AND status IN ('pending', 'valid')",
            args![tenant_id, staff_id],
        )
        .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// How many standing (pending or valid) claims each staff member of the tenant holds; staff
/// holding none are not listed.
pub async fn held_by_staff(tx: &mut Tx, tenant_id: i64) -> Result<Vec<(i64, i64)>> {
    tx.fetch_all(
        "SELECT staff_id, COUNT(*) FROM claims WHERE tenant_id = $1 AND status IN ('pending', 'valid') GROUP BY staff_id",
        args![tenant_id],
    )
    .await
}

/// How many claims a staff member took from a pool since `since`.
pub async fn count_from_pool_since(
    tx: &mut Tx,
    tenant_id: i64,
    staff_id: i64,
    pool: &str,
    since: Timestamp,
) -> Result<u32> {
    let (n,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM claims WHERE tenant_id = $1 AND staff_id = $2 AND from_pool = $3 AND registered_at >= $4",
            args![tenant_id, staff_id, pool, ms(since)],
        )
        .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// R11.3: makes a new claim an invitation to `event_id` for the division `unit_id`.
pub async fn set_event(tx: &mut Tx, tenant_id: i64, id: i64, event_id: i64, unit_id: i64) -> Result<ClaimRow> {
    tx.execute(
        "UPDATE claims SET event_id = $3, event_unit = $4 WHERE tenant_id = $1 AND id = $2",
        args![tenant_id, id, event_id, unit_id],
    )
    .await?;
    get_tx(tx, tenant_id, id).await
}

/// R11.3: when a confirmed invitation must be filed.
pub async fn set_filing_due(tx: &mut Tx, tenant_id: i64, id: i64, due: Timestamp) -> Result<ClaimRow> {
    tx.execute(
        "UPDATE claims SET filing_due = $3 WHERE tenant_id = $1 AND id = $2",
        args![tenant_id, id, ms(due)],
    )
    .await?;
    get_tx(tx, tenant_id, id).await
}

/// R11.3: the invitations to `event_id` (of one division when `unit_id` is given), oldest first.
pub async fn for_event_tx(tx: &mut Tx, tenant_id: i64, event_id: i64, unit_id: Option<i64>) -> Result<Vec<ClaimRow>> {
    let sql = format!(
        "{SELECT} WHERE c.tenant_id = $1 AND c.event_id = $2 AND ($3 IS NULL OR c.event_unit = $3) ORDER BY c.id"
    );
    tx.fetch_all(&sql, args![tenant_id, event_id, unit_id]).await
}

/// R11.3: the invitations to `event_id` the reader sees, oldest first.
pub async fn for_event(db: &Db, tenant_id: i64, event_id: i64, view: &View) -> Result<Vec<ClaimRow>> {
    db.fetch_all(
        &format!(
            "{SELECT} WHERE c.tenant_id = $1 AND c.event_id = $2{} ORDER BY c.id",
            visibility::claims(view, "c")
        ),
        args![tenant_id, event_id],
    )
    .await
}

/// R11.3: records the filing of these invitations.
pub async fn file(tx: &mut Tx, tenant_id: i64, ids: &[i64], by: i64, at: Timestamp) -> Result<()> {
    for id in ids {
        tx.execute(
            "UPDATE claims SET filed_at = $3, filed_by = $4 WHERE tenant_id = $1 AND id = $2 AND filed_at IS NULL",
            args![tenant_id, *id, ms(at), by],
        )
        .await?;
    }
    Ok(())
}
