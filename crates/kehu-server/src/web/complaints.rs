//! The complaints page (R11.9): open complaints with the time left to resolve them, a resolve
//! form for those who may, the resolved ones, and each complaint's fines linked to the ledger.
//! A complaint is recorded from the customer's page.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use kehu_domain::{Lang, Policy, Timestamp};
use kehu_store::ts;
use serde::Deserialize;

use super::claims::{Left, time_left};
use super::customers::{ErrorBox, parse_id};
use super::{Chrome, OrPage, PageCaller, PageResult, csrf_ok, csrf_refused, render, see_other};
use crate::auth::Caller;
use crate::complaints::{self, ComplaintInput, ComplaintView};
use crate::{ApiError, AppState};

const LIMIT: i64 = 200;

/// A fine charged for a complaint, linking to its ledger entry (and so to its decision).
pub struct FineView {
    pub id: i64,
    pub who: String,
    pub amount: String,
    pub code: String,
}

pub struct ComplaintCard {
    pub id: i64,
    pub customer_id: i64,
    pub customer: String,
    pub staff: String,
    pub to_boss: bool,
    pub summary: String,
    pub found: String,
    pub found_by: String,
    pub due: String,
    /// While open: the time left (or overdue).
    pub left: Option<Left>,
    pub resolved: Option<String>,
    pub resolution: Option<String>,
    /// Who took the customer over when the limit passed open.
    pub reassigned_to: Option<String>,
    pub escalated: bool,
    /// The decisions taken on it, in the page's language, with their rule.
    pub decisions: Vec<(String, String)>,
    pub fines: Vec<FineView>,
}

impl ComplaintCard {
    pub fn new(v: &ComplaintView, policy: &Policy, now: Timestamp, lang: Lang) -> ComplaintCard {
        let r = &v.row;
        ComplaintCard {
            id: r.id,
            customer_id: r.customer_id,
            customer: r.customer_name.clone(),
            staff: r.staff_name.clone(),
            to_boss: r.to_boss,
            summary: r.summary.clone(),
            found: policy.local_time(ts(r.found_at)),
            found_by: r.found_by_name.clone(),
            due: policy.local_time(ts(r.due_at)),
            left: r.is_open().then(|| time_left(now, ts(r.due_at), lang)),
            resolved: r.resolved_at.map(|t| policy.local_time(ts(t))),
            resolution: r.resolution.clone(),
            reassigned_to: r.reassigned_to_name.clone(),
            escalated: r.escalated_at.is_some(),
            decisions: r
                .decisions()
                .iter()
                .map(|d| (d.rule.to_string(), d.text.get(lang).to_string()))
                .collect(),
            fines: v
                .entries
                .iter()
                .map(|e| FineView {
                    id: e.id,
                    who: e.staff_name.clone().unwrap_or_default(),
                    amount: kehu_domain::ledger::yuan(e.amount),
                    code: policy
                        .ledger
                        .code(&e.code)
                        .map(|c| c.name.get(lang).to_string())
                        .unwrap_or_else(|| e.code.clone()),
                })
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "complaints.html")]
struct ListPage {
    c: Chrome,
    open: Vec<ComplaintCard>,
    resolved: Vec<ComplaintCard>,
    /// Whether the caller may mark complaints resolved.
    may_resolve: bool,
    /// The policy's complaint rules in plain words, with their rule ID.
    rules: Vec<(String, String)>,
    flash: Option<&'static str>,
    error: Option<ErrorBox>,
    /// The resolve form's complaint and text, kept after a refusal.
    resolve_id: i64,
    resolution: String,
}

async fn load(state: &AppState, caller: &Caller, c: Chrome) -> Result<ListPage, ApiError> {
    let lang = c.lang;
    let policy = state.policy(caller.tenant_id).await?;
    let now = state.now();
    let card = |v: &ComplaintView| ComplaintCard::new(v, &policy, now, lang);
    let mut open: Vec<ComplaintCard> = complaints::list(state, caller, Some(true), None, None, LIMIT)
        .await?
        .iter()
        .map(card)
        .collect();
    // The nearest limit first (the most overdue on top).
    open.sort_by(|a, b| a.due.cmp(&b.due).then(a.id.cmp(&b.id)));
    let resolved = complaints::list(state, caller, Some(false), None, None, LIMIT)
        .await?
        .iter()
        .map(card)
        .collect();
    Ok(ListPage {
        open,
        resolved,
        may_resolve: kehu_domain::complaint::may_record(&policy, &caller.facts()),
        rules: complaint_rules(&policy, lang),
        flash: None,
        error: None,
        resolve_id: 0,
        resolution: String::new(),
        c,
    })
}

/// The complaints part of the policy explanation, as (rule, sentence).
fn complaint_rules(policy: &Policy, lang: Lang) -> Vec<(String, String)> {
    super::policy_section(policy, "Complaints", lang)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

/// GET /complaints
pub async fn list(State(state): State<AppState>, mut pc: PageCaller, Query(q): Query<DoneQuery>) -> PageResult {
    pc.c.nav = "complaints";
    let mut page = load(&state, &pc.caller, pc.c.clone()).await.or_page(&pc.c)?;
    page.flash = match q.done.as_str() {
        "resolve" => Some("flash.complaint_resolved"),
        _ => None,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResolveForm {
    resolution: String,
    csrf: String,
}

/// POST /complaints/{id}/resolve
pub async fn resolve(
    State(state): State<AppState>,
    mut pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<ResolveForm>,
) -> PageResult {
    pc.c.nav = "complaints";
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    match complaints::resolve(&state, &pc.caller, id, &f.resolution).await {
        Ok(_) => Ok(see_other(&format!("/complaints?done=resolve#complaint-{id}"))),
        Err(e) => {
            let mut page = load(&state, &pc.caller, pc.c.clone()).await.or_page(&pc.c)?;
            page.error = Some(ErrorBox::new(&e, pc.c.lang));
            page.resolve_id = id;
            page.resolution = f.resolution;
            Ok(render(e.status, &page))
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RecordForm {
    summary: String,
    /// `on` when the customer complained to the boss.
    to_boss: String,
    /// The staff member concerned; empty for the customer's holder.
    staff_id: String,
    csrf: String,
}

/// POST /customers/{id}/complaints: records a complaint found from the customer's page.
pub async fn record(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<RecordForm>,
) -> PageResult {
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    let input = ComplaintInput {
        customer_id: id,
        // An unparsable choice is no staff member: the use case refuses it in the page's language.
        staff_id: match f.staff_id.trim() {
            "" => None,
            s => Some(s.parse::<i64>().unwrap_or(0)),
        },
        to_boss: !f.to_boss.is_empty(),
        summary: f.summary.clone(),
    };
    match complaints::record(&state, &pc.caller, input).await {
        Ok(_) => Ok(see_other(&format!("/customers/{id}?done=complaint#complaints"))),
        Err(e) => Ok(super::customers::detail_with_complaint_error(&state, &pc, id, &e, f.summary).await),
    }
}
