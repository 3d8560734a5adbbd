//! The joint-event pages (联合会议, R11.3): the events with each division's cut-off, an
//! organiser's form to schedule one, and an event's page where each division's invitations show
//! whether they were filed, are due (with the time left) or were late, with the head's filing
//! button, and whether the customer came, with the check-in button on the event's day (R11.2).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use kehu_domain::claim::ClaimStatus;
use kehu_domain::event::Session;
use kehu_domain::{Lang, Policy, Text, Timestamp};
use kehu_store::ts;
use serde::Deserialize;

use super::claims::{Left, time_left};
use super::customers::{ErrorBox, parse_id};
use super::{Chrome, OrPage, PageCaller, PageResult, csrf_ok, csrf_refused, render, see_other};
use crate::auth::Caller;
use crate::events::{self, Schedule};
use crate::{ApiError, AppState, Failure};

struct DivisionLine {
    name: String,
    closes: String,
}

struct EventLine {
    id: i64,
    name: String,
    starts: String,
    session: String,
    upcoming: bool,
    divisions: Vec<DivisionLine>,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    c: Chrome,
    rule: String,
    /// The rule in words: the daily and event-day cut-offs.
    terms: Vec<String>,
    events: Vec<EventLine>,
    may_schedule: bool,
    /// Who schedules events, for the empty list's hint (the policy's organisers).
    empty_hint: String,
    /// The units to choose divisions from: (id, name).
    units: Vec<(i64, String)>,
    f: ScheduleForm,
    error: Option<ErrorBox>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ScheduleForm {
    pub csrf: String,
    pub name: String,
    /// `datetime-local` in the tenant's zone: `2027-03-08T14:00`.
    pub starts_at: String,
    pub session: String,
    pub division1: String,
    pub division2: String,
    pub division3: String,
}

fn terms(policy: &Policy, lang: Lang) -> Vec<String> {
    let Some(r) = &policy.events else {
        return Vec::new();
    };
    let w = r.window.text();
    let mut out = vec![
        Text::new(
            format!(
                "会前 {} 内，各部门负责人每天 {} 前报送当天确认的邀约；{} 以后确认的算作第二天",
                w.zh, r.daily_cutoff, r.daily_cutoff
            ),
            format!(
                "In the {} before an event, each division head files the day's confirmed invitations by {}; later ones count as the next day's",
                w.en, r.daily_cutoff
            ),
        ),
        Text::new(
            format!(
                "会议当天：下午场 {} 前、晚场 {} 前报送，之后不再接受邀约",
                r.afternoon_cutoff, r.evening_cutoff
            ),
            format!(
                "On the event day: by {} for an afternoon event, {} for an evening one; no invitations after that",
                r.afternoon_cutoff, r.evening_cutoff
            ),
        ),
        Text::new(
            "迟报的部门：另一部门期间邀约并确认的客户判归另一部门，并罚部门负责人",
            "A division filing late loses a customer the other division confirms meanwhile, and its head is fined",
        ),
        {
            let who = policy.roles_text(&r.attendance.roles);
            Text::new(
                format!("会议当天由{}为到会的受邀顾客签到（{}）", who.zh, r.attendance.rule),
                format!(
                    "On the event day a {} checks invited customers in ({})",
                    who.en.to_lowercase(),
                    r.attendance.rule
                ),
            )
        },
    ];
    if let Some(lead) = r.lead {
        let t = lead.text();
        out.insert(
            2,
            Text::new(
                format!("第一个举办部门比第二个提前 {} 截止邀约", t.zh),
                format!("The first division closes its invitations {} ahead of the second", t.en),
            ),
        );
    }
    out.into_iter().map(|t| t.get(lang).to_string()).collect()
}

fn session_label(s: &str, lang: Lang) -> String {
    Session::parse(s)
        .map(|s| s.label().get(lang).to_string())
        .unwrap_or_default()
}

async fn load(state: &AppState, caller: &Caller, c: Chrome, f: ScheduleForm) -> Result<EventsPage, ApiError> {
    let lang = c.lang;
    let policy = state.policy(caller.tenant_id).await?;
    let list = events::list(state, caller).await?;
    let rules = kehu_domain::event::rules(&policy).map_err(ApiError::refused)?;
    let now = state.now();
    let events = list
        .iter()
        .map(|(row, facts)| EventLine {
            id: row.id,
            name: row.name.clone(),
            starts: policy.local_time(facts.starts_at),
            session: session_label(&row.session, lang),
            upcoming: facts.starts_at > now,
            divisions: facts
                .divisions
                .iter()
                .enumerate()
                .map(|(pos, d)| DivisionLine {
                    name: d.name.clone(),
                    closes: policy.local_time(kehu_domain::event::closes_at(&policy, rules, facts, pos)),
                })
                .collect(),
        })
        .collect();
    let units = kehu_store::units::list(&state.db, caller.tenant_id)
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    Ok(EventsPage {
        rule: rules.rule.to_string(),
        terms: terms(&policy, lang),
        events,
        may_schedule: Policy::holds_any(&caller.roles, &rules.organisers),
        empty_hint: {
            let who = policy.roles_text(&rules.organisers);
            Text::new(
                format!("{}安排会议后，邀约时可选择该会议。", who.zh),
                format!(
                    "Once a {} schedules one, invitations can name it.",
                    who.en.to_lowercase()
                ),
            )
            .get(lang)
            .to_string()
        },
        units,
        f,
        error: None,
        c,
    })
}

/// GET /events
pub async fn list(State(state): State<AppState>, pc: PageCaller) -> PageResult {
    let mut c = pc.c.clone();
    c.nav = "events";
    let page = load(&state, &pc.caller, c.clone(), ScheduleForm::default())
        .await
        .or_page(&c)?;
    Ok(render(StatusCode::OK, &page))
}

fn parse_local(policy: &Policy, s: &str) -> Option<Timestamp> {
    let dt: jiff::civil::DateTime = s.trim().parse().ok()?;
    dt.to_zoned(policy.tz.clone()).ok().map(|z| z.timestamp())
}

/// POST /events
pub async fn schedule(State(state): State<AppState>, pc: PageCaller, Form(f): Form<ScheduleForm>) -> PageResult {
    let mut c = pc.c.clone();
    c.nav = "events";
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&c).into());
    }
    let lang = c.lang;
    let policy = state.policy(pc.caller.tenant_id).await.or_page(&c)?;
    let mut divisions = Vec::new();
    for d in [&f.division1, &f.division2, &f.division3] {
        if let Ok(id) = d.trim().parse::<i64>() {
            divisions.push(id);
        }
    }
    let result = match (parse_local(&policy, &f.starts_at), Session::parse(&f.session)) {
        (None, _) => Err(Failure::invalid(
            "invalid_time",
            Text::new("请填写会议的日期和时间", "Give the event's date and time"),
        )),
        (_, None) => Err(Failure::invalid(
            "invalid_session",
            Text::new("请选择下午场或晚场", "Choose afternoon or evening"),
        )),
        (Some(starts_at), Some(session)) => {
            events::create(
                &state,
                &pc.caller,
                Schedule {
                    name: &f.name,
                    starts_at,
                    session,
                    division_ids: &divisions,
                },
            )
            .await
        }
    };
    match result {
        Ok(row) => Ok(see_other(&format!("/events/{}?done=scheduled", row.id))),
        Err(e) => {
            let mut page = load(&state, &pc.caller, c.clone(), f).await.or_page(&c)?;
            page.error = Some(ErrorBox::new(&e, lang));
            Ok(render(crate::error::status_of(e.kind), &page))
        }
    }
}

struct InvitationLine {
    customer_id: i64,
    customer: String,
    staff: String,
    confirmed: String,
    /// `filed`, `due`, `late`, `lost` or `pending`.
    state: &'static str,
    state_label: String,
    /// The filing time, or the time left before the cut-off.
    when: String,
    left: Option<Left>,
    /// The inviter may let a helper help with this customer at the event (R11.5).
    may_consent: bool,
    /// When the customer was checked in at the event (R11.2).
    attended: Option<String>,
    /// The caller may check the customer in now.
    may_check_in: bool,
}

struct DivisionBlock {
    name: String,
    closes: String,
    closes_left: Option<Left>,
    invitations: Vec<InvitationLine>,
    /// Whether the caller files for this division and something waits to be filed.
    may_file: bool,
    waiting: usize,
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    c: Chrome,
    id: i64,
    name: String,
    starts: String,
    session: String,
    rule: String,
    divisions: Vec<DivisionBlock>,
    /// Staff an inviter may let help (R11.5): (id, name); empty without the rule.
    helpers: Vec<(i64, String)>,
    flash: Option<&'static str>,
    error: Option<ErrorBox>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EventQuery {
    done: String,
}

fn state_of(
    policy: &Policy,
    row: &kehu_store::claims::ClaimRow,
    now: Timestamp,
    lang: Lang,
) -> (&'static str, String, String, Option<Left>) {
    let label = |zh: &str, en: &str| Text::new(zh, en).get(lang).to_string();
    if row.status() == ClaimStatus::Pending {
        return ("pending", label("待确认", "Awaiting confirmation"), String::new(), None);
    }
    if row.ended_rule.as_deref() == policy.events.as_ref().map(|r| r.rule.as_str()) {
        return (
            "lost",
            label("已判归其他部门", "Lost to the other division"),
            String::new(),
            None,
        );
    }
    if !row.status().is_active() {
        return ("ended", row.status().label().get(lang).to_string(), String::new(), None);
    }
    match (row.filed_at, row.filing_due) {
        (Some(filed), Some(due)) if filed > due => {
            ("late", label("迟报", "Filed late"), policy.local_time(ts(filed)), None)
        }
        (Some(filed), _) => ("filed", label("已报送", "Filed"), policy.local_time(ts(filed)), None),
        (None, Some(due)) if ts(due) <= now => (
            "late",
            label("未按时报送", "Not filed in time"),
            policy.local_time(ts(due)),
            Some(time_left(now, ts(due), lang)),
        ),
        (None, Some(due)) => (
            "due",
            label("待报送", "To be filed"),
            policy.local_time(ts(due)),
            Some(time_left(now, ts(due), lang)),
        ),
        (None, None) => ("pending", label("待确认", "Awaiting confirmation"), String::new(), None),
    }
}

async fn load_event(
    state: &AppState,
    caller: &Caller,
    c: Chrome,
    id: i64,
    flash: Option<&'static str>,
) -> Result<EventPage, ApiError> {
    let lang = c.lang;
    let policy = state.policy(caller.tenant_id).await?;
    let v = events::get(state, caller, id).await?;
    let now = state.now();
    let filers = policy.events.as_ref().map(|r| r.filers.clone()).unwrap_or_default();
    let files = Policy::holds_any(&caller.roles, &filers);
    let consents = policy.sales.as_ref().is_some_and(|s| s.at_events.is_some());
    let helpers: Vec<(i64, String)> = if consents {
        kehu_store::staff::list(&state.db, caller.tenant_id)
            .await?
            .into_iter()
            .filter(|s| s.active && s.id != caller.id() && s.username != "admin")
            .map(|s| (s.id, s.display_name))
            .collect()
    } else {
        Vec::new()
    };
    // R11.2: who was checked in, and whether the caller checks customers in (on the event's day).
    let attendance = events::attendance(state, caller, id).await?;
    let event_day = v.facts.starts_at.to_zoned(policy.tz.clone()).date() <= now.to_zoned(policy.tz.clone()).date();
    let checks_in = events::may_check_in(&policy, caller) && event_day;
    let divisions = v
        .divisions
        .iter()
        .map(|d| {
            let invitations: Vec<InvitationLine> = d
                .invitations
                .iter()
                .map(|row| {
                    let (state, state_label, when, left) = state_of(&policy, row, now, lang);
                    let attended = attendance
                        .iter()
                        .find(|a| a.customer_id == row.customer_id && a.claim_id == Some(row.id))
                        .map(|a| policy.local_time(ts(a.checked_in_at)));
                    let standing = row.status() == ClaimStatus::Valid && row.filing_due.is_some();
                    InvitationLine {
                        may_check_in: checks_in && standing && attended.is_none(),
                        attended,
                        customer_id: row.customer_id,
                        customer: row.customer_name.clone(),
                        staff: row.staff_name.clone(),
                        confirmed: row.confirmed_at.map(|t| policy.local_time(ts(t))).unwrap_or_default(),
                        state,
                        state_label,
                        when,
                        left,
                        may_consent: consents && row.staff_id == caller.id() && row.status() == ClaimStatus::Valid,
                    }
                })
                .collect();
            let waiting = invitations
                .iter()
                .filter(|i| matches!(i.state, "due" | "late") && i.left.is_some())
                .count();
            DivisionBlock {
                name: d.division.name.clone(),
                closes: policy.local_time(d.closes_at),
                closes_left: (d.closes_at > now).then(|| time_left(now, d.closes_at, lang)),
                may_file: files && caller.staff.unit_id == Some(d.division.unit_id) && waiting > 0,
                waiting,
                invitations,
            }
        })
        .collect();
    Ok(EventPage {
        id,
        name: v.row.name.clone(),
        starts: policy.local_time(v.facts.starts_at),
        session: session_label(&v.row.session, lang),
        rule: policy.events.as_ref().map(|r| r.rule.to_string()).unwrap_or_default(),
        divisions,
        helpers,
        flash,
        error: None,
        c,
    })
}

/// GET /events/{id}
pub async fn detail(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Query(q): Query<EventQuery>,
) -> PageResult {
    let mut c = pc.c.clone();
    c.nav = "events";
    let id = parse_id(&c, &id)?;
    let flash = match q.done.as_str() {
        "scheduled" => Some("events.flash_scheduled"),
        "filed" => Some("events.flash_filed"),
        "consent" => Some("events.flash_consent"),
        "checked_in" => Some("events.flash_checked_in"),
        _ => None,
    };
    let page = load_event(&state, &pc.caller, c.clone(), id, flash).await.or_page(&c)?;
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// POST /events/{id}/filings
pub async fn file(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    let mut c = pc.c.clone();
    c.nav = "events";
    let id = parse_id(&c, &id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&c).into());
    }
    match events::file(&state, &pc.caller, id).await {
        Ok(_) => Ok(see_other(&format!("/events/{id}?done=filed"))),
        Err(e) => {
            let mut page = load_event(&state, &pc.caller, c.clone(), id, None).await.or_page(&c)?;
            page.error = Some(ErrorBox::new(&e, c.lang));
            Ok(render(crate::error::status_of(e.kind), &page))
        }
    }
}

#[derive(Deserialize)]
pub struct CheckInForm {
    csrf: String,
    customer_id: String,
}

/// POST /events/{id}/attendance: checks an invited customer in (R11.2).
pub async fn check_in(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<CheckInForm>,
) -> PageResult {
    let mut c = pc.c.clone();
    c.nav = "events";
    let id = parse_id(&c, &id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&c).into());
    }
    let customer = parse_id(&c, &f.customer_id)?;
    match events::check_in(&state, &pc.caller, id, customer).await {
        Ok(_) => Ok(see_other(&format!("/events/{id}?done=checked_in"))),
        Err(e) => {
            let mut page = load_event(&state, &pc.caller, c.clone(), id, None).await.or_page(&c)?;
            page.error = Some(ErrorBox::new(&e, c.lang));
            Ok(render(crate::error::status_of(e.kind), &page))
        }
    }
}
