//! Joint events of several divisions (R11.3): schedule one, read each division's invitations
//! and cut-offs, file a division's confirmed invitations.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kehu_domain::Text;
use kehu_domain::event::{EventFacts, Session};
use kehu_store::events::EventRow;
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
    let lang = caller.lang;
    let starts_at: jiff::Timestamp = b.starts_at.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_time",
            Text::new(
                "starts_at 须为带时区的 RFC 3339 时间",
                "`starts_at` must be RFC 3339 with an offset",
            ),
        )
        .in_lang(lang)
    })?;
    let session = Session::parse(&b.session).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_session",
            Text::new(
                "session 须为 afternoon（下午场）或 evening（晚场）",
                "`session` must be `afternoon` or `evening`",
            ),
        )
        .in_lang(lang)
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
