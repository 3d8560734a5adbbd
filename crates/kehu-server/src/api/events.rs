//! Joint events of several divisions (R11.3): schedule one, read each division's invitations
//! and cut-offs, file a division's confirmed invitations, check invited customers in (R11.2).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kehu_domain::Text;
use kehu_domain::event::{EventFacts, Session};
use kehu_store::events::{AttendanceRow, EventRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::*;
use super::{ApiJson, Id};
use crate::auth::Caller;
use crate::error::Problem;
use crate::events::{self, Schedule};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events, create_event))
        .routes(routes!(get_event))
        .routes(routes!(file_invitations))
        .routes(routes!(list_attendance, check_in))
}

#[derive(Serialize, ToSchema)]
pub struct DivisionOut {
    pub unit_id: i64,
    pub name: String,
    /// When the division's invitations close (the event-day cut-off, earlier for a division
    /// ahead of the next).
    pub closes_at: String,
    /// The division's invitations (claims naming the event), oldest first; only on one event.
    pub invitations: Option<Vec<ClaimOut>>,
}

#[derive(Serialize, ToSchema)]
pub struct EventOut {
    pub id: i64,
    pub name: String,
    pub starts_at: String,
    /// `afternoon` or `evening`: sets the event-day cut-off.
    pub session: String,
    /// In the organiser's order: the first closes its invitations first.
    pub divisions: Vec<DivisionOut>,
    pub policy_version: i64,
}

fn out(row: &EventRow, facts: &EventFacts, closes: &[jiff::Timestamp]) -> EventOut {
    EventOut {
        id: row.id,
        name: row.name.clone(),
        starts_at: kehu_store::ts(row.starts_at).to_string(),
        session: row.session.clone(),
        divisions: facts
            .divisions
            .iter()
            .zip(closes)
            .map(|(d, closes)| DivisionOut {
                unit_id: d.unit_id,
                name: d.name.clone(),
                closes_at: closes.to_string(),
                invitations: None,
            })
            .collect(),
        policy_version: row.policy_version,
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventList {
    pub items: Vec<EventOut>,
}

/// Joint events, upcoming first (soonest first), then past ones (latest first).
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    responses((status = 200, body = EventList), (status = 409, body = Problem)))]
async fn list_events(State(state): State<AppState>, caller: Caller) -> Result<Json<EventList>, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    let rows = events::list(&state, &caller).await?;
    let rules = kehu_domain::event::rules(&policy).map_err(ApiError::refused)?;
    let items = rows
        .iter()
        .map(|(row, facts)| {
            let closes: Vec<_> = (0..facts.divisions.len())
                .map(|pos| kehu_domain::event::closes_at(&policy, rules, facts, pos))
                .collect();
            out(row, facts, &closes)
        })
        .collect();
    Ok(Json(EventList { items }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEventBody {
    pub name: String,
    /// RFC 3339 with an offset.
    pub starts_at: String,
    /// `afternoon` (event-day cut-off 10:00 in R11.3) or `evening` (16:00).
    pub session: String,
    /// The divisions (unit ids) holding it; the first closes its invitations a day ahead of the
    /// second when the policy says so.
    pub division_ids: Vec<i64>,
}

/// Schedule a joint event (R11.3); only the policy's organisers may.
#[utoipa::path(post, path = "/api/v1/events", tag = "events", request_body = NewEventBody,
    responses((status = 201, body = EventOut), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewEventBody>,
) -> Result<(StatusCode, Json<EventOut>), ApiError> {
    let starts_at: jiff::Timestamp = b.starts_at.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_time",
            Text::new(
                "starts_at 须为带时区的 RFC 3339 时间",
                "`starts_at` must be RFC 3339 with an offset",
            ),
        )
    })?;
    let session = Session::parse(&b.session).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_session",
            Text::new(
                "session 须为 afternoon（下午场）或 evening（晚场）",
                "`session` must be `afternoon` or `evening`",
            ),
        )
    })?;
    let row = events::create(
        &state,
        &caller,
        Schedule {
            name: &b.name,
            starts_at,
            session,
            division_ids: &b.division_ids,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(&state, &caller, row.id).await?)))
}

/// One joint event with each division's cut-off and invitations.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events", params(("id" = i64, Path)),
    responses((status = 200, body = EventOut), (status = 404, body = Problem)))]
async fn get_event(State(state): State<AppState>, caller: Caller, Id(id): Id) -> Result<Json<EventOut>, ApiError> {
    Ok(Json(view(&state, &caller, id).await?))
}

async fn view(state: &AppState, caller: &Caller, id: i64) -> Result<EventOut, ApiError> {
    let v = events::get(state, caller, id).await?;
    let closes: Vec<_> = v.divisions.iter().map(|d| d.closes_at).collect();
    let mut e = out(&v.row, &v.facts, &closes);
    for (d, dv) in e.divisions.iter_mut().zip(&v.divisions) {
        d.invitations = Some(dv.invitations.iter().map(ClaimOut::from).collect());
    }
    Ok(e)
}

#[derive(Serialize, ToSchema)]
pub struct FilingOut {
    /// The filing's decision (R11.3): which invitations were on time and which late.
    pub decision: DecisionOut,
    /// The invitations filed.
    pub items: Vec<ClaimOut>,
}

/// File every confirmed invitation of the caller's division not yet filed (R11.3).
#[utoipa::path(post, path = "/api/v1/events/{id}/filings", tag = "events", params(("id" = i64, Path)),
    responses((status = 200, body = FilingOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn file_invitations(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<FilingOut>, ApiError> {
    let (decision, rows) = events::file(&state, &caller, id).await?;
    Ok(Json(FilingOut {
        decision: DecisionOut::new(&decision, caller.lang),
        items: rows.iter().map(ClaimOut::from).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct AttendanceOut {
    pub id: i64,
    pub event_id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    /// The invitation the customer came on.
    pub claim_id: Option<i64>,
    pub checked_in_by: i64,
    pub checked_in_by_name: String,
    pub checked_in_at: String,
    pub policy_version: i64,
}

impl From<&AttendanceRow> for AttendanceOut {
    fn from(a: &AttendanceRow) -> AttendanceOut {
        AttendanceOut {
            id: a.id,
            event_id: a.event_id,
            customer_id: a.customer_id,
            customer_name: a.customer_name.clone(),
            claim_id: a.claim_id,
            checked_in_by: a.checked_in_by,
            checked_in_by_name: a.checked_in_by_name.clone(),
            checked_in_at: kehu_store::ts(a.checked_in_at).to_string(),
            policy_version: a.policy_version,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AttendanceList {
    pub items: Vec<AttendanceOut>,
}

/// Who was checked in at a joint event, in the order they arrived (R11.2).
#[utoipa::path(get, path = "/api/v1/events/{id}/attendance", tag = "events", params(("id" = i64, Path)),
    responses((status = 200, body = AttendanceList), (status = 404, body = Problem)))]
async fn list_attendance(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<AttendanceList>, ApiError> {
    let rows = events::attendance(&state, &caller, id).await?;
    Ok(Json(AttendanceList {
        items: rows.iter().map(AttendanceOut::from).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInBody {
    /// The customer at the door; they must hold a standing invitation to the event.
    pub customer_id: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CheckedIn {
    pub attendance: AttendanceOut,
    /// The check-in's decision (R11.2 in the event-customers preset).
    pub decision: DecisionOut,
}

/// Check an invited customer in at a joint event (R11.2): only the roles of
/// `[events.attendance]` (by default the organisers), on the event's day, once per customer and
/// event. A new customer an existing one brought earns the existing one the referral points.
#[utoipa::path(post, path = "/api/v1/events/{id}/attendance", tag = "events", params(("id" = i64, Path)),
    request_body = CheckInBody,
    responses((status = 201, body = CheckedIn), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn check_in(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<CheckInBody>,
) -> Result<(StatusCode, Json<CheckedIn>), ApiError> {
    let (row, decision) = events::check_in(&state, &caller, id, b.customer_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(CheckedIn {
            attendance: AttendanceOut::from(&row),
            decision: DecisionOut::new(&decision, caller.lang),
        }),
    ))
}
