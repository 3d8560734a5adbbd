//! A profile snapshot beside the profile today (R1.8).

use askama::Template;
use axum::extract::{Path, State};

use super::{Chrome, OrPage, PageCaller, PageResult, render};
use crate::AppState;

struct Line {
    label: String,
    then: String,
    now: String,
    changed: bool,
}

#[derive(Template)]
#[template(path = "snapshot.html")]
struct SnapshotPage {
    c: Chrome,
    customer_id: i64,
    customer: String,
    taken: String,
    why: String,
    rule: String,
    changed: usize,
    lines: Vec<Line>,
}

/// GET /customers/{id}/snapshots/{snapshot_id}
pub async fn show(
    State(state): State<AppState>,
    mut pc: PageCaller,
    Path((id, snapshot_id)): Path<(String, String)>,
) -> PageResult {
    pc.c.nav = "customers";
    let lang = pc.c.lang;
    let missing = || {
        let e = crate::ApiError::not_found(kehu_domain::Text::new("找不到该档案快照", "No such profile snapshot"));
        super::error_page(&pc.c, &e)
    };
    let (Ok(id), Ok(snapshot_id)) = (id.parse::<i64>(), snapshot_id.parse::<i64>()) else {
        return Err(missing().into());
    };
    let policy = state.policy(pc.caller.tenant_id).await.or_page(&pc.c)?;
    let (row, diffs) = crate::snapshots::compare(&state, &pc.caller, id, snapshot_id)
        .await
        .or_page(&pc.c)?;
    let customer = crate::service::get_customer(&state, &pc.caller, id)
        .await
        .or_page(&pc.c)?;
    let decision = row.decision();
    let none = crate::i18n::tr("snapshots.none", lang);
    let lines: Vec<Line> = diffs
        .iter()
        .map(|d| Line {
            label: d.label.get(lang).to_string(),
            then: d.then.as_ref().map_or(none, |t| t.get(lang)).to_string(),
            now: d.now.as_ref().map_or(none, |t| t.get(lang)).to_string(),
            changed: d.changed,
        })
        .collect();
    let page = SnapshotPage {
        customer_id: id,
        customer: customer.row.name,
        taken: policy.local_time(kehu_store::ts(row.taken_at)),
        why: decision
            .as_ref()
            .map(|d| d.text.get(lang).to_string())
            .unwrap_or_default(),
        rule: decision.map(|d| d.rule.to_string()).unwrap_or_default(),
        changed: lines.iter().filter(|l| l.changed).count(),
        lines,
        c: pc.c,
    };
    Ok(render(axum::http::StatusCode::OK, &page))
}
