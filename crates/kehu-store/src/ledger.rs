//! The ledger: append-only entries of penalties, points and rewards, each with the Decision that
//! made it and the history event that records it. Reversals are new rows (`reverses`).

use kehu_domain::ledger::{Charge, EntryFacts};
use kehu_domain::policy::{Flag, LedgerKind};
use kehu_domain::{Decision, Timestamp};

use crate::db::{Db, Tx};
use crate::history::{self, NewEvent};
use crate::visibility::{self, View};
use crate::{Result, args, ms, ts};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: i64,
    pub tenant_id: i64,
    pub staff_id: Option<i64>,
    pub staff_name: Option<String>,
    pub customer_id: Option<i64>,
    pub kind: String,
    pub code: String,
    pub rule: String,
    pub amount: i64,
    pub points: i64,
    pub quantity: i64,
    pub flag: Option<String>,
    pub at: i64,
    pub period: String,
    pub policy_version: i64,
    pub decision_json: String,
    pub event_seq: i64,
    pub subject: Option<String>,
    pub reverses: Option<i64>,
    pub reversed_by: Option<i64>,
    pub refers_to: Option<i64>,
    pub created_by: Option<i64>,
    pub note: String,
}

fn kind_of(s: &str) -> LedgerKind {
    match s {
        "points" => LedgerKind::Points,
        "reward" => LedgerKind::Reward,
        _ => LedgerKind::Penalty,
    }
}

impl EntryRow {
    pub fn decision(&self) -> Option<Decision> {
        serde_json::from_str(&self.decision_json).ok()
    }

    pub fn kind(&self) -> LedgerKind {
        kind_of(&self.kind)
    }

    pub fn flag(&self) -> Option<Flag> {
        match self.flag.as_deref() {
            Some("dismissal_review") => Some(Flag::DismissalReview),
            _ => None,
        }
    }

    pub fn facts(&self) -> EntryFacts {
        EntryFacts {
            id: self.id,
            staff_id: self.staff_id,
            code: self.code.clone(),
            kind: self.kind(),
            amount: self.amount,
            points: self.points,
            flag: self.flag(),
            at: ts(self.at),
            reverses: self.reverses,
            reversed: self.reversed_by.is_some(),
        }
    }
}

const SELECT: &str = "SELECT e.id, e.tenant_id, e.staff_id, s.display_name AS staff_name, e.customer_id, e.kind, e.code, \
    e.rule, e.amount, e.points, e.quantity, e.flag, e.at, e.period, e.policy_version, e.decision_json, e.event_seq, e.subject, \
    e.reverses, (SELECT r.id FROM ledger_entries r WHERE r.tenant_id = e.tenant_id AND r.reverses = e.id) \
    AS reversed_by, e.refers_to, e.created_by, e.note \
    FROM ledger_entries e LEFT JOIN staff s ON s.tenant_id = e.tenant_id AND s.id = e.staff_id";

/// Who an entry is for and why.
pub struct NewEntry<'a> {
    pub staff_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub charge: &'a Charge,
    pub at: Timestamp,
    /// An automatic entry's subject (`claim:12`): the rule charges it once.
    pub subject: Option<String>,
    pub reverses: Option<i64>,
    pub created_by: Option<i64>,
    pub note: &'a str,
    pub quantity: u32,
    pub refers_to: Option<i64>,
}

/// Appends an entry and its history event in `tx`. Returns `None` when an automatic entry for
/// the same code and subject already exists (it was charged before).
pub async fn append(tx: &mut Tx, tenant_id: i64, e: NewEntry<'_>) -> Result<Option<EntryRow>> {
    if let Some(subject) = &e.subject {
        let seen: Option<(i64,)> = tx
            .fetch_optional(
                "SELECT id FROM ledger_entries WHERE tenant_id = $1 AND code = $2 AND subject = $3",
                args![tenant_id, e.charge.code.as_str(), subject.as_str()],
            )
            .await?;
        if seen.is_some() {
            return Ok(None);
        }
    }
    let c = e.charge;
    let decision = serde_json::to_string(&c.decision).unwrap_or_default();
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO ledger_entries (tenant_id, staff_id, customer_id, kind, code, rule, amount, points, quantity, flag, at, \
             period, policy_version, decision_json, event_seq, subject, reverses, created_by, note, refers_to) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, $15, $16, $17, $18, $19) RETURNING id",
            args![
                tenant_id,
                e.staff_id,
                e.customer_id,
                c.kind.as_str(),
                c.code.as_str(),
                c.rule.as_str(),
                c.amount,
                c.points,
                i64::from(e.quantity),
                c.flag.map(Flag::as_str),
                ms(e.at),
                c.period.as_str(),
                i64::from(c.decision.policy_version),
                decision,
                e.subject.clone(),
                e.reverses,
                e.created_by,
                e.note,
                e.refers_to
            ],
        )
        .await?;
    let seq = history::append(
        tx,
        tenant_id,
        e.at,
        NewEvent {
            actor_id: e.created_by,
            entity: "ledger",
            entity_id: id,
            customer_id: e.customer_id,
            action: if e.reverses.is_some() { "reverse" } else { "charge" },
            after: Some(serde_json::json!({
                "id": id,
                "staff_id": e.staff_id,
                "kind": c.kind.as_str(),
                "code": c.code,
                "amount": c.amount,
                "points": c.points,
                "quantity": e.quantity,
                "flag": c.flag.map(Flag::as_str),
                "period": c.period,
                "reverses": e.reverses,
                "refers_to": e.refers_to,
                "subject": e.subject,
                "note": e.note,
            })),
            decision: Some(&c.decision),
            ..Default::default()
        },
    )
    .await?;
    // The event's number is known only once it is appended; the row is new in this transaction.
    tx.execute(
        "UPDATE ledger_entries SET event_seq = $3 WHERE tenant_id = $1 AND id = $2",
        args![tenant_id, id, seq],
    )
    .await?;
    tx.fetch_one(
        &format!("{SELECT} WHERE e.tenant_id = $1 AND e.id = $2"),
        args![tenant_id, id],
    )
    .await
    .map(Some)
}

/// How many occurrences of `code` a staff member has in `period`, reversed ones not counted:
/// the escalation counter (R5.17: the third lateness in a month).
pub async fn occurrences(tx: &mut Tx, tenant_id: i64, staff_id: i64, code: &str, period: &str) -> Result<u32> {
    let (n,): (i64,) = tx
        .fetch_one(
            "SELECT CAST(COALESCE(SUM(e.quantity), 0) AS BIGINT) FROM ledger_entries e WHERE e.tenant_id = $1 AND e.staff_id = $2 AND e.code = $3 AND e.period = $4 \
             AND e.reverses IS NULL \
             AND NOT EXISTS (SELECT 1 FROM ledger_entries r WHERE r.tenant_id = e.tenant_id AND r.reverses = e.id)",
            args![tenant_id, staff_id, code, period],
        )
        .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// An entry the reader sees; `NotFound` otherwise.
pub async fn get(db: &Db, tenant_id: i64, id: i64, view: &View) -> Result<EntryRow> {
    db.fetch_one(
        &format!(
            "{SELECT} WHERE e.tenant_id = $1 AND e.id = $2{}",
            visibility::ledger(view, "e")
        ),
        args![tenant_id, id],
    )
    .await
}

/// Several entries by id that the reader sees, in id order (the fines of a complaint, R11.9).
pub async fn get_many(db: &Db, tenant_id: i64, ids: &[i64], view: &View) -> Result<Vec<EntryRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut a = args![tenant_id];
    a.extend(ids.iter().map(|i| crate::Arg::from(*i)));
    db.fetch_all(
        &format!(
            "{SELECT} WHERE e.tenant_id = $1 AND e.id IN ({}){} ORDER BY e.id",
            crate::db::placeholders(2, ids.len()),
            visibility::ledger(view, "e")
        ),
        a,
    )
    .await
}

/// The entries a case's steps charged (their subjects name the case, `case:ID:...`) that the
/// reader sees, in id order; `customer_id` is the case's customer, whose entries are searched.
pub async fn of_case(
    db: &Db,
    tenant_id: i64,
    case_id: i64,
    customer_id: Option<i64>,
    view: &View,
) -> Result<Vec<EntryRow>> {
    let like = format!("case:{case_id}:%");
    match customer_id {
        Some(c) => {
            db.fetch_all(
                &format!(
                    "{SELECT} WHERE e.tenant_id = $1 AND e.customer_id = $2 AND e.subject LIKE $3{} ORDER BY e.id LIMIT 200",
                    visibility::ledger(view, "e")
                ),
                args![tenant_id, c, like],
            )
            .await
        }
        None => {
            db.fetch_all(
                &format!(
                    "{SELECT} WHERE e.tenant_id = $1 AND e.customer_id IS NULL AND e.subject LIKE $2{} ORDER BY e.id LIMIT 200",
                    visibility::ledger(view, "e")
                ),
                args![tenant_id, like],
            )
            .await
        }
    }
}

pub async fn get_tx(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<EntryRow> {
    tx.fetch_one(
        &format!("{SELECT} WHERE e.tenant_id = $1 AND e.id = $2"),
        args![tenant_id, id],
    )
    .await
}

/// Entries the reader sees, filtered by staff member and month, newest first; `before` pages
/// by id.
pub async fn list(
    db: &Db,
    tenant_id: i64,
    staff_id: Option<i64>,
    period: Option<&str>,
    (before, limit): (Option<i64>, i64),
    view: &View,
) -> Result<Vec<EntryRow>> {
    db.fetch_all(
        &format!(
            "{SELECT} WHERE e.tenant_id = $1 AND ($2 IS NULL OR e.staff_id = $2) AND ($3 IS NULL OR e.period = $3) \
             AND ($4 IS NULL OR e.id < $4){} ORDER BY e.id DESC LIMIT $5",
            visibility::ledger(view, "e")
        ),
        args![tenant_id, staff_id, period, before, limit],
    )
    .await
}

/// The latest month with entries the reader sees (of one staff member when given), `YYYY-MM`.
pub async fn latest_period(db: &Db, tenant_id: i64, staff_id: Option<i64>, view: &View) -> Result<Option<String>> {
    let (p,): (Option<String>,) = db
        .fetch_one(
            &format!(
                "SELECT MAX(e.period) FROM ledger_entries e WHERE e.tenant_id = $1 AND ($2 IS NULL OR e.staff_id = $2){}",
                visibility::ledger(view, "e")
            ),
            args![tenant_id, staff_id],
        )
        .await?;
    Ok(p)
}

/// Every entry of a month the reader sees, for statements per person and unit.
pub async fn for_period(db: &Db, tenant_id: i64, period: &str, view: &View) -> Result<Vec<EntryRow>> {
    db.fetch_all(
        &format!(
            "{SELECT} WHERE e.tenant_id = $1 AND e.period = $2{} ORDER BY e.id",
            visibility::ledger(view, "e")
        ),
        args![tenant_id, period],
    )
    .await
}
