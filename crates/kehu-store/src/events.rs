//! Joint events of several divisions (R11.3). Invitations to them are claims naming the event.

use kehu_domain::Timestamp;
use kehu_domain::event::{Division, EventFacts, Session};

use crate::db::{Db, Tx};
use crate::visibility::{self, View};
use crate::{Result, args, ms, ts};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    pub starts_at: i64,
    pub session: String,
    /// Unit ids, comma-separated, in the organiser's order.
    pub divisions: String,
    pub created_by: i64,
    pub created_at: i64,
    pub policy_version: i64,
}

impl EventRow {
    pub fn session(&self) -> Session {
        Session::parse(&self.session).unwrap_or(Session::Evening)
    }

    pub fn unit_ids(&self) -> Vec<i64> {
        self.divisions
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    }

    /// The event as the rules see it; `names` gives each unit's name.
    pub fn facts(&self, names: &[(i64, String)]) -> EventFacts {
        EventFacts {
            id: self.id,
            name: self.name.clone(),
            starts_at: ts(self.starts_at),
            session: self.session(),
            divisions: self
                .unit_ids()
                .into_iter()
                .map(|u| Division {
                    unit_id: u,
                    name: names
                        .iter()
                        .find(|(id, _)| *id == u)
                        .map(|(_, n)| n.clone())
                        .unwrap_or_else(|| format!("#{u}")),
                })
                .collect(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "starts_at": ts(self.starts_at).to_string(),
            "session": self.session,
            "division_ids": self.unit_ids(),
            "created_by": self.created_by,
            "policy_version": self.policy_version,
        })
    }
}

const COLUMNS: &str = "id, tenant_id, name, starts_at, session, divisions, created_by, created_at, policy_version";

pub struct NewEventRow<'a> {
    pub name: &'a str,
    pub starts_at: Timestamp,
    pub session: Session,
    pub unit_ids: &'a [i64],
    pub created_by: i64,
    pub policy_version: u32,
}

pub async fn insert(tx: &mut Tx, tenant_id: i64, e: NewEventRow<'_>, now: Timestamp) -> Result<EventRow> {
    let divisions: Vec<String> = e.unit_ids.iter().map(i64::to_string).collect();
    tx.fetch_one(
        &format!(
            "INSERT INTO joint_events (tenant_id, name, starts_at, session, divisions, created_by, created_at, policy_version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
        ),
        args![
            tenant_id,
            e.name,
            ms(e.starts_at),
            e.session.as_str(),
            divisions.join(","),
            e.created_by,
            ms(now),
            i64::from(e.policy_version)
        ],
    )
    .await
}

pub async fn get_tx(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<EventRow> {
    tx.fetch_optional(
        &format!("SELECT {COLUMNS} FROM joint_events WHERE tenant_id = $1 AND id = $2"),
        args![tenant_id, id],
    )
    .await?
    .ok_or(crate::StoreError::NotFound)
}

/// An event the reader sees; `NotFound` otherwise.
pub async fn get(db: &Db, tenant_id: i64, id: i64, view: &View) -> Result<EventRow> {
    db.fetch_optional::<EventRow>(
        &format!("SELECT {COLUMNS} FROM joint_events WHERE tenant_id = $1 AND id = $2"),
        args![tenant_id, id],
    )
    .await?
    .filter(|e| visibility::event_visible(view, e.created_by, &e.unit_ids()))
    .ok_or(crate::StoreError::NotFound)
}

/// Events the reader sees, starting from `from` on, soonest first, then earlier ones, latest
/// first. (A tenant holds a few events a month, so they are filtered as they are read.)
pub async fn list(db: &Db, tenant_id: i64, from: Timestamp, limit: i64, view: &View) -> Result<Vec<EventRow>> {
    let rows: Vec<EventRow> = db
        .fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM joint_events WHERE tenant_id = $1 \
                 ORDER BY CASE WHEN starts_at >= $2 THEN 0 ELSE 1 END, \
                 CASE WHEN starts_at >= $2 THEN starts_at ELSE -starts_at END, id"
            ),
            args![tenant_id, ms(from)],
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter(|e| visibility::event_visible(view, e.created_by, &e.unit_ids()))
        .take(usize::try_from(limit).unwrap_or(0))
        .collect())
}

/// R11.2: a customer checked in at a joint event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttendanceRow {
    pub id: i64,
    pub tenant_id: i64,
    pub event_id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub claim_id: Option<i64>,
    pub checked_in_by: i64,
    pub checked_in_by_name: String,
    pub checked_in_at: i64,
    pub policy_version: i64,
}

impl AttendanceRow {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "event_id": self.event_id,
            "customer_id": self.customer_id,
            "customer_name": self.customer_name,
            "claim_id": self.claim_id,
            "checked_in_by": self.checked_in_by,
            "checked_in_by_name": self.checked_in_by_name,
            "checked_in_at": ts(self.checked_in_at).to_string(),
            "policy_version": self.policy_version,
        })
    }
}

const ATTENDANCE: &str = "SELECT a.id, a.tenant_id, a.event_id, a.customer_id, c.name AS customer_name, a.claim_id, \
    a.checked_in_by, s.display_name AS checked_in_by_name, a.checked_in_at, a.policy_version \
    FROM event_attendance a JOIN customers c ON c.tenant_id = a.tenant_id AND c.id = a.customer_id \
    JOIN staff s ON s.tenant_id = a.tenant_id AND s.id = a.checked_in_by";

pub struct NewAttendance {
    pub event_id: i64,
    pub customer_id: i64,
    pub claim_id: Option<i64>,
    pub checked_in_by: i64,
    pub at: Timestamp,
    pub policy_version: u32,
}

/// Records a check-in; a second one of the same customer at the same event is a `Conflict`.
pub async fn check_in(tx: &mut Tx, tenant_id: i64, a: NewAttendance) -> Result<AttendanceRow> {
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO event_attendance (tenant_id, event_id, customer_id, claim_id, checked_in_by, checked_in_at, policy_version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            args![
                tenant_id,
                a.event_id,
                a.customer_id,
                a.claim_id,
                a.checked_in_by,
                ms(a.at),
                i64::from(a.policy_version)
            ],
        )
        .await?;
    tx.fetch_one(
        &format!("{ATTENDANCE} WHERE a.tenant_id = $1 AND a.id = $2"),
        args![tenant_id, id],
    )
    .await
}

/// The customer's check-in at the event, if any.
pub async fn attendance_of_tx(
    tx: &mut Tx,
    tenant_id: i64,
    event_id: i64,
    customer_id: i64,
) -> Result<Option<AttendanceRow>> {
    tx.fetch_optional(
        &format!("{ATTENDANCE} WHERE a.tenant_id = $1 AND a.event_id = $2 AND a.customer_id = $3"),
        args![tenant_id, event_id, customer_id],
    )
    .await
}

/// Everyone checked in at the event, in the order they arrived.
pub async fn attendance(db: &Db, tenant_id: i64, event_id: i64) -> Result<Vec<AttendanceRow>> {
    db.fetch_all(
        &format!("{ATTENDANCE} WHERE a.tenant_id = $1 AND a.event_id = $2 ORDER BY a.checked_in_at, a.id"),
        args![tenant_id, event_id],
    )
    .await
}
