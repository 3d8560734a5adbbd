//! Login sessions and API tokens. Only hashes of the secrets are stored.

use kehu_domain::Timestamp;

use crate::db::Db;
use crate::staff::StaffRow;
use crate::{Result, args, ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub tenant_id: i64,
    pub staff_id: i64,
    pub csrf_token: String,
    pub expires_at: i64,
}

pub async fn create_session(
    db: &Db,
    token_hash: &str,
    staff: &StaffRow,
    csrf: &str,
    now: Timestamp,
    expires: Timestamp,
) -> Result<()> {
    db.execute(
        "INSERT INTO sessions (token_hash, tenant_id, staff_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        args![token_hash, staff.tenant_id, staff.id, csrf, ms(now), ms(expires)],
    )
    .await?;
    Ok(())
}

/// The live session with this token hash, with its staff member (active only).
pub async fn session(db: &Db, token_hash: &str, now: Timestamp) -> Result<Option<(SessionRow, StaffRow)>> {
    let s: Option<SessionRow> = db
        .fetch_optional(
            "SELECT tenant_id, staff_id, csrf_token, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
            args![token_hash, ms(now)],
        )
        .await?;
    let Some(s) = s else { return Ok(None) };
    let staff = crate::staff::get(db, s.tenant_id, s.staff_id).await?;
    Ok(staff.active.then_some((s, staff)))
}

pub async fn delete_session(db: &Db, token_hash: &str) -> Result<()> {
    db.execute("DELETE FROM sessions WHERE token_hash = $1", args![token_hash])
        .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub tenant_id: i64,
    pub staff_id: i64,
    pub name: String,
}

pub async fn create_token(db: &Db, staff: &StaffRow, name: &str, token_hash: &str, now: Timestamp) -> Result<TokenRow> {
    let mut tx = db.begin().await?;
    let row: TokenRow = tx
        .fetch_one(
            "INSERT INTO api_tokens (tenant_id, staff_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id, tenant_id, staff_id, name",
            args![staff.tenant_id, staff.id, name, token_hash, ms(now)],
        )
        .await?;
    crate::history::append(
        &mut tx,
        staff.tenant_id,
        now,
        crate::history::NewEvent {
            actor_id: Some(staff.id),
            entity: "api_token",
            entity_id: row.id,
            action: "create",
            after: Some(serde_json::json!({"name": name, "staff_id": staff.id})),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// The staff member behind an unrevoked token.
pub async fn token(db: &Db, token_hash: &str) -> Result<Option<StaffRow>> {
    let t: Option<TokenRow> = db
        .fetch_optional(
            "SELECT id, tenant_id, staff_id, name FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
            args![token_hash],
        )
        .await?;
    let Some(t) = t else { return Ok(None) };
    let staff = crate::staff::get(db, t.tenant_id, t.staff_id).await?;
    Ok(staff.active.then_some(staff))
}
