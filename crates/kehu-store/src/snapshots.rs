//! Profile snapshots (R1.8): kept as they were taken. There is no update or delete here.

use kehu_domain::{Decision, Timestamp};
use serde_json::Value;

use crate::db::{Db, Tx};
use crate::{Result, args, ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SnapshotRow {
    pub id: i64,
    pub tenant_id: i64,
    pub customer_id: i64,
    pub case_id: Option<i64>,
    pub taken_at: i64,
    /// The profile as `kehu_domain::snapshot::profile` built it, as JSON.
    pub content: String,
    pub decision_json: String,
}

impl SnapshotRow {
    pub fn content(&self) -> Value {
        serde_json::from_str(&self.content).unwrap_or(Value::Null)
    }

    pub fn decision(&self) -> Option<Decision> {
        serde_json::from_str(&self.decision_json).ok()
    }
}

const COLUMNS: &str = "id, tenant_id, customer_id, case_id, taken_at, content, decision_json";

/// What a step keeps.
pub struct NewSnapshot<'a> {
    pub customer_id: i64,
    pub case_id: Option<i64>,
    /// The step that took it: a second attempt by the same step keeps the first.
    pub subject: &'a str,
    pub content: &'a Value,
    pub at: Timestamp,
    pub decision: &'a Decision,
}

/// Keeps a snapshot; `None` when the same step took one already.
pub async fn insert(tx: &mut Tx, tenant_id: i64, s: NewSnapshot<'_>) -> Result<Option<i64>> {
    let decision = serde_json::to_string(s.decision).map_err(|e| crate::StoreError::Other(e.to_string()))?;
    let id: Option<(i64,)> = tx
        .fetch_optional(
            "INSERT INTO snapshots (tenant_id, customer_id, case_id, subject, taken_at, content, decision_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, subject) DO NOTHING RETURNING id",
            args![
                tenant_id,
                s.customer_id,
                s.case_id,
                s.subject,
                ms(s.at),
                s.content.to_string(),
                decision
            ],
        )
        .await?;
    Ok(id.map(|(id,)| id))
}

/// A customer's snapshots, newest first (at most 200: two a year for a century).
pub async fn for_customer(db: &Db, tenant_id: i64, customer_id: i64) -> Result<Vec<SnapshotRow>> {
    db.fetch_all(
        &format!(
            "SELECT {COLUMNS} FROM snapshots WHERE tenant_id = $1 AND customer_id = $2 ORDER BY id DESC LIMIT 200"
        ),
        args![tenant_id, customer_id],
    )
    .await
}

/// One snapshot of a customer.
pub async fn get(db: &Db, tenant_id: i64, customer_id: i64, id: i64) -> Result<SnapshotRow> {
    db.fetch_one(
        &format!("SELECT {COLUMNS} FROM snapshots WHERE tenant_id = $1 AND customer_id = $2 AND id = $3"),
        args![tenant_id, customer_id, id],
    )
    .await
}
