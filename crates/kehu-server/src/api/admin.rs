//! Organisation and operations: units, staff, the active policy, the clock and the history check.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kehu_domain::{Permission, Text};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::StaffOut;
use super::{ApiJson, Id};
use crate::auth::Caller;
use crate::error::Problem;
use crate::{ApiError, AppState, organisation, service};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_unit, list_units))
        .routes(routes!(update_unit))
        .routes(routes!(create_staff, list_staff))
        .routes(routes!(update_staff))
        .routes(routes!(reset_password))
        .routes(routes!(get_policy))
        .routes(routes!(get_clock))
        .routes(routes!(advance_clock))
        .routes(routes!(verify_history))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUnitBody {
    pub name: String,
    pub parent_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct UnitOut {
    pub id: i64,
    pub name: String,
    pub parent_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct UnitList {
    pub items: Vec<UnitOut>,
    pub next_cursor: Option<String>,
}

impl From<kehu_store::units::UnitRow> for UnitOut {
    fn from(row: kehu_store::units::UnitRow) -> UnitOut {
        UnitOut {
            id: row.id,
            name: row.name,
            parent_id: row.parent_id,
        }
    }
}

/// Add a unit (company, branch, department, team) to the organisation tree.
#[utoipa::path(post, path = "/api/v1/units", tag = "admin", request_body = NewUnitBody,
    responses((status = 201, body = UnitOut), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_unit(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewUnitBody>,
) -> Result<(StatusCode, Json<UnitOut>), ApiError> {
    let row = organisation::create_unit(&state, &caller, &b.name, b.parent_id).await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitChangeBody {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// The new parent; `null` moves the unit to the top. Absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub parent_id: Option<Option<i64>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Rename a unit or move it under another; a move below itself is refused (`unit_cycle`).
#[utoipa::path(patch, path = "/api/v1/units/{id}", tag = "admin", params(("id" = i64, Path)), request_body = UnitChangeBody,
    responses((status = 200, body = UnitOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_unit(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<UnitChangeBody>,
) -> Result<Json<UnitOut>, ApiError> {
    let row = organisation::update_unit(&state, &caller, id, b.name.as_deref(), b.parent_id).await?;
    Ok(Json(row.into()))
}

/// The organisation tree as a flat list (each unit names its parent).
#[utoipa::path(get, path = "/api/v1/units", tag = "admin", responses((status = 200, body = UnitList)))]
async fn list_units(State(state): State<AppState>, caller: Caller) -> Result<Json<UnitList>, ApiError> {
    let rows = kehu_store::units::list(&state.db, caller.tenant_id).await?;
    Ok(Json(UnitList {
        items: rows.into_iter().map(UnitOut::from).collect(),
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaffBody {
    pub username: String,
    pub password: String,
    pub display_name: String,
    pub unit_id: Option<i64>,
    /// Role IDs defined by the policy (e.g. `consultant`, `team_leader`), or `admin`.
    pub roles: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StaffList {
    pub items: Vec<StaffOut>,
    pub next_cursor: Option<String>,
}

/// Add a staff member with roles named by the policy: only roles the caller holds or that the
/// policy lists under the caller's role (`grants`).
#[utoipa::path(post, path = "/api/v1/staff", tag = "admin", request_body = NewStaffBody,
    responses((status = 201, body = StaffOut), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_staff(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewStaffBody>,
) -> Result<(StatusCode, Json<StaffOut>), ApiError> {
    let row = organisation::create_staff(
        &state,
        &caller,
        organisation::NewStaffInput {
            username: b.username,
            password: b.password,
            display_name: b.display_name,
            unit_id: b.unit_id,
            roles: b.roles,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(StaffOut::from(&row))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffChangeBody {
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: Option<String>,
    /// The unit; `null` takes the staff member out of every unit. Absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub unit_id: Option<Option<i64>>,
    /// The whole list of roles; each one the caller may grant.
    pub roles: Option<Vec<String>>,
    /// `false` deactivates: the staff member's sessions and tokens end at once.
    pub active: Option<bool>,
}

/// Change a staff member: name, unit, roles, or whether they may log in. Only someone all of
/// whose roles the caller could grant; never the caller's own roles or access.
#[utoipa::path(patch, path = "/api/v1/staff/{id}", tag = "admin", params(("id" = i64, Path)), request_body = StaffChangeBody,
    responses((status = 200, body = StaffOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_staff(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<StaffChangeBody>,
) -> Result<Json<StaffOut>, ApiError> {
    let row = organisation::update_staff(
        &state,
        &caller,
        id,
        organisation::StaffEdit {
            display_name: b.display_name,
            unit_id: b.unit_id,
            roles: b.roles,
            active: b.active,
        },
    )
    .await?;
    Ok(Json(StaffOut::from(&row)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    #[schema(min_length = 8, max_length = 200)]
    pub password: String,
}

/// Set a new password for a staff member; their sessions end at once.
#[utoipa::path(post, path = "/api/v1/staff/{id}/password", tag = "admin", params(("id" = i64, Path)), request_body = PasswordBody,
    responses((status = 204, description = "Password set"), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    organisation::reset_password(&state, &caller, id, &b.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// All staff of the tenant.
#[utoipa::path(get, path = "/api/v1/staff", tag = "admin", responses((status = 200, body = StaffList)))]
async fn list_staff(State(state): State<AppState>, caller: Caller) -> Result<Json<StaffList>, ApiError> {
    let rows = kehu_store::staff::list(&state.db, caller.tenant_id).await?;
    Ok(Json(StaffList {
        items: rows.iter().map(StaffOut::from).collect(),
        next_cursor: None,
    }))
}

/// The tenant's active policy as JSON, with its version.
#[utoipa::path(get, path = "/api/v1/policy", tag = "admin",
    responses((status = 200, description = "The checked policy", body = Object), (status = 403, body = Problem)))]
async fn get_policy(State(state): State<AppState>, caller: Caller) -> Result<Json<serde_json::Value>, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::PolicyRead)?;
    let mut v = serde_json::to_value(policy.as_ref()).map_err(|_| ApiError::internal())?;
    let row = kehu_store::tenants::active_policy(&state.db, caller.tenant_id).await?;
    if let Some(o) = v.as_object_mut() {
        o.insert("file".into(), row.file_name.into());
        o.insert("activated_at".into(), kehu_store::ts(row.created_at).to_string().into());
    }
    Ok(Json(v))
}

#[derive(Serialize, ToSchema)]
pub struct ClockOut {
    pub now: String,
    /// Whether the clock may be moved (`--virtual-clock`).
    #[serde(rename = "virtual")]
    pub is_virtual: bool,
}

/// The server's current time (virtual if so started).
#[utoipa::path(get, path = "/api/v1/clock", tag = "admin", responses((status = 200, body = ClockOut)))]
async fn get_clock(State(state): State<AppState>, _caller: Caller) -> Json<ClockOut> {
    Json(ClockOut {
        now: state.now().to_string(),
        is_virtual: state.clock.is_virtual(),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceBody {
    pub seconds: Option<i64>,
    /// RFC 3339 time to move to; not before now.
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AdvanceOut {
    pub now: String,
    /// Deadlines fired on the way.
    pub fired: u64,
}

/// Move the virtual clock forward (admin, `--virtual-clock` only; else 409 `clock_not_virtual`).
#[utoipa::path(post, path = "/api/v1/clock/advance", tag = "admin", request_body = AdvanceBody,
    responses((status = 200, body = AdvanceOut), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn advance_clock(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<AdvanceBody>,
) -> Result<Json<AdvanceOut>, ApiError> {
    let to = match b.to.as_deref() {
        None => None,
        Some(s) => Some(s.parse::<jiff::Timestamp>().map_err(|_| {
            ApiError::bad_request(
                "invalid_time",
                Text::new("to 须为带时区的 RFC 3339 时间", "`to` must be RFC 3339 with an offset"),
            )
        })?),
    };
    let (now, fired) = service::advance_clock(&state, &caller, b.seconds, to).await?;
    Ok(Json(AdvanceOut {
        now: now.to_string(),
        fired,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct VerifyOut {
    pub ok: bool,
    /// Events verified (when ok).
    pub events: Option<i64>,
    /// Sequence number of the first event that fails (when not ok).
    pub first_bad_event: Option<i64>,
    /// `edited`, `missing_or_reordered`, `truncated`, `differs_from_checkpoint`,
    /// `shorter_than_checkpoint`, `checkpoint_not_trusted` (a checkpoint file of the tenant
    /// holds a line not signed by this server's key), `checkpoints_missing` (the server's
    /// checkpoint folder is gone) or `not_anchored` (no checkpoint of the tenant) when not ok.
    pub reason: Option<String>,
    /// Signed checkpoints the chain was held to (none when the server keeps no checkpoint
    /// folder), and the newest one's event.
    pub checkpoints: i64,
    pub newest_checkpoint: Option<i64>,
}

impl VerifyOut {
    /// Not ok before the chain was read, for `reason`.
    fn refused(reason: &str) -> VerifyOut {
        VerifyOut {
            ok: false,
            events: None,
            first_bad_event: None,
            reason: Some(reason.to_string()),
            checkpoints: 0,
            newest_checkpoint: None,
        }
    }
}

/// Re-hash the tenant's whole history and compare it with its chain.
#[utoipa::path(get, path = "/api/v1/history/verify", tag = "admin",
    responses((status = 200, body = VerifyOut), (status = 403, body = Problem)))]
async fn verify_history(State(state): State<AppState>, caller: Caller) -> Result<Json<VerifyOut>, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::HistoryRead)?;
    let anchors = match &state.anchor {
        Some(a) => {
            let dir = a.dir().to_path_buf();
            let key = a.public_hex();
            let tenant = caller.tenant_id;
            let mut read = tokio::task::spawn_blocking(move || kehu_store::anchor::read_only(&dir, &key, Some(tenant)))
                .await
                .map_err(|_| ApiError::internal())?;
            if read.missing {
                tracing::error!(folder = %a.dir().display(), "the checkpoint folder is missing");
                return Ok(Json(VerifyOut::refused("checkpoints_missing")));
            }
            if let Some(bad) = read.bad.get(&caller.tenant_id) {
                tracing::warn!(tenant.id = caller.tenant_id, lines = ?bad, "history checkpoints not trusted");
                return Ok(Json(VerifyOut::refused("checkpoint_not_trusted")));
            }
            read.by_tenant.remove(&caller.tenant_id).unwrap_or_default()
        }
        None => Default::default(),
    };
    let checkpoints = anchors.len() as i64;
    let newest_checkpoint = anchors.last_key_value().map(|(s, _)| *s);
    // With a checkpoint folder, a history that no checkpoint vouches for is not taken as sound
    // (the server signs one at start, so a tenant with events has at least one).
    let unanchored = state.anchor.is_some() && checkpoints == 0;
    Ok(Json(
        match kehu_store::history::verify(&state.db, caller.tenant_id, anchors).await? {
            Ok(n) if unanchored => VerifyOut {
                ok: false,
                events: Some(n),
                first_bad_event: None,
                reason: Some("not_anchored".into()),
                checkpoints,
                newest_checkpoint,
            },
            Ok(n) => VerifyOut {
                ok: true,
                events: Some(n),
                first_bad_event: None,
                reason: None,
                checkpoints,
                newest_checkpoint,
            },
            Err(b) => {
                tracing::warn!(
                    tenant.id = caller.tenant_id,
                    first_bad_event = b.first_bad_event(),
                    reason = b.reason(),
                    "history chain broken"
                );
                VerifyOut {
                    ok: false,
                    events: None,
                    first_bad_event: Some(b.first_bad_event()),
                    reason: Some(b.reason().to_string()),
                    checkpoints,
                    newest_checkpoint,
                }
            }
        },
    ))
}
