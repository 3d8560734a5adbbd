//! The deadline queue: "at `due_at` evaluate `rule` for subject `subject_id`".
//!
//! A deadline is written in the transaction of the change that creates it and moved or removed
//! by later changes. The scheduler takes one due row at a time in its own transaction
//! (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so several `kehu serve` processes share the queue and
//! each row fires once) and deletes it in the transaction that applies it.

use kehu_domain::{RuleId, Timestamp};

use crate::db::{Db, Tx};
use crate::{Backend, Result, args, ms};

/// What a deadline is about: a name the module that owns it gives (`claim_lapse`,
/// `complaint_due`, `case:remind` for a case timer). The store keeps it as text; kehu-server
/// hands each due deadline to the owner its kind names, so a new owner adds no case here.
pub type Kind<'a> = &'a str;

/// The start of a case timer's kind (`case:remind`): its subject is a case, which [`take`] locks
/// before the timer.
pub const CASE_TIMER: &str = "case:";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeadlineRow {
    pub id: i64,
    pub tenant_id: i64,
    pub kind: String,
    pub subject_id: i64,
    pub customer_id: Option<i64>,
    pub due_at: i64,
    pub rule: String,
    pub created_at: i64,
}

/// Sets the subject's deadline of this kind, replacing any earlier one.
#[allow(clippy::too_many_arguments)]
pub async fn schedule(
    tx: &mut Tx,
    tenant_id: i64,
    kind: Kind<'_>,
    subject_id: i64,
    customer_id: Option<i64>,
    due_at: Timestamp,
    rule: &RuleId,
    now: Timestamp,
) -> Result<()> {
    tx.execute(
        "INSERT INTO deadlines (tenant_id, kind, subject_id, customer_id, due_at, rule, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (tenant_id, kind, subject_id) DO UPDATE SET due_at = excluded.due_at, rule = excluded.rule",
        args![
            tenant_id,
            kind,
            subject_id,
            customer_id,
            ms(due_at),
            rule.as_str(),
            ms(now)
        ],
    )
    .await?;
    Ok(())
}

/// Removes the subject's deadline of this kind, if any: a later event made it moot. Returns
/// whether there was one (it had not fired yet).
pub async fn cancel(tx: &mut Tx, tenant_id: i64, kind: Kind<'_>, subject_id: i64) -> Result<bool> {
    let n = tx
        .execute(
            "DELETE FROM deadlines WHERE tenant_id = $1 AND kind = $2 AND subject_id = $3",
            args![tenant_id, kind, subject_id],
        )
        .await?;
    Ok(n > 0)
}

/// Removes every deadline of these kinds about a subject (a claim stopped standing: its
/// follow-up limit and an invitation's filing go).
pub async fn cancel_kinds(tx: &mut Tx, tenant_id: i64, subject_id: i64, kinds: &[Kind<'_>]) -> Result<()> {
    if kinds.is_empty() {
        return Ok(());
    }
    let mut a = args![tenant_id, subject_id];
    a.extend(kinds.iter().map(|k| crate::Arg::from(*k)));
    tx.execute(
        &format!(
            "DELETE FROM deadlines WHERE tenant_id = $1 AND subject_id = $2 AND kind IN ({})",
            crate::db::placeholders(3, kinds.len())
        ),
        a,
    )
    .await?;
    Ok(())
}

/// A LIKE pattern for kinds that start with `prefix` (lowercase letters and `:` only, so it
/// holds no wildcard).
fn like(prefix: &str) -> String {
    debug_assert!(prefix.bytes().all(|b| b.is_ascii_lowercase() || b == b':'));
    format!("{prefix}%")
}

/// Removes every deadline about a subject whose kind starts with `prefix` (a case's timers,
/// `case:`, when it changes state).
pub async fn cancel_prefixed(tx: &mut Tx, tenant_id: i64, subject_id: i64, prefix: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM deadlines WHERE tenant_id = $1 AND subject_id = $2 AND kind LIKE $3",
        args![tenant_id, subject_id, like(prefix)],
    )
    .await?;
    Ok(())
}

/// The deadlines of several subjects (a page of cases) whose kind starts with `prefix`,
/// earliest first, in one query.
pub async fn prefixed_of(db: &Db, tenant_id: i64, subject_ids: &[i64], prefix: &str) -> Result<Vec<DeadlineRow>> {
    if subject_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut a = args![tenant_id, like(prefix)];
    a.extend(subject_ids.iter().map(|i| crate::Arg::from(*i)));
    db.fetch_all(
        &format!(
            "SELECT {COLUMNS} FROM deadlines WHERE tenant_id = $1 AND kind LIKE $2 AND subject_id IN ({}) ORDER BY due_at, id",
            crate::db::placeholders(3, subject_ids.len())
        ),
        a,
    )
    .await
}

/// A subject's deadlines whose kind starts with `prefix`, earliest first.
pub async fn prefixed(db: &Db, tenant_id: i64, subject_id: i64, prefix: &str) -> Result<Vec<DeadlineRow>> {
    db.fetch_all(
        &format!(
            "SELECT {COLUMNS} FROM deadlines WHERE tenant_id = $1 AND subject_id = $2 AND kind LIKE $3 ORDER BY due_at, id"
        ),
        args![tenant_id, subject_id, like(prefix)],
    )
    .await
}

const COLUMNS: &str = "id, tenant_id, kind, subject_id, customer_id, due_at, rule, created_at";

/// The next due deadlines, earliest first, without locking: candidates for [`take`].
pub async fn due(db: &Db, now: Timestamp, limit: i64) -> Result<Vec<DeadlineRow>> {
    db.fetch_all(
        &format!("SELECT {COLUMNS} FROM deadlines WHERE due_at <= $1 ORDER BY due_at, id LIMIT $2"),
        args![ms(now), limit],
    )
    .await
}

/// Takes a due deadline for this transaction, or `None` when another scheduler holds it or
/// fired it. First the deadline's customer is locked, in the order every change to a customer
/// takes its locks (customer, then deadline), then a case timer's case (case, then its timers),
/// so a scheduler never deadlocks with a request;
/// on PostgreSQL both locks skip rows another process holds. The row is deleted here, so it
/// fires once, whoever commits.
pub async fn take(tx: &mut Tx, candidate: &DeadlineRow, now: Timestamp) -> Result<Option<DeadlineRow>> {
    if tx.backend() == Backend::Sqlite {
        // One writer: nothing to lock against; taking is deleting.
        return tx
            .fetch_optional(
                &format!("DELETE FROM deadlines WHERE tenant_id = $1 AND id = $2 AND due_at <= $3 RETURNING {COLUMNS}"),
                args![candidate.tenant_id, candidate.id, ms(now)],
            )
            .await;
    }
    if let Some(customer_id) = candidate.customer_id {
        let locked: Option<(i64,)> = tx
            .fetch_optional(
                "SELECT id FROM customers WHERE tenant_id = $1 AND id = $2 FOR UPDATE SKIP LOCKED",
                args![candidate.tenant_id, customer_id],
            )
            .await?;
        if locked.is_none() {
            return Ok(None);
        }
    }
    // A case timer: the case next, as an action on the case locks it before its timers. A case
    // an action holds is skipped now and fired on a later sweep.
    if candidate.kind.starts_with(CASE_TIMER) {
        let locked: Option<(i64,)> = tx
            .fetch_optional(
                "SELECT id FROM cases WHERE tenant_id = $1 AND id = $2 FOR UPDATE SKIP LOCKED",
                args![candidate.tenant_id, candidate.subject_id],
            )
            .await?;
        if locked.is_none() {
            return Ok(None);
        }
    }
    let row: Option<DeadlineRow> = tx
        .fetch_optional(
            &format!(
                "SELECT {COLUMNS} FROM deadlines WHERE tenant_id = $1 AND id = $2 AND due_at <= $3 FOR UPDATE SKIP LOCKED"
            ),
            args![candidate.tenant_id, candidate.id, ms(now)],
        )
        .await?;
    if let Some(r) = &row {
        tx.execute(
            "DELETE FROM deadlines WHERE tenant_id = $1 AND id = $2",
            args![candidate.tenant_id, r.id],
        )
        .await?;
    }
    Ok(row)
}

/// Takes several due deadlines at once (SQLite's single writer: no other scheduler to skip).
pub async fn take_many(tx: &mut Tx, ids: &[i64], now: Timestamp) -> Result<Vec<DeadlineRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut a = args![ms(now)];
    a.extend(ids.iter().map(|i| crate::Arg::from(*i)));
    let mut rows: Vec<DeadlineRow> = tx
        .fetch_all(
            &format!(
                "DELETE FROM deadlines WHERE due_at <= $1 AND id IN ({}) RETURNING {COLUMNS}",
                crate::db::placeholders(2, ids.len())
            ),
            a,
        )
        .await?;
    rows.sort_by_key(|r| (r.due_at, r.id));
    Ok(rows)
}

/// Moves a deadline that failed to fire to `until`, in its own transaction.
pub async fn postpone(db: &Db, tenant_id: i64, id: i64, until: Timestamp) -> Result<()> {
    db.execute(
        "UPDATE deadlines SET due_at = $3 WHERE tenant_id = $1 AND id = $2",
        args![tenant_id, id, ms(until)],
    )
    .await?;
    Ok(())
}

/// The earliest deadline at or before `until`, without taking it.
pub async fn next_due(db: &Db, until: Timestamp) -> Result<Option<Timestamp>> {
    let row: Option<(i64,)> = db
        .fetch_optional(
            "SELECT due_at FROM deadlines WHERE due_at <= $1 ORDER BY due_at, id LIMIT 1",
            args![ms(until)],
        )
        .await?;
    Ok(row.map(|(t,)| crate::ts(t)))
}

/// A subject's deadline of this kind, if one is set.
pub async fn for_subject(db: &Db, tenant_id: i64, kind: Kind<'_>, subject_id: i64) -> Result<Option<DeadlineRow>> {
    db.fetch_optional(
        &format!("SELECT {COLUMNS} FROM deadlines WHERE tenant_id = $1 AND kind = $2 AND subject_id = $3"),
        args![tenant_id, kind, subject_id],
    )
    .await
}

/// How many deadlines are due at `now`.
pub async fn count_due(db: &Db, now: Timestamp) -> Result<i64> {
    let (n,): (i64,) = db
        .fetch_one("SELECT COUNT(*) FROM deadlines WHERE due_at <= $1", args![ms(now)])
        .await?;
    Ok(n)
}
