//! Sales and who they count for (R5.7, R11.5).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kehu_store::sales::SaleRow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::DecisionOut;
use super::{ApiJson, Id};
use crate::auth::Caller;
use crate::error::Problem;
use crate::sales::{self, NewSaleInput};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(customer_sales, record_sale))
        .routes(routes!(change_credit))
        .routes(routes!(consent))
}

#[derive(Serialize, ToSchema)]
pub struct SaleOut {
    pub id: i64,
    pub customer_id: i64,
    /// In fen (1 yuan = 100).
    pub amount: i64,
    pub closed_by: i64,
    pub closer_name: String,
    /// Who the sale counts for.
    pub credited_to: i64,
    pub credited_name: String,
    pub event_id: Option<i64>,
    pub at: String,
    pub rule: String,
    pub note: String,
    /// Why it counts for them.
    pub decision: Option<DecisionOut>,
    /// A special-case change of credit waiting for more signatures (R5.7): to whom, and the
    /// roles that have signed.
    pub change_to: Option<i64>,
    pub change_signed: Vec<String>,
}

impl SaleOut {
    pub fn new(s: &SaleRow, lang: kehu_domain::Lang) -> SaleOut {
        SaleOut {
            id: s.id,
            customer_id: s.customer_id,
            amount: s.amount,
            closed_by: s.closed_by,
            closer_name: s.closer_name.clone(),
            credited_to: s.credited_to,
            credited_name: s.credited_name.clone(),
            event_id: s.event_id,
            at: kehu_store::ts(s.at).to_string(),
            rule: s.rule.clone(),
            note: s.note.clone(),
            decision: s.decision().map(|d| DecisionOut::new(&d, lang)),
            change_to: s.change_to,
            change_signed: s.signed(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SaleList {
    pub items: Vec<SaleOut>,
}

/// The customer's sales, newest first.
#[utoipa::path(get, path = "/api/v1/customers/{id}/sales", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = SaleList)))]
async fn customer_sales(State(state): State<AppState>, caller: Caller, Id(id): Id) -> Result<Json<SaleList>, ApiError> {
    let rows = sales::for_customer(&state, &caller, id).await?;
    Ok(Json(SaleList {
        items: rows.iter().map(|s| SaleOut::new(s, caller.lang)).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSaleBody {
    /// In fen (1 yuan = 100), more than zero.
    pub amount: i64,
    /// The joint event it was made at (R11.5: it counts for the current inviter).
    pub event_id: Option<i64>,
    #[serde(default)]
    pub note: String,
}

/// Record a sale the caller closed. It counts for the customer's owner; a friend-referred
/// customer belongs to whoever closes (R5.7); at an event it counts for the current inviter,
/// and helpers need the inviter's consent (R11.5).
#[utoipa::path(post, path = "/api/v1/customers/{id}/sales", tag = "customers", params(("id" = i64, Path)),
    request_body = NewSaleBody,
    responses((status = 201, body = SaleOut), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn record_sale(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<NewSaleBody>,
) -> Result<(StatusCode, Json<SaleOut>), ApiError> {
    let row = sales::record(
        &state,
        &caller,
        NewSaleInput {
            customer_id: id,
            amount: b.amount,
            event_id: b.event_id,
            note: &b.note,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(SaleOut::new(&row, caller.lang))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditBody {
    /// Who the sale should count for.
    pub to_staff_id: i64,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreditOut {
    pub sale: SaleOut,
    /// This signature's decision: waiting for the other role, or the credit moved.
    pub decision: DecisionOut,
}

/// Sign a special-case change of a sale's credit (R5.7): each of the policy's roles (a leader and
/// a manager) signs; the last signature moves it.
#[utoipa::path(post, path = "/api/v1/sales/{id}/credit", tag = "customers", params(("id" = i64, Path)),
    request_body = CreditBody,
    responses((status = 200, body = CreditOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn change_credit(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<CreditBody>,
) -> Result<Json<CreditOut>, ApiError> {
    let (row, decision) = sales::change_credit(&state, &caller, id, b.to_staff_id, &b.reason).await?;
    Ok(Json(CreditOut {
        sale: SaleOut::new(&row, caller.lang),
        decision: DecisionOut::new(&decision, caller.lang),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    pub customer_id: i64,
    /// The staff member (e.g. the customer's earlier follower) allowed to help.
    pub helper_id: i64,
}

/// The current inviter lets another staff member help with a customer at the event (R11.5).
#[utoipa::path(post, path = "/api/v1/events/{id}/helpers", tag = "events", params(("id" = i64, Path)),
    request_body = ConsentBody,
    responses((status = 200, body = DecisionOut), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn consent(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<ConsentBody>,
) -> Result<Json<DecisionOut>, ApiError> {
    let d = sales::consent(&state, &caller, id, b.customer_id, b.helper_id).await?;
    Ok(Json(DecisionOut::new(&d, caller.lang)))
}
