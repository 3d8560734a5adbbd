//! The customer pages: search list, registration form with duplicate warnings, and the detail
//! page with ownership, claims, follow-ups and history.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kehu_domain::claim::ClaimStatus;
use kehu_domain::policy::Channel;
use kehu_domain::{Lang, Permission};
use kehu_store::ts;
use serde::Deserialize;

use super::claims::DueView;
use super::session::CsrfForm;
use super::{
    Chrome, Early, OrPage, PageCaller, PageResult, csrf_ok, csrf_refused, error_page, render, see_other, urlencode,
};
use crate::auth::Caller;
use crate::i18n::{lookup, tr};
use crate::service::{self, CustomerInput};
use crate::{ApiError, AppState, Failure};

const PAGE_SIZE: i64 = 50;

fn kind_label(kind: &str, lang: Lang) -> String {
    match kind {
        "person" => tr("kind.person", lang).to_string(),
        "company" => tr("kind.company", lang).to_string(),
        other => other.to_string(),
    }
}

/// A numeric ID from the path; anything else is the 404 page.
pub(super) fn parse_id(c: &Chrome, raw: &str) -> Result<i64, Early> {
    raw.parse::<i64>().map_err(|_| {
        error_page(
            c,
            &ApiError::not_found(kehu_domain::Text::new("找不到该记录", "No such record")),
        )
        .into()
    })
}

/// An error shown inside a page: the reason and the rule that refused, if any.
pub struct ErrorBox {
    pub detail: String,
    pub rule: Option<String>,
}

impl ErrorBox {
    pub(super) fn new(e: &Failure, lang: Lang) -> ErrorBox {
        ErrorBox {
            detail: e.detail.get(lang).to_string(),
            rule: e.rule.clone(),
        }
    }
}

// ---- List ------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    cursor: String,
}

struct Row {
    id: i64,
    name: String,
    kind_label: String,
    phones: Vec<String>,
    owner: Option<String>,
    created: String,
}

#[derive(Template)]
#[template(path = "customers.html")]
struct ListPage {
    c: Chrome,
    q: String,
    rows: Vec<Row>,
    next_url: Option<String>,
    first_url: Option<String>,
}

/// GET /customers?q=&cursor=
pub async fn list(State(state): State<AppState>, mut pc: PageCaller, Query(q): Query<ListQuery>) -> PageResult {
    pc.c.nav = "list";
    let lang = pc.c.lang;
    let policy = state.policy(pc.caller.tenant_id).await.or_page(&pc.c)?;
    let query = q.q.trim().to_string();
    let cursor = q.cursor.trim().parse::<i64>().ok();
    let (items, next) = service::search_customers(&state, &pc.caller, &query, cursor, PAGE_SIZE)
        .await
        .or_page(&pc.c)?;
    let rows = items
        .into_iter()
        .map(|v| Row {
            id: v.row.id,
            kind_label: kind_label(&v.row.kind, lang),
            name: v.row.name,
            phones: v.phones,
            owner: v.owner_name,
            created: policy.local_time(ts(v.row.created_at)),
        })
        .collect();
    let base = if query.is_empty() {
        "/customers?".to_string()
    } else {
        format!("/customers?q={}&", urlencode(&query))
    };
    let page = ListPage {
        next_url: next.map(|n| format!("{base}cursor={n}")),
        first_url: cursor.map(|_| base.trim_end_matches(['?', '&']).to_string()),
        q: query,
        rows,
        c: pc.c,
    };
    Ok(render(StatusCode::OK, &page))
}

// ---- New customer ----------------------------------------------------------------------------

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct CustomerForm {
    kind: String,
    name: String,
    phones: String,
    source: String,
    agent: String,
    grade: String,
    csrf: String,
}

/// A customer the new one would duplicate.
struct Dup {
    id: i64,
    name: String,
    owner: Option<String>,
    matched: String,
    /// Whether the caller sees the match (and so may open it).
    visible: bool,
}

#[derive(Template)]
#[template(path = "customer_new.html")]
struct NewPage {
    c: Chrome,
    f: CustomerForm,
    error: Option<ErrorBox>,
    /// The field the error is about: `kind`, `name`, `phones` or empty.
    field: &'static str,
    dups: Vec<Dup>,
    /// Suggestions for a free-text source, when the policy lists no sources.
    sources: Vec<&'static str>,
    /// The policy's sources (id, name) to choose from, when it lists them.
    choices: Vec<(String, String)>,
}

impl NewPage {
    fn new(c: Chrome, f: CustomerForm, policy: &kehu_domain::Policy) -> NewPage {
        let lang = c.lang;
        let choices: Vec<(String, String)> = policy
            .customers
            .sources
            .iter()
            .map(|s| (s.id.clone(), s.name.get(lang).to_string()))
            .collect();
        NewPage {
            c,
            f,
            error: None,
            field: "",
            dups: Vec::new(),
            sources: if choices.is_empty() {
                [
                    "source.inbound_call",
                    "source.walk_in",
                    "source.self",
                    "source.referral",
                    "source.event",
                ]
                .into_iter()
                .map(|k| tr(k, lang))
                .collect()
            } else {
                Vec::new()
            },
            choices,
        }
    }
}

fn require_create(state_policy: &kehu_domain::Policy, caller: &Caller) -> Result<(), Failure> {
    caller.require(state_policy, Permission::CustomersCreate)
}

/// GET /customers/new
pub async fn new_form(State(state): State<AppState>, mut pc: PageCaller) -> PageResult {
    pc.c.nav = "new";
    let policy = state.policy(pc.caller.tenant_id).await.or_page(&pc.c)?;
    require_create(&policy, &pc.caller).or_page(&pc.c)?;
    let f = CustomerForm {
        kind: "person".into(),
        ..Default::default()
    };
    Ok(render(StatusCode::OK, &NewPage::new(pc.c, f, &policy)))
}

fn opt(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The matches a duplicate answer names, with their owners' names; a match the caller may
/// open (one they see) links to its page.
async fn duplicates(state: &AppState, caller: &Caller, e: &Failure, lang: Lang) -> Vec<Dup> {
    let Some(list) = e
        .extra
        .as_ref()
        .and_then(|x| x.get("duplicates"))
        .and_then(|d| d.as_array())
    else {
        return Vec::new();
    };
    let staff = kehu_store::staff::list(&state.db, caller.tenant_id)
        .await
        .unwrap_or_default();
    let view = crate::visibility::view_of(state, caller).await;
    let mut out = Vec::new();
    for d in list {
        let (Some(id), Some(name)) = (
            d.get("id").and_then(|i| i.as_i64()),
            d.get("name").and_then(|n| n.as_str()),
        ) else {
            continue;
        };
        let owner_id = d.get("owner_id").and_then(|o| o.as_i64());
        let visible = match &view {
            Ok(v) => kehu_store::customers::get_in_view(&state.db, caller.tenant_id, id, v)
                .await
                .is_ok(),
            Err(_) => false,
        };
        out.push(Dup {
            id,
            name: name.to_string(),
            owner: owner_id
                .and_then(|o| staff.iter().find(|s| s.id == o))
                .map(|s| s.display_name.clone()),
            matched: match d.get("matched_on").and_then(|m| m.as_str()) {
                Some("phone") => tr("new.matched_phone", lang),
                _ => tr("new.matched_company", lang),
            }
            .to_string(),
            visible,
        });
    }
    out
}

/// POST /customers: registers, or shows the form again with the duplicates or the error.
pub async fn create(State(state): State<AppState>, mut pc: PageCaller, Form(f): Form<CustomerForm>) -> PageResult {
    pc.c.nav = "new";
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    let lang = pc.c.lang;
    let input = CustomerInput {
        kind: f.kind.trim().to_string(),
        name: f.name.clone(),
        phones: f
            .phones
            .split(['\n', ',', '，', ';', '；', '、'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        grade: opt(&f.grade),
        source: opt(&f.source),
        referrer_id: None,
        agent: opt(&f.agent),
    };
    match service::create_customer(&state, &pc.caller, input).await {
        Ok(v) => Ok(see_other(&format!("/customers/{}?done=created", v.row.id))),
        Err(e) => {
            let policy = state.policy(pc.caller.tenant_id).await.or_page(&pc.c)?;
            let mut page = NewPage::new(pc.c, f, &policy);
            page.dups = duplicates(&state, &pc.caller, &e, lang).await;
            if page.dups.is_empty() {
                page.field = match e.code {
                    "invalid_kind" => "kind",
                    "invalid_name" => "name",
                    "invalid_phone" => "phones",
                    "invalid_source" => "source",
                    _ => "",
                };
                page.error = Some(ErrorBox::new(&e, lang));
            }
            Ok(render(crate::error::status_of(e.kind), &page))
        }
    }
}

// ---- Detail ----------------------------------------------------------------------------------

struct ClaimView {
    id: i64,
    holder: String,
    status: &'static str,
    status_label: String,
    registered: String,
    effective: Option<String>,
    confirmed_by: Option<String>,
    can_confirm: bool,
    /// A valid claim's next limit (R5.2).
    due: Option<DueView>,
    /// Whether the caller may cancel it with a written reason (R5.6).
    can_cancel: bool,
    ended: Option<String>,
    ended_rule: Option<String>,
    end_reason: Option<String>,
}

struct ActivityView {
    id: i64,
    channel: String,
    /// The kind of service (R11.7), by name.
    kind: Option<String>,
    at: String,
    staff: String,
    note: String,
    /// The follow-up a leader must confirm for it to count (R5.2).
    awaiting: bool,
    /// Who confirmed it, and when.
    confirmed: Option<(String, String)>,
}

struct EventView {
    at: String,
    actor: String,
    label: String,
    decision: Option<String>,
    rule: Option<String>,
}

#[derive(Template)]
#[template(path = "customer.html")]
struct DetailPage {
    c: Chrome,
    id: i64,
    name: String,
    kind_label: String,
    phones: Vec<String>,
    grade: Option<String>,
    /// The customer's tags (what the visit cadence reads, R1.6, R1.7).
    tags: Vec<String>,
    /// Whether the caller may change the grade and tags (`customers.update`).
    can_update: bool,
    /// The grade and tags form's values, kept after a refusal.
    grade_input: String,
    tags_input: String,
    source: Option<String>,
    agent: Option<String>,
    created: String,
    created_by: Option<String>,
    owner: Option<String>,
    decision: String,
    rule: String,
    policy_version: u32,
    claims: Vec<ClaimView>,
    can_claim: bool,
    /// Joint events the caller's division may still invite to (R11.3): (id, label).
    events: Vec<(i64, String)>,
    /// The customer's sales and who they count for (R5.7, R11.5), when the policy has sales rules.
    sales: Option<super::sales::SalesCard>,
    holds_claim: bool,
    /// Someone else owns the customer: the claim form says so before the caller submits
    /// (their claim would be a second one, decided by the ownership rule).
    owned_by_other: Option<String>,
    /// Why the rules would refuse the caller's claim now (its sentence and rule), instead of
    /// the claim button.
    claim_refused: Option<(String, Option<String>)>,
    /// "在公共客户池中（自 …）" while the customer waits in a pool (R11.8).
    in_pool: Option<String>,
    /// Where a member claims the pooled customer (`None` for others).
    pool_claim_url: Option<String>,
    can_follow: bool,
    channels: Vec<(&'static str, String)>,
    channel: String,
    /// The policy's kinds of service (R11.7), if any: (id, name).
    kinds: Vec<(String, String)>,
    note: String,
    activities: Vec<ActivityView>,
    history: Vec<EventView>,
    /// Whether the caller may confirm a follow-up that awaits a leader (R5.2).
    may_confirm_follow_up: bool,
    /// What a follow-up waiting for its confirmation waits for, in the policy's role names.
    follow_awaiting: String,
    /// The cancel form's reason and claim, kept after a refusal.
    cancel_reason: String,
    cancel_claim: i64,
    cancel_rule: String,
    /// The history is shown to roles with `history.read` only.
    show_history: bool,
    /// The customer's cases the caller sees, newest first.
    cases: Vec<super::cases::CaseLine>,
    /// Workflows whose cases belong to a customer, opened from here: (id, name).
    case_workflows: Vec<(String, String)>,
    /// Profile snapshots (R1.8): (id, when, the sentence of the rule that took it), newest first.
    snapshots: Vec<(i64, String, String)>,
    flash: Option<&'static str>,
    error: Option<ErrorBox>,
}

impl DetailPage {
    /// The first character of the owner's name, for the avatar circle.
    fn owner_initial(&self) -> String {
        self.owner
            .as_deref()
            .and_then(|o| o.chars().next())
            .map(String::from)
            .unwrap_or_default()
    }
}

async fn load_detail(state: &AppState, caller: &Caller, c: Chrome, id: i64) -> Result<DetailPage, ApiError> {
    let lang = c.lang;
    let policy = state.policy(caller.tenant_id).await?;
    let v = service::get_customer(state, caller, id).await?;
    let (own, claims) = service::ownership_and_claims(state, caller, id).await?;
    let acts = service::activities(state, caller, id, 100).await?;
    let show_history = caller.may(&policy, kehu_domain::Permission::HistoryRead);
    let events = if show_history {
        service::customer_history(state, caller, id, None, 50).await?.0
    } else {
        Vec::new()
    };
    let staff = kehu_store::staff::list(&state.db, caller.tenant_id).await?;
    let names: HashMap<i64, String> = staff.iter().map(|s| (s.id, s.display_name.clone())).collect();
    let may_confirm = policy.may_confirm(&caller.roles);
    let holds_claim = claims
        .iter()
        .any(|c| c.staff_id == caller.id() && c.status().is_active());
    let may_cancel = policy
        .claims
        .cancel
        .as_ref()
        .is_some_and(|a| kehu_domain::Policy::holds_any(&caller.roles, &a.roles));
    let now = state.now();
    let cases: Vec<super::cases::CaseLine> = if policy.workflows.is_empty() {
        Vec::new()
    } else {
        let filter = kehu_store::cases::Filter {
            customer_id: Some(id),
            ..Default::default()
        };
        crate::cases::list(state, caller, &filter, 50)
            .await?
            .iter()
            .map(|v| super::cases::CaseLine::new(v, &policy, now, lang))
            .collect()
    };
    let mut dues = Vec::with_capacity(claims.len());
    for c in &claims {
        let s = crate::lifecycle::due_of(state, caller.tenant_id, c).await?;
        dues.push(DueView::of(s.as_ref(), &policy, now, lang));
    }
    let awaiting: Vec<i64> = dues.iter().flatten().filter_map(|d| d.awaiting_confirmation).collect();
    let claim_views = claims
        .iter()
        .zip(dues)
        .map(|(c, due)| {
            let status = c.status();
            ClaimView {
                id: c.id,
                holder: c.staff_name.clone(),
                status: status.as_str(),
                status_label: status.label().get(lang).to_string(),
                registered: policy.local_time(ts(c.registered_at)),
                effective: c.effective_at.map(|t| policy.local_time(ts(t))),
                confirmed_by: c.confirmer_name.clone(),
                can_confirm: may_confirm && status == ClaimStatus::Pending,
                due,
                can_cancel: may_cancel && status.is_active(),
                ended: c.ended_at.map(|t| policy.local_time(ts(t))),
                ended_rule: c.ended_rule.clone(),
                end_reason: c.end_reason.clone().filter(|r| !r.is_empty()),
            }
        })
        .collect();
    let activities = acts
        .into_iter()
        .map(|a| ActivityView {
            id: a.id,
            channel: Channel::parse(&a.channel)
                .map(|ch| ch.label().get(lang).to_string())
                .unwrap_or_else(|| a.channel.clone()),
            kind: a.kind.as_deref().map(|k| {
                policy
                    .activities
                    .kinds
                    .iter()
                    .find(|x| x.id == k)
                    .map(|x| x.name.get(lang).to_string())
                    .unwrap_or_else(|| k.to_string())
            }),
            at: policy.local_time(ts(a.at)),
            staff: a.staff_name,
            note: a.note,
            awaiting: awaiting.contains(&a.id),
            confirmed: a.confirmed_at.map(|t| {
                let who = a
                    .confirmed_by
                    .and_then(|b| names.get(&b).cloned())
                    .unwrap_or_else(|| tr("detail.system", lang).to_string());
                (who, policy.local_time(ts(t)))
            }),
        })
        .collect();
    let history = events
        .iter()
        .map(|e| {
            let d = e.decision();
            EventView {
                at: policy.local_time(ts(e.at_ms)),
                actor: e
                    .actor_id
                    .and_then(|a| names.get(&a).cloned())
                    .unwrap_or_else(|| tr("detail.system", lang).to_string()),
                // Every pair the code writes has a label (a test in i18n.rs reads the code);
                // an event of a newer version still reads as a change, never as a raw code.
                label: case_label(&policy, e, lang).unwrap_or_else(|| {
                    lookup(&format!("event.{}.{}", e.entity, e.action), lang)
                        .unwrap_or_else(|| tr("event.other", lang))
                        .to_string()
                }),
                decision: d.as_ref().map(|d| d.text.get(lang).to_string()),
                rule: d.map(|d| d.rule.to_string()),
            }
        })
        .collect();
    let channels: Vec<(&'static str, String)> = policy
        .activities
        .channels
        .iter()
        .map(|ch| (ch.as_str(), ch.label().get(lang).to_string()))
        .collect();
    let pool = v.row.pool_id.as_deref().map(|id| (id, policy.pool(id)));
    let in_pool = pool.map(|(id, p)| {
        let name = p
            .map(|p| p.name.get(lang).to_string())
            .unwrap_or_else(|| id.to_string());
        let since = v.row.pooled_at.map(|t| policy.local_time(ts(t))).unwrap_or_default();
        match lang {
            Lang::Zh => format!("在{name}中（自 {since}）"),
            Lang::En => format!("In {name} since {since}"),
        }
    });
    let may_claim = caller.may(&policy, Permission::ClaimsCreate);
    let pool_claim_url = pool
        .and_then(|(_, p)| p)
        .filter(|p| may_claim && kehu_domain::Policy::holds_any(&caller.roles, &p.members))
        .map(|p| format!("/pools/{}/claims", urlencode(&p.id)));
    let owner = own
        .owner_id
        .and_then(|o| names.get(&o).cloned())
        .or(v.owner_name.clone());
    let events = crate::events::open_for(state, caller).await?;
    let claim_refused = if may_claim && !holds_claim {
        service::claim_refusal(state, caller, &policy, id).await?
    } else {
        None
    };
    let sales = super::sales::card(
        state,
        caller,
        &policy,
        (id, own.owner_id, v.row.source.as_deref()),
        &claims,
        &names,
        lang,
    )
    .await?;
    Ok(DetailPage {
        events,
        sales,
        id,
        kind_label: kind_label(&v.row.kind, lang),
        name: v.row.name.clone(),
        phones: v.phones.clone(),
        grade: v.row.grade.clone(),
        tags: v.row.tag_list(),
        can_update: caller.may(&policy, Permission::CustomersUpdate),
        grade_input: v.row.grade.clone().unwrap_or_default(),
        tags_input: v.row.tag_list().join(", "),
        source: v
            .row
            .source
            .as_deref()
            .map(|s| policy.source_name(s).get(lang).to_string()),
        agent: v.row.agent.clone(),
        created: policy.local_time(ts(v.row.created_at)),
        created_by: v.row.created_by.and_then(|s| names.get(&s).cloned()),
        owner,
        decision: own.decision.text.get(lang).to_string(),
        rule: own.decision.rule.to_string(),
        policy_version: own.decision.policy_version,
        claims: claim_views,
        // A claim the rules would refuse is not offered; the page says why instead.
        can_claim: may_claim && !holds_claim && in_pool.is_none() && claim_refused.is_none(),
        claim_refused: claim_refused.map(|r| (r.text.get(lang).to_string(), r.rule.map(|r| r.to_string()))),
        owned_by_other: own
            .owner_id
            .filter(|o| *o != caller.id())
            .and_then(|o| names.get(&o).cloned()),
        holds_claim,
        in_pool,
        pool_claim_url,
        can_follow: caller.may(&policy, Permission::ActivitiesCreate),
        channel: channels.first().map(|c| c.0.to_string()).unwrap_or_default(),
        channels,
        kinds: policy
            .activities
            .kinds
            .iter()
            .map(|k| (k.id.clone(), k.name.get(lang).to_string()))
            .collect(),
        note: String::new(),
        activities,
        history,
        follow_awaiting: super::claims::awaiting_follow_up(&policy, lang),
        may_confirm_follow_up: policy
            .claims
            .lifecycle
            .as_ref()
            .and_then(|l| l.confirm_follow_up.as_ref())
            .is_some_and(|c| kehu_domain::Policy::holds_any(&caller.roles, &c.roles)),
        cancel_reason: String::new(),
        cancel_claim: 0,
        cancel_rule: policy
            .claims
            .cancel
            .as_ref()
            .map(|a| a.rule.to_string())
            .unwrap_or_default(),
        show_history,
        cases,
        case_workflows: policy
            .workflows
            .iter()
            .filter(|w| w.subject == kehu_domain::workflow::Subject::Customer)
            .filter(|w| kehu_domain::workflow::may_open(w, &crate::cases::actor(caller)))
            .map(|w| (w.id.clone(), w.name.get(lang).to_string()))
            .collect(),
        snapshots: crate::snapshots::list(state, caller, id)
            .await?
            .iter()
            .map(|s| {
                let why = s.decision().map(|d| d.text.get(lang).to_string()).unwrap_or_default();
                (s.id, policy.local_time(ts(s.taken_at)), why)
            })
            .collect(),
        flash: None,
        error: None,
        c,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DetailQuery {
    done: String,
}

/// GET /customers/{id}
pub async fn detail(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> PageResult {
    let id = parse_id(&pc.c, &id)?;
    let mut page = load_detail(&state, &pc.caller, pc.c.clone(), id).await.or_page(&pc.c)?;
    page.flash = match q.done.as_str() {
        "created" => Some("flash.created"),
        "claim" => Some("flash.claim"),
        "confirm" => Some("flash.confirm"),
        "activity" => Some("flash.activity"),
        "cancel" => Some("flash.cancel"),
        "confirm_follow_up" => Some("flash.confirm_follow_up"),
        "pool_claim" => Some("flash.pool_claim"),
        "profile" => Some("flash.profile"),
        "sale" => Some("flash.sale"),
        "credit" => Some("flash.credit"),
        _ => None,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The detail page again, with the error that refused a form on it (and the form's input).
pub(super) async fn detail_with_error(
    state: &AppState,
    pc: &PageCaller,
    id: i64,
    e: &Failure,
    activity: Option<(String, String)>,
) -> Response {
    match load_detail(state, &pc.caller, pc.c.clone(), id).await {
        Ok(mut page) => {
            page.error = Some(ErrorBox::new(e, pc.c.lang));
            if let Some((channel, note)) = activity {
                if page.channels.iter().any(|(c, _)| *c == channel) {
                    page.channel = channel;
                }
                page.note = note;
            }
            render(crate::error::status_of(e.kind), &page)
        }
        Err(_) => super::failure_page(&pc.c, e),
    }
}

/// POST /customers/{id}/claims: a claim for the caller.
pub async fn claim(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<ClaimForm>,
) -> PageResult {
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    let event = f.event_id.trim().parse::<i64>().ok();
    match service::register_claim_at(&state, &pc.caller, id, None, None, event).await {
        Ok(_) => Ok(see_other(&format!("/customers/{id}?done=claim"))),
        Err(e) => Ok(detail_with_error(&state, &pc, id, &e, None).await),
    }
}

#[derive(Deserialize)]
pub struct ClaimForm {
    csrf: String,
    /// The joint event the claim is an invitation to (R11.3); empty for none.
    #[serde(default)]
    event_id: String,
}

/// POST /claims/{id}/confirm
pub async fn confirm(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    match service::confirm_claim(&state, &pc.caller, id).await {
        Ok(row) => Ok(see_other(&format!("/customers/{}?done=confirm", row.customer_id))),
        Err(e) => match service::get_claim(&state, &pc.caller, id).await {
            Ok(claim) => Ok(detail_with_error(&state, &pc, claim.customer_id, &e, None).await),
            Err(_) => Err(super::failure_page(&pc.c, &e).into()),
        },
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActivityForm {
    channel: String,
    note: String,
    /// The kind of service (R11.7), when the policy has kinds.
    kind: String,
    csrf: String,
}

/// POST /customers/{id}/activities
pub async fn add_activity(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<ActivityForm>,
) -> PageResult {
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    let kind = Some(f.kind.as_str()).filter(|k| !k.is_empty());
    match service::add_activity_kind(&state, &pc.caller, id, &f.channel, None, Some(f.note.clone()), kind).await {
        Ok(_) => Ok(see_other(&format!("/customers/{id}?done=activity"))),
        Err(e) => Ok(detail_with_error(&state, &pc, id, &e, Some((f.channel, f.note))).await),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CancelForm {
    reason: String,
    csrf: String,
}

/// POST /claims/{id}/cancel: cancels a claim with a written reason; the card is kept (R5.6).
pub async fn cancel(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<CancelForm>,
) -> PageResult {
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    let claim = service::get_claim(&state, &pc.caller, id).await.or_page(&pc.c)?;
    match crate::lifecycle::cancel_claim(&state, &pc.caller, id, &f.reason).await {
        Ok(_) => Ok(see_other(&format!(
            "/customers/{}?done=cancel#claims",
            claim.customer_id
        ))),
        Err(e) => match load_detail(&state, &pc.caller, pc.c.clone(), claim.customer_id).await {
            Ok(mut page) => {
                page.error = Some(ErrorBox::new(&e, pc.c.lang));
                page.cancel_reason = f.reason;
                page.cancel_claim = id;
                Ok(render(crate::error::status_of(e.kind), &page))
            }
            Err(_) => Err(super::failure_page(&pc.c, &e).into()),
        },
    }
}

/// POST /activities/{id}/confirm: a leader confirms the follow-up that awaits it (R5.2).
pub async fn confirm_follow_up(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    match crate::lifecycle::confirm_follow_up(&state, &pc.caller, id).await {
        Ok((a, _)) => Ok(see_other(&format!(
            "/customers/{}?done=confirm_follow_up#activities",
            a.customer_id
        ))),
        Err(e) => match kehu_store::activities::get(&state.db, pc.caller.tenant_id, id).await {
            Ok(a) => Ok(detail_with_error(&state, &pc, a.customer_id, &e, None).await),
            Err(_) => Err(super::failure_page(&pc.c, &e).into()),
        },
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProfileForm {
    grade: String,
    tags: String,
    csrf: String,
}

/// POST /customers/{id}/profile: sets the grade and the tags (comma separated) the visit cadence
/// reads (R1.6, R1.7); a refusal shows the page again with the input kept.
pub async fn update_profile(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<ProfileForm>,
) -> PageResult {
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    let tags: Vec<String> = f
        .tags
        .split([',', '，', '、'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    match service::update_customer(&state, &pc.caller, id, Some(f.grade.clone()), Some(tags)).await {
        Ok(_) => Ok(see_other(&format!("/customers/{id}?done=profile"))),
        Err(e) => match load_detail(&state, &pc.caller, pc.c.clone(), id).await {
            Ok(mut page) => {
                page.error = Some(ErrorBox::new(&e, pc.c.lang));
                page.grade_input = f.grade;
                page.tags_input = f.tags;
                Ok(render(crate::error::status_of(e.kind), &page))
            }
            Err(_) => Err(super::failure_page(&pc.c, &e).into()),
        },
    }
}

/// A case's step as the history shows it: the workflow's name and the action's, from the policy
/// (`授信申请 · 批准`); `None` for other events, or a workflow the policy no longer has.
pub fn case_label(policy: &kehu_domain::Policy, e: &kehu_store::history::EventRow, lang: Lang) -> Option<String> {
    if e.entity != "case" {
        return None;
    }
    let after: serde_json::Value = serde_json::from_str(e.after_json.as_deref()?).ok()?;
    let wf = policy.workflow(after.get("workflow")?.as_str()?)?;
    let action = if e.action == kehu_domain::workflow::OPEN {
        tr("event.case.open", lang).to_string()
    } else {
        wf.step_name(&e.action)?.get(lang).to_string()
    };
    Some(format!("{} · {action}", wf.name.get(lang)))
}
