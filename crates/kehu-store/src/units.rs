//! The organisation tree: company, branch, department, team.

use kehu_domain::Timestamp;
use serde_json::json;

use crate::db::Db;
use crate::history::{self, NewEvent};
use crate::{Result, StoreError, args, ms};

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct UnitRow {
    pub id: i64,
    pub tenant_id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, tenant_id, parent_id, name, created_at";

pub async fn create(
    db: &Db,
    tenant_id: i64,
    actor: Option<i64>,
    name: &str,
    parent_id: Option<i64>,
    now: Timestamp,
) -> Result<UnitRow> {
    let mut tx = db.begin().await?;
    crate::units::require(&mut tx, tenant_id, parent_id).await?;
    let row: UnitRow = tx
        .fetch_one(
            &format!(
                "INSERT INTO units (tenant_id, parent_id, name, created_at) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
            ),
            args![tenant_id, parent_id, name, ms(now)],
        )
        .await?;
    history::append(
        &mut tx,
        tenant_id,
        now,
        NewEvent {
            actor_id: actor,
            entity: "unit",
            entity_id: row.id,
            action: "create",
            after: Some(json!({"name": name, "parent_id": parent_id})),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// `NotFound` unless `unit_id` (when given) is a unit of this tenant.
pub(crate) async fn require(tx: &mut crate::Tx, tenant_id: i64, unit_id: Option<i64>) -> Result<()> {
    if let Some(id) = unit_id {
        let found: Option<(i64,)> = tx
            .fetch_optional(
                "SELECT id FROM units WHERE tenant_id = $1 AND id = $2",
                args![tenant_id, id],
            )
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
    }
    Ok(())
}

/// The tenant's units, read in a transaction (a case's rules read who heads a unit).
pub async fn list_tx(tx: &mut crate::db::Tx, tenant_id: i64) -> Result<Vec<UnitRow>> {
    tx.fetch_all(
        &format!("SELECT {COLUMNS} FROM units WHERE tenant_id = $1 ORDER BY id"),
        args![tenant_id],
    )
    .await
}

pub async fn list(db: &Db, tenant_id: i64) -> Result<Vec<UnitRow>> {
    db.fetch_all(
        &format!("SELECT {COLUMNS} FROM units WHERE tenant_id = $1 ORDER BY id"),
        args![tenant_id],
    )
    .await
}

/// Renames a unit or moves it under another parent (`Some(None)`: to the top). The domain has
/// checked that the move makes no cycle; `NotFound` for an unknown unit or parent.
pub async fn update(
    db: &Db,
    tenant_id: i64,
    actor: Option<i64>,
    id: i64,
    name: Option<&str>,
    parent_id: Option<Option<i64>>,
    now: Timestamp,
) -> Result<UnitRow> {
    let mut tx = db.begin().await?;
    let before: UnitRow = tx
        .fetch_optional(
            &format!(
                "SELECT {COLUMNS} FROM units WHERE tenant_id = $1 AND id = $2{}",
                tx.for_update()
            ),
            args![tenant_id, id],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    if let Some(parent) = parent_id {
        require(&mut tx, tenant_id, parent).await?;
    }
    let after: UnitRow = tx
        .fetch_one(
            &format!("UPDATE units SET name = $3, parent_id = $4 WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"),
            args![
                tenant_id,
                id,
                name.unwrap_or(&before.name),
                parent_id.unwrap_or(before.parent_id)
            ],
        )
        .await?;
    history::append(
        &mut tx,
        tenant_id,
        now,
        NewEvent {
            actor_id: actor,
            entity: "unit",
            entity_id: id,
            action: "update",
            before: Some(json!({"name": before.name, "parent_id": before.parent_id})),
            after: Some(json!({"name": after.name, "parent_id": after.parent_id})),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
