//! Conflicts between two divisions' staff over a customer (R11.6): record one, read them, sign
//! an outcome as the coordinator or a party's head, escalate, and the arbiter's ruling.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kehu_domain::Text;
use kehu_domain::conflict::{Outcome, Seat};
use kehu_store::conflicts::{ConflictRow, SignOffRow};
use kehu_store::ts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::DecisionOut;
use super::{ApiJson, ApiQuery, Id, parse_limit};
use crate::auth::Caller;
use crate::conflicts::{self, Acted, NewConflict};
use crate::error::Problem;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_conflicts, open_conflict))
        .routes(routes!(get_conflict))
        .routes(routes!(sign_conflict))
        .routes(routes!(escalate_conflict))
        .routes(routes!(decide_conflict))
}

#[derive(Serialize, ToSchema)]
pub struct PartyOut {
    pub staff_id: i64,
    pub name: String,
    pub unit_id: i64,
    pub unit_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct SignOffOut {
    /// `coordinator` or `head`.
    pub seat: String,
    /// The unit whose head signed; absent for the coordinator.
    pub unit_id: Option<i64>,
    pub staff_id: i64,
    pub staff_name: String,
    pub award_to: i64,
    pub argued: bool,
    pub note: String,
    pub signed_at: String,
}

impl From<&SignOffRow> for SignOffOut {
    fn from(s: &SignOffRow) -> SignOffOut {
        let seat = Seat::parse(&s.seat);
        SignOffOut {
            seat: match seat {
                Some(Seat::Head(_)) => "head".into(),
                _ => "coordinator".into(),
            },
            unit_id: match seat {
                Some(Seat::Head(u)) => Some(u),
                _ => None,
            },
            staff_id: s.staff_id,
            staff_name: s.staff_name.clone(),
            award_to: s.award_to,
            argued: s.argued,
            note: s.note.clone(),
            signed_at: ts(s.signed_at).to_string(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConflictOut {
    pub id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub event_id: Option<i64>,
    /// The two staff members in conflict, each with the unit whose head signs.
    pub parties: Vec<PartyOut>,
    pub summary: String,
    /// `open` (waiting for the coordinator and both heads), `escalated` (waiting for the
    /// arbiter), `settled` or `decided`.
    pub status: String,
    pub opened_by: i64,
    pub opened_at: String,
    pub escalated_at: Option<String>,
    pub escalation_reason: Option<String>,
    /// Once settled or decided: the party the customer went to.
    pub award_to: Option<i64>,
    /// Once settled or decided: whether the parties argued in front of the customer.
    pub argued: Option<bool>,
    pub closed_by: Option<i64>,
    pub closed_at: Option<String>,
    /// The sign-offs so far; only on one conflict.
    pub signoffs: Option<Vec<SignOffOut>>,
    pub policy_version: i64,
}

fn out(row: &ConflictRow, signoffs: Option<&[SignOffRow]>) -> ConflictOut {
    let t = |v: Option<i64>| v.map(|v| ts(v).to_string());
    ConflictOut {
        id: row.id,
        customer_id: row.customer_id,
        customer_name: row.customer_name.clone(),
        event_id: row.event_id,
        parties: vec![
            PartyOut {
                staff_id: row.party_a,
                name: row.party_a_name.clone(),
                unit_id: row.unit_a,
                unit_name: row.unit_a_name.clone(),
            },
            PartyOut {
                staff_id: row.party_b,
                name: row.party_b_name.clone(),
                unit_id: row.unit_b,
                unit_name: row.unit_b_name.clone(),
            },
        ],
        summary: row.summary.clone(),
        status: row.status.clone(),
        opened_by: row.opened_by,
        opened_at: ts(row.opened_at).to_string(),
        escalated_at: t(row.escalated_at),
        escalation_reason: row.escalation_reason.clone(),
        award_to: row.award_to,
        argued: row.argued,
        closed_by: row.closed_by,
        closed_at: t(row.closed_at),
        signoffs: signoffs.map(|s| s.iter().map(SignOffOut::from).collect()),
        policy_version: row.policy_version,
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConflictList {
    pub items: Vec<ConflictOut>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ConflictQuery {
    /// `true`: only conflicts still open or escalated.
    pub open: Option<String>,
    /// 1 to 500; default 50.
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Conflicts, newest first (R11.6).
#[utoipa::path(get, path = "/api/v1/conflicts", tag = "conflicts", params(ConflictQuery),
    responses((status = 200, body = ConflictList), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn list_conflicts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ConflictQuery>,
) -> Result<Json<ConflictList>, ApiError> {
    let lang = caller.lang;
    let open_only = match q.open.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_open",
                Text::new("open 须为 true 或 false", "open must be true or false"),
            )
            .in_lang(lang));
        }
    };
    let limit = parse_limit(q.limit.as_deref(), lang)?;
    let before = super::parse_cursor(q.cursor.as_deref(), lang)?;
    let rows = conflicts::list(&state, &caller, open_only, before, limit).await?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(Json(ConflictList {
        items: rows.iter().map(|r| out(r, None)).collect(),
        next_cursor,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConflictBody {
    pub customer_id: i64,
    /// The two staff members in conflict; each must belong to a unit.
    pub party_ids: Vec<i64>,
    /// The joint event it happened at, if any.
    pub event_id: Option<i64>,
    /// What happened, up to 500 characters.
    pub summary: String,
}

/// Record a conflict between two staff members over a customer (R11.6); only the policy's
/// openers may.
#[utoipa::path(post, path = "/api/v1/conflicts", tag = "conflicts", request_body = NewConflictBody,
    responses((status = 201, body = ConflictOut), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn open_conflict(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewConflictBody>,
) -> Result<(StatusCode, Json<ConflictOut>), ApiError> {
    let row = conflicts::open(
        &state,
        &caller,
        NewConflict {
            customer_id: b.customer_id,
            party_ids: &b.party_ids,
            event_id: b.event_id,
            summary: &b.summary,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(out(&row, Some(&[] as &[SignOffRow])))))
}

/// One conflict with its sign-offs.
#[utoipa::path(get, path = "/api/v1/conflicts/{id}", tag = "conflicts", params(("id" = i64, Path)),
    responses((status = 200, body = ConflictOut), (status = 404, body = Problem)))]
async fn get_conflict(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<ConflictOut>, ApiError> {
    let (row, signoffs) = conflicts::get(&state, &caller, id).await?;
    Ok(Json(out(&row, Some(signoffs.as_slice()))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeBody {
    /// The staff id of the party the customer goes to.
    pub award_to: i64,
    /// Whether the parties argued in front of the customer (both are fined when the policy
    /// names a penalty).
    pub argued: bool,
    #[serde(default)]
    pub note: String,
}

impl From<OutcomeBody> for Outcome {
    fn from(b: OutcomeBody) -> Outcome {
        Outcome {
            award_to: b.award_to,
            argued: b.argued,
            note: b.note,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ActedOut {
    pub conflict: ConflictOut,
    /// The settlement, escalation or ruling this led to, else the sign-off itself (R11.6).
    pub decision: DecisionOut,
}

fn acted(a: &Acted, lang: kehu_domain::Lang) -> ActedOut {
    ActedOut {
        conflict: out(&a.row, Some(a.signoffs.as_slice())),
        decision: DecisionOut::new(&a.decision, lang),
    }
}

/// Sign an outcome as the coordinator or the head of a party's unit (R11.6). The last of them
/// to sign the same outcome settles the conflict: the customer goes to the party awarded and,
/// when they argued in front of the customer, both are fined. A different outcome escalates it.
#[utoipa::path(post, path = "/api/v1/conflicts/{id}/sign", tag = "conflicts", params(("id" = i64, Path)), request_body = OutcomeBody,
    responses((status = 200, body = ActedOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn sign_conflict(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<OutcomeBody>,
) -> Result<Json<ActedOut>, ApiError> {
    let a = conflicts::sign(&state, &caller, id, b.into()).await?;
    Ok(Json(acted(&a, caller.lang)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateBody {
    /// Why the coordinator cannot decide.
    pub reason: String,
}

/// The coordinator cannot decide: the conflict goes to the arbiter (R11.6).
#[utoipa::path(post, path = "/api/v1/conflicts/{id}/escalate", tag = "conflicts", params(("id" = i64, Path)), request_body = EscalateBody,
    responses((status = 200, body = ActedOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn escalate_conflict(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<EscalateBody>,
) -> Result<Json<ActedOut>, ApiError> {
    let a = conflicts::escalate(&state, &caller, id, &b.reason).await?;
    Ok(Json(acted(&a, caller.lang)))
}

/// The arbiter rules alone on an escalated conflict (R11.6): the customer goes to the party
/// awarded and, when they argued in front of the customer, both are fined.
#[utoipa::path(post, path = "/api/v1/conflicts/{id}/decide", tag = "conflicts", params(("id" = i64, Path)), request_body = OutcomeBody,
    responses((status = 200, body = ActedOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn decide_conflict(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<OutcomeBody>,
) -> Result<Json<ActedOut>, ApiError> {
    let a = conflicts::decide(&state, &caller, id, b.into()).await?;
    Ok(Json(acted(&a, caller.lang)))
}
