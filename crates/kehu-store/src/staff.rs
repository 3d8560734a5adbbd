//! Staff members: who they are, their unit and the roles the policy names.

use kehu_domain::Timestamp;
use serde_json::json;

use crate::db::Db;
use crate::history::{self, NewEvent};
use crate::{Result, StoreError, args, ms};

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct StaffRow {
    pub id: i64,
    pub tenant_id: i64,
    pub unit_id: Option<i64>,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub roles: String,
    #[serde(deserialize_with = "crate::db::flag")]
    pub active: bool,
    pub created_at: i64,
}

impl StaffRow {
    /// The staff member as the rules see them.
    pub fn facts(&self) -> kehu_domain::claim::StaffFacts {
        kehu_domain::claim::StaffFacts {
            id: self.id,
            name: self.display_name.clone(),
            roles: self.role_list(),
        }
    }

    pub fn role_list(&self) -> Vec<String> {
        self.roles
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The public view: never the password hash.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "unit_id": self.unit_id,
            "roles": self.role_list(),
            "active": self.active,
        })
    }
}

pub struct NewStaff<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub unit_id: Option<i64>,
    pub roles: &'a [String],
}

static ADMIN_ROLES: std::sync::LazyLock<[String; 1]> =
    std::sync::LazyLock::new(|| [kehu_domain::policy::ADMIN_ROLE.to_string()]);

impl<'a> NewStaff<'a> {
    /// The tenant's `admin` (display name 管理员), who may do everything in it.
    pub fn admin(password_hash: &'a str) -> NewStaff<'a> {
        NewStaff {
            username: "admin",
            display_name: "管理员",
            password_hash,
            unit_id: None,
            roles: &*ADMIN_ROLES,
        }
    }
}

pub const COLUMNS: &str = "id, tenant_id, unit_id, username, display_name, password_hash, roles, active, created_at";

pub async fn create(db: &Db, tenant_id: i64, actor: Option<i64>, s: NewStaff<'_>, now: Timestamp) -> Result<StaffRow> {
    let mut tx = db.begin().await?;
    crate::units::require(&mut tx, tenant_id, s.unit_id).await?;
    let row: StaffRow = tx
        .fetch_one(
            &format!(
                "INSERT INTO staff (tenant_id, unit_id, username, display_name, password_hash, roles, active, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
            ),
            args![tenant_id, s.unit_id, s.username, s.display_name, s.password_hash, s.roles.join(","), true, ms(now)],
        )
        .await?;
    history::append(
        &mut tx,
        tenant_id,
        now,
        NewEvent {
            actor_id: actor,
            entity: "staff",
            entity_id: row.id,
            action: "create",
            after: Some(row.to_json()),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn get(db: &Db, tenant_id: i64, id: i64) -> Result<StaffRow> {
    db.fetch_one(
        &format!("SELECT {COLUMNS} FROM staff WHERE tenant_id = $1 AND id = $2"),
        args![tenant_id, id],
    )
    .await
}

/// One staff member, read in a transaction (who a step of a case acts as).
pub async fn get_tx(tx: &mut crate::db::Tx, tenant_id: i64, id: i64) -> Result<StaffRow> {
    tx.fetch_one(
        &format!("SELECT {COLUMNS} FROM staff WHERE tenant_id = $1 AND id = $2"),
        args![tenant_id, id],
    )
    .await
}

/// Active staff with this username, in any tenant (login names are unique per tenant).
pub async fn by_username(db: &Db, username: &str) -> Result<Vec<StaffRow>> {
    db.fetch_all(
        &format!("SELECT {COLUMNS} FROM staff WHERE username = $1 AND active = $2 ORDER BY tenant_id"),
        args![username, true],
    )
    .await
}

/// The tenant's staff, those who left included, read in a transaction (whom a case names).
pub async fn list_tx(tx: &mut crate::db::Tx, tenant_id: i64) -> Result<Vec<StaffRow>> {
    tx.fetch_all(
        &format!("SELECT {COLUMNS} FROM staff WHERE tenant_id = $1 ORDER BY id"),
        args![tenant_id],
    )
    .await
}

/// The tenant's active staff, read in a transaction (who may receive a customer).
pub async fn active_tx(tx: &mut crate::db::Tx, tenant_id: i64) -> Result<Vec<StaffRow>> {
    tx.fetch_all(
        &format!("SELECT {COLUMNS} FROM staff WHERE tenant_id = $1 AND active = $2 ORDER BY id"),
        args![tenant_id, true],
    )
    .await
}

pub async fn list(db: &Db, tenant_id: i64) -> Result<Vec<StaffRow>> {
    db.fetch_all(
        &format!("SELECT {COLUMNS} FROM staff WHERE tenant_id = $1 ORDER BY id"),
        args![tenant_id],
    )
    .await
}

/// What an update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct StaffChange {
    pub display_name: Option<String>,
    /// `Some(None)` takes the staff member out of every unit.
    pub unit_id: Option<Option<i64>>,
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// Changes a staff member in one transaction, with a history event of before and after. A
/// deactivation ends their sessions and revokes their tokens in the same transaction, so it
/// holds on every server process at once. `NotFound` for an unknown staff member or unit.
pub async fn update(
    db: &Db,
    tenant_id: i64,
    actor: Option<i64>,
    id: i64,
    change: StaffChange,
    now: Timestamp,
) -> Result<StaffRow> {
    let mut tx = db.begin().await?;
    let before: StaffRow = tx
        .fetch_optional(
            &format!(
                "SELECT {COLUMNS} FROM staff WHERE tenant_id = $1 AND id = $2{}",
                tx.for_update()
            ),
            args![tenant_id, id],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    if let Some(unit) = change.unit_id {
        crate::units::require(&mut tx, tenant_id, unit).await?;
    }
    let display_name = change.display_name.unwrap_or_else(|| before.display_name.clone());
    let unit_id = change.unit_id.unwrap_or(before.unit_id);
    let roles = change
        .roles
        .map(|r| r.join(","))
        .unwrap_or_else(|| before.roles.clone());
    let active = change.active.unwrap_or(before.active);
    let after: StaffRow = tx
        .fetch_one(
            &format!(
                "UPDATE staff SET display_name = $3, unit_id = $4, roles = $5, active = $6 \
                 WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
            ),
            args![tenant_id, id, display_name, unit_id, roles, active],
        )
        .await?;
    if before.active && !after.active {
        crate::auth::end_sessions(&mut tx, tenant_id, id).await?;
        crate::auth::revoke_tokens(&mut tx, tenant_id, id, now).await?;
    }
    history::append(
        &mut tx,
        tenant_id,
        now,
        NewEvent {
            actor_id: actor,
            entity: "staff",
            entity_id: id,
            action: "update",
            before: Some(before.to_json()),
            after: Some(after.to_json()),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Sets a new password (chosen by someone who manages staff, or the demo's
/// `KEHU_ADMIN_PASSWORD`) and ends the staff member's sessions; recorded without the hash. Their
/// tokens stay: revoking them is a separate step.
pub async fn set_password(
    db: &Db,
    tenant_id: i64,
    actor: Option<i64>,
    id: i64,
    password_hash: &str,
    now: Timestamp,
) -> Result<()> {
    let mut tx = db.begin().await?;
    let n = tx
        .execute(
            "UPDATE staff SET password_hash = $3 WHERE tenant_id = $1 AND id = $2",
            args![tenant_id, id, password_hash],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    let ended = crate::auth::end_sessions(&mut tx, tenant_id, id).await?;
    history::append(
        &mut tx,
        tenant_id,
        now,
        NewEvent {
            actor_id: actor,
            entity: "staff",
            entity_id: id,
            action: "set_password",
            after: Some(json!({"sessions_ended": ended})),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await
}
