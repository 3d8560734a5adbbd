//! What waits for the caller, across everything: `GET /api/v1/inbox`.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiQuery;
use crate::auth::Caller;
use crate::error::Problem;
use crate::inbox::{self, Item, Kind};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_inbox))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Only this kind: `case`, `card_signature`, `follow_up_confirmation`, `follow_up_due`,
    /// `event_filing` or `visit_due`.
    pub kind: Option<String>,
    /// 1 to 500; default 50.
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct InboxItemOut {
    /// `case`, `card_signature`, `follow_up_confirmation`, `follow_up_due`, `event_filing` or
    /// `visit_due`.
    pub kind: String,
    /// The case, the claim (a card to sign or a follow-up due), the activity (a follow-up to
    /// confirm), the joint event (invitations to file) or the customer (a visit).
    pub id: i64,
    /// What to do: the workflow's action id for a case; `sign`, `confirm`, `follow_up`, `file`
    /// or `visit` otherwise.
    pub action: String,
    /// Every action the caller may take on a case now (the first is `action`).
    pub actions: Vec<String>,
    pub due_at: Option<String>,
    pub overdue: bool,
    pub rule: Option<String>,
    pub title: String,
    pub detail: String,
    pub customer_id: Option<i64>,
    pub customer_name: Option<String>,
    /// Since when it waits.
    pub since: String,
    /// The page where it is done.
    pub href: String,
}

impl InboxItemOut {
    fn new(i: &Item, lang: kehu_domain::Lang) -> InboxItemOut {
        InboxItemOut {
            kind: i.kind.as_str().into(),
            id: i.id,
            action: i.action.clone(),
            actions: std::iter::once(i.action.clone())
                .chain(i.also.iter().cloned())
                .collect(),
            due_at: i.due_at.map(|t| t.to_string()),
            overdue: i.overdue,
            rule: i.rule.clone(),
            title: i.title.get(lang).to_string(),
            detail: i.detail.get(lang).to_string(),
            customer_id: i.customer_id,
            customer_name: i.customer_name.clone(),
            since: i.since.to_string(),
            href: i.href.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct InboxOut {
    /// Overdue first, then by due time, then the oldest.
    pub items: Vec<InboxItemOut>,
    /// More things wait than `limit` shows.
    pub more: bool,
    /// How many of the items shown are overdue.
    pub overdue: usize,
}

/// What waits for the caller: case actions their roles (or their opening of a case) may take,
/// cards to sign (R5.1), follow-ups to confirm (R5.2), their own follow-ups due, invitations
/// to file (R11.3) and visits due (R1.6). Overdue first.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "cases", params(InboxQuery),
    responses((status = 200, body = InboxOut), (status = 422, body = Problem)))]
async fn get_inbox(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> Result<Json<InboxOut>, ApiError> {
    let lang = caller.lang;
    let limit = super::parse_limit(q.limit.as_deref())?;
    let only = match q.kind.as_deref().filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(Kind::parse(k).ok_or_else(|| {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            ApiError::bad_request(
                "invalid_kind",
                kehu_domain::Text::new(
                    format!("kind 应为 {} 之一", known.join("、")),
                    format!("kind must be one of {}", known.join(", ")),
                ),
            )
        })?),
    };
    let inbox = inbox::of(&state, &caller, only, limit as usize).await?;
    Ok(Json(InboxOut {
        items: inbox.items.iter().map(|i| InboxItemOut::new(i, lang)).collect(),
        more: inbox.more,
        overdue: inbox.overdue(),
    }))
}
