//! The case engine over HTTP: the policy's workflows, opening a case, reading and listing cases,
//! and taking an action on one. One set of routes for every workflow of every policy.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use kehu_domain::workflow::{self, Signoff, Workflow};
use kehu_domain::{Lang, Text};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::DecisionOut;
use super::{ApiJson, ApiQuery, Id};
use crate::auth::Caller;
use crate::cases::{self, CaseView};
use crate::error::Problem;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workflows))
        .routes(routes!(list_cases, open_case))
        .routes(routes!(get_case))
        .routes(routes!(get_case_for_customer))
        .routes(routes!(take_action))
        .routes(routes!(get_ranking))
}

/// A case's place in a ranking (R1.9).
#[derive(Serialize, ToSchema)]
pub struct RankedOut {
    /// 1 for the first; null when the case cannot be scored (its decision says why).
    pub place: Option<usize>,
    pub case_id: i64,
    pub customer_id: Option<i64>,
    pub customer_name: Option<String>,
    pub score: Option<i64>,
    pub flagged: bool,
    pub decision: DecisionOut,
}

#[derive(Serialize, ToSchema)]
pub struct RankingOut {
    pub id: String,
    pub name: String,
    pub rule: String,
    pub workflow: String,
    /// How many places at the top may be flagged.
    pub top: usize,
    /// What the flag means.
    pub flag: String,
    /// The cases the caller sees, best placed first.
    pub items: Vec<RankedOut>,
}

/// A workflow's ranking: its cases in the ranked states by score, the top ones flagged when
/// they meet its conditions (R1.9). Places count every case; the caller sees those they may.
#[utoipa::path(get, path = "/api/v1/workflows/{workflow}/rankings/{ranking}", tag = "cases",
    params(("workflow" = String, Path), ("ranking" = String, Path)),
    responses((status = 200, body = RankingOut), (status = 404, body = Problem)))]
async fn get_ranking(
    State(state): State<AppState>,
    caller: Caller,
    Path((workflow_id, ranking_id)): Path<(String, String)>,
) -> Result<Json<RankingOut>, ApiError> {
    let (policy, ranked) = cases::ranking(&state, &caller, &workflow_id, &ranking_id).await?;
    let lang = caller.lang;
    let wf = cases::workflow_of(&policy, &workflow_id)?;
    let r = wf
        .rankings
        .iter()
        .find(|r| r.id == ranking_id)
        .ok_or_else(ApiError::internal)?;
    Ok(Json(RankingOut {
        id: r.id.clone(),
        name: r.name.get(lang).to_string(),
        rule: r.rule.to_string(),
        workflow: wf.id.clone(),
        top: r.top,
        flag: r.flag.get(lang).to_string(),
        items: ranked
            .into_iter()
            .map(|(row, x)| RankedOut {
                place: x.place,
                case_id: row.id,
                customer_id: row.customer_id,
                customer_name: row.customer_name,
                score: x.score,
                flagged: x.flagged,
                decision: DecisionOut::new(&x.decision, lang),
            })
            .collect(),
    }))
}

fn t(ms: i64) -> String {
    kehu_store::ts(ms).to_string()
}

#[derive(Serialize, ToSchema)]
pub struct StateOut {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct FieldOut {
    pub id: String,
    pub name: String,
    /// text, number, money (fen), bool or choice.
    #[serde(rename = "type")]
    pub kind: String,
    /// The values of a choice.
    pub of: Vec<String>,
    pub required: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ActionOut {
    pub id: String,
    pub name: String,
    pub rule: String,
    pub from: Vec<String>,
    /// Where it leads when none of its `routes` applies; null: the case stays.
    pub to: Option<String>,
    /// Where it leads instead, the first whose condition (CEL) holds.
    pub routes: Vec<RouteOut>,
    pub by: Vec<String>,
    /// `any` (one of the roles), `all` (each role, by different people), `sequence` (each
    /// role in the order of `by`, by different people) or `quorum` (`quorum` different people
    /// holding any of the roles).
    pub signoff: String,
    /// With `quorum`: how many sign.
    pub quorum: Option<u32>,
    pub note_required: bool,
    /// Fields the action may set.
    pub fields: Vec<String>,
    /// The action's first condition (CEL), if it has one.
    pub guard: Option<String>,
    /// All its conditions, checked in order.
    pub guards: Vec<GuardOut>,
    /// Checklists the action answers.
    pub answers: Vec<String>,
    /// The statement whoever takes it confirms with `"attest": true`; null when none.
    pub attest: Option<String>,
}

/// One way an action may lead: to `to` when `when` holds.
#[derive(Serialize, ToSchema)]
pub struct RouteOut {
    pub when: String,
    pub to: String,
}

/// A condition: its rule and its expression.
#[derive(Serialize, ToSchema)]
pub struct GuardOut {
    pub rule: String,
    pub when: String,
}

#[derive(Serialize, ToSchema)]
pub struct TimerDefOut {
    pub id: String,
    pub name: String,
    pub rule: String,
    /// The states it runs in.
    #[serde(rename = "in")]
    pub states: Vec<String>,
    /// The length of time ("2 days").
    pub period: String,
    /// Again every period (`every`) rather than once per stay (`after`).
    pub repeat: bool,
    pub restarted_by: Vec<String>,
    pub unless: Option<String>,
    /// Where a firing moves the case.
    pub to: Option<String>,
    /// Whether a firing marks the case overdue.
    pub overdue: bool,
}

#[derive(Serialize, ToSchema)]
pub struct WorkflowOut {
    pub id: String,
    pub name: String,
    pub rule: String,
    /// `customer` (a case belongs to a customer) or `none`.
    pub subject: String,
    pub initial: String,
    pub states: Vec<StateOut>,
    pub fields: Vec<FieldOut>,
    pub checklists: Vec<ChecklistDefOut>,
    pub actions: Vec<ActionOut>,
    pub timers: Vec<TimerDefOut>,
    /// Its rankings (R1.9), each read at `/api/v1/workflows/{id}/rankings/{ranking}`.
    pub rankings: Vec<RankingDefOut>,
}

#[derive(Serialize, ToSchema)]
pub struct RankingDefOut {
    pub id: String,
    pub name: String,
    pub rule: String,
    /// The states of the cases it ranks.
    #[serde(rename = "in")]
    pub states: Vec<String>,
    /// The score (CEL).
    pub score: String,
    pub top: usize,
    pub flag: String,
    pub flag_when: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChecklistDefOut {
    pub id: String,
    pub name: String,
    pub rule: String,
    /// How an unclear answer counts: `no` or `yes`.
    pub unclear: String,
    /// Its items: `{id, name}`.
    pub items: Vec<StateOut>,
}

impl WorkflowOut {
    fn new(w: &Workflow, lang: Lang) -> WorkflowOut {
        WorkflowOut {
            id: w.id.clone(),
            name: w.name.get(lang).to_string(),
            rule: w.rule.to_string(),
            subject: match w.subject {
                kehu_domain::workflow::Subject::Customer => "customer",
                kehu_domain::workflow::Subject::None => "none",
            }
            .into(),
            initial: w.initial.clone(),
            states: w
                .states
                .iter()
                .map(|s| StateOut {
                    id: s.id.clone(),
                    name: s.name.get(lang).to_string(),
                })
                .collect(),
            fields: w
                .fields
                .iter()
                .map(|f| FieldOut {
                    id: f.id.clone(),
                    name: f.name.get(lang).to_string(),
                    kind: f.kind.name().into(),
                    of: f.kind.values().to_vec(),
                    required: f.required,
                })
                .collect(),
            actions: w
                .actions
                .iter()
                .map(|a| ActionOut {
                    id: a.id.clone(),
                    name: a.name.get(lang).to_string(),
                    rule: a.rule.to_string(),
                    from: a.from.clone(),
                    to: a.to.clone(),
                    routes: a
                        .routes
                        .iter()
                        .map(|r| RouteOut {
                            when: r.when.source.clone(),
                            to: r.to.clone(),
                        })
                        .collect(),
                    attest: a.attest.as_ref().map(|t| t.get(lang).to_string()),
                    by: a.by.clone(),
                    signoff: a.signoff.name().into(),
                    quorum: match a.signoff {
                        Signoff::Quorum(n) => Some(n),
                        _ => None,
                    },
                    note_required: a.note,
                    fields: a.fields.clone(),
                    guard: a.guards.first().map(|g| g.when.source.clone()),
                    guards: a
                        .guards
                        .iter()
                        .map(|g| GuardOut {
                            rule: g.rule.to_string(),
                            when: g.when.source.clone(),
                        })
                        .collect(),
                    answers: a.answers.clone(),
                })
                .collect(),
            checklists: w
                .checklists
                .iter()
                .map(|c| ChecklistDefOut {
                    id: c.id.clone(),
                    name: c.name.get(lang).to_string(),
                    rule: c.rule.to_string(),
                    unclear: match c.unclear {
                        workflow::Unclear::No => "no",
                        workflow::Unclear::Yes => "yes",
                    }
                    .into(),
                    items: c
                        .items
                        .iter()
                        .map(|i| StateOut {
                            id: i.id.clone(),
                            name: i.name.get(lang).to_string(),
                        })
                        .collect(),
                })
                .collect(),
            timers: w
                .timers
                .iter()
                .map(|t| TimerDefOut {
                    id: t.id.clone(),
                    name: t.name.get(lang).to_string(),
                    rule: t.rule.to_string(),
                    states: t.states.clone(),
                    period: t.period.text().get(lang).to_string(),
                    repeat: t.repeat,
                    restarted_by: t.restarted_by.clone(),
                    unless: t.unless.as_ref().map(|u| u.source.clone()),
                    to: t.to.clone(),
                    overdue: t.overdue,
                })
                .collect(),
            rankings: w
                .rankings
                .iter()
                .map(|r| RankingDefOut {
                    id: r.id.clone(),
                    name: r.name.get(lang).to_string(),
                    rule: r.rule.to_string(),
                    states: r.states.clone(),
                    score: r.score.source.clone(),
                    top: r.top,
                    flag: r.flag.get(lang).to_string(),
                    flag_when: r.flag_when.as_ref().map(|e| e.source.clone()),
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WorkflowList {
    pub items: Vec<WorkflowOut>,
}

/// The workflows of the tenant's active policy.
#[utoipa::path(get, path = "/api/v1/workflows", tag = "cases",
    responses((status = 200, body = WorkflowList)))]
async fn list_workflows(State(state): State<AppState>, caller: Caller) -> Result<Json<WorkflowList>, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    Ok(Json(WorkflowList {
        items: policy
            .workflows
            .iter()
            .map(|w| WorkflowOut::new(w, caller.lang))
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct StepOut {
    /// The action, `open`, or the id of the timer that took the step.
    pub action: String,
    /// The action's or the timer's name.
    pub name: String,
    /// The role it was signed in.
    pub role: Option<String>,
    /// Who took it; null for a timer.
    pub staff_id: Option<i64>,
    pub staff_name: String,
    pub from: Option<String>,
    pub to: String,
    pub note: Option<String>,
    pub at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApprovalOut {
    pub action: String,
    pub staff_id: i64,
    pub at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AnswerOut {
    pub id: String,
    pub name: String,
    /// `yes`, `no`, `unclear`, or null while unanswered.
    pub answer: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChecklistOut {
    pub id: String,
    pub name: String,
    pub rule: String,
    pub items: Vec<AnswerOut>,
    pub answered: usize,
    pub total: usize,
    /// Items counting as no (`no`, and `unclear` where it counts as no).
    pub failing: usize,
    /// Every item answered and none counting as no.
    pub passed: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TimerOut {
    pub id: String,
    pub name: String,
    pub rule: String,
    pub due_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct WaitingOut {
    pub action: String,
    /// Roles that may still take it.
    pub roles: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CaseOut {
    pub id: i64,
    pub workflow: String,
    pub workflow_name: String,
    pub state: String,
    pub state_name: String,
    pub customer_id: Option<i64>,
    pub customer_name: Option<String>,
    #[schema(value_type = Object)]
    pub fields: Value,
    /// Share of the declared fields filled in and checklist items answered, 0 to 100.
    pub completeness: i64,
    /// Each checklist with its answers and where it stands.
    pub checklists: Vec<ChecklistOut>,
    pub opened_by: i64,
    pub opened_by_name: String,
    pub opened_at: String,
    pub updated_at: String,
    /// Since when a timer found the case late; null when it is not.
    pub overdue_since: Option<String>,
    /// The case whose step opened this one (`{ open = WORKFLOW }` in the policy); null for a
    /// case opened by hand. `GET /api/v1/cases?linked_from=ID` lists the cases one opened.
    pub linked_from: Option<i64>,
    /// The case's timers still to fall due, earliest first.
    pub timers: Vec<TimerOut>,
    /// Every step taken on the case, oldest first (opening and timers included).
    pub steps: Vec<StepOut>,
    /// The actions taken (who, when), oldest first.
    pub approvals: Vec<ApprovalOut>,
    /// What the case waits for in its state, and who may take each.
    pub waiting_on: Vec<WaitingOut>,
    pub decisions: Vec<DecisionOut>,
    /// The budget-execution report of the case (R12.7): each line with its budget, what was
    /// spent and the most it may reach; absent when the workflow keeps no budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub budget: Option<workflow::BudgetReport>,
    /// The workflow's figures for the case (R12.8), in fen for money.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub figures: Vec<FigureOut>,
    /// The ledger entries the case's steps charged that the caller sees (R11.9: a complaint's
    /// fines), oldest first; in the answer for one case only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charges: Option<Vec<ChargeOut>>,
}

#[derive(Serialize, ToSchema)]
pub struct ChargeOut {
    /// The ledger entry.
    pub id: i64,
    pub staff_id: Option<i64>,
    pub staff_name: Option<String>,
    pub code: String,
    pub rule: String,
    /// In fen.
    pub amount: i64,
    pub points: i64,
    pub at: String,
}

impl CaseOut {
    /// The answer for one case: with the entries its steps charged.
    async fn one(state: &AppState, caller: &Caller, v: &CaseView) -> Result<CaseOut, ApiError> {
        let policy = state.policy(caller.tenant_id).await?;
        let mut out = CaseOut::new(v, policy.workflow(&v.row.workflow), caller.lang);
        out.charges = Some(
            cases::charges(state, caller, &v.row)
                .await?
                .into_iter()
                .map(|e| ChargeOut {
                    id: e.id,
                    staff_id: e.staff_id,
                    staff_name: e.staff_name,
                    code: e.code,
                    rule: e.rule,
                    amount: e.amount,
                    points: e.points,
                    at: kehu_store::ts(e.at).to_string(),
                })
                .collect(),
        );
        Ok(out)
    }
}

#[derive(Serialize, ToSchema)]
pub struct FigureOut {
    pub id: String,
    pub name: String,
    pub rule: String,
    /// `money` (fen) or `number`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Null when it cannot be worked out on this case (`error` says why).
    pub value: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CaseOut {
    fn new(v: &CaseView, wf: Option<&Workflow>, lang: Lang) -> CaseOut {
        let r = &v.row;
        let fields = r.field_map();
        let completeness = wf.map(|w| workflow::completeness(w, &fields)).unwrap_or(100);
        let facts = r.facts(&[]);
        CaseOut {
            budget: wf.and_then(|w| workflow::budget_of(w, &facts)),
            figures: wf
                .map(|w| workflow::figures(w, &facts))
                .unwrap_or_default()
                .into_iter()
                .map(|f| FigureOut {
                    id: f.id,
                    name: f.name.get(lang).to_string(),
                    rule: f.rule.to_string(),
                    kind: f.kind.to_string(),
                    value: f.value,
                    error: f.error,
                })
                .collect(),
            charges: None,
            id: r.id,
            workflow: r.workflow.clone(),
            workflow_name: wf
                .map(|w| w.name.get(lang).to_string())
                .unwrap_or_else(|| r.workflow.clone()),
            state: r.state.clone(),
            state_name: wf
                .and_then(|w| w.state(&r.state))
                .map(|s| s.name.get(lang).to_string())
                .unwrap_or_else(|| r.state.clone()),
            customer_id: r.customer_id,
            customer_name: r.customer_name.clone(),
            checklists: wf
                .map(|w| {
                    w.checklists
                        .iter()
                        .map(|c| {
                            let t = c.tally(&fields);
                            let given = c.answers(&fields);
                            ChecklistOut {
                                id: c.id.clone(),
                                name: c.name.get(lang).to_string(),
                                rule: c.rule.to_string(),
                                items: c
                                    .items
                                    .iter()
                                    .map(|i| AnswerOut {
                                        id: i.id.clone(),
                                        name: i.name.get(lang).to_string(),
                                        answer: given
                                            .and_then(|a| a.get(&i.id))
                                            .and_then(Value::as_str)
                                            .map(str::to_string),
                                    })
                                    .collect(),
                                answered: t.answered,
                                total: t.total,
                                failing: t.failing,
                                passed: t.passed,
                            }
                        })
                        .collect()
                })
                .unwrap_or_default(),
            fields: Value::Object(fields),
            completeness,
            opened_by: r.opened_by,
            opened_by_name: r.opened_by_name.clone(),
            opened_at: t(r.opened_at),
            updated_at: t(r.updated_at),
            overdue_since: r.overdue_since.map(t),
            linked_from: r.linked_from,
            timers: v
                .timers
                .iter()
                .map(|d| {
                    let id = CaseView::timer_id(d);
                    TimerOut {
                        id: id.to_string(),
                        name: wf
                            .and_then(|w| w.timer(id))
                            .map(|x| x.name.get(lang).to_string())
                            .unwrap_or_else(|| id.to_string()),
                        rule: d.rule.clone(),
                        due_at: t(d.due_at),
                    }
                })
                .collect(),
            steps: v
                .steps
                .iter()
                .map(|s| StepOut {
                    action: s.action.clone(),
                    name: wf
                        .map(|w| cases::step_name(w, &s.action, lang))
                        .unwrap_or_else(|| s.action.clone()),
                    role: s.role.clone(),
                    staff_id: s.staff_id,
                    staff_name: s.staff_name.clone(),
                    from: Some(s.from_state.clone()).filter(|f| !f.is_empty()),
                    to: s.to_state.clone(),
                    note: s.note.clone(),
                    at: t(s.at),
                })
                .collect(),
            approvals: v
                .steps
                .iter()
                .filter(|s| s.action != workflow::OPEN)
                .filter_map(|s| {
                    Some(ApprovalOut {
                        action: s.action.clone(),
                        staff_id: s.staff_id?,
                        at: t(s.at),
                    })
                })
                .collect(),
            waiting_on: wf
                .map(|w| v.waiting_on(w))
                .unwrap_or_default()
                .into_iter()
                .map(|w| WaitingOut {
                    action: w.action,
                    roles: w.roles,
                })
                .collect(),
            decisions: v
                .steps
                .iter()
                .filter_map(|s| s.decision())
                .map(|d| DecisionOut::new(&d, lang))
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CasePage {
    pub items: Vec<CaseOut>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    pub workflow: Option<String>,
    pub state: Option<String>,
    #[param(value_type = Option<i64>)]
    pub customer_id: Option<String>,
    /// `true`: only cases a timer found late.
    #[param(value_type = Option<bool>)]
    pub overdue: Option<String>,
    /// `true`: only cases the caller opened or took a step on.
    #[param(value_type = Option<bool>)]
    pub mine: Option<String>,
    /// Only the cases a step of this case opened.
    #[param(value_type = Option<i64>)]
    pub linked_from: Option<String>,
    /// 1 to 500; default 50.
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A `true`/`false` query parameter (absent or empty: false); anything else is refused with
/// `code`.
fn flag(v: Option<&str>, name: &str, code: &'static str) -> Result<bool, ApiError> {
    match v {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::bad_request(
            code,
            Text::new(
                format!("{name} 应为 true 或 false"),
                format!("{name} must be true or false"),
            ),
        )),
    }
}

/// Cases the caller sees, newest first; filter by workflow, state, customer, overdue and mine.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(CaseQuery),
    responses((status = 200, body = CasePage), (status = 422, body = Problem)))]
async fn list_cases(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> Result<Json<CasePage>, ApiError> {
    let lang = caller.lang;
    let limit = super::parse_limit(q.limit.as_deref())?;
    let filter = kehu_store::cases::Filter {
        workflow: q.workflow.filter(|w| !w.is_empty()),
        state: q.state.filter(|s| !s.is_empty()),
        customer_id: super::parse_customer_id(q.customer_id.as_deref())?,
        overdue: flag(q.overdue.as_deref(), "overdue", "invalid_overdue")?,
        involving: flag(q.mine.as_deref(), "mine", "invalid_mine")?.then(|| caller.id()),
        linked_from: super::parse_id_param(q.linked_from.as_deref(), "linked_from", "invalid_linked_from")?,
        before: super::parse_cursor(q.cursor.as_deref())?,
    };
    let views = cases::list(&state, &caller, &filter, limit + 1).await?;
    let more = views.len() as i64 > limit;
    let policy = state.policy(caller.tenant_id).await?;
    let items = views
        .iter()
        .take(limit as usize)
        .map(|v| CaseOut::new(v, policy.workflow(&v.row.workflow), lang))
        .collect::<Vec<_>>();
    Ok(Json(CasePage {
        next_cursor: more.then(|| items.last().map(|c| c.id.to_string())).flatten(),
        items,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    pub workflow: String,
    /// For a workflow whose cases belong to a customer.
    pub customer_id: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
}

/// Open a case of a workflow: its fields are checked against their types and the workflow's
/// opening conditions; a condition that does not hold is refused with its rule.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = OpenBody,
    responses((status = 201, body = CaseOut), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn open_case(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<OpenBody>,
) -> Result<(StatusCode, Json<CaseOut>), ApiError> {
    let v = cases::open(&state, &caller, &b.workflow, b.customer_id, &b.fields).await?;
    Ok((StatusCode::CREATED, Json(CaseOut::one(&state, &caller, &v).await?)))
}

/// One case: its state, fields, steps, what it waits for and its decisions.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", params(("id" = i64, Path)),
    responses((status = 200, body = CaseOut), (status = 404, body = Problem)))]
async fn get_case(State(state): State<AppState>, caller: Caller, Id(id): Id) -> Result<Json<CaseOut>, ApiError> {
    let v = cases::get(&state, &caller, id).await?;
    Ok(Json(CaseOut::one(&state, &caller, &v).await?))
}

/// A case as its customer may be given it (R1.5).
#[derive(Serialize, ToSchema)]
pub struct ForCustomerOut {
    pub id: i64,
    pub workflow: String,
    pub workflow_name: String,
    pub state_name: String,
    pub customer_name: Option<String>,
    pub opened_at: String,
    /// The fields the customer may see, as the case API gives them (money in fen).
    pub fields: Vec<SharedField>,
    /// What was done, by name and time; not who, nor the decisions.
    pub steps: Vec<SharedStep>,
}

#[derive(Serialize, ToSchema)]
pub struct SharedField {
    pub id: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub value: Value,
}

#[derive(Serialize, ToSchema)]
pub struct SharedStep {
    pub name: String,
    pub at: String,
}

/// A case as its customer may be given it (R1.5): no internal field (the partner's grade), no
/// staff, budgets, checklists, decisions or ledger, and never the customer's grade or tags.
#[utoipa::path(get, path = "/api/v1/cases/{id}/for-customer", tag = "cases", params(("id" = i64, Path)),
    responses((status = 200, body = ForCustomerOut), (status = 404, body = Problem)))]
async fn get_case_for_customer(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<ForCustomerOut>, ApiError> {
    let lang = caller.lang;
    let c = cases::for_customer(&state, &caller, id).await?;
    Ok(Json(ForCustomerOut {
        id: c.id,
        workflow: c.workflow,
        workflow_name: c.workflow_name.get(lang).to_string(),
        state_name: c.state_name.get(lang).to_string(),
        customer_name: c.customer_name,
        opened_at: t(c.opened_at),
        fields: c
            .fields
            .into_iter()
            .map(|(f, value)| SharedField {
                id: f.id,
                name: f.name.get(lang).to_string(),
                value,
            })
            .collect(),
        steps: c
            .steps
            .into_iter()
            .map(|(name, at)| SharedStep {
                name: name.get(lang).to_string(),
                at: t(at),
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// Fields the action sets.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    /// Checklist answers the action gives: `{ITEM: "yes" | "no" | "unclear"}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub answers: Map<String, Value>,
    /// A note (required by actions that need a reason).
    pub note: Option<String>,
    /// `true`: the caller confirms the action's attestation (`attest` in the workflow); an
    /// action with one is refused without it (409 `attestation_required`).
    #[serde(default)]
    pub attest: bool,
}

/// Take an action on a case. Refused with 403 when it is not the caller's to take, and with
/// 409 or 422 and the rule when the workflow says no.
#[utoipa::path(post, path = "/api/v1/cases/{id}/actions/{action}", tag = "cases",
    params(("id" = i64, Path), ("action" = String, Path)),
    request_body(content = ActionBody, description = "May be empty"),
    responses((status = 200, body = CaseOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn take_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    super::OptionalJson(b): super::OptionalJson<ActionBody>,
) -> Result<Json<CaseOut>, ApiError> {
    let id = id.parse::<i64>().map_err(|_| cases::not_found())?;
    let given = workflow::Given {
        fields: &b.fields,
        answers: &b.answers,
        note: b.note.as_deref(),
        attested: b.attest,
    };
    let v = cases::act(&state, &caller, id, &action, &given).await?;
    Ok(Json(CaseOut::one(&state, &caller, &v).await?))
}
