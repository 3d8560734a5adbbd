//! Login sessions, API tokens and the count of failed logins. Only hashes of the secrets are
//! stored. Every request reads its session or token here (no per-process cache), so logging
//! out, revoking a token or deactivating a staff member holds on every process at once.

use kehu_domain::Timestamp;

use crate::db::{Db, Tx};
use crate::staff::StaffRow;
use crate::{Result, StoreError, args, ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub tenant_id: i64,
    pub staff_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
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

/// The staff columns prefixed for a join (`s.id, s.tenant_id, ...`).
fn staff_columns() -> String {
    crate::staff::COLUMNS
        .split(", ")
        .map(|c| format!("s.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(sqlx::FromRow, serde::Deserialize)]
struct SessionWithStaff {
    #[sqlx(flatten)]
    #[serde(flatten)]
    staff: StaffRow,
    csrf_token: String,
    session_created_at: i64,
    expires_at: i64,
}

/// The live session with this token hash, with its staff member (active only); one query.
pub async fn session(db: &Db, token_hash: &str, now: Timestamp) -> Result<Option<(SessionRow, StaffRow)>> {
    let found: Option<SessionWithStaff> = db
        .lookup(
            &format!(
                "SELECT {}, x.csrf_token, x.created_at AS session_created_at, x.expires_at FROM sessions x \
                 JOIN staff s ON s.tenant_id = x.tenant_id AND s.id = x.staff_id \
                 WHERE x.token_hash = $1 AND x.expires_at > $2 AND s.active = $3",
                staff_columns()
            ),
            args![token_hash, ms(now), true],
        )
        .await?;
    Ok(found.map(|f| {
        (
            SessionRow {
                tenant_id: f.staff.tenant_id,
                staff_id: f.staff.id,
                csrf_token: f.csrf_token,
                created_at: f.session_created_at,
                expires_at: f.expires_at,
            },
            f.staff,
        )
    }))
}

pub async fn delete_session(db: &Db, token_hash: &str) -> Result<()> {
    db.execute("DELETE FROM sessions WHERE token_hash = $1", args![token_hash])
        .await?;
    Ok(())
}

/// Ends every session of a staff member (deactivation, a password reset); answers how many.
pub async fn end_sessions(tx: &mut Tx, tenant_id: i64, staff_id: i64) -> Result<u64> {
    tx.execute(
        "DELETE FROM sessions WHERE tenant_id = $1 AND staff_id = $2",
        args![tenant_id, staff_id],
    )
    .await
}

/// Revokes every live token of a staff member (deactivation); answers how many.
pub async fn revoke_tokens(tx: &mut Tx, tenant_id: i64, staff_id: i64, now: Timestamp) -> Result<u64> {
    tx.execute(
        "UPDATE api_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND staff_id = $2 AND revoked_at IS NULL",
        args![tenant_id, staff_id, ms(now)],
    )
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub tenant_id: i64,
    pub staff_id: i64,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const TOKEN_COLUMNS: &str = "id, tenant_id, staff_id, name, created_at, expires_at, revoked_at";

/// Mints a token that lives from `created` (real time, as sessions do) to `expires`; `at` is the
/// time of the history event (the tenant's clock).
pub async fn create_token(
    db: &Db,
    staff: &StaffRow,
    name: &str,
    token_hash: &str,
    at: Timestamp,
    (created, expires): (Timestamp, Timestamp),
) -> Result<TokenRow> {
    let mut tx = db.begin().await?;
    let row: TokenRow = tx
        .fetch_one(
            &format!(
                "INSERT INTO api_tokens (tenant_id, staff_id, name, token_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLUMNS}"
            ),
            args![staff.tenant_id, staff.id, name, token_hash, ms(created), ms(expires)],
        )
        .await?;
    crate::history::append(
        &mut tx,
        staff.tenant_id,
        at,
        crate::history::NewEvent {
            actor_id: Some(staff.id),
            entity: "api_token",
            entity_id: row.id,
            action: "create",
            after: Some(serde_json::json!({"name": name, "staff_id": staff.id, "expires_at": expires.to_string()})),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

#[derive(sqlx::FromRow, serde::Deserialize)]
struct TokenWithStaff {
    #[sqlx(flatten)]
    #[serde(flatten)]
    staff: StaffRow,
    token_id: i64,
}

/// The (active) staff member behind a token that is neither revoked nor expired, and the
/// token's id; one query.
pub async fn token(db: &Db, token_hash: &str, now: Timestamp) -> Result<Option<(i64, StaffRow)>> {
    let found: Option<TokenWithStaff> = db
        .lookup(
            &format!(
                "SELECT {}, t.id AS token_id FROM api_tokens t \
                 JOIN staff s ON s.tenant_id = t.tenant_id AND s.id = t.staff_id \
                 WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND s.active = $3",
                staff_columns()
            ),
            args![token_hash, ms(now), true],
        )
        .await?;
    Ok(found.map(|f| (f.token_id, f.staff)))
}

/// A staff member's tokens, newest first (never their secrets).
pub async fn tokens_of(db: &Db, tenant_id: i64, staff_id: i64) -> Result<Vec<TokenRow>> {
    db.fetch_all(
        &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE tenant_id = $1 AND staff_id = $2 ORDER BY id DESC"),
        args![tenant_id, staff_id],
    )
    .await
}

/// Revokes one of a staff member's tokens at `revoked` (real time, as tokens live), with a
/// history event at `at` (the tenant's clock). `NotFound` when the token is not theirs;
/// revoking a revoked token changes nothing.
pub async fn revoke_token(
    db: &Db,
    tenant_id: i64,
    staff_id: i64,
    id: i64,
    (at, revoked): (Timestamp, Timestamp),
) -> Result<()> {
    let mut tx = db.begin().await?;
    let row: TokenRow = tx
        .fetch_optional(
            &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE tenant_id = $1 AND staff_id = $2 AND id = $3"),
            args![tenant_id, staff_id, id],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    if row.revoked_at.is_some() {
        tx.rollback().await?;
        return Ok(());
    }
    tx.execute(
        "UPDATE api_tokens SET revoked_at = $4 WHERE tenant_id = $1 AND staff_id = $2 AND id = $3",
        args![tenant_id, staff_id, id, ms(revoked)],
    )
    .await?;
    crate::history::append(
        &mut tx,
        tenant_id,
        at,
        crate::history::NewEvent {
            actor_id: Some(staff_id),
            entity: "api_token",
            entity_id: id,
            action: "revoke",
            before: Some(serde_json::json!({"name": row.name})),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await
}

// ---- failed logins ---------------------------------------------------------------------------

/// A throttled key: `(tenant_id, key)`, tenant 0 for keys of no tenant (a client address).
pub type ThrottleKey = (i64, String);

#[derive(sqlx::FromRow)]
struct Throttle {
    window_start: i64,
    failures: i64,
}

/// The failures counted for `key` in the window that started after `since` (0 when none).
/// Answers the failures and when that window started.
pub async fn failures(db: &Db, key: &ThrottleKey, since: Timestamp) -> Result<(i64, i64)> {
    let t: Option<Throttle> = db
        .fetch_optional(
            "SELECT window_start, failures FROM login_throttle WHERE tenant_id = $1 AND key = $2 AND window_start > $3",
            args![key.0, key.1.as_str(), ms(since)],
        )
        .await?;
    Ok(t.map(|t| (t.failures, t.window_start)).unwrap_or((0, 0)))
}

/// Counts one failure for each key: a window that started before `since` starts anew at `now`.
/// One statement per key, atomic on both backends, so concurrent failures are all counted.
pub async fn count_failure(db: &Db, keys: &[ThrottleKey], since: Timestamp, now: Timestamp) -> Result<()> {
    let mut tx = db.begin().await?;
    for (tenant_id, key) in keys {
        tx.execute(
            "INSERT INTO login_throttle (tenant_id, key, window_start, failures) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (tenant_id, key) DO UPDATE SET \
               failures = CASE WHEN login_throttle.window_start > $4 THEN login_throttle.failures + 1 ELSE 1 END, \
               window_start = CASE WHEN login_throttle.window_start > $4 THEN login_throttle.window_start ELSE $3 END",
            args![*tenant_id, key.as_str(), ms(now), ms(since)],
        )
        .await?;
    }
    tx.commit().await
}

/// Forgets the failures of a key (a successful login).
pub async fn clear_failures(db: &Db, key: &ThrottleKey) -> Result<()> {
    db.execute(
        "DELETE FROM login_throttle WHERE tenant_id = $1 AND key = $2",
        args![key.0, key.1.as_str()],
    )
    .await?;
    Ok(())
}

/// Drops windows that ended before `since`, so the table holds only live counts.
pub async fn prune_failures(db: &Db, since: Timestamp) -> Result<u64> {
    db.execute("DELETE FROM login_throttle WHERE window_start <= $1", args![ms(since)])
        .await
}
