//! Profile snapshots (R1.8): a customer's kept profiles, and one beside the profile today.

use axum::Json;
use axum::extract::{Path, State};
use kehu_domain::Lang;
use kehu_store::snapshots::SnapshotRow;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Id;
use super::dto::DecisionOut;
use crate::auth::Caller;
use crate::error::Problem;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(customer_snapshots))
        .routes(routes!(snapshot))
}

#[derive(Serialize, ToSchema)]
pub struct SnapshotOut {
    pub id: i64,
    pub customer_id: i64,
    /// The case whose step took it.
    pub case_id: Option<i64>,
    pub taken_at: String,
    /// The rule it was taken under (R1.8).
    pub rule: Option<String>,
    pub decision: Option<DecisionOut>,
}

impl SnapshotOut {
    fn new(s: &SnapshotRow, lang: Lang) -> SnapshotOut {
        let d = s.decision();
        SnapshotOut {
            id: s.id,
            customer_id: s.customer_id,
            case_id: s.case_id,
            taken_at: kehu_store::ts(s.taken_at).to_string(),
            rule: d.as_ref().map(|d| d.rule.to_string()),
            decision: d.as_ref().map(|d| DecisionOut::new(d, lang)),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SnapshotList {
    pub items: Vec<SnapshotOut>,
}

/// A line of a comparison: what, as it was, as it is now.
#[derive(Serialize, ToSchema)]
pub struct DifferenceOut {
    pub label: String,
    pub then: Option<String>,
    pub now: Option<String>,
    pub changed: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SnapshotCompared {
    #[serde(flatten)]
    pub snapshot: SnapshotOut,
    /// The profile as kept: `{"customer": {"name", "grade", "tags"}, "case": {"id", "workflow", "fields"}}`.
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
    /// Each part beside the profile today.
    pub differences: Vec<DifferenceOut>,
}

/// The customer's profile snapshots, newest first (whoever sees the customer sees them).
#[utoipa::path(get, path = "/api/v1/customers/{id}/snapshots", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = SnapshotList), (status = 404, body = Problem)))]
async fn customer_snapshots(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<SnapshotList>, ApiError> {
    let rows = crate::snapshots::list(&state, &caller, id).await?;
    Ok(Json(SnapshotList {
        items: rows.iter().map(|s| SnapshotOut::new(s, caller.lang)).collect(),
    }))
}

/// One profile snapshot, as kept and beside the profile today.
#[utoipa::path(get, path = "/api/v1/customers/{id}/snapshots/{snapshot_id}", tag = "customers",
    params(("id" = i64, Path), ("snapshot_id" = i64, Path)),
    responses((status = 200, body = SnapshotCompared), (status = 404, body = Problem)))]
async fn snapshot(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, snapshot_id)): Path<(String, String)>,
) -> Result<Json<SnapshotCompared>, ApiError> {
    let lang = caller.lang;
    let not_found = || ApiError::not_found(kehu_domain::Text::new("找不到该记录", "No such record"));
    let id = id.parse::<i64>().map_err(|_| not_found())?;
    let snapshot_id = snapshot_id.parse::<i64>().map_err(|_| not_found())?;
    let (row, lines) = crate::snapshots::compare(&state, &caller, id, snapshot_id).await?;
    Ok(Json(SnapshotCompared {
        snapshot: SnapshotOut::new(&row, lang),
        content: row.content(),
        differences: lines
            .iter()
            .map(|d| DifferenceOut {
                label: d.label.get(lang).to_string(),
                then: d.then.as_ref().map(|t| t.get(lang).to_string()),
                now: d.now.as_ref().map(|t| t.get(lang).to_string()),
                changed: d.changed,
            })
            .collect(),
    }))
}
