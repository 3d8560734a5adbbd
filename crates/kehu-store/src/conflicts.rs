//! Conflicts between two divisions' staff over a customer (R11.6) and their sign-offs.

use kehu_domain::Timestamp;
use kehu_domain::conflict::{ConflictFacts, Outcome, PartyFacts, Seat, SignOff, Status};

use crate::db::{Db, Tx};
use crate::visibility::{self, View};
use crate::{Result, StoreError, args, ms, ts};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConflictRow {
    pub id: i64,
    pub tenant_id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub event_id: Option<i64>,
    pub event_name: Option<String>,
    pub party_a: i64,
    pub party_a_name: String,
    pub unit_a: i64,
    pub unit_a_name: String,
    pub party_b: i64,
    pub party_b_name: String,
    pub unit_b: i64,
    pub unit_b_name: String,
    pub summary: String,
    pub status: String,
    pub opened_by: i64,
    pub opener_name: String,
    pub opened_at: i64,
    pub escalated_by: Option<i64>,
    pub escalated_at: Option<i64>,
    pub escalation_reason: Option<String>,
    pub award_to: Option<i64>,
    pub argued: Option<bool>,
    pub closed_by: Option<i64>,
    pub closer_name: Option<String>,
    pub closed_at: Option<i64>,
    pub closing_note: Option<String>,
    pub policy_version: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SignOffRow {
    pub id: i64,
    pub conflict_id: i64,
    pub seat: String,
    pub staff_id: i64,
    pub staff_name: String,
    pub award_to: i64,
    pub argued: bool,
    pub note: String,
    pub signed_at: i64,
}

impl SignOffRow {
    pub fn facts(&self) -> Option<SignOff> {
        Some(SignOff {
            seat: Seat::parse(&self.seat)?,
            staff_id: self.staff_id,
            name: self.staff_name.clone(),
            outcome: Outcome {
                award_to: self.award_to,
                argued: self.argued,
                note: self.note.clone(),
            },
        })
    }
}

impl ConflictRow {
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Open)
    }

    pub fn parties(&self) -> [PartyFacts; 2] {
        [
            PartyFacts {
                staff_id: self.party_a,
                name: self.party_a_name.clone(),
                unit_id: Some(self.unit_a),
                unit_name: self.unit_a_name.clone(),
            },
            PartyFacts {
                staff_id: self.party_b,
                name: self.party_b_name.clone(),
                unit_id: Some(self.unit_b),
                unit_name: self.unit_b_name.clone(),
            },
        ]
    }

    /// The conflict as the rules see it, with its sign-offs.
    pub fn facts(&self, signoffs: &[SignOffRow]) -> ConflictFacts {
        ConflictFacts {
            id: self.id,
            customer_id: self.customer_id,
            customer_name: self.customer_name.clone(),
            event_id: self.event_id,
            parties: self.parties(),
            status: self.status(),
            signoffs: signoffs.iter().filter_map(SignOffRow::facts).collect(),
        }
    }

    /// The stored fields, as history records them.
    pub fn to_json(&self) -> serde_json::Value {
        let t = |v: Option<i64>| v.map(|v| ts(v).to_string());
        serde_json::json!({
            "id": self.id,
            "customer_id": self.customer_id,
            "event_id": self.event_id,
            "party_ids": [self.party_a, self.party_b],
            "unit_ids": [self.unit_a, self.unit_b],
            "summary": self.summary,
            "status": self.status,
            "opened_by": self.opened_by,
            "opened_at": ts(self.opened_at).to_string(),
            "escalated_by": self.escalated_by,
            "escalated_at": t(self.escalated_at),
            "escalation_reason": self.escalation_reason,
            "award_to": self.award_to,
            "argued": self.argued,
            "closed_by": self.closed_by,
            "closed_at": t(self.closed_at),
            "closing_note": self.closing_note,
            "policy_version": self.policy_version,
        })
    }
}

const SELECT: &str = "SELECT f.id, f.tenant_id, f.customer_id, cu.name AS customer_name, f.event_id, e.name AS event_name, \
    f.party_a, sa.display_name AS party_a_name, f.unit_a, ua.name AS unit_a_name, \
    f.party_b, sb.display_name AS party_b_name, f.unit_b, ub.name AS unit_b_name, \
    f.summary, f.status, f.opened_by, so.display_name AS opener_name, f.opened_at, \
    f.escalated_by, f.escalated_at, f.escalation_reason, f.award_to, f.argued, \
    f.closed_by, sc.display_name AS closer_name, f.closed_at, f.closing_note, f.policy_version \
    FROM conflicts f JOIN customers cu ON cu.tenant_id = f.tenant_id AND cu.id = f.customer_id \
    LEFT JOIN joint_events e ON e.tenant_id = f.tenant_id AND e.id = f.event_id \
    JOIN staff sa ON sa.tenant_id = f.tenant_id AND sa.id = f.party_a \
    JOIN units ua ON ua.tenant_id = f.tenant_id AND ua.id = f.unit_a \
    JOIN staff sb ON sb.tenant_id = f.tenant_id AND sb.id = f.party_b \
    JOIN units ub ON ub.tenant_id = f.tenant_id AND ub.id = f.unit_b \
    JOIN staff so ON so.tenant_id = f.tenant_id AND so.id = f.opened_by \
    LEFT JOIN staff sc ON sc.tenant_id = f.tenant_id AND sc.id = f.closed_by";

const SIGNOFFS: &str = "SELECT g.id, g.conflict_id, g.seat, g.staff_id, s.display_name AS staff_name, g.award_to, g.argued, g.note, g.signed_at \
    FROM conflict_signoffs g JOIN staff s ON s.tenant_id = g.tenant_id AND s.id = g.staff_id";

pub struct NewConflictRow<'a> {
    pub customer_id: i64,
    pub event_id: Option<i64>,
    /// (staff id, unit id) of each party.
    pub parties: [(i64, i64); 2],
    pub summary: &'a str,
    pub opened_by: i64,
    pub policy_version: u32,
}

pub async fn insert(tx: &mut Tx, tenant_id: i64, c: NewConflictRow<'_>, now: Timestamp) -> Result<ConflictRow> {
    let [(a, ua), (b, ub)] = c.parties;
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO conflicts (tenant_id, customer_id, event_id, party_a, unit_a, party_b, unit_b, summary, status, \
             opened_by, opened_at, policy_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10, $11) RETURNING id",
            args![
                tenant_id,
                c.customer_id,
                c.event_id,
                a,
                ua,
                b,
                ub,
                c.summary,
                c.opened_by,
                ms(now),
                i64::from(c.policy_version)
            ],
        )
        .await?;
    get_tx(tx, tenant_id, id).await
}

/// Locks the conflict for the rest of the transaction (PostgreSQL), so sign-offs, escalation
/// and rulings on one conflict are decided one after another. `NotFound` for another tenant's.
pub async fn lock(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<()> {
    let sql = format!(
        "SELECT id FROM conflicts WHERE tenant_id = $1 AND id = $2{}",
        tx.for_update()
    );
    let found: Option<(i64,)> = tx.fetch_optional(&sql, args![tenant_id, id]).await?;
    found.map(|_| ()).ok_or(StoreError::NotFound)
}

pub async fn get_tx(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<ConflictRow> {
    tx.fetch_optional(
        &format!("{SELECT} WHERE f.tenant_id = $1 AND f.id = $2"),
        args![tenant_id, id],
    )
    .await?
    .ok_or(StoreError::NotFound)
}

/// A conflict the reader sees; `NotFound` otherwise.
pub async fn get(db: &Db, tenant_id: i64, id: i64, view: &View) -> Result<ConflictRow> {
    db.fetch_optional(
        &format!(
            "{SELECT} WHERE f.tenant_id = $1 AND f.id = $2{}",
            visibility::conflicts(view, "f")
        ),
        args![tenant_id, id],
    )
    .await?
    .ok_or(StoreError::NotFound)
}

/// Conflicts newest first, below `before` (an id) when given; only open and escalated ones
/// when `open_only`.
pub async fn list(
    db: &Db,
    tenant_id: i64,
    open_only: bool,
    (before, limit): (Option<i64>, i64),
    view: &View,
) -> Result<Vec<ConflictRow>> {
    db.fetch_all(
        &format!(
            "{SELECT} WHERE f.tenant_id = $1 AND ($2 = FALSE OR f.status IN ('open', 'escalated')) \
             AND f.id < $3{} ORDER BY f.id DESC LIMIT $4",
            visibility::conflicts(view, "f")
        ),
        args![tenant_id, open_only, before.unwrap_or(i64::MAX), limit],
    )
    .await
}

pub async fn signoffs_tx(tx: &mut Tx, tenant_id: i64, conflict_id: i64) -> Result<Vec<SignOffRow>> {
    tx.fetch_all(
        &format!("{SIGNOFFS} WHERE g.tenant_id = $1 AND g.conflict_id = $2 ORDER BY g.id"),
        args![tenant_id, conflict_id],
    )
    .await
}

pub async fn signoffs(db: &Db, tenant_id: i64, conflict_id: i64) -> Result<Vec<SignOffRow>> {
    db.fetch_all(
        &format!("{SIGNOFFS} WHERE g.tenant_id = $1 AND g.conflict_id = $2 ORDER BY g.id"),
        args![tenant_id, conflict_id],
    )
    .await
}

pub async fn add_signoff(tx: &mut Tx, tenant_id: i64, conflict_id: i64, s: &SignOff, at: Timestamp) -> Result<()> {
    tx.execute(
        "INSERT INTO conflict_signoffs (tenant_id, conflict_id, seat, staff_id, award_to, argued, note, signed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![
            tenant_id,
            conflict_id,
            s.seat.key(),
            s.staff_id,
            s.outcome.award_to,
            s.outcome.argued,
            s.outcome.note.as_str(),
            ms(at)
        ],
    )
    .await?;
    Ok(())
}

/// Moves an open conflict to the arbiter: `by` the coordinator who cannot decide, or `None`
/// when the settlers' outcomes differ.
pub async fn escalate(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    by: Option<i64>,
    reason: &str,
    at: Timestamp,
) -> Result<ConflictRow> {
    tx.execute(
        "UPDATE conflicts SET status = 'escalated', escalated_by = $3, escalated_at = $4, escalation_reason = $5 \
         WHERE tenant_id = $1 AND id = $2 AND status = 'open'",
        args![tenant_id, id, by, ms(at), reason],
    )
    .await?;
    get_tx(tx, tenant_id, id).await
}

/// Records the outcome that closes a conflict (`settled` or `decided`).
pub async fn close(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    status: Status,
    outcome: &Outcome,
    by: i64,
    at: Timestamp,
) -> Result<ConflictRow> {
    tx.execute(
        "UPDATE conflicts SET status = $3, award_to = $4, argued = $5, closed_by = $6, closed_at = $7, closing_note = $8 \
         WHERE tenant_id = $1 AND id = $2 AND status IN ('open', 'escalated')",
        args![
            tenant_id,
            id,
            status.as_str(),
            outcome.award_to,
            outcome.argued,
            by,
            ms(at),
            outcome.note.as_str()
        ],
    )
    .await?;
    get_tx(tx, tenant_id, id).await
}
