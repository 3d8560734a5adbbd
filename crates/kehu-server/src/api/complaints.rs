//! Complaints (R11.9): record a complaint found, list and read them with their limits, fines and
//! decisions, and mark them resolved.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kehu_domain::{Lang, Policy, Text};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::DecisionOut;
use super::timed::LedgerEntryOut;
use super::{ApiJson, ApiQuery, Id};
use crate::auth::Caller;
use crate::complaints::{self, ComplaintInput, ComplaintView};
use crate::error::Problem;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_complaints, record_complaint))
        .routes(routes!(get_complaint))
        .routes(routes!(resolve_complaint))
}

fn t(ms: i64) -> String {
    kehu_store::ts(ms).to_string()
}

#[derive(Serialize, ToSchema)]
pub struct ComplaintOut {
    pub id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    /// The staff member concerned.
    pub staff_id: i64,
    pub staff_name: String,
    /// The customer complained to the boss: the unit's manager is fined too.
    pub to_boss: bool,
    pub summary: String,
    pub found_at: String,
    pub found_by: i64,
    pub found_by_name: String,
    /// The limit by which it must be resolved (R11.9: 3 days after it was found).
    pub due_at: String,
    /// Not yet resolved.
    pub open: bool,
    /// While open: seconds until the limit, negative once it has passed.
    pub seconds_left: Option<i64>,
    /// While open: the time left in words, in the caller's language.
    pub time_left: Option<String>,
    pub resolved_at: Option<String>,
    pub resolved_by: Option<i64>,
    pub resolution: Option<String>,
    /// When the limit passed with the complaint open (the fines and the handover were applied).
    pub escalated_at: Option<String>,
    /// Who took the customer over at the limit.
    pub reassigned_to: Option<i64>,
    pub reassigned_to_name: Option<String>,
    /// The decisions taken on the complaint: found, resolved, the limit passed open.
    pub decisions: Vec<DecisionOut>,
    /// The ledger entries charged for it (those the caller may read).
    pub ledger_entry_ids: Vec<i64>,
    pub entries: Vec<LedgerEntryOut>,
}

impl ComplaintOut {
    pub fn new(v: &ComplaintView, policy: &Policy, now: jiff::Timestamp, lang: Lang) -> ComplaintOut {
        let r = &v.row;
        let open = r.is_open();
        let due = kehu_store::ts(r.due_at);
        ComplaintOut {
            id: r.id,
            customer_id: r.customer_id,
            customer_name: r.customer_name.clone(),
            staff_id: r.staff_id,
            staff_name: r.staff_name.clone(),
            to_boss: r.to_boss,
            summary: r.summary.clone(),
            found_at: t(r.found_at),
            found_by: r.found_by,
            found_by_name: r.found_by_name.clone(),
            due_at: t(r.due_at),
            open,
            seconds_left: open.then(|| (r.due_at - now.as_millisecond()).div_euclid(1000)),
            time_left: open.then(|| crate::web::claims::time_left(now, due, lang).words),
            resolved_at: r.resolved_at.map(t),
            resolved_by: r.resolved_by,
            resolution: r.resolution.clone(),
            escalated_at: r.escalated_at.map(t),
            reassigned_to: r.reassigned_to,
            reassigned_to_name: r.reassigned_to_name.clone(),
            decisions: r.decisions().iter().map(|d| DecisionOut::new(d, lang)).collect(),
            ledger_entry_ids: v.entries.iter().map(|e| e.id).collect(),
            entries: v.entries.iter().map(|e| LedgerEntryOut::new(e, policy, lang)).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ComplaintPage {
    pub items: Vec<ComplaintOut>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComplaintQuery {
    /// `true`: open complaints only; `false`: resolved ones only.
    #[param(value_type = Option<bool>)]
    pub open: Option<String>,
    #[param(value_type = Option<i64>)]
    pub customer_id: Option<String>,
    /// 1 to 500; default 50.
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn bad(code: &'static str, zh: &str, en: &str, lang: Lang) -> ApiError {
    ApiError::bad_request(code, Text::new(zh, en)).in_lang(lang)
}

/// Complaints, newest first (R11.9). Those who record complaints (and read every ledger) see
/// all; anyone else the complaints about themselves.
#[utoipa::path(get, path = "/api/v1/complaints", tag = "complaints", params(ComplaintQuery),
    responses((status = 200, body = ComplaintPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn list_complaints(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ComplaintQuery>,
) -> Result<Json<ComplaintPage>, ApiError> {
    let lang = caller.lang;
    let open = match q.open.as_deref() {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(bad(
                "invalid_open",
                "open 须为 true 或 false",
                "open must be true or false",
                lang,
            ));
        }
    };
    let customer_id = super::parse_customer_id(q.customer_id.as_deref(), lang)?;
    let limit = super::parse_limit(q.limit.as_deref(), lang)?;
    let before = super::parse_cursor(q.cursor.as_deref(), lang)?;
    let views = complaints::list(&state, &caller, open, customer_id, before, limit + 1).await?;
    let more = views.len() as i64 > limit;
    let views: Vec<_> = views.into_iter().take(limit as usize).collect();
    let policy = state.policy(caller.tenant_id).await?;
    let now = state.now();
    Ok(Json(ComplaintPage {
        next_cursor: more.then(|| views.last().map(|v| v.row.id.to_string())).flatten(),
        items: views.iter().map(|v| ComplaintOut::new(v, &policy, now, lang)).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplaintBody {
    pub customer_id: i64,
    /// The customer complained to the boss.
    #[serde(default)]
    pub to_boss: bool,
    /// What the customer complained about (required).
    pub summary: String,
    /// The staff member concerned; default the customer's holder.
    pub staff_id: Option<i64>,
}

/// Record a complaint found (R11.9): the staff member concerned is fined at once (with their
/// unit's manager when the customer complained to the boss), and the complaint must be resolved
/// within the policy's limit, else both are fined again and the customer goes to another unit.
#[utoipa::path(post, path = "/api/v1/complaints", tag = "complaints", request_body = ComplaintBody,
    responses((status = 201, body = ComplaintOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn record_complaint(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<ComplaintBody>,
) -> Result<(StatusCode, Json<ComplaintOut>), ApiError> {
    let v = complaints::record(
        &state,
        &caller,
        ComplaintInput {
            customer_id: b.customer_id,
            staff_id: b.staff_id,
            to_boss: b.to_boss,
            summary: b.summary,
        },
    )
    .await?;
    let policy = state.policy(caller.tenant_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(ComplaintOut::new(&v, &policy, state.now(), caller.lang)),
    ))
}

/// One complaint with its limit, decisions and fines.
#[utoipa::path(get, path = "/api/v1/complaints/{id}", tag = "complaints", params(("id" = i64, Path)),
    responses((status = 200, body = ComplaintOut), (status = 404, body = Problem)))]
async fn get_complaint(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<ComplaintOut>, ApiError> {
    let v = complaints::get(&state, &caller, id).await?;
    let policy = state.policy(caller.tenant_id).await?;
    Ok(Json(ComplaintOut::new(&v, &policy, state.now(), caller.lang)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// How the complaint was resolved (required).
    pub resolution: String,
}

/// Mark a complaint resolved (R11.9): its limit no longer runs.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/resolve", tag = "complaints", params(("id" = i64, Path)),
    request_body = ResolveBody,
    responses((status = 200, body = ComplaintOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn resolve_complaint(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<ResolveBody>,
) -> Result<Json<ComplaintOut>, ApiError> {
    let v = complaints::resolve(&state, &caller, id, &b.resolution).await?;
    let policy = state.policy(caller.tenant_id).await?;
    Ok(Json(ComplaintOut::new(&v, &policy, state.now(), caller.lang)))
}
