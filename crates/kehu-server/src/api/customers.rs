//! Customers, their claims, ownership, follow-ups and history.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kehu_domain::Text;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::*;
use super::{ApiJson, ApiQuery, Id, OptionalJson, PageQuery};
use crate::auth::Caller;
use crate::error::Problem;
use crate::service::{self, CustomerInput};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_customer, list_customers))
        .routes(routes!(get_customer, update_customer))
        .routes(routes!(get_ownership))
        .routes(routes!(register_claim, customer_claims))
        .routes(routes!(get_claim))
        .routes(routes!(confirm_claim))
        .routes(routes!(add_activity, list_activities))
        .routes(routes!(customer_history))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomerBody {
    /// The grade (A, B, C, D ...); `""` clears it; absent leaves it.
    pub grade: Option<String>,
    /// The whole list of tags; absent leaves them.
    pub tags: Option<Vec<String>>,
}

/// Change a customer's grade and tags (`customers.update`); recorded in the history.
#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)),
    request_body = UpdateCustomerBody,
    responses((status = 200, body = CustomerOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_customer(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<UpdateCustomerBody>,
) -> Result<Json<CustomerOut>, ApiError> {
    Ok(Json(CustomerOut::from(
        service::update_customer(&state, &caller, id, b.grade, b.tags).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomerBody {
    /// `person` or `company`.
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub phones: Vec<String>,
    pub grade: Option<String>,
    /// Where the customer came from: one of the policy's `customers.sources` (by id, name or
    /// alias; stored as the id, anything else is 422 `invalid_source`), or free text when the
    /// policy lists none.
    pub source: Option<String>,
    /// The existing customer who referred this one.
    pub referrer_id: Option<i64>,
    /// The agent (intermediary) who introduced the customer (R3.6).
    pub agent: Option<String>,
}

/// Register a customer. Phones and company names are normalised; a match answers 409
/// `duplicate_customer` listing the matches and their owners.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", request_body = NewCustomerBody,
    responses(
        (status = 201, body = CustomerOut),
        (status = 409, body = Problem, description = "`duplicate_customer`, with `duplicates: [{id, name, owner_id, matched_on}]`"),
        (status = 422, body = Problem),
    ))]
async fn create_customer(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewCustomerBody>,
) -> Result<(StatusCode, Json<CustomerOut>), ApiError> {
    let v = service::create_customer(
        &state,
        &caller,
        CustomerInput {
            kind: b.kind,
            name: b.name,
            phones: b.phones,
            grade: b.grade,
            source: b.source,
            referrer_id: b.referrer_id,
            agent: b.agent,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

/// List customers, newest first; `q` matches any part of the name (Chinese included) or phone.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(PageQuery),
    responses((status = 200, body = CustomerPage), (status = 422, body = Problem)))]
async fn list_customers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<CustomerPage>, ApiError> {
    let limit = q.limit()?;
    let cursor = q.cursor()?;
    let text = q.q.as_deref().unwrap_or("");
    let (items, next) = service::search_customers(&state, &caller, text, cursor, limit).await?;
    Ok(Json(CustomerPage {
        items: items.into_iter().map(CustomerOut::from).collect(),
        next_cursor: next.map(|n| n.to_string()),
    }))
}

/// One customer, with its owner derived from its claims.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = CustomerOut), (status = 404, body = Problem)))]
async fn get_customer(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<CustomerOut>, ApiError> {
    Ok(Json(service::get_customer(&state, &caller, id).await?.into()))
}

/// Who owns the customer and why: the Decision with rule, policy version, facts and a sentence.
#[utoipa::path(get, path = "/api/v1/customers/{id}/ownership", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = OwnershipOut), (status = 404, body = Problem)))]
async fn get_ownership(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<OwnershipOut>, ApiError> {
    let o = service::ownership(&state, &caller, id).await?;
    Ok(Json(OwnershipOut {
        owner_id: o.owner_id,
        claim_id: o.claim_id,
        decision: DecisionOut::new(&o.decision, caller.lang),
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NewClaimBody {
    /// The staff member the claim is for; default: the caller.
    pub staff_id: Option<i64>,
    /// When the contact took place (RFC 3339); default now. A policy with a submission cut-off
    /// (R3.1) records a late registration, and charges one past the grace (R3.12).
    pub contact_at: Option<String>,
    /// R11.3: the joint event this claim is an invitation to; it counts for the holder's
    /// division and is filed by the division's cut-off once confirmed.
    pub event_id: Option<i64>,
}

/// Register a claim on the customer. Under a policy with confirmation it is `pending` until a
/// confirming role confirms it (R5.1).
#[utoipa::path(post, path = "/api/v1/customers/{id}/claims", tag = "customers", params(("id" = i64, Path)),
    request_body(content = NewClaimBody, description = "May be empty"),
    responses((status = 201, body = ClaimOut), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn register_claim(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    OptionalJson(b): OptionalJson<NewClaimBody>,
) -> Result<(StatusCode, Json<ClaimOut>), ApiError> {
    let contact_at = match b.contact_at.as_deref() {
        None => None,
        Some(s) => Some(s.parse::<jiff::Timestamp>().map_err(|_| {
            ApiError::bad_request(
                "invalid_time",
                Text::new(
                    "contact_at 须为带时区的 RFC 3339 时间",
                    "`contact_at` must be RFC 3339 with an offset",
                ),
            )
        })?),
    };
    let row = service::register_claim_at(&state, &caller, id, b.staff_id, contact_at, b.event_id).await?;
    Ok((StatusCode::CREATED, Json(ClaimOut::from(&row))))
}

/// All claims on the customer, oldest first, whatever their state.
#[utoipa::path(get, path = "/api/v1/customers/{id}/claims", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = ClaimList), (status = 404, body = Problem)))]
async fn customer_claims(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<ClaimList>, ApiError> {
    let (_, rows) = service::ownership_and_claims(&state, &caller, id).await?;
    Ok(Json(ClaimList {
        items: rows.iter().map(ClaimOut::from).collect(),
        next_cursor: None,
    }))
}

/// One claim.
#[utoipa::path(get, path = "/api/v1/claims/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = ClaimOut), (status = 404, body = Problem)))]
async fn get_claim(State(state): State<AppState>, caller: Caller, Id(id): Id) -> Result<Json<ClaimOut>, ApiError> {
    Ok(Json(ClaimOut::from(&service::get_claim(&state, &caller, id).await?)))
}

/// Confirm a pending claim (R5.1): only the roles the policy names may confirm.
#[utoipa::path(post, path = "/api/v1/claims/{id}/confirm", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = ClaimOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn confirm_claim(State(state): State<AppState>, caller: Caller, Id(id): Id) -> Result<Json<ClaimOut>, ApiError> {
    Ok(Json(ClaimOut::from(
        &service::confirm_claim(&state, &caller, id).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActivityBody {
    /// `call`, `visit`, `sms`, `meeting`, `walk_in` or `event`.
    pub channel: String,
    /// When it happened (RFC 3339); default: now.
    pub at: Option<String>,
    pub note: Option<String>,
    /// The kind of service, one of the policy's `[[activities.kinds]]` (R11.7).
    pub kind: Option<String>,
}

/// Record a follow-up.
#[utoipa::path(post, path = "/api/v1/customers/{id}/activities", tag = "customers", params(("id" = i64, Path)),
    request_body = NewActivityBody,
    responses((status = 201, body = ActivityOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn add_activity(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<NewActivityBody>,
) -> Result<(StatusCode, Json<ActivityOut>), ApiError> {
    let at = match b.at.as_deref() {
        None => None,
        Some(s) => Some(s.parse::<jiff::Timestamp>().map_err(|_| {
            ApiError::bad_request(
                "invalid_time",
                Text::new("时间须为带时区的 RFC 3339 格式", "`at` must be RFC 3339 with an offset"),
            )
        })?),
    };
    let row = service::add_activity_kind(&state, &caller, id, &b.channel, at, b.note, b.kind.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(ActivityOut::from(&row))))
}

/// The customer's follow-ups, newest first.
#[utoipa::path(get, path = "/api/v1/customers/{id}/activities", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = ActivityList), (status = 404, body = Problem)))]
async fn list_activities(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<ActivityList>, ApiError> {
    let rows = service::activities(&state, &caller, id, 500).await?;
    Ok(Json(ActivityList {
        items: rows.iter().map(ActivityOut::from).collect(),
        next_cursor: None,
    }))
}

/// The customer's history, newest first; each event carries its decision if one was taken.
#[utoipa::path(get, path = "/api/v1/customers/{id}/history", tag = "customers", params(("id" = i64, Path), PageQuery),
    responses((status = 200, body = EventPage), (status = 404, body = Problem)))]
async fn customer_history(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let limit = q.limit()?;
    let cursor = q.cursor()?;
    let (rows, next) = service::customer_history(&state, &caller, id, cursor, limit).await?;
    Ok(Json(EventPage {
        items: rows.iter().map(|e| EventOut::new(e, caller.lang)).collect(),
        next_cursor: next.map(|n| n.to_string()),
    }))
}
