//! The ledger pages: a month's entries with its statements per person and unit, manual entries
//! and reversals by managers (R5.17, R6.1), and one entry with the decision that made it.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use kehu_domain::ledger::{Statement, yuan};
use kehu_domain::policy::Channel;
use kehu_domain::{Lang, Policy};
use kehu_store::ledger::EntryRow;
use kehu_store::ts;
use serde::Deserialize;

use super::customers::{ErrorBox, parse_id};
use super::{Chrome, OrPage, PageCaller, PageResult, csrf_ok, csrf_refused, render, see_other};
use crate::auth::Caller;
use crate::i18n::{lookup, tr};
use crate::ledger::{self as uc, StatementLine};
use crate::{ApiError, AppState};

const LIMIT: i64 = 200;

fn flag_label(flag: &str, lang: Lang) -> String {
    lookup(&format!("ledger.flag.{flag}"), lang)
        .map(str::to_string)
        .unwrap_or_else(|| flag.to_string())
}

fn code_name(policy: &Policy, code: &str, lang: Lang) -> String {
    policy
        .ledger
        .code(code)
        .map(|c| c.name.get(lang).to_string())
        .unwrap_or_else(|| code.to_string())
}

/// The month before or after `period` (`YYYY-MM`, already checked).
fn shift(period: &str, by: i32) -> String {
    let y: i32 = period[..4].parse().unwrap_or(2000);
    let m: i32 = period[5..].parse().unwrap_or(1);
    let n = y * 12 + (m - 1) + by;
    format!("{:04}-{:02}", n.div_euclid(12), n.rem_euclid(12) + 1)
}

struct EntryView {
    id: i64,
    at: String,
    person: String,
    code_name: String,
    rule: String,
    amount: String,
    negative: bool,
    points: i64,
    quantity: i64,
    flag: Option<String>,
    note: String,
    reverses: Option<i64>,
    reversed_by: Option<i64>,
    /// Whether a manager may still reverse it: not a reversal, not reversed.
    reversible: bool,
}

impl EntryView {
    fn new(e: &EntryRow, policy: &Policy, lang: Lang) -> EntryView {
        EntryView {
            id: e.id,
            at: policy.local_time(ts(e.at)),
            person: e.staff_name.clone().unwrap_or_default(),
            code_name: code_name(policy, &e.code, lang),
            rule: e.rule.clone(),
            amount: yuan(e.amount),
            negative: e.amount < 0,
            points: e.points,
            quantity: e.quantity,
            flag: e.flag.as_deref().map(|f| flag_label(f, lang)),
            note: e.note.clone(),
            reverses: e.reverses,
            reversed_by: e.reversed_by,
            reversible: e.reverses.is_none() && e.reversed_by.is_none(),
        }
    }
}

struct LineView {
    name: String,
    entries: u32,
    penalties: String,
    rewards: String,
    points: i64,
    flags: Vec<String>,
}

impl LineView {
    fn new(name: String, s: &Statement, lang: Lang) -> LineView {
        LineView {
            name,
            entries: s.entries,
            penalties: yuan(s.penalties),
            rewards: yuan(s.rewards),
            points: s.points,
            flags: s.flags.iter().map(|f| f.label().get(lang).to_string()).collect(),
        }
    }

    fn of(l: &StatementLine, lang: Lang) -> LineView {
        LineView::new(l.name.clone(), &l.statement, lang)
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct AddForm {
    staff_id: String,
    code: String,
    quantity: String,
    note: String,
    csrf: String,
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage {
    c: Chrome,
    period: String,
    /// This month, when it has no entries and the page shows the latest month that has some.
    empty_month: Option<String>,
    prev: String,
    next: String,
    /// Whether the caller reads everyone's ledger (and sees the staff filter and unit totals).
    reader: bool,
    /// Whether the caller may add and reverse entries.
    manager: bool,
    staff: Vec<(i64, String)>,
    staff_id: Option<i64>,
    entries: Vec<EntryView>,
    people: Vec<LineView>,
    units: Vec<LineView>,
    total: LineView,
    /// Manual codes: value and "name · price" label.
    codes: Vec<(String, String)>,
    f: AddForm,
    /// The entry whose reverse form was refused, with its reason kept.
    reverse_id: i64,
    reverse_reason: String,
    flash: Option<&'static str>,
    error: Option<ErrorBox>,
}

impl LedgerPage {
    /// Whether the staff filter shows this person.
    fn picked(&self, id: &i64) -> bool {
        self.staff_id == Some(*id)
    }
}

async fn load(
    state: &AppState,
    caller: &Caller,
    c: Chrome,
    period: Option<&str>,
    staff_id: Option<i64>,
) -> Result<LedgerPage, ApiError> {
    let lang = c.lang;
    let policy = state.policy(caller.tenant_id).await?;
    // Without a month asked for: this month, or, when it has no entries yet, the latest month
    // that has some.
    let this_month = kehu_domain::ledger::month(&policy, state.now());
    let (mut period, asked) = match period.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => (p.to_string(), true),
        None => (this_month.clone(), false),
    };
    let mut rows = uc::list(state, caller, staff_id, Some(&period), None, LIMIT).await?;
    let mut empty_month = None;
    if rows.is_empty()
        && !asked
        && let Some(latest) = uc::latest_period(state, caller, staff_id).await?
        && latest != period
    {
        empty_month = Some(std::mem::replace(&mut period, latest));
        rows = uc::list(state, caller, staff_id, Some(&period), None, LIMIT).await?;
    }
    let s = uc::statements(state, caller, Some(&period)).await?;
    let reader = uc::reads_others(&policy, caller);
    let manager = policy.may_manage_ledger(&caller.roles);
    let staff = if reader || manager {
        kehu_store::staff::list(&state.db, caller.tenant_id)
            .await?
            .into_iter()
            .filter(|s| s.active)
            .map(|s| (s.id, s.display_name))
            .collect()
    } else {
        Vec::new()
    };
    let codes = policy
        .ledger
        .codes
        .iter()
        .filter(|c| c.manual && c.party == kehu_domain::policy::Party::Staff)
        .map(|c| {
            let mut label = c.name.get(lang).to_string();
            if c.amount != 0 {
                label.push_str(&format!(" · {} {}", yuan(c.amount), tr("ledger.yuan", lang)));
            }
            if c.points != 0 {
                label.push_str(&format!(" · {} {}", c.points, tr("ledger.points_unit", lang)));
            }
            (c.code.clone(), label)
        })
        .collect();
    // A statement filtered to one person when the entries are.
    let people: Vec<LineView> = s
        .people
        .iter()
        .filter(|l| staff_id.is_none() || l.id == staff_id)
        .map(|l| LineView::of(l, lang))
        .collect();
    Ok(LedgerPage {
        empty_month,
        prev: shift(&period, -1),
        next: shift(&period, 1),
        period,
        reader,
        manager,
        staff,
        staff_id,
        entries: rows.iter().map(|e| EntryView::new(e, &policy, lang)).collect(),
        people,
        units: s.units.iter().map(|l| LineView::of(l, lang)).collect(),
        total: LineView::new(tr("ledger.total", lang).to_string(), &s.total, lang),
        codes,
        f: AddForm {
            quantity: "1".into(),
            ..AddForm::default()
        },
        reverse_id: 0,
        reverse_reason: String::new(),
        flash: None,
        error: None,
        c,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    period: String,
    staff_id: String,
    done: String,
}

/// GET /ledger?period=YYYY-MM&staff_id=
pub async fn list(State(state): State<AppState>, mut pc: PageCaller, Query(q): Query<ListQuery>) -> PageResult {
    pc.c.nav = "ledger";
    let staff_id = q.staff_id.trim().parse::<i64>().ok();
    let mut page = load(&state, &pc.caller, pc.c.clone(), Some(&q.period), staff_id)
        .await
        .or_page(&pc.c)?;
    page.flash = match q.done.as_str() {
        "added" => Some("flash.ledger_added"),
        "reversed" => Some("flash.ledger_reversed"),
        _ => None,
    };
    Ok(render(StatusCode::OK, &page))
}

/// POST /ledger: a manager enters a manual code against a staff member (R5.17, R6.1).
pub async fn add(State(state): State<AppState>, mut pc: PageCaller, Form(f): Form<AddForm>) -> PageResult {
    pc.c.nav = "ledger";
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    let lang = pc.c.lang;
    // Unparsable numbers become values the use case refuses, in the page's language.
    let staff_id = f.staff_id.trim().parse::<i64>().unwrap_or(0);
    let quantity = f.quantity.trim().parse::<u32>().unwrap_or(0);
    match uc::add_manual(&state, &pc.caller, staff_id, f.code.trim(), quantity, &f.note).await {
        Ok(row) => Ok(see_other(&format!(
            "/ledger?period={}&done=added#entry-{}",
            row.period, row.id
        ))),
        Err(e) => {
            let mut page = load(&state, &pc.caller, pc.c.clone(), None, None)
                .await
                .or_page(&pc.c)?;
            page.error = Some(ErrorBox::new(&e, lang));
            page.f = AddForm {
                csrf: String::new(),
                ..f
            };
            Ok(render(crate::error::status_of(e.kind), &page))
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReverseForm {
    reason: String,
    csrf: String,
}

/// POST /ledger/{id}/reverse: a manager reverses an entry with a reason; entries are never edited.
pub async fn reverse(
    State(state): State<AppState>,
    mut pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<ReverseForm>,
) -> PageResult {
    pc.c.nav = "ledger";
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    match uc::reverse(&state, &pc.caller, id, &f.reason).await {
        Ok(row) => Ok(see_other(&format!(
            "/ledger?period={}&done=reversed#entry-{}",
            row.period, row.id
        ))),
        Err(e) => {
            let period = uc::get(&state, &pc.caller, id).await.ok().map(|r| r.period);
            let mut page = load(&state, &pc.caller, pc.c.clone(), period.as_deref(), None)
                .await
                .or_page(&pc.c)?;
            page.error = Some(ErrorBox::new(&e, pc.c.lang));
            page.reverse_id = id;
            page.reverse_reason = f.reason;
            Ok(render(crate::error::status_of(e.kind), &page))
        }
    }
}

// ---- One entry -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "ledger_entry.html")]
struct EntryPage {
    c: Chrome,
    e: EntryView,
    kind_label: String,
    period: String,
    customer_id: Option<i64>,
    customer_name: Option<String>,
    entered_by: Option<String>,
    event_seq: i64,
    /// The customer's history the entry's event is in, for roles that may read it.
    history_url: Option<String>,
    decision: Option<String>,
    rule: String,
    policy_version: i64,
    facts: Vec<(String, String)>,
}

/// Facts that name a staff member by ID.
fn is_staff_fact(key: &str) -> bool {
    matches!(
        key,
        "staff_id"
            | "receiver_id"
            | "winner"
            | "charged"
            | "award_to"
            | "loser"
            | "owner_id"
            | "closer_id"
            | "helper_id"
            | "inviter_id"
            | "to"
            | "by"
    ) || key.ends_with("_staff_id")
        || key.ends_with("_by")
}

/// Facts that list staff members by ID.
fn is_staff_list_fact(key: &str) -> bool {
    matches!(key, "managers" | "heads" | "candidates")
}

/// Facts that are an instant: shown in the tenant's local time.
fn is_time_fact(key: &str) -> bool {
    matches!(key, "at" | "due" | "late_until" | "counts_from" | "effective") || key.ends_with("_at")
}

/// Facts that point at another record (a claim, an activity, a ledger entry, a complaint, a
/// conflict, a joint event, the referring customer): shown as `#id`.
fn is_record_fact(key: &str) -> bool {
    matches!(
        key,
        "reverses"
            | "refers_to"
            | "claim_id"
            | "activity_id"
            | "complaint_id"
            | "conflict_id"
            | "event_id"
            | "referrer_id"
            | "unfiled"
    ) || key.ends_with("_claim_id")
}

/// What the facts refer to by ID, by name.
struct Names<'a> {
    staff: &'a HashMap<i64, String>,
    units: &'a HashMap<i64, String>,
    customer: Option<&'a (i64, String)>,
}

/// One fact's value in words: people, units and the customer by name, money, times, periods,
/// channels, sources, ledger codes and roles by the policy's names, record references as `#id`.
fn fact_value(key: &str, v: &serde_json::Value, n: &Names<'_>, policy: &Policy, lang: Lang) -> String {
    use serde_json::Value;
    let list = |items: Vec<String>| items.join(if lang == Lang::Zh { "、" } else { ", " });
    let staff = |id: i64| n.staff.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
    match (key, v) {
        (_, Value::Null) => "—".to_string(),
        (_, Value::Array(items)) if items.is_empty() => "—".to_string(),
        (k, Value::Array(items)) if is_staff_list_fact(k) => {
            list(items.iter().filter_map(Value::as_i64).map(staff).collect())
        }
        (k, Value::Array(items)) if is_record_fact(k) => list(
            items
                .iter()
                .filter_map(Value::as_i64)
                .map(|id| format!("#{id}"))
                .collect(),
        ),
        // Parties and sign-offs: the staff members they name.
        (_, Value::Array(items)) if items.iter().all(|i| i.get("staff_id").is_some()) => {
            list(items.iter().filter_map(|i| i["staff_id"].as_i64()).map(staff).collect())
        }
        (_, Value::Array(items)) => match lang {
            Lang::Zh => format!("{} 项", items.len()),
            Lang::En => format!("{} items", items.len()),
        },
        (k, v) if v.is_i64() && is_staff_fact(k) => staff(v.as_i64().unwrap_or_default()),
        ("customer_id", v) if v.is_i64() => {
            let id = v.as_i64().unwrap_or_default();
            match n.customer {
                Some((cid, name)) if *cid == id => name.clone(),
                _ => format!("#{id}"),
            }
        }
        ("unit_id" | "staff_unit_id", v) if v.is_i64() => {
            let id = v.as_i64().unwrap_or_default();
            n.units.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))
        }
        (k, v) if v.is_i64() && is_record_fact(k) => format!("#{}", v.as_i64().unwrap_or_default()),
        ("channel", Value::String(s)) => Channel::parse(s)
            .map(|ch| ch.label().get(lang).to_string())
            .unwrap_or_else(|| s.clone()),
        (_, Value::Bool(b)) => tr(if *b { "fact.yes" } else { "fact.no" }, lang).to_string(),
        ("amount" | "per", v) if v.is_i64() => {
            format!("{} {}", yuan(v.as_i64().unwrap_or_default()), tr("ledger.yuan", lang))
        }
        ("code" | "penalty", Value::String(s)) => code_name(policy, s, lang),
        ("flag", Value::String(s)) => flag_label(s, lang),
        ("source", Value::String(s)) => policy.source_name(s).get(lang).to_string(),
        ("role", Value::String(s)) => policy.role_name(s).get(lang).to_string(),
        ("session", Value::String(s)) => lookup(&format!("events.{s}"), lang)
            .map(str::to_string)
            .unwrap_or_else(|| s.clone()),
        ("how", Value::String(s)) => lookup(&format!("fact.how.{s}"), lang)
            .map(str::to_string)
            .unwrap_or_else(|| s.clone()),
        ("resolve_within" | "window", Value::String(s)) => kehu_domain::policy::Period::parse(s)
            .map(|p| p.text().get(lang).to_string())
            .unwrap_or_else(|| s.clone()),
        (k, Value::String(s)) if is_time_fact(k) => s
            .parse::<kehu_domain::Timestamp>()
            .map(|t| policy.local_time(t))
            .unwrap_or_else(|_| s.clone()),
        (_, Value::String(s)) if s.is_empty() => "—".to_string(),
        (_, Value::String(s)) => s.clone(),
        (_, v) => v.to_string(),
    }
}

/// A decision's facts as label and value, with staff and the customer named, and money, times,
/// channels and record references readable.
fn readable_facts(facts: &serde_json::Value, n: &Names<'_>, policy: &Policy, lang: Lang) -> Vec<(String, String)> {
    let Some(map) = facts.as_object() else {
        return Vec::new();
    };
    map.iter()
        .map(|(k, v)| {
            // Every fact a ledger decision carries has a label; one of a newer version reads
            // as words, never as a raw key.
            let label = lookup(&format!("fact.{k}"), lang)
                .map(str::to_string)
                .unwrap_or_else(|| k.replace('_', " "));
            (label, fact_value(k, v, n, policy, lang))
        })
        .collect()
}

/// GET /ledger/{id}
pub async fn entry(State(state): State<AppState>, mut pc: PageCaller, Path(id): Path<String>) -> PageResult {
    pc.c.nav = "ledger";
    let lang = pc.c.lang;
    let id = parse_id(&pc.c, &id)?;
    let policy = state.policy(pc.caller.tenant_id).await.or_page(&pc.c)?;
    let row = uc::get(&state, &pc.caller, id).await.or_page(&pc.c)?;
    let names: HashMap<i64, String> = kehu_store::staff::list(&state.db, pc.caller.tenant_id)
        .await
        .or_page(&pc.c)?
        .into_iter()
        .map(|s| (s.id, s.display_name))
        .collect();
    let units: HashMap<i64, String> = kehu_store::units::list(&state.db, pc.caller.tenant_id)
        .await
        .or_page(&pc.c)?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    // The customer by name, where the entry is about one; a customer gone from view keeps its number.
    let customer = match row.customer_id {
        Some(cid) => kehu_store::customers::get(&state.db, pc.caller.tenant_id, cid)
            .await
            .ok()
            .map(|c| (cid, c.name)),
        None => None,
    };
    let d = row.decision();
    let page = EntryPage {
        e: EntryView::new(&row, &policy, lang),
        // A reversal is not a fine of its own: its badge names the entry it reverses.
        kind_label: match row.reverses {
            Some(r) => match lang {
                Lang::Zh => format!("冲销 #{r}"),
                Lang::En => format!("Reversal of #{r}"),
            },
            None => lookup(&format!("ledger.kind.{}", row.kind), lang)
                .map(str::to_string)
                .unwrap_or_else(|| row.kind.clone()),
        },
        history_url: row
            .customer_id
            .filter(|_| pc.caller.may(&policy, kehu_domain::Permission::HistoryRead))
            .map(|cid| format!("/customers/{cid}#history")),
        period: row.period.clone(),
        customer_id: row.customer_id,
        customer_name: customer.as_ref().map(|(_, n)| n.clone()),
        entered_by: row.created_by.and_then(|b| names.get(&b).cloned()),
        event_seq: row.event_seq,
        decision: d.as_ref().map(|d| d.text.get(lang).to_string()),
        rule: d
            .as_ref()
            .map(|d| d.rule.to_string())
            .unwrap_or_else(|| row.rule.clone()),
        policy_version: d
            .as_ref()
            .map(|d| i64::from(d.policy_version))
            .unwrap_or(row.policy_version),
        facts: d
            .as_ref()
            .map(|d| {
                let n = Names {
                    staff: &names,
                    units: &units,
                    customer: customer.as_ref(),
                };
                readable_facts(&d.facts, &n, &policy, lang)
            })
            .unwrap_or_default(),
        c: pc.c,
    };
    Ok(render(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_name_people_and_show_local_times() {
        let src = include_str!("../../../../presets/car-dealership.toml");
        let policy = Policy::parse(src, "car-dealership.toml").unwrap();
        let names = HashMap::from([(8, "张伟".to_string()), (9, "刘洋".to_string())]);
        let facts = serde_json::json!({
            "lapsed_staff_id": 8,
            "duplicate_staff_id": 9,
            "lapsed_at": "2026-11-25T23:17:21.191Z",
            "lapsed_claim_id": 158,
            "customer_id": 176,
            "channel": "sms",
        });
        let customer = (176, "司马娟".to_string());
        let units = HashMap::new();
        let n = Names {
            staff: &names,
            units: &units,
            customer: Some(&customer),
        };
        let got: HashMap<String, String> = readable_facts(&facts, &n, &policy, Lang::Zh).into_iter().collect();
        assert_eq!(got["原登记人"], "张伟");
        assert_eq!(got["重复登记人"], "刘洋");
        assert_eq!(got["作废的登记"], "#158");
        assert_eq!(got["客户"], "司马娟");
        assert_eq!(got["方式"], "短信");
        let local = policy.local_time("2026-11-25T23:17:21.191Z".parse().unwrap());
        assert_eq!(got["作废时间"], local);
        assert!(!local.contains('T'), "{local}");
    }

    #[test]
    fn months_shift_across_years() {
        assert_eq!(shift("2026-01", -1), "2025-12");
        assert_eq!(shift("2026-12", 1), "2027-01");
        assert_eq!(shift("2026-05", 1), "2026-06");
    }
}
