//! Follow-ups: calls, visits, SMS, meetings, walk-ins and events.

use kehu_domain::Timestamp;
use kehu_domain::lifecycle::FollowUp;
use kehu_domain::policy::Channel;

use crate::db::{Db, Tx};
use crate::visibility::{self, View};
use crate::{Result, args, ms, ts};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityRow {
    pub id: i64,
    pub tenant_id: i64,
    pub customer_id: i64,
    pub staff_id: i64,
    pub staff_name: String,
    pub channel: String,
    pub at: i64,
    pub note: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub confirmed_by: Option<i64>,
    /// The kind of service (R11.7), when the policy has kinds.
    pub kind: Option<String>,
}

impl ActivityRow {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "customer_id": self.customer_id,
            "staff_id": self.staff_id,
            "staff_name": self.staff_name,
            "channel": self.channel,
            "at": ts(self.at).to_string(),
            "note": self.note,
            "created_at": ts(self.created_at).to_string(),
            "confirmed_at": self.confirmed_at.map(|t| ts(t).to_string()),
            "confirmed_by": self.confirmed_by,
            "kind": self.kind,
        })
    }

    /// The activity as the claim lifecycle sees it; `None` for a channel no longer known.
    pub fn follow_up(&self) -> Option<FollowUp> {
        Some(FollowUp {
            id: self.id,
            staff_id: self.staff_id,
            channel: Channel::parse(&self.channel)?,
            at: ts(self.at),
            confirmed_at: self.confirmed_at.map(ts),
        })
    }
}

const SELECT: &str = "SELECT a.id, a.tenant_id, a.customer_id, a.staff_id, s.display_name AS staff_name, a.channel, a.at, a.note, a.created_at, \
    a.confirmed_at, a.confirmed_by, a.kind \
    FROM activities a JOIN staff s ON s.tenant_id = a.tenant_id AND s.id = a.staff_id";

pub struct NewActivity<'a> {
    pub customer_id: i64,
    pub staff_id: i64,
    pub channel: Channel,
    pub at: Timestamp,
    pub note: &'a str,
    pub kind: Option<&'a str>,
}

pub async fn insert(tx: &mut Tx, tenant_id: i64, a: NewActivity<'_>, now: Timestamp) -> Result<ActivityRow> {
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO activities (tenant_id, customer_id, staff_id, channel, at, note, created_at, kind) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            args![
                tenant_id,
                a.customer_id,
                a.staff_id,
                a.channel.as_str(),
                ms(a.at),
                a.note,
                ms(now),
                a.kind
            ],
        )
        .await?;
    tx.fetch_one(
        &format!("{SELECT} WHERE a.tenant_id = $1 AND a.id = $2"),
        args![tenant_id, id],
    )
    .await
}

/// A customer's follow-ups, newest first.
/// A customer's activities the reader sees, newest first.
pub async fn for_customer(
    db: &Db,
    tenant_id: i64,
    customer_id: i64,
    limit: i64,
    view: &View,
) -> Result<Vec<ActivityRow>> {
    db.fetch_all(
        &format!(
            "{SELECT} WHERE a.tenant_id = $1 AND a.customer_id = $2{} ORDER BY a.at DESC, a.id DESC LIMIT $3",
            visibility::activities(view, "a")
        ),
        args![tenant_id, customer_id, limit],
    )
    .await
}

/// A customer's activities by one staff member, oldest first, inside a transaction: what a
/// claim's lifecycle looks at.
pub async fn by_staff_tx(tx: &mut Tx, tenant_id: i64, customer_id: i64, staff_id: i64) -> Result<Vec<ActivityRow>> {
    tx.fetch_all(
        &format!("{SELECT} WHERE a.tenant_id = $1 AND a.customer_id = $2 AND a.staff_id = $3 ORDER BY a.at, a.id"),
        args![tenant_id, customer_id, staff_id],
    )
    .await
}

pub async fn get_tx(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<ActivityRow> {
    tx.fetch_one(
        &format!("{SELECT} WHERE a.tenant_id = $1 AND a.id = $2"),
        args![tenant_id, id],
    )
    .await
}

pub async fn get(db: &Db, tenant_id: i64, id: i64) -> Result<ActivityRow> {
    db.fetch_one(
        &format!("{SELECT} WHERE a.tenant_id = $1 AND a.id = $2"),
        args![tenant_id, id],
    )
    .await
}

/// Records a leader's confirmation of a follow-up (R5.2).
pub async fn confirm(tx: &mut Tx, tenant_id: i64, id: i64, by: i64, at: Timestamp) -> Result<ActivityRow> {
    tx.execute(
        "UPDATE activities SET confirmed_at = $3, confirmed_by = $4 WHERE tenant_id = $1 AND id = $2 AND confirmed_at IS NULL",
        args![tenant_id, id, ms(at), by],
    )
    .await?;
    get_tx(tx, tenant_id, id).await
}

pub async fn by_staff(db: &Db, tenant_id: i64, customer_id: i64, staff_id: i64) -> Result<Vec<ActivityRow>> {
    db.fetch_all(
        &format!("{SELECT} WHERE a.tenant_id = $1 AND a.customer_id = $2 AND a.staff_id = $3 ORDER BY a.at, a.id"),
        args![tenant_id, customer_id, staff_id],
    )
    .await
}

/// The activities of several customers, oldest first, inside a transaction (the scheduler's
/// batch of claim lapses).
pub async fn for_customers_tx(tx: &mut Tx, tenant_id: i64, customer_ids: &[i64]) -> Result<Vec<ActivityRow>> {
    if customer_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{SELECT} WHERE a.tenant_id = $1 AND a.customer_id IN ({}) ORDER BY a.at, a.id",
        crate::db::placeholders(2, customer_ids.len())
    );
    let mut a = args![tenant_id];
    a.extend(customer_ids.iter().map(|i| crate::Arg::from(*i)));
    tx.fetch_all(&sql, a).await
}

/// Every visit on the given channels in a tenant, with the roles of who made it: what the visit
/// cadence reads (R1.6). (customer_id, at, roles)
pub async fn visits(db: &Db, tenant_id: i64, channels: &[&str]) -> Result<Vec<(i64, i64, String)>> {
    if channels.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT a.customer_id, a.at, s.roles FROM activities a \
         JOIN staff s ON s.tenant_id = a.tenant_id AND s.id = a.staff_id \
         WHERE a.tenant_id = $1 AND a.channel IN ({})",
        crate::db::placeholders(2, channels.len())
    );
    let mut a = args![tenant_id];
    a.extend(channels.iter().map(|c| crate::Arg::from(*c)));
    db.fetch_all(&sql, a).await
}

/// The activities of several customers, oldest first (the claim list's limits).
pub async fn for_customers(db: &Db, tenant_id: i64, customer_ids: &[i64]) -> Result<Vec<ActivityRow>> {
    let mut out = Vec::new();
    for chunk in customer_ids.chunks(500) {
        let sql = format!(
            "{SELECT} WHERE a.tenant_id = $1 AND a.customer_id IN ({}) ORDER BY a.at, a.id",
            crate::db::placeholders(2, chunk.len())
        );
        let mut a = args![tenant_id];
        a.extend(chunk.iter().map(|i| crate::Arg::from(*i)));
        out.extend(db.fetch_all::<ActivityRow>(&sql, a).await?);
    }
    Ok(out)
}
