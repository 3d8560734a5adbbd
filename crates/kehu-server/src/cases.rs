//! The case engine's interpreter: loads what `kehu_domain::workflow` decides on, calls it, and
//! writes the outcome (the case, its step, the history event with the Decision) in one
//! transaction. Every workflow of every policy runs through these two functions.

use kehu_domain::workflow::{self, Actor, Workflow};
use kehu_domain::{Lang, Policy, Text};
use kehu_store::StoreError;
use kehu_store::cases::{self as store, CaseRow, Filter, NewCase, NewStep, StepRow};
use kehu_store::history::{self, NewEvent};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::{ApiError, AppState};

/// A case with the steps taken on it.
#[derive(Debug, Clone)]
pub struct CaseView {
    pub row: CaseRow,
    pub steps: Vec<StepRow>,
}

impl CaseView {
    /// What the case waits for, by whom.
    pub fn waiting_on(&self, wf: &Workflow) -> Vec<workflow::Waiting> {
        workflow::waiting_on(wf, &self.row.facts(&self.steps))
    }
}

/// No case by that id that the caller sees.
pub fn not_found(lang: Lang) -> ApiError {
    ApiError::not_found(Text::new("找不到该案件", "No such case")).in_lang(lang)
}

fn missing(lang: Lang) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => not_found(lang),
        other => other.into(),
    }
}

/// The workflow `id` of the policy, or a refusal that lists the workflows there are.
pub fn workflow_of<'p>(policy: &'p Policy, id: &str, lang: Lang) -> Result<&'p Workflow, ApiError> {
    policy.workflow(id).ok_or_else(|| {
        let known: Vec<&str> = policy.workflows.iter().map(|w| w.id.as_str()).collect();
        let list = if known.is_empty() {
            (
                "(本公司规则未定义流程)".to_string(),
                "(the policy declares none)".to_string(),
            )
        } else {
            (known.join("、"), known.join(", "))
        };
        ApiError::bad_request(
            "invalid_workflow",
            Text::new(
                format!("没有流程 `{id}`;可用:{}", list.0),
                format!("There is no workflow `{id}`; there are: {}", list.1),
            ),
        )
        .in_lang(lang)
    })
}

fn actor(caller: &Caller) -> Actor {
    Actor {
        id: caller.id(),
        name: caller.staff.display_name.clone(),
        roles: caller.roles.clone(),
    }
}

fn refused(lang: Lang) -> impl Fn(kehu_domain::Refusal) -> ApiError {
    move |r| ApiError::refused(r).in_lang(lang)
}

fn case_json(row: &CaseRow) -> Value {
    json!({ "id": row.id, "workflow": row.workflow, "state": row.state, "customer_id": row.customer_id, "fields": row.field_map() })
}

/// Opens a case of `workflow_id`: the fields checked, the opening guards held, the case, its
/// first step and its history event written together.
pub async fn open(
    state: &AppState,
    caller: &Caller,
    workflow_id: &str,
    customer_id: Option<i64>,
    fields: &Map<String, Value>,
) -> Result<CaseView, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    let lang = caller.lang;
    let wf = workflow_of(&policy, workflow_id, lang)?;
    let me = actor(caller);
    let outcome = workflow::open(wf, fields, customer_id.is_some(), &me, policy.version).map_err(refused(lang))?;
    let tenant = caller.tenant_id;
    let now = state.now();
    let seen = crate::visibility::view(state, caller, &policy).await?;
    let mut tx = state.db.begin().await?;
    if let Some(c) = customer_id {
        crate::visibility::lock_customer(&mut tx, &seen, caller, c).await?;
    }
    let row = store::insert(
        &mut tx,
        tenant,
        NewCase {
            workflow: &wf.id,
            state: &outcome.state,
            customer_id,
            fields: &outcome.fields,
            opened_by: me.id,
            at: now,
            decision: &outcome.decision,
        },
    )
    .await?;
    store::record_step(
        &mut tx,
        tenant,
        NewStep {
            case_id: row.id,
            action: workflow::OPEN,
            role: None,
            staff_id: me.id,
            from_state: "",
            to_state: &outcome.state,
            note: None,
            fields: &outcome.fields,
            case_fields: &outcome.fields,
            at: now,
            decision: &outcome.decision,
        },
    )
    .await?;
    history::append(
        &mut tx,
        tenant,
        now,
        NewEvent {
            actor_id: Some(me.id),
            entity: "case",
            entity_id: row.id,
            customer_id,
            action: workflow::OPEN,
            after: Some(case_json(&row)),
            decision: Some(&outcome.decision),
            ..Default::default()
        },
    )
    .await?;
    let steps = store::steps_tx(&mut tx, tenant, row.id).await?;
    tx.commit().await?;
    Ok(CaseView { row, steps })
}

/// Takes `action` on case `id` for the caller. The case is locked for the decision, so two
/// sign-offs at once are decided one after the other and neither is lost.
pub async fn act(
    state: &AppState,
    caller: &Caller,
    id: i64,
    action: &str,
    fields: &Map<String, Value>,
    note: Option<&str>,
) -> Result<CaseView, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    let lang = caller.lang;
    let tenant = caller.tenant_id;
    let seen = crate::visibility::view(state, caller, &policy).await?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let before = store::lock_in_view(&mut tx, tenant, id, &seen)
        .await
        .map_err(missing(lang))?;
    let wf = workflow_of(&policy, &before.workflow, lang)?;
    let steps = store::steps_tx(&mut tx, tenant, id).await?;
    let me = actor(caller);
    let facts = before.facts(&steps);
    let outcome = workflow::decide(wf, &facts, action, &me, fields, note, policy.version).map_err(refused(lang))?;
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    store::record_step(
        &mut tx,
        tenant,
        NewStep {
            case_id: id,
            action,
            role: outcome.role.as_deref(),
            staff_id: me.id,
            from_state: &before.state,
            to_state: &outcome.state,
            note,
            fields,
            case_fields: &outcome.fields,
            at: now,
            decision: &outcome.decision,
        },
    )
    .await?;
    let row = store::get_tx(&mut tx, tenant, id).await?;
    history::append(
        &mut tx,
        tenant,
        now,
        NewEvent {
            actor_id: Some(me.id),
            entity: "case",
            entity_id: id,
            customer_id: row.customer_id,
            action,
            before: Some(case_json(&before)),
            after: Some(case_json(&row)),
            decision: Some(&outcome.decision),
        },
    )
    .await?;
    let steps = store::steps_tx(&mut tx, tenant, id).await?;
    tx.commit().await?;
    Ok(CaseView { row, steps })
}

/// One case the caller sees.
pub async fn get(state: &AppState, caller: &Caller, id: i64) -> Result<CaseView, ApiError> {
    let seen = crate::visibility::view_of(state, caller).await?;
    let row = store::get(&state.db, caller.tenant_id, id, &seen)
        .await
        .map_err(missing(caller.lang))?;
    let steps = store::steps(&state.db, caller.tenant_id, id).await?;
    Ok(CaseView { row, steps })
}

/// Cases the caller sees, newest first, with their steps (read in one query for the page).
pub async fn list(state: &AppState, caller: &Caller, f: &Filter, limit: i64) -> Result<Vec<CaseView>, ApiError> {
    let seen = crate::visibility::view_of(state, caller).await?;
    let rows = store::list(&state.db, caller.tenant_id, f, limit, &seen).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut steps = store::steps_of(&state.db, caller.tenant_id, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (mine, rest) = steps.drain(..).partition(|s: &StepRow| s.case_id == row.id);
            steps = rest;
            CaseView { row, steps: mine }
        })
        .collect())
}
