//! Complaints (R11.9): the complaint found, its limit, its resolution and what happened when the
//! limit passed with it open. Rows are kept forever; each change is a conditional update, so two
//! requests (or a request and the scheduler) cannot both resolve or escalate one complaint.

use kehu_domain::claim::StaffFacts;
use kehu_domain::complaint::ComplaintFacts;
use kehu_domain::{Decision, Timestamp};

use crate::db::{Arg, Db, Tx, placeholders};
use crate::visibility::{self, View};
use crate::{Result, StoreError, args, ms, ts};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ComplaintRow {
    pub id: i64,
    pub tenant_id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub staff_id: i64,
    pub staff_name: String,
    pub staff_roles: String,
    pub staff_unit_id: Option<i64>,
    pub to_boss: bool,
    pub summary: String,
    pub found_at: i64,
    pub found_by: i64,
    pub found_by_name: String,
    pub due_at: i64,
    pub policy_version: i64,
    pub decision_json: String,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<i64>,
    pub resolved_by_name: Option<String>,
    pub resolution: Option<String>,
    pub resolved_decision_json: Option<String>,
    pub escalated_at: Option<i64>,
    pub escalated_decision_json: Option<String>,
    pub reassigned_to: Option<i64>,
    pub reassigned_to_name: Option<String>,
}

fn decision(json: Option<&str>) -> Option<Decision> {
    json.and_then(|d| serde_json::from_str(d).ok())
}

impl ComplaintRow {
    /// The complaint as the rules see it.
    pub fn facts(&self) -> ComplaintFacts {
        ComplaintFacts {
            id: self.id,
            customer_id: self.customer_id,
            customer_name: self.customer_name.clone(),
            staff: StaffFacts {
                id: self.staff_id,
                name: self.staff_name.clone(),
                roles: self
                    .staff_roles
                    .split(',')
                    .filter(|r| !r.is_empty())
                    .map(str::to_string)
                    .collect(),
            },
            to_boss: self.to_boss,
            found_at: ts(self.found_at),
            due_at: ts(self.due_at),
            resolved_at: self.resolved_at.map(ts),
            escalated_at: self.escalated_at.map(ts),
        }
    }

    /// The decisions taken on the complaint, in the order they were taken: found, then resolved
    /// and the limit passed open, whichever came first.
    pub fn decisions(&self) -> Vec<Decision> {
        let mut list = vec![
            (self.found_at, Some(self.decision_json.as_str())),
            (
                self.resolved_at.unwrap_or(i64::MAX),
                self.resolved_decision_json.as_deref(),
            ),
            (
                self.escalated_at.unwrap_or(i64::MAX),
                self.escalated_decision_json.as_deref(),
            ),
        ];
        list.sort_by_key(|(at, _)| *at);
        list.into_iter().filter_map(|(_, d)| decision(d)).collect()
    }

    pub fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }

    /// The row for the history: what changed, without the decisions (the event carries its own).
    pub fn to_json(&self) -> serde_json::Value {
        let t = |v: Option<i64>| v.map(|v| ts(v).to_string());
        serde_json::json!({
            "id": self.id,
            "customer_id": self.customer_id,
            "staff_id": self.staff_id,
            "to_boss": self.to_boss,
            "summary": self.summary,
            "found_at": ts(self.found_at).to_string(),
            "found_by": self.found_by,
            "due_at": ts(self.due_at).to_string(),
            "policy_version": self.policy_version,
            "resolved_at": t(self.resolved_at),
            "resolved_by": self.resolved_by,
            "resolution": self.resolution,
            "escalated_at": t(self.escalated_at),
            "reassigned_to": self.reassigned_to,
        })
    }
}

const SELECT: &str = "SELECT k.id, k.tenant_id, k.customer_id, cu.name AS customer_name, k.staff_id, s.display_name AS staff_name, \
    s.roles AS staff_roles, s.unit_id AS staff_unit_id, k.to_boss, k.summary, k.found_at, k.found_by, f.display_name AS found_by_name, \
    k.due_at, k.policy_version, k.decision_json, k.resolved_at, k.resolved_by, r.display_name AS resolved_by_name, k.resolution, \
    k.resolved_decision_json, k.escalated_at, k.escalated_decision_json, k.reassigned_to, g.display_name AS reassigned_to_name \
    FROM complaints k JOIN customers cu ON cu.tenant_id = k.tenant_id AND cu.id = k.customer_id \
    JOIN staff s ON s.tenant_id = k.tenant_id AND s.id = k.staff_id \
    JOIN staff f ON f.tenant_id = k.tenant_id AND f.id = k.found_by \
    LEFT JOIN staff r ON r.tenant_id = k.tenant_id AND r.id = k.resolved_by \
    LEFT JOIN staff g ON g.tenant_id = k.tenant_id AND g.id = k.reassigned_to";

pub struct NewComplaint<'a> {
    pub customer_id: i64,
    pub staff_id: i64,
    pub to_boss: bool,
    pub summary: &'a str,
    pub found_at: Timestamp,
    pub found_by: i64,
    pub due_at: Timestamp,
    pub decision: &'a Decision,
}

pub async fn insert(tx: &mut Tx, tenant_id: i64, c: NewComplaint<'_>) -> Result<ComplaintRow> {
    let decision = serde_json::to_string(c.decision).map_err(|e| StoreError::Other(e.to_string()))?;
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO complaints (tenant_id, customer_id, staff_id, to_boss, summary, found_at, found_by, due_at, policy_version, \
             decision_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            args![
                tenant_id,
                c.customer_id,
                c.staff_id,
                c.to_boss,
                c.summary,
                ms(c.found_at),
                c.found_by,
                ms(c.due_at),
                i64::from(c.decision.policy_version),
                decision
            ],
        )
        .await?;
    get_tx(tx, tenant_id, id).await
}

/// A complaint the reader sees; `NotFound` otherwise.
pub async fn get(db: &Db, tenant_id: i64, id: i64, view: &View) -> Result<ComplaintRow> {
    db.fetch_one(
        &format!(
            "{SELECT} WHERE k.tenant_id = $1 AND k.id = $2{}",
            visibility::complaints(view, "k")
        ),
        args![tenant_id, id],
    )
    .await
}

pub async fn get_tx(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<ComplaintRow> {
    tx.fetch_one(
        &format!("{SELECT} WHERE k.tenant_id = $1 AND k.id = $2"),
        args![tenant_id, id],
    )
    .await
}

/// Which complaints a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `Some(true)`: open only; `Some(false)`: resolved only.
    pub open: Option<bool>,
    pub customer_id: Option<i64>,
    /// Only complaints about this staff member.
    pub staff_id: Option<i64>,
    /// Paging: ids below this one.
    pub before: Option<i64>,
}

/// Complaints the reader sees, newest first.
pub async fn list(db: &Db, tenant_id: i64, f: &Filter, limit: i64, view: &View) -> Result<Vec<ComplaintRow>> {
    let open = match f.open {
        None => "",
        Some(true) => " AND k.resolved_at IS NULL",
        Some(false) => " AND k.resolved_at IS NOT NULL",
    };
    db.fetch_all(
        &format!(
            "{SELECT} WHERE k.tenant_id = $1{open} AND ($2 IS NULL OR k.customer_id = $2) AND ($3 IS NULL OR k.staff_id = $3) \
             AND ($4 IS NULL OR k.id < $4){} ORDER BY k.id DESC LIMIT $5",
            visibility::complaints(view, "k")
        ),
        args![tenant_id, f.customer_id, f.staff_id, f.before, limit],
    )
    .await
}

/// Records the resolution; `None` when someone resolved it first.
pub async fn resolve(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    by: i64,
    resolution: &str,
    at: Timestamp,
    decision: &Decision,
) -> Result<Option<ComplaintRow>> {
    let d = serde_json::to_string(decision).map_err(|e| StoreError::Other(e.to_string()))?;
    let n = tx
        .execute(
            "UPDATE complaints SET resolved_at = $3, resolved_by = $4, resolution = $5, resolved_decision_json = $6 \
             WHERE tenant_id = $1 AND id = $2 AND resolved_at IS NULL",
            args![tenant_id, id, ms(at), by, resolution, d],
        )
        .await?;
    if n == 0 {
        return Ok(None);
    }
    get_tx(tx, tenant_id, id).await.map(Some)
}

/// Records that the limit passed with the complaint open; `None` when it was resolved or
/// escalated first (so firing twice changes nothing).
pub async fn escalate(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    at: Timestamp,
    reassigned_to: Option<i64>,
    decision: &Decision,
) -> Result<Option<ComplaintRow>> {
    let d = serde_json::to_string(decision).map_err(|e| StoreError::Other(e.to_string()))?;
    let n = tx
        .execute(
            "UPDATE complaints SET escalated_at = $3, reassigned_to = $4, escalated_decision_json = $5 \
             WHERE tenant_id = $1 AND id = $2 AND resolved_at IS NULL AND escalated_at IS NULL",
            args![tenant_id, id, ms(at), reassigned_to, d],
        )
        .await?;
    if n == 0 {
        return Ok(None);
    }
    get_tx(tx, tenant_id, id).await.map(Some)
}

/// The ledger entries charged for these complaints, as (complaint id, entry id), by subject
/// (`complaint:7:staff:3`).
pub async fn entry_ids(db: &Db, tenant_id: i64, complaints: &[ComplaintRow]) -> Result<Vec<(i64, i64)>> {
    if complaints.is_empty() {
        return Ok(Vec::new());
    }
    let mut customers: Vec<i64> = complaints.iter().map(|c| c.customer_id).collect();
    customers.sort_unstable();
    customers.dedup();
    let mut a = args![tenant_id];
    a.extend(customers.iter().map(|c| Arg::from(*c)));
    // Automatic entries carry the customer: read the customers' complaint entries, then match
    // them to the complaints by the subject.
    let rows: Vec<(i64, String)> = db
        .fetch_all(
            &format!(
                "SELECT id, subject FROM ledger_entries WHERE tenant_id = $1 AND customer_id IN ({}) \
                 AND subject LIKE 'complaint:%' ORDER BY id",
                placeholders(2, customers.len())
            ),
            a,
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(entry, subject)| {
            let complaint: i64 = subject.strip_prefix("complaint:")?.split(':').next()?.parse().ok()?;
            complaints
                .iter()
                .any(|c| c.id == complaint)
                .then_some((complaint, entry))
        })
        .collect())
}
