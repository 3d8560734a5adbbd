//! Sales and who they count for (R5.7, R11.5), and the inviters' consents for helpers at events.

use kehu_domain::{Decision, Timestamp};

use crate::db::{Db, Tx};
use crate::visibility::{self, View};
use crate::{Result, StoreError, args, ms, ts};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SaleRow {
    pub id: i64,
    pub tenant_id: i64,
    pub customer_id: i64,
    pub amount: i64,
    pub closed_by: i64,
    pub closer_name: String,
    pub credited_to: i64,
    pub credited_name: String,
    pub event_id: Option<i64>,
    pub at: i64,
    pub rule: String,
    pub policy_version: i64,
    pub decision_json: String,
    pub note: String,
    pub change_to: Option<i64>,
    pub change_signed: String,
    pub change_reason: Option<String>,
}

impl SaleRow {
    pub fn decision(&self) -> Option<Decision> {
        serde_json::from_str(&self.decision_json).ok()
    }

    /// The roles that have signed a pending change of credit.
    pub fn signed(&self) -> Vec<String> {
        self.change_signed
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "customer_id": self.customer_id,
            "amount": self.amount,
            "closed_by": self.closed_by,
            "credited_to": self.credited_to,
            "event_id": self.event_id,
            "at": ts(self.at).to_string(),
            "rule": self.rule,
            "change_to": self.change_to,
            "change_signed": self.signed(),
        })
    }
}

const SELECT: &str = "SELECT s.id, s.tenant_id, s.customer_id, s.amount, s.closed_by, c.display_name AS closer_name, \
    s.credited_to, k.display_name AS credited_name, s.event_id, s.at, s.rule, s.policy_version, s.decision_json, s.note, \
    s.change_to, s.change_signed, s.change_reason \
    FROM sales s JOIN staff c ON c.tenant_id = s.tenant_id AND c.id = s.closed_by \
    JOIN staff k ON k.tenant_id = s.tenant_id AND k.id = s.credited_to";

pub struct NewSale<'a> {
    pub customer_id: i64,
    pub amount: i64,
    pub closed_by: i64,
    pub credited_to: i64,
    pub event_id: Option<i64>,
    pub at: Timestamp,
    pub decision: &'a Decision,
    pub note: &'a str,
}

pub async fn insert(tx: &mut Tx, tenant_id: i64, s: NewSale<'_>) -> Result<SaleRow> {
    let decision = serde_json::to_string(s.decision).unwrap_or_default();
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO sales (tenant_id, customer_id, amount, closed_by, credited_to, event_id, at, rule, policy_version, \
             decision_json, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            args![
                tenant_id,
                s.customer_id,
                s.amount,
                s.closed_by,
                s.credited_to,
                s.event_id,
                ms(s.at),
                s.decision.rule.as_str(),
                i64::from(s.decision.policy_version),
                decision,
                s.note
            ],
        )
        .await?;
    get_tx(tx, tenant_id, id).await
}

pub async fn get_tx(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<SaleRow> {
    tx.fetch_optional(
        &format!("{SELECT} WHERE s.tenant_id = $1 AND s.id = $2"),
        args![tenant_id, id],
    )
    .await?
    .ok_or(StoreError::NotFound)
}

/// The customer's sales, newest first.
/// A customer's sales the reader sees, newest first.
pub async fn for_customer(db: &Db, tenant_id: i64, customer_id: i64, view: &View) -> Result<Vec<SaleRow>> {
    db.fetch_all(
        &format!(
            "{SELECT} WHERE s.tenant_id = $1 AND s.customer_id = $2{} ORDER BY s.at DESC, s.id DESC",
            visibility::sales(view, "s")
        ),
        args![tenant_id, customer_id],
    )
    .await
}

/// Records a signature on a change of credit; `done` moves the credit.
pub async fn sign_change(
    tx: &mut Tx,
    sale: &SaleRow,
    to: i64,
    signed: &[String],
    reason: &str,
    done: bool,
    decision: &Decision,
) -> Result<SaleRow> {
    if done {
        tx.execute(
            "UPDATE sales SET credited_to = $3, rule = $4, decision_json = $5, change_to = NULL, change_signed = '', \
             change_reason = NULL WHERE tenant_id = $1 AND id = $2",
            args![
                sale.tenant_id,
                sale.id,
                to,
                decision.rule.as_str(),
                serde_json::to_string(decision).unwrap_or_default()
            ],
        )
        .await?;
    } else {
        tx.execute(
            "UPDATE sales SET change_to = $3, change_signed = $4, change_reason = $5 WHERE tenant_id = $1 AND id = $2",
            args![sale.tenant_id, sale.id, to, signed.join(","), reason],
        )
        .await?;
    }
    get_tx(tx, sale.tenant_id, sale.id).await
}

/// R11.5: records the inviter's consent; `false` when it was given before.
pub async fn consent(
    tx: &mut Tx,
    tenant_id: i64,
    event_id: i64,
    customer_id: i64,
    helper_id: i64,
    granted_by: i64,
    at: Timestamp,
) -> Result<bool> {
    let n = tx
        .execute(
            "INSERT INTO event_helpers (tenant_id, event_id, customer_id, helper_id, granted_by, at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, event_id, customer_id, helper_id) DO NOTHING",
            args![tenant_id, event_id, customer_id, helper_id, granted_by, ms(at)],
        )
        .await?;
    Ok(n > 0)
}

/// R11.5: whether `granted_by` (the current inviter) let `helper_id` help with the customer.
pub async fn consented(
    tx: &mut Tx,
    tenant_id: i64,
    event_id: i64,
    customer_id: i64,
    helper_id: i64,
    granted_by: i64,
) -> Result<bool> {
    let row: Option<(i64,)> = tx
        .fetch_optional(
            "SELECT id FROM event_helpers WHERE tenant_id = $1 AND event_id = $2 AND customer_id = $3 AND helper_id = $4 \
             AND granted_by = $5",
            args![tenant_id, event_id, customer_id, helper_id, granted_by],
        )
        .await?;
    Ok(row.is_some())
}
