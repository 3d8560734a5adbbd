//! Tenants and their policy versions. A tenant's policy is versioned; old versions are kept so
//! past decisions can always be read against the policy they were taken under.

use kehu_domain::{Policy, Timestamp};
use serde_json::json;

use crate::db::{Db, Tx};
use crate::history::{self, NewEvent};
use crate::{Result, StoreError, args, ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub policy_version: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PolicyRow {
    pub tenant_id: i64,
    pub version: i64,
    pub file_name: String,
    pub source: String,
    pub created_at: i64,
}

/// Creates a tenant on a checked policy, starting its history chain.
pub async fn create(
    db: &Db,
    slug: &str,
    name: &str,
    policy: &Policy,
    source: &str,
    file_name: &str,
    now: Timestamp,
) -> Result<TenantRow> {
    let mut tx = db.begin().await?;
    let row: TenantRow = tx
        .fetch_one(
            "INSERT INTO tenants (slug, name, policy_version, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id, slug, name, policy_version, created_at",
            args![slug, name, i64::from(policy.version), ms(now)],
        )
        .await?;
    history::init(&mut tx, row.id).await?;
    insert_policy(&mut tx, row.id, policy, source, file_name, now).await?;
    history::append(
        &mut tx,
        row.id,
        now,
        NewEvent {
            entity: "tenant",
            entity_id: row.id,
            action: "create",
            after: Some(json!({"slug": slug, "name": name})),
            ..Default::default()
        },
    )
    .await?;
    history::append(
        &mut tx,
        row.id,
        now,
        NewEvent {
            entity: "policy",
            entity_id: i64::from(policy.version),
            action: "activate",
            after: Some(json!({"id": policy.id, "version": policy.version, "file": file_name})),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

async fn insert_policy(
    tx: &mut Tx,
    tenant_id: i64,
    policy: &Policy,
    source: &str,
    file_name: &str,
    now: Timestamp,
) -> Result<()> {
    tx.execute(
        "INSERT INTO policy_versions (tenant_id, version, file_name, source, created_at) VALUES ($1, $2, $3, $4, $5)",
        args![tenant_id, i64::from(policy.version), file_name, source, ms(now)],
    )
    .await?;
    Ok(())
}

/// Activates a new policy version; it must be newer than the active one. Past decisions keep
/// the version they name.
pub async fn activate_policy(
    db: &Db,
    tenant_id: i64,
    actor: Option<i64>,
    policy: &Policy,
    source: &str,
    file_name: &str,
    now: Timestamp,
) -> Result<()> {
    let mut tx = db.begin().await?;
    let sql = format!(
        "SELECT id, slug, name, policy_version, created_at FROM tenants WHERE id = $1{}",
        tx.for_update()
    );
    let t: TenantRow = tx.fetch_one(&sql, args![tenant_id]).await?;
    if i64::from(policy.version) <= t.policy_version {
        return Err(StoreError::Conflict {
            constraint: format!(
                "policy version {} is not newer than the active version {}",
                policy.version, t.policy_version
            ),
        });
    }
    insert_policy(&mut tx, tenant_id, policy, source, file_name, now).await?;
    tx.execute(
        "UPDATE tenants SET policy_version = $2 WHERE id = $1",
        args![tenant_id, i64::from(policy.version)],
    )
    .await?;
    history::append(
        &mut tx,
        tenant_id,
        now,
        NewEvent {
            actor_id: actor,
            entity: "policy",
            entity_id: i64::from(policy.version),
            action: "activate",
            before: Some(json!({"version": t.policy_version})),
            after: Some(json!({"id": policy.id, "version": policy.version, "file": file_name})),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await
}

pub async fn get(db: &Db, id: i64) -> Result<TenantRow> {
    db.fetch_one(
        "SELECT id, slug, name, policy_version, created_at FROM tenants WHERE id = $1",
        args![id],
    )
    .await
}

pub async fn by_slug(db: &Db, slug: &str) -> Result<Option<TenantRow>> {
    db.fetch_optional(
        "SELECT id, slug, name, policy_version, created_at FROM tenants WHERE slug = $1",
        args![slug],
    )
    .await
}

pub async fn list(db: &Db) -> Result<Vec<TenantRow>> {
    db.fetch_all(
        "SELECT id, slug, name, policy_version, created_at FROM tenants ORDER BY id",
        args![],
    )
    .await
}

/// One policy version of a tenant, active or not (a case opened under a workflow that a later
/// version removed is read by the version it was opened under).
pub async fn policy_version(db: &Db, tenant_id: i64, version: i64) -> Result<PolicyRow> {
    db.fetch_one(
        "SELECT tenant_id, version, file_name, source, created_at FROM policy_versions WHERE tenant_id = $1 AND version = $2",
        args![tenant_id, version],
    )
    .await
}

/// The policy version a tenant runs now.
pub async fn active_policy(db: &Db, tenant_id: i64) -> Result<PolicyRow> {
    db.fetch_one(
        "SELECT p.tenant_id, p.version, p.file_name, p.source, p.created_at FROM policy_versions p \
         JOIN tenants t ON t.id = p.tenant_id AND t.policy_version = p.version WHERE p.tenant_id = $1",
        args![tenant_id],
    )
    .await
}
