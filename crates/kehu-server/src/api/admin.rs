//! Organisation and operations: units, staff, the active policy, the clock and the history check.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kehu_domain::{Permission, Text};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiJson;
use super::dto::StaffOut;
use crate::auth::{self, Caller};
use crate::error::Problem;
use crate::{ApiError, AppState, service};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_unit, list_units))
        .routes(routes!(create_staff, list_staff))
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

/// Add a unit (company, branch, department, team) to the organisation tree.
#[utoipa::path(post, path = "/api/v1/units", tag = "admin", request_body = NewUnitBody,
    responses((status = 201, body = UnitOut), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_unit(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewUnitBody>,
) -> Result<(StatusCode, Json<UnitOut>), ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::UnitsManage)?;
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request(
            "invalid_name",
            Text::new(
                "请填写单位名称（最多 100 个字符）",
                "A unit name is required (at most 100 characters)",
            ),
        )
        .in_lang(caller.lang));
    }
    let row = kehu_store::units::create(
        &state.db,
        caller.tenant_id,
        Some(caller.id()),
        name,
        b.parent_id,
        state.now(),
    )
    .await
    .map_err(|e| match e {
        kehu_store::StoreError::NotFound => ApiError::bad_request(
            "invalid_parent",
            Text::new("上级单位不存在", "The parent unit does not exist"),
        )
        .in_lang(caller.lang),
        e => e.into(),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(UnitOut {
            id: row.id,
            name: row.name,
            parent_id: row.parent_id,
        }),
    ))
}

/// The organisation tree as a flat list (each unit names its parent).
#[utoipa::path(get, path = "/api/v1/units", tag = "admin", responses((status = 200, body = UnitList)))]
async fn list_units(State(state): State<AppState>, caller: Caller) -> Result<Json<UnitList>, ApiError> {
    let rows = kehu_store::units::list(&state.db, caller.tenant_id).await?;
    Ok(Json(UnitList {
        items: rows
            .into_iter()
            .map(|u| UnitOut {
                id: u.id,
                name: u.name,
                parent_id: u.parent_id,
            })
            .collect(),
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

/// Add a staff member with roles named by the policy.
#[utoipa::path(post, path = "/api/v1/staff", tag = "admin", request_body = NewStaffBody,
    responses((status = 201, body = StaffOut), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_staff(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewStaffBody>,
) -> Result<(StatusCode, Json<StaffOut>), ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    let lang = caller.lang;
    caller.require(&policy, Permission::StaffManage)?;
    let username = b.username.trim();
    if username.is_empty()
        || username.len() > 64
        || !username
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
    {
        return Err(ApiError::bad_request(
            "invalid_username",
            Text::new(
                "用户名须为 1 到 64 个字母、数字、下划线、点或短横线",
                "The username must be 1 to 64 letters, digits, `_`, `.` or `-`",
            ),
        )
        .in_lang(lang));
    }
    let display = b.display_name.trim();
    if display.is_empty() || display.chars().count() > 100 {
        return Err(ApiError::bad_request(
            "invalid_name",
            Text::new(
                "请填写姓名（最多 100 个字符）",
                "A display name is required (at most 100 characters)",
            ),
        )
        .in_lang(lang));
    }
    auth::check_password(&b.password).map_err(|t| ApiError::bad_request("weak_password", t).in_lang(lang))?;
    if b.roles.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_roles",
            Text::new("至少需要一个角色", "At least one role is required"),
        )
        .in_lang(lang));
    }
    for r in &b.roles {
        if policy.role(r).is_none() {
            let known: Vec<&str> = policy.roles.iter().map(|r| r.id.as_str()).collect();
            return Err(ApiError::bad_request(
                "invalid_roles",
                Text::new(
                    format!("角色“{r}”未在制度中定义；可用角色：{}", known.join("、")),
                    format!("Role `{r}` is not defined by the policy; roles: {}", known.join(", ")),
                ),
            )
            .in_lang(lang));
        }
        if r == kehu_domain::policy::ADMIN_ROLE && !caller.is_admin() {
            return Err(ApiError::forbidden(Text::new(
                "只有管理员可以授予管理员角色",
                "Only an admin may grant the admin role",
            ))
            .in_lang(lang));
        }
    }
    let hash = auth::hash_password(&b.password)?;
    let row = kehu_store::staff::create(
        &state.db,
        caller.tenant_id,
        Some(caller.id()),
        kehu_store::staff::NewStaff {
            username,
            display_name: display,
            password_hash: &hash,
            unit_id: b.unit_id,
            roles: &b.roles,
        },
        state.now(),
    )
    .await
    .map_err(|e| match e {
        kehu_store::StoreError::Conflict { .. } => ApiError::new(
            StatusCode::CONFLICT,
            "duplicate_username",
            Text::new(
                format!("用户名“{username}”已被使用"),
                format!("The username `{username}` is taken"),
            ),
        )
        .in_lang(lang),
        kehu_store::StoreError::NotFound => {
            ApiError::bad_request("invalid_unit", Text::new("单位不存在", "The unit does not exist")).in_lang(lang)
        }
        e => e.into(),
    })?;
    Ok((StatusCode::CREATED, Json(StaffOut::from(&row))))
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
            .in_lang(caller.lang)
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
    /// `edited`, `missing_or_reordered` or `truncated` (when not ok).
    pub reason: Option<String>,
}

/// Re-hash the tenant's whole history and compare it with its chain.
#[utoipa::path(get, path = "/api/v1/history/verify", tag = "admin",
    responses((status = 200, body = VerifyOut), (status = 403, body = Problem)))]
async fn verify_history(State(state): State<AppState>, caller: Caller) -> Result<Json<VerifyOut>, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::HistoryRead)?;
    Ok(Json(
        match kehu_store::history::verify(&state.db, caller.tenant_id).await? {
            Ok(n) => VerifyOut {
                ok: true,
                events: Some(n),
                first_bad_event: None,
                reason: None,
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
                }
            }
        },
    ))
}
