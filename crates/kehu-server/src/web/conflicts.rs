//! The conflict pages (冲突处理, R11.6): the conflicts with their status and an opener's form to
//! record one, and a conflict's page showing the parties, who signed what, and for the caller
//! when allowed the forms to sign, escalate or rule.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use kehu_domain::conflict::{self, Actor, Outcome, Seat, Status};
use kehu_domain::{Lang, Policy, Text};
use kehu_store::conflicts::ConflictRow;
use kehu_store::ts;
use serde::Deserialize;

use super::customers::{ErrorBox, parse_id};
use super::{Chrome, OrPage, PageCaller, PageResult, csrf_ok, csrf_refused, render, see_other};
use crate::auth::Caller;
use crate::conflicts::{self, NewConflict};
use crate::{ApiError, AppState};

fn status_label(row: &ConflictRow, lang: Lang) -> String {
    row.status().label().get(lang).to_string()
}

struct ConflictLine {
    id: i64,
    customer_id: i64,
    customer: String,
    parties: String,
    status: String,
    status_label: String,
    opened: String,
}

#[derive(Template)]
#[template(path = "conflicts.html")]
struct ConflictsPage {
    c: Chrome,
    rule: String,
    terms: Vec<String>,
    open_only: bool,
    conflicts: Vec<ConflictLine>,
    may_open: bool,
    /// Staff in a unit, to name the parties: (id, "name · unit").
    people: Vec<(i64, String)>,
    /// Joint events to name: (id, name).
    events: Vec<(i64, String)>,
    f: OpenForm,
    error: Option<ErrorBox>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OpenForm {
    pub csrf: String,
    pub customer_id: String,
    pub party_a: String,
    pub party_b: String,
    pub event_id: String,
    pub summary: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    all: String,
    customer_id: String,
}

fn terms(policy: &Policy, lang: Lang) -> Vec<String> {
    let Some(r) = &policy.conflicts else {
        return Vec::new();
    };
    let coord = policy.roles_text(&r.coordinator_roles);
    let heads = policy.roles_text(&r.head_roles);
    let arbiters = policy.roles_text(&r.arbiters);
    let mut out = vec![
        Text::new(
            "两个部门的员工不得在客户面前争执".to_string(),
            "Staff of the two divisions do not argue in front of the customer".to_string(),
        ),
        Text::new(
            format!(
                "事后由{}与双方部门的{}协商，三方签署同一处理结果即为解决",
                coord.zh, heads.zh
            ),
            format!(
                "Afterwards the {} and each party's {} settle it: all sign the same outcome",
                coord.en.to_lowercase(),
                heads.en.to_lowercase()
            ),
        ),
        Text::new(
            format!("处理意见不一致或{}无法判定时，上报{}裁决", coord.zh, arbiters.zh),
            format!(
                "Different outcomes, or a {} who cannot decide, send it to the {}",
                coord.en.to_lowercase(),
                arbiters.en.to_lowercase()
            ),
        ),
    ];
    if let Some(code) = r.penalty.as_deref().and_then(|c| policy.ledger.code(c)) {
        out.push(Text::new(
            format!(
                "查明在客户面前争执的，当事人每人罚款 {} 元",
                kehu_domain::ledger::yuan(code.amount)
            ),
            format!(
                "Parties who argued in front of the customer are each fined {} yuan",
                kehu_domain::ledger::yuan(code.amount)
            ),
        ));
    }
    out.into_iter().map(|t| t.get(lang).to_string()).collect()
}

async fn load(
    state: &AppState,
    caller: &Caller,
    c: Chrome,
    open_only: bool,
    f: OpenForm,
) -> Result<ConflictsPage, ApiError> {
    let lang = c.lang;
    let policy = state.policy(caller.tenant_id).await?;
    let rows = conflicts::list(state, caller, open_only, None, 200).await?;
    let rules = conflict::rules(&policy).map_err(|r| ApiError::refused(r).in_lang(lang))?;
    let conflicts = rows
        .iter()
        .map(|r| ConflictLine {
            id: r.id,
            customer_id: r.customer_id,
            customer: r.customer_name.clone(),
            parties: format!(
                "{}（{}） ↔ {}（{}）",
                r.party_a_name, r.unit_a_name, r.party_b_name, r.unit_b_name
            ),
            status: r.status.clone(),
            status_label: status_label(r, lang),
            opened: policy.local_time(ts(r.opened_at)),
        })
        .collect();
    let may_open = Policy::holds_any(&caller.roles, &rules.openers);
    let (mut people, mut events) = (Vec::new(), Vec::new());
    if may_open {
        let units = kehu_store::units::list(&state.db, caller.tenant_id).await?;
        people = kehu_store::staff::list(&state.db, caller.tenant_id)
            .await?
            .into_iter()
            .filter(|s| s.active)
            .filter_map(|s| {
                let unit = units.iter().find(|u| Some(u.id) == s.unit_id)?;
                Some((s.id, format!("{} · {}", s.display_name, unit.name)))
            })
            .collect();
        if policy.events.is_some() {
            let view = crate::visibility::view(state, caller, &policy).await?;
            events = kehu_store::events::list(&state.db, caller.tenant_id, state.now(), 50, &view)
                .await?
                .into_iter()
                .map(|e| (e.id, format!("{} · {}", e.name, policy.local_time(ts(e.starts_at)))))
                .collect();
        }
    }
    Ok(ConflictsPage {
        rule: rules.rule.to_string(),
        terms: terms(&policy, lang),
        open_only,
        conflicts,
        may_open,
        people,
        events,
        f,
        error: None,
        c,
    })
}

/// GET /conflicts (`?all=1` shows settled ones too; `?customer_id=` fills the form)
pub async fn list(State(state): State<AppState>, pc: PageCaller, Query(q): Query<ListQuery>) -> PageResult {
    let mut c = pc.c.clone();
    c.nav = "conflicts";
    let f = OpenForm {
        customer_id: q.customer_id.trim().to_string(),
        ..OpenForm::default()
    };
    let page = load(&state, &pc.caller, c.clone(), q.all.is_empty(), f)
        .await
        .or_page(&c)?;
    Ok(render(StatusCode::OK, &page))
}

/// POST /conflicts
pub async fn open(State(state): State<AppState>, pc: PageCaller, Form(f): Form<OpenForm>) -> PageResult {
    let mut c = pc.c.clone();
    c.nav = "conflicts";
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&c).into());
    }
    let lang = c.lang;
    let number = |s: &str| s.trim().parse::<i64>().ok();
    let parties: Vec<i64> = [&f.party_a, &f.party_b].iter().filter_map(|s| number(s)).collect();
    let result = match number(&f.customer_id) {
        None => Err(ApiError::bad_request(
            "invalid_customer",
            Text::new("请填写客户编号", "Give the customer's number"),
        )
        .in_lang(lang)),
        Some(customer_id) => {
            conflicts::open(
                &state,
                &pc.caller,
                NewConflict {
                    customer_id,
                    party_ids: &parties,
                    event_id: number(&f.event_id),
                    summary: &f.summary,
                },
            )
            .await
        }
    };
    match result {
        Ok(row) => Ok(see_other(&format!("/conflicts/{}?done=opened", row.id))),
        Err(e) => {
            let mut page = load(&state, &pc.caller, c.clone(), true, f).await.or_page(&c)?;
            page.error = Some(ErrorBox::new(&e, lang));
            Ok(render(e.status, &page))
        }
    }
}

struct SeatLine {
    label: String,
    signer: Option<String>,
    award: String,
    argued: String,
    note: String,
    at: String,
}

#[derive(Template)]
#[template(path = "conflict.html")]
struct ConflictPage {
    c: Chrome,
    id: i64,
    customer_id: i64,
    customer: String,
    event: Option<(i64, String)>,
    summary: String,
    status: String,
    status_label: String,
    rule: String,
    opened: String,
    opener: String,
    /// (staff id, name, unit name) of each party.
    parties: Vec<(i64, String, String)>,
    seats: Vec<SeatLine>,
    escalation: Option<String>,
    /// The outcome once closed: who ruled, to whom, argued, note.
    outcome: Option<(String, String, String, String)>,
    may_sign: bool,
    /// Why the caller signs in their seat: "as the coordinator" / "as head of ...".
    sign_as: String,
    /// How signing settles it, with the policy's roles.
    sign_hint: String,
    may_escalate: bool,
    may_decide: bool,
    flash: Option<&'static str>,
    error: Option<ErrorBox>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DetailQuery {
    done: String,
}

/// How the sign-offs settle a conflict (R11.6), in the policy's role names.
fn sign_hint(policy: &Policy, r: &kehu_domain::policy::Conflicts, lang: Lang) -> String {
    let coord = policy.roles_text(&r.coordinator_roles);
    let heads = policy.roles_text(&r.head_roles);
    let arbiters = policy.roles_text(&r.arbiters);
    Text::new(
        format!(
            "{}与双方部门的{}签署同一结果即为解决；结果不一致则上报{}裁决。",
            coord.zh, heads.zh, arbiters.zh
        ),
        format!(
            "When the {} and each party's {} sign the same outcome it is settled; different outcomes go to the {}.",
            coord.en.to_lowercase(),
            heads.en.to_lowercase(),
            arbiters.en.to_lowercase()
        ),
    )
    .get(lang)
    .to_string()
}

fn yes_no(b: bool, lang: Lang) -> String {
    if b {
        Text::new("是", "Yes")
    } else {
        Text::new("否", "No")
    }
    .get(lang)
    .to_string()
}

async fn load_one(
    state: &AppState,
    caller: &Caller,
    c: Chrome,
    id: i64,
    flash: Option<&'static str>,
) -> Result<ConflictPage, ApiError> {
    let lang = c.lang;
    let policy = state.policy(caller.tenant_id).await?;
    let rules = conflict::rules(&policy).map_err(|r| ApiError::refused(r).in_lang(lang))?;
    let (row, signoffs) = conflicts::get(state, caller, id).await?;
    let facts = row.facts(&signoffs);
    let name_of = |staff_id: i64| {
        facts
            .party(staff_id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| format!("#{staff_id}"))
    };
    let coord = policy.roles_text(&rules.coordinator_roles);
    let heads = policy.roles_text(&rules.head_roles);
    let seat_label = |seat: Seat| match seat {
        Seat::Coordinator => coord.get(lang).to_string(),
        Seat::Head(u) => {
            let unit = facts
                .parties
                .iter()
                .find(|p| p.unit_id == Some(u))
                .map(|p| p.unit_name.clone())
                .unwrap_or_default();
            match lang {
                Lang::Zh => format!("{unit}{}", heads.zh),
                Lang::En => format!("{} of {unit}", heads.en),
            }
        }
    };
    let seats = facts
        .seats()
        .into_iter()
        .map(|seat| {
            let s = signoffs.iter().find(|s| Seat::parse(&s.seat) == Some(seat));
            SeatLine {
                label: seat_label(seat),
                signer: s.map(|s| s.staff_name.clone()),
                award: s.map(|s| name_of(s.award_to)).unwrap_or_default(),
                argued: s.map(|s| yes_no(s.argued, lang)).unwrap_or_default(),
                note: s.map(|s| s.note.clone()).unwrap_or_default(),
                at: s.map(|s| policy.local_time(ts(s.signed_at))).unwrap_or_default(),
            }
        })
        .collect();
    let by = Actor {
        staff: caller.facts(),
        unit_id: caller.staff.unit_id,
    };
    let seat = conflict::seat_of(&policy, &facts, &by).ok();
    let status = row.status();
    let outcome = match (row.award_to, row.argued) {
        (Some(to), Some(argued)) => Some((
            row.closer_name.clone().unwrap_or_default(),
            name_of(to),
            yes_no(argued, lang),
            row.closing_note.clone().unwrap_or_default(),
        )),
        _ => None,
    };
    let event = row.event_id.map(|e| (e, row.event_name.clone().unwrap_or_default()));
    Ok(ConflictPage {
        id,
        customer_id: row.customer_id,
        customer: row.customer_name.clone(),
        event,
        summary: row.summary.clone(),
        status: row.status.clone(),
        status_label: status_label(&row, lang),
        rule: rules.rule.to_string(),
        opened: policy.local_time(ts(row.opened_at)),
        opener: row.opener_name.clone(),
        parties: facts
            .parties
            .iter()
            .map(|p| (p.staff_id, p.name.clone(), p.unit_name.clone()))
            .collect(),
        seats,
        escalation: row.escalation_reason.clone(),
        outcome,
        may_sign: seat.is_some(),
        sign_as: seat.map(seat_label).unwrap_or_default(),
        sign_hint: sign_hint(&policy, rules, lang),
        may_escalate: status == Status::Open && Policy::holds_any(&caller.roles, &rules.coordinator_roles),
        may_decide: status == Status::Escalated && Policy::holds_any(&caller.roles, &rules.arbiters),
        flash,
        error: None,
        c,
    })
}

/// GET /conflicts/{id}
pub async fn detail(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> PageResult {
    let mut c = pc.c.clone();
    c.nav = "conflicts";
    let id = parse_id(&c, &id)?;
    let flash = match q.done.as_str() {
        "opened" => Some("conflicts.flash_opened"),
        "signed" => Some("conflicts.flash_signed"),
        "escalated" => Some("conflicts.flash_escalated"),
        "decided" => Some("conflicts.flash_decided"),
        _ => None,
    };
    let page = load_one(&state, &pc.caller, c.clone(), id, flash).await.or_page(&c)?;
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActForm {
    csrf: String,
    award_to: String,
    argued: String,
    note: String,
    reason: String,
}

impl ActForm {
    fn outcome(&self, lang: Lang) -> Result<Outcome, ApiError> {
        let award_to = self.award_to.trim().parse::<i64>().map_err(|_| {
            ApiError::bad_request(
                "invalid_award",
                Text::new("请选择客户判给哪一方", "Choose the party the customer goes to"),
            )
            .in_lang(lang)
        })?;
        Ok(Outcome {
            award_to,
            argued: matches!(self.argued.as_str(), "1" | "on" | "true"),
            note: self.note.clone(),
        })
    }
}

async fn act(state: AppState, pc: PageCaller, id: String, f: ActForm, what: &'static str) -> PageResult {
    let mut c = pc.c.clone();
    c.nav = "conflicts";
    let id = parse_id(&c, &id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&c).into());
    }
    let lang = c.lang;
    let result = match what {
        "escalated" => conflicts::escalate(&state, &pc.caller, id, &f.reason).await,
        "decided" => match f.outcome(lang) {
            Ok(o) => conflicts::decide(&state, &pc.caller, id, o).await,
            Err(e) => Err(e),
        },
        _ => match f.outcome(lang) {
            Ok(o) => conflicts::sign(&state, &pc.caller, id, o).await,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/conflicts/{id}?done={what}"))),
        Err(e) => {
            let mut page = load_one(&state, &pc.caller, c.clone(), id, None).await.or_page(&c)?;
            page.error = Some(ErrorBox::new(&e, lang));
            Ok(render(e.status, &page))
        }
    }
}

/// POST /conflicts/{id}/sign
pub async fn sign(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<ActForm>,
) -> PageResult {
    act(state, pc, id, f, "signed").await
}

/// POST /conflicts/{id}/escalate
pub async fn escalate(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<ActForm>,
) -> PageResult {
    act(state, pc, id, f, "escalated").await
}

/// POST /conflicts/{id}/decide
pub async fn decide(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<ActForm>,
) -> PageResult {
    act(state, pc, id, f, "decided").await
}
