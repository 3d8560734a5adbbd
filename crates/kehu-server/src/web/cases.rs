//! The case pages (issue 10): one set of templates for every workflow of every policy. The list
//! of cases with its filters; a case's page (its state on a diagram of the workflow drawn on the
//! server, its fields and completeness, what it waits for and why, its timers, every step with
//! its decision, and a form for each action the caller may take now); and the form that opens a
//! case, built from the workflow's field types. The pages call `crate::cases` as the API does.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use kehu_domain::workflow::{self, FieldDef, FieldKind, Signoff, Workflow};
use kehu_domain::{Lang, Policy, Text, Timestamp};
use kehu_store::cases::Filter;
use kehu_store::ts;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::claims::{Left, time_left};
use super::customers::{ErrorBox, parse_id};
use super::{Chrome, OrPage, PageCaller, PageResult, csrf_ok, csrf_refused, render, see_other};
use crate::cases::{self, CaseView};
use crate::{ApiError, AppState, Failure};

const LIMIT: i64 = 100;

// ---- What the pages show ---------------------------------------------------------------------

/// A case in a list.
pub struct CaseLine {
    pub id: i64,
    pub workflow: String,
    pub customer: Option<(i64, String)>,
    pub state: String,
    /// `pending` while someone may still act on it, `done` when nothing waits.
    pub tone: &'static str,
    pub overdue: bool,
    /// Who it waits on, in the policy's role names.
    pub waiting: String,
    /// The earliest timer still to fall due.
    pub next: Option<(String, Left)>,
    pub updated: String,
}

impl CaseLine {
    pub fn new(v: &CaseView, policy: &Policy, now: Timestamp, lang: Lang) -> CaseLine {
        let r = &v.row;
        let wf = policy.workflow(&r.workflow);
        let waiting = wf.map(|w| waiting_words(policy, w, v, lang)).unwrap_or_default();
        CaseLine {
            id: r.id,
            workflow: wf
                .map(|w| w.name.get(lang).to_string())
                .unwrap_or_else(|| r.workflow.clone()),
            customer: r
                .customer_id
                .map(|id| (id, r.customer_name.clone().unwrap_or_default())),
            state: state_name(wf, &r.state, lang),
            tone: if waiting.is_empty() { "done" } else { "pending" },
            overdue: r.overdue_since.is_some(),
            waiting,
            next: v.timers.first().map(|d| {
                let id = CaseView::timer_id(d);
                let name = wf
                    .and_then(|w| w.timer(id))
                    .map(|t| t.name.get(lang).to_string())
                    .unwrap_or_else(|| id.to_string());
                (name, time_left(now, ts(d.due_at), lang))
            }),
            updated: policy.local_time(ts(r.updated_at)),
        }
    }
}

fn state_name(wf: Option<&Workflow>, id: &str, lang: Lang) -> String {
    wf.and_then(|w| w.state(id))
        .map(|s| s.name.get(lang).to_string())
        .unwrap_or_else(|| id.to_string())
}

/// A role of `wf`'s actions in words: a relation seat as the workflow words it (R11.6:
/// 「当事人乙」所在部门的负责人), any other role by the policy's name for it.
fn role_word(policy: &Policy, wf: &Workflow, r: &str, lang: Lang) -> String {
    if kehu_domain::workflow::is_relation(r) {
        wf.roles_text(&[r]).get(lang).to_string()
    } else {
        policy.role_name(r).get(lang).to_string()
    }
}

/// "批准（销售经理、总经理）；使用复核（案件开启人）".
fn waiting_words(policy: &Policy, wf: &Workflow, v: &CaseView, lang: Lang) -> String {
    v.waiting_on(wf)
        .iter()
        .filter(|w| !w.roles.is_empty())
        .map(|w| {
            let name = wf
                .action(&w.action)
                .map(|a| a.name.get(lang).to_string())
                .unwrap_or_else(|| w.action.clone());
            let roles: Vec<String> = w.roles.iter().map(|r| role_word(policy, wf, r, lang)).collect();
            match lang {
                Lang::Zh => format!("{name}（{}）", roles.join("、")),
                Lang::En => format!("{name} ({})", roles.join(", ")),
            }
        })
        .collect::<Vec<_>>()
        .join(if lang == Lang::Zh { "；" } else { "; " })
}

/// A form input for a field of the workflow.
pub struct Input {
    pub id: String,
    pub name: String,
    /// `text`, `number`, `money`, `bool` or `choice`.
    pub kind: &'static str,
    pub required: bool,
    pub value: String,
    pub checked: bool,
    /// A choice's values.
    pub of: Vec<String>,
    /// Values to suggest for a text input (a budget's lines, for spending on one).
    pub suggest: Vec<String>,
    /// For a staff field: (id, name) of the tenant's active staff.
    pub people: Vec<(String, String)>,
}

impl Input {
    fn new(f: &FieldDef, lang: Lang, value: &str, required: bool) -> Input {
        Input {
            id: f.id.clone(),
            name: f.name.get(lang).to_string(),
            kind: f.kind.name(),
            required,
            value: value.to_string(),
            checked: value == "on" || value == "true",
            of: f.kind.values().to_vec(),
            suggest: Vec::new(),
            people: Vec::new(),
        }
    }
}

/// A field and its value as the case page shows it.
pub struct FieldLine {
    pub name: String,
    pub value: Option<String>,
}

/// A step on the case's timeline.
pub struct StepLine {
    pub name: String,
    /// Who took it; `None`: a timer.
    pub who: Option<String>,
    pub role: Option<String>,
    pub from: Option<String>,
    pub to: String,
    pub note: Option<String>,
    pub at: String,
    pub rule: String,
    pub decision: String,
}

/// A form for an action the caller may take now.
pub struct ActionForm {
    pub id: String,
    pub name: String,
    pub rule: String,
    pub to: Option<String>,
    pub note_required: bool,
    pub inputs: Vec<Input>,
    /// The statement whoever takes it confirms (R2.5), in the reader's language.
    pub attest: Option<String>,
    /// The conditions it needs, in words.
    pub needs: Option<String>,
    /// A sign-off by several roles: who has signed and who is still to sign.
    pub signoff: Option<String>,
    /// The checklists it answers.
    pub checklists: Vec<AnswerGroup>,
    pub primary: bool,
}

/// A checklist on the case page: each item with its answer, and where it stands.
pub struct ChecklistView {
    pub id: String,
    pub name: String,
    pub rule: String,
    /// (item name, answer in words, `yes` / `no` / `unclear` / empty).
    pub items: Vec<(String, String, String)>,
    pub summary: String,
    pub passed: bool,
}

/// A checklist an action answers: its items with the answer the case holds (or the one just
/// posted), as radio groups.
pub struct AnswerGroup {
    pub name: String,
    /// (item id, item name, current answer).
    pub items: Vec<(String, String, String)>,
}

fn answer_words(answer: &str, lang: Lang) -> String {
    crate::i18n::tr(
        match answer {
            "yes" => "cases.answer_yes",
            "no" => "cases.answer_no",
            "unclear" => "cases.answer_unclear",
            _ => "cases.unanswered",
        },
        lang,
    )
    .to_string()
}

/// A case's budget on its page: each line with what it allows and what was spent (R12.7).
pub struct BudgetCard {
    pub name: String,
    pub rule: String,
    pub filed: bool,
    /// (line, budget, spent, share of the budget spent in %, over the budget).
    pub lines: Vec<(String, String, String, i64, bool)>,
    pub budget: String,
    pub spent: String,
    /// "取得实质性进展前支出合计上限 30000.00 元，尚余 …", while the cap applies.
    pub cap: Option<String>,
}

impl BudgetCard {
    fn new(wf: &Workflow, report: workflow::BudgetReport, lang: Lang) -> Option<BudgetCard> {
        let b = wf.budget.as_ref()?;
        let y = kehu_domain::ledger::yuan;
        Some(BudgetCard {
            name: b.name.get(lang).to_string(),
            rule: b.rule.to_string(),
            filed: report.filed,
            lines: report
                .lines
                .iter()
                .map(|l| {
                    let pct = if l.budget > 0 { l.spent * 100 / l.budget } else if l.spent > 0 { 100 } else { 0 };
                    (l.line.clone(), y(l.budget), y(l.spent), pct, l.spent > l.budget)
                })
                .collect(),
            budget: y(report.budget),
            spent: y(report.spent),
            cap: report.cap.map(|cap| match lang {
                Lang::Zh => format!(
                    "取得实质性进展前，支出合计上限 {} 元，尚余 {} 元；单项最多超出预算 {}%",
                    y(cap),
                    y((cap - report.spent).max(0)),
                    b.tolerance_percent
                ),
                Lang::En => format!(
                    "Until substantive progress, spending is capped at {} yuan in all, {} left; a line may pass its budget by {}%",
                    y(cap),
                    y((cap - report.spent).max(0)),
                    b.tolerance_percent
                ),
            }),
        })
    }
}

/// A timer still to fall due.
pub struct TimerLine {
    pub name: String,
    pub rule: String,
    pub due: String,
    pub left: Left,
}

// ---- The diagram ---------------------------------------------------------------------------

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The width a label takes at the diagram's font size (CJK characters are about twice as wide).
fn text_width(s: &str) -> i64 {
    s.chars().map(|c| if (c as u32) >= 0x2E80 { 14 } else { 8 }).sum()
}

/// The workflow as an SVG drawing: its states left to right in the order the policy lists them,
/// an arrow for each way from one state to another (actions solid, timers dashed, forward above,
/// back below), the current state filled and the states the case has been in outlined. Drawn on
/// the server, so it needs no script and prints as it shows.
pub fn diagram(wf: &Workflow, current: &str, visited: &[String], lang: Lang) -> String {
    const H: i64 = 36;
    const GAP: i64 = 56;
    let names: Vec<String> = wf.states.iter().map(|s| s.name.get(lang).to_string()).collect();
    let widths: Vec<i64> = names.iter().map(|n| (text_width(n) + 28).max(72)).collect();
    let mut xs = Vec::with_capacity(widths.len());
    let mut x = 8;
    for w in &widths {
        xs.push(x);
        x += w + GAP;
    }
    let width = x - GAP + 8;
    let index = |id: &str| wf.states.iter().position(|s| s.id == id);
    // Every way between two different states, with the names of what takes it.
    let mut edges: Vec<(usize, usize, bool, Vec<String>)> = Vec::new();
    let mut add = |from: usize, to: usize, timed: bool, name: String| {
        if let Some(e) = edges.iter_mut().find(|e| e.0 == from && e.1 == to && e.2 == timed) {
            e.3.push(name);
        } else {
            edges.push((from, to, timed, vec![name]));
        }
    };
    for a in &wf.actions {
        for to in a.targets().filter_map(|t| index(t)) {
            for from in a.from.iter().filter_map(|f| index(f)).filter(|f| *f != to) {
                add(from, to, false, a.name.get(lang).to_string());
            }
        }
    }
    for t in &wf.timers {
        if let Some(to) = t.to.as_deref().and_then(index) {
            for from in t.states.iter().filter_map(|f| index(f)).filter(|f| *f != to) {
                add(from, to, true, t.name.get(lang).to_string());
            }
        }
    }
    let span = |e: &(usize, usize, bool, Vec<String>)| e.0.abs_diff(e.1) as i64;
    let arc = |n: i64| 14 + 16 * n;
    let above = edges
        .iter()
        .filter(|e| e.0 < e.1 && span(e) > 1)
        .map(|e| arc(span(e)))
        .max()
        .unwrap_or(0);
    let below = edges
        .iter()
        .filter(|e| e.0 > e.1)
        .map(|e| arc(span(e)))
        .max()
        .unwrap_or(0);
    let top = above + 10;
    let height = top + H + below + 10;
    let mut out = format!(
        "<svg class=\"wf-diagram\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" \
         role=\"img\" aria-labelledby=\"wf-diagram-title\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"wf-diagram-title\">{}</title>\
         <defs><marker id=\"wf-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" \
         orient=\"auto-start-reverse\"><path class=\"wf-arrowhead\" d=\"M 0 0 L 10 5 L 0 10 z\"/></marker></defs>",
        esc(&match lang {
            Lang::Zh => format!(
                "「{}」流程图，当前：{}",
                wf.name.zh,
                state_name(Some(wf), current, lang)
            ),
            Lang::En => format!(
                "The “{}” workflow; now: {}",
                wf.name.en,
                state_name(Some(wf), current, lang)
            ),
        })
    );
    let mid = top + H / 2;
    for e in &edges {
        let (from, to, timed, names) = e;
        let (fx, fw, tx, tw) = (xs[*from], widths[*from], xs[*to], widths[*to]);
        let d = if *to == from + 1 {
            format!("M {} {mid} L {} {mid}", fx + fw, tx - 2)
        } else if to > from {
            let (x1, x2) = (fx + fw / 2 + 6, tx + tw / 2 - 6);
            let y = top - arc(span(e));
            format!("M {x1} {top} C {x1} {y} {x2} {y} {x2} {}", top - 2)
        } else {
            let (x1, x2) = (fx + fw / 2 - 6, tx + tw / 2 + 6);
            let y = top + H + arc(span(e));
            format!("M {x1} {} C {x1} {y} {x2} {y} {x2} {}", top + H, top + H + 2)
        };
        out.push_str(&format!(
            "<path class=\"wf-edge{}\" d=\"{d}\" marker-end=\"url(#wf-arrow)\"><title>{}</title></path>",
            if *timed { " wf-timed" } else { "" },
            esc(&names.join(" / "))
        ));
    }
    for (i, s) in wf.states.iter().enumerate() {
        let class = if s.id == current {
            "wf-node wf-current"
        } else if visited.contains(&s.id) {
            "wf-node wf-visited"
        } else {
            "wf-node"
        };
        out.push_str(&format!(
            "<g class=\"{class}\" data-state=\"{}\"{}><rect x=\"{}\" y=\"{top}\" width=\"{}\" height=\"{H}\" rx=\"8\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>",
            esc(&s.id),
            if s.id == current { " aria-current=\"step\"" } else { "" },
            xs[i],
            widths[i],
            xs[i] + widths[i] / 2,
            mid + 5,
            esc(&names[i])
        ));
    }
    out.push_str("</svg>");
    out
}

// ---- Reading a form ------------------------------------------------------------------------

/// An amount in yuan as written in a form ("80000", "80,000.5", "¥1 000.25"), in fen.
pub fn parse_yuan(s: &str) -> Option<i64> {
    let t: String = s
        .trim()
        .trim_start_matches(['¥', '￥'])
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' '))
        .collect();
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 2 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fen = format!("{frac:0<2}").parse::<i64>().ok()?;
    whole.parse::<i64>().ok()?.checked_mul(100)?.checked_add(fen)
}

/// The fields a form posted (`f.ID`) typed by the workflow: empty inputs are left out, money is
/// read in yuan, a checkbox is true when ticked. What cannot be read is refused in the page's
/// language before anything is decided.
fn posted_fields(
    wf: &Workflow,
    form: &[(String, String)],
    settable: &dyn Fn(&FieldDef) -> bool,
) -> Result<Map<String, Value>, Failure> {
    let mut out = Map::new();
    for f in wf.fields.iter().filter(|f| settable(f)) {
        let raw = form
            .iter()
            .find(|(k, _)| k.strip_prefix("f.") == Some(f.id.as_str()))
            .map(|(_, v)| v.trim());
        let value = match (&f.kind, raw) {
            (FieldKind::Bool, raw) => Value::Bool(matches!(raw, Some("on" | "true"))),
            (_, None | Some("")) => continue,
            (FieldKind::Money, Some(v)) => match parse_yuan(v) {
                Some(fen) => Value::from(fen),
                None => {
                    return Err(Failure::invalid(
                        "invalid_field",
                        Text::new(
                            format!("「{}」应为金额（元），例如 80000 或 80000.50", f.name.zh),
                            format!("“{}” must be an amount in yuan, such as 80000 or 80000.50", f.name.en),
                        ),
                    ));
                }
            },
            (FieldKind::Amounts, Some(v)) => Value::Object(parse_amounts(v).ok_or_else(|| {
                Failure::invalid(
                    "invalid_field",
                    Text::new(
                        format!("「{}」每行写一项：名目和金额（元），例如：差旅费 5000", f.name.zh),
                        format!(
                            "“{}” takes one line each: a name and an amount in yuan, such as: travel 5000",
                            f.name.en
                        ),
                    ),
                )
            })?),
            (FieldKind::Number | FieldKind::Staff, Some(v)) => match v.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    return Err(Failure::invalid(
                        "invalid_field",
                        Text::new(
                            format!("「{}」应为整数", f.name.zh),
                            format!("“{}” must be a whole number", f.name.en),
                        ),
                    ));
                }
            },
            (_, Some(v)) => Value::from(v.to_string()),
        };
        out.insert(f.id.clone(), value);
    }
    Ok(out)
}

/// Named amounts as a form's text area holds them, one per line: a name, then an amount in
/// yuan (`差旅费 5000`, `样品费：1,200.50`). Blank lines are skipped; a line that cannot be read,
/// or a name given twice, fails the whole.
pub fn parse_amounts(s: &str) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for raw in s.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let cut = raw.rfind(|c: char| c.is_whitespace() || matches!(c, ':' | '：' | '='))?;
        let name = raw[..cut].trim().trim_end_matches([':', '：', '=']).trim();
        let amount = raw[cut..].trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '：' | '='));
        let fen = parse_yuan(amount)?;
        if name.is_empty() || out.contains_key(name) {
            return None;
        }
        out.insert(name.to_string(), Value::from(fen));
    }
    Some(out)
}

fn form_value<'a>(form: &'a [(String, String)], key: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// A field's value as the page shows it.
fn shown(f: &FieldDef, v: &Value, lang: Lang) -> Option<String> {
    match (&f.kind, v) {
        (_, Value::Null) => None,
        (FieldKind::Money, Value::Number(n)) => n.as_i64().map(|fen| {
            format!(
                "{} {}",
                kehu_domain::ledger::yuan(fen),
                crate::i18n::tr("ledger.yuan", lang)
            )
        }),
        (FieldKind::Bool, Value::Bool(b)) => {
            Some(crate::i18n::tr(if *b { "cases.yes" } else { "cases.no" }, lang).into())
        }
        (FieldKind::Amounts, Value::Object(m)) if m.is_empty() => None,
        (FieldKind::Amounts, Value::Object(m)) => Some(
            m.iter()
                .map(|(name, fen)| {
                    format!(
                        "{name} {} {}",
                        kehu_domain::ledger::yuan(fen.as_i64().unwrap_or(0)),
                        crate::i18n::tr("ledger.yuan", lang)
                    )
                })
                .collect::<Vec<_>>()
                .join(if lang == Lang::Zh { "；" } else { "; " }),
        ),
        (_, Value::String(s)) => Some(s.clone()),
        (_, other) => Some(other.to_string()),
    }
}

/// A value as a form input holds it (money in yuan).
fn input_value(f: &FieldDef, v: Option<&Value>) -> String {
    match (&f.kind, v) {
        (_, None | Some(Value::Null)) => String::new(),
        (FieldKind::Money, Some(Value::Number(n))) => n.as_i64().map(kehu_domain::ledger::yuan).unwrap_or_default(),
        (FieldKind::Bool, Some(Value::Bool(b))) => if *b { "on" } else { "" }.to_string(),
        (FieldKind::Amounts, Some(Value::Object(m))) => m
            .iter()
            .map(|(name, fen)| format!("{name} {}", kehu_domain::ledger::yuan(fen.as_i64().unwrap_or(0))))
            .collect::<Vec<_>>()
            .join("\n"),
        (_, Some(Value::String(s))) => s.clone(),
        (_, Some(other)) => other.to_string(),
    }
}

// ---- The list ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "cases.html")]
struct ListPage {
    c: Chrome,
    cases: Vec<CaseLine>,
    /// The filters: (id, name) of every workflow, of the chosen workflow's states.
    workflows: Vec<(String, String)>,
    states: Vec<(String, String)>,
    workflow: String,
    state: String,
    overdue: bool,
    mine: bool,
    /// Workflows whose cases stand alone (no customer) and may be opened from here.
    openable: Vec<(String, String)>,
    /// The rankings of the workflows listed: (path, name).
    rankings: Vec<(String, String)>,
    /// The workflows in words, with their rules.
    rules: Vec<(String, String)>,
    next: Option<String>,
    first: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    workflow: String,
    state: String,
    overdue: String,
    mine: String,
    cursor: String,
}

fn query_string(workflow: &str, state: &str, overdue: bool, mine: bool, cursor: Option<i64>) -> String {
    let mut parts = Vec::new();
    if !workflow.is_empty() {
        parts.push(format!("workflow={}", super::urlencode(workflow)));
    }
    if !state.is_empty() {
        parts.push(format!("state={}", super::urlencode(state)));
    }
    if overdue {
        parts.push("overdue=on".to_string());
    }
    if mine {
        parts.push("mine=on".to_string());
    }
    if let Some(c) = cursor {
        parts.push(format!("cursor={c}"));
    }
    if parts.is_empty() {
        "/cases".into()
    } else {
        format!("/cases?{}", parts.join("&"))
    }
}

/// GET /cases
pub async fn list(State(state): State<AppState>, mut pc: PageCaller, Query(q): Query<ListQuery>) -> PageResult {
    pc.c.nav = "cases";
    let lang = pc.c.lang;
    let policy = state.policy(pc.caller.tenant_id).await.or_page(&pc.c)?;
    let wf = policy.workflow(&q.workflow);
    let state_id = if wf.is_some_and(|w| w.state(&q.state).is_some()) {
        q.state.clone()
    } else {
        String::new()
    };
    let overdue = q.overdue == "on" || q.overdue == "true";
    let mine = q.mine == "on" || q.mine == "true";
    let filter = Filter {
        workflow: wf.map(|w| w.id.clone()),
        state: Some(state_id.clone()).filter(|s| !s.is_empty()),
        customer_id: None,
        overdue,
        involving: mine.then(|| pc.caller.id()),
        linked_from: None,
        before: q.cursor.parse::<i64>().ok(),
    };
    let views = cases::list(&state, &pc.caller, &filter, LIMIT + 1)
        .await
        .or_page(&pc.c)?;
    let now = state.now();
    let more = views.len() as i64 > LIMIT;
    let cases: Vec<CaseLine> = views
        .iter()
        .take(LIMIT as usize)
        .map(|v| CaseLine::new(v, &policy, now, lang))
        .collect();
    let workflow = wf.map(|w| w.id.clone()).unwrap_or_default();
    let page = ListPage {
        workflows: policy
            .workflows
            .iter()
            .map(|w| (w.id.clone(), w.name.get(lang).to_string()))
            .collect(),
        states: wf
            .map(|w| {
                w.states
                    .iter()
                    .map(|s| (s.id.clone(), s.name.get(lang).to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        openable: policy
            .workflows
            .iter()
            .filter(|w| w.subject == workflow::Subject::None)
            .filter(|w| workflow::may_open(w, &crate::cases::actor(&pc.caller)))
            .map(|w| (w.id.clone(), w.name.get(lang).to_string()))
            .collect(),
        rankings: policy
            .workflows
            .iter()
            .filter(|w| wf.is_none_or(|x| x.id == w.id))
            .flat_map(|w| {
                w.rankings.iter().map(|r| {
                    (
                        format!("/cases/rankings/{}/{}", w.id, r.id),
                        r.name.get(lang).to_string(),
                    )
                })
            })
            .collect(),
        rules: policy
            .workflows
            .iter()
            .filter(|w| wf.is_none_or(|x| x.id == w.id))
            .flat_map(|w| super::policy_section(&policy, &format!("Workflow: {}", w.name.en), lang))
            .collect(),
        next: more
            .then(|| {
                cases
                    .last()
                    .map(|c| query_string(&workflow, &state_id, overdue, mine, Some(c.id)))
            })
            .flatten(),
        first: (!q.cursor.is_empty()).then(|| query_string(&workflow, &state_id, overdue, mine, None)),
        cases,
        workflow,
        state: state_id,
        overdue,
        mine,
        c: pc.c,
    };
    Ok(render(StatusCode::OK, &page))
}

// ---- Opening a case --------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "case_new.html")]
struct NewPage {
    c: Chrome,
    workflow: String,
    name: String,
    rule: String,
    customer: Option<(i64, String)>,
    inputs: Vec<Input>,
    /// The conditions a case must meet to open, in words.
    rules: Vec<(String, String)>,
    error: Option<ErrorBox>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewQuery {
    workflow: String,
    customer_id: String,
}

/// The tenant's staff as `staff` fields show and offer them: (id, name, active), read only when
/// the workflow has such a field.
async fn people_of(state: &AppState, tenant_id: i64, wf: &Workflow) -> Result<Vec<(i64, String, bool)>, ApiError> {
    if !wf.fields.iter().any(|f| f.kind == FieldKind::Staff) {
        return Ok(Vec::new());
    }
    Ok(kehu_store::staff::list(&state.db, tenant_id)
        .await?
        .into_iter()
        .map(|s| (s.id, s.display_name, s.active))
        .collect())
}

/// A staff field's input offers the active staff.
fn with_people(mut input: Input, f: &FieldDef, people: &[(i64, String, bool)]) -> Input {
    if f.kind == FieldKind::Staff {
        input.people = people
            .iter()
            .filter(|p| p.2)
            .map(|(id, name, _)| (id.to_string(), name.clone()))
            .collect();
    }
    input
}

async fn new_page(
    state: &AppState,
    pc: &PageCaller,
    workflow_id: &str,
    customer_id: Option<i64>,
    form: &[(String, String)],
    error: Option<ErrorBox>,
) -> Result<NewPage, ApiError> {
    let lang = pc.c.lang;
    let policy = state.policy(pc.caller.tenant_id).await?;
    let wf = cases::workflow_of(&policy, workflow_id)?;
    let customer = match (wf.subject, customer_id) {
        (workflow::Subject::Customer, Some(id)) => {
            let v = crate::service::get_customer(state, &pc.caller, id).await?;
            Some((id, v.row.name.clone()))
        }
        (workflow::Subject::Customer, None) => {
            return Err(ApiError::bad_request(
                "invalid_customer",
                Text::new(
                    format!("「{}」从客户页面开启", wf.name.zh),
                    format!("A “{}” is opened from its customer's page", wf.name.en),
                ),
            ));
        }
        (workflow::Subject::None, _) => None,
    };
    let people = people_of(state, pc.caller.tenant_id, wf).await?;
    Ok(NewPage {
        workflow: wf.id.clone(),
        name: wf.name.get(lang).to_string(),
        rule: wf.rule.to_string(),
        customer,
        inputs: wf
            .opening_fields()
            .into_iter()
            .map(|f| {
                with_people(
                    Input::new(
                        f,
                        lang,
                        form_value(form, &format!("f.{}", f.id)),
                        f.required && f.default.is_none(),
                    ),
                    f,
                    &people,
                )
            })
            .collect(),
        rules: super::policy_section(&policy, &format!("Workflow: {}", wf.name.en), lang),
        error,
        c: pc.c.clone(),
    })
}

/// GET /cases/new?workflow=&customer_id=
pub async fn new_form(State(state): State<AppState>, mut pc: PageCaller, Query(q): Query<NewQuery>) -> PageResult {
    pc.c.nav = "cases";
    let customer_id = q.customer_id.parse::<i64>().ok();
    let page = new_page(&state, &pc, &q.workflow, customer_id, &[], None)
        .await
        .or_page(&pc.c)?;
    Ok(render(StatusCode::OK, &page))
}

/// POST /cases: opens a case from the form, or shows the form again with the reason.
pub async fn open(
    State(state): State<AppState>,
    mut pc: PageCaller,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    pc.c.nav = "cases";
    if !csrf_ok(&pc.caller, form_value(&form, "csrf")) {
        return Err(csrf_refused(&pc.c).into());
    }
    let workflow_id = form_value(&form, "workflow").to_string();
    let customer_id = form_value(&form, "customer_id").parse::<i64>().ok();
    let policy = state.policy(pc.caller.tenant_id).await.or_page(&pc.c)?;
    let wf = cases::workflow_of(&policy, &workflow_id).or_page(&pc.c)?;
    let asked: Vec<&str> = wf.opening_fields().iter().map(|f| f.id.as_str()).collect();
    let opened = match posted_fields(wf, &form, &|f| asked.contains(&f.id.as_str())) {
        Ok(fields) => cases::open(&state, &pc.caller, &workflow_id, customer_id, &fields).await,
        Err(e) => Err(e),
    };
    match opened {
        Ok(v) => Ok(see_other(&format!("/cases/{}?done=open", v.row.id))),
        Err(e) => {
            let error = Some(ErrorBox::new(&e, pc.c.lang));
            let page = new_page(&state, &pc, &workflow_id, customer_id, &form, error)
                .await
                .or_page(&pc.c)?;
            Ok(render(crate::error::status_of(e.kind), &page))
        }
    }
}

// ---- One case ------------------------------------------------------------------------------

/// What a state requires (`requires`), for the case page: the state, the rule, and each field
/// with whether the case has it.
pub struct Requirement {
    pub state: String,
    pub rule: String,
    pub rows: Vec<(String, bool)>,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    c: Chrome,
    id: i64,
    workflow: String,
    rule: String,
    customer: Option<(i64, String)>,
    /// A copy may go to the customer (a case of a customer, of a workflow not `internal`).
    shareable: bool,
    state: String,
    tone: &'static str,
    overdue_since: Option<String>,
    opened: String,
    opened_by: String,
    diagram: String,
    fields: Vec<FieldLine>,
    checklists: Vec<ChecklistView>,
    completeness: i64,
    /// The budget-execution report (R12.7).
    budget: Option<BudgetCard>,
    /// The workflow's figures: (name, rule, value in words).
    figures: Vec<(String, String, String)>,
    /// The ledger entries the case's steps charged that the caller sees: (entry id, who, what,
    /// how much in words).
    charges: Vec<(i64, String, String, String)>,
    /// The case that opened this one and the cases this one opened, as far as the caller sees
    /// them: (id, workflow, state, whether it is the one that opened this case).
    links: Vec<(i64, String, String, bool)>,
    /// What this state and the states ahead require.
    requirements: Vec<Requirement>,
    /// The files attached to the case.
    files: Vec<FileLine>,
    /// What a file may be, in words (kinds and size), and as the picker's `accept`.
    file_hint: String,
    file_accept: Vec<&'static str>,
    waiting: String,
    timers: Vec<TimerLine>,
    actions: Vec<ActionForm>,
    steps: Vec<StepLine>,
    /// The workflow in words, with its rules.
    rules: Vec<(String, String)>,
    /// The policy version the case is read by when the active policy no longer has its
    /// workflow (the case is then read only).
    retired: Option<String>,
    flash: Option<&'static str>,
    error: Option<ErrorBox>,
    /// The action whose form was refused, and its note, kept as written.
    failed: String,
    note: String,
}

/// A file attached to the case, as its page lists it.
struct FileLine {
    href: String,
    name: String,
    kind: String,
    size: String,
    by: String,
    at: String,
}

/// The case that opened `r` (`{ open = WORKFLOW }`) and the cases `r` opened, those the caller
/// sees, named by workflow and state.
async fn links_of(
    state: &AppState,
    pc: &PageCaller,
    policy: &Policy,
    r: &kehu_store::cases::CaseRow,
) -> Result<Vec<(i64, String, String, bool)>, ApiError> {
    let lang = pc.c.lang;
    let (origin, opened) = cases::linked(state, &pc.caller, r).await?;
    let rows = origin
        .into_iter()
        .map(|o| (o, true))
        .chain(opened.into_iter().map(|o| (o, false)));
    Ok(rows
        .map(|(row, origin)| {
            let wf = policy.workflow(&row.workflow);
            let name = wf
                .map(|w| w.name.get(lang).to_string())
                .unwrap_or_else(|| row.workflow.clone());
            (row.id, name, state_name(wf, &row.state, lang), origin)
        })
        .collect())
}

async fn case_page(
    state: &AppState,
    pc: &PageCaller,
    id: i64,
    form: &[(String, String)],
    failed: &str,
    error: Option<ErrorBox>,
) -> Result<CasePage, ApiError> {
    let lang = pc.c.lang;
    let v = cases::get(state, &pc.caller, id).await?;
    let r = &v.row;
    // A workflow a later policy removed: shown by the version the case was opened under, read
    // only.
    let (policy, retired) = cases::policy_of(state, r).await?;
    let wf = cases::workflow_of(&policy, &r.workflow)?;
    let now = state.now();
    let facts = r.facts(&v.steps);
    let case_fields = r.field_map();
    let me = cases::actor(&pc.caller);
    let people = people_of(state, pc.caller.tenant_id, wf).await?;
    let visited: Vec<String> = v.steps.iter().map(|s| s.to_state.clone()).collect();
    let waiting = waiting_words(&policy, wf, &v, lang);
    let links = links_of(state, pc, &policy, r).await?;
    let files = kehu_store::files::of_case(&state.db, r.tenant_id, r.id)
        .await?
        .into_iter()
        .map(|f| FileLine {
            href: format!("/api/v1/cases/{}/files/{}", f.case_id, f.id),
            kind: f.kind.to_uppercase(),
            size: kehu_domain::files::size_words(f.size),
            by: f.staff_name.unwrap_or_default(),
            at: policy.local_time(kehu_store::ts(f.at)).to_string(),
            name: f.name,
        })
        .collect();
    let kinds: Vec<String> = policy.limits.file_types.iter().map(|k| k.id().to_uppercase()).collect();
    let file_hint = crate::i18n::tr("cases.files_hint", lang)
        .replace("{kinds}", &kinds.join(" / "))
        .replace("{size}", &kehu_domain::files::size_words(policy.limits.max_file_size));
    let charges = cases::charges(state, &pc.caller, r)
        .await?
        .into_iter()
        .map(|e| {
            let what = policy
                .ledger
                .code(&e.code)
                .map(|c| c.name.get(lang).to_string())
                .unwrap_or_else(|| e.code.clone());
            let much = if e.amount != 0 {
                format!(
                    "{} {}",
                    kehu_domain::ledger::yuan(e.amount),
                    crate::i18n::tr("ledger.yuan", lang)
                )
            } else {
                format!("{} {}", e.points, crate::i18n::tr("cases.points_unit", lang))
            };
            (e.id, e.staff_name.unwrap_or_default(), what, much)
        })
        .collect();
    let seated = cases::seated(state, &policy, r).await?;
    let actions = workflow::available_seated(wf, &facts, &me, &seated)
        .into_iter()
        .filter(|_| !retired)
        .enumerate()
        .map(|(i, a)| {
            let mine = failed == a.id;
            ActionForm {
                id: a.id.clone(),
                name: a.name.get(lang).to_string(),
                rule: a.rule.to_string(),
                to: {
                    let to: Vec<String> = a.targets().map(|t| state_name(Some(wf), t, lang)).collect();
                    Some(to.join(" / ")).filter(|t| !t.is_empty())
                },
                note_required: a.note,
                attest: a.attest.as_ref().map(|t| t.get(lang).to_string()),
                inputs: a
                    .fields
                    .iter()
                    .filter_map(|f| wf.field(f))
                    .map(|f| {
                        // What is spent or added up is asked afresh each time, not the last value.
                        let fresh = a.spend.as_ref().is_some_and(|sp| sp.amount == f.id || sp.line == f.id)
                            || a.adds.iter().any(|(from, _)| *from == f.id);
                        let value = if mine {
                            form_value(form, &format!("f.{}", f.id)).to_string()
                        } else if fresh {
                            String::new()
                        } else {
                            input_value(f, case_fields.get(&f.id))
                        };
                        let mut input = with_people(Input::new(f, lang, &value, false), f, &people);
                        if let (Some(sp), Some(b)) = (&a.spend, &wf.budget)
                            && sp.line == f.id
                        {
                            input.suggest = case_fields
                                .get(&b.lines)
                                .and_then(Value::as_object)
                                .map(|m| m.keys().cloned().collect())
                                .unwrap_or_default();
                        }
                        input
                    })
                    .collect(),
                needs: (!a.guards.is_empty()).then(|| {
                    a.guards
                        .iter()
                        .map(|g| g.text.get(lang))
                        .collect::<Vec<_>>()
                        .join(if lang == Lang::Zh { "；" } else { "; " })
                }),
                signoff: a.signoff.is_several().then(|| {
                    let left = v
                        .waiting_on(wf)
                        .into_iter()
                        .find(|w| w.action == a.id)
                        .map(|w| w.roles)
                        .unwrap_or_default();
                    let names: Vec<String> = left.iter().map(|r| role_word(&policy, wf, r, lang)).collect();
                    let signed = workflow::signatures(a, &facts);
                    match (a.signoff, lang) {
                        (Signoff::Quorum(n), Lang::Zh) => {
                            format!("须 {n} 人签署：已签 {signed} 人，{}均可签", names.join("、"))
                        }
                        (Signoff::Quorum(n), Lang::En) => {
                            format!("{n} people sign: {signed} so far; {} may sign", names.join(", "))
                        }
                        (Signoff::Sequence, Lang::Zh) => format!("依次签署：下一位是{}", names.join("、")),
                        (Signoff::Sequence, Lang::En) => format!("Signed in order: {} signs next", names.join(", ")),
                        (_, Lang::Zh) => format!("会签：还需{}签", names.join("、")),
                        (_, Lang::En) => format!("Signed by all: {} still to sign", names.join(", ")),
                    }
                }),
                checklists: a
                    .answers
                    .iter()
                    .filter_map(|id| wf.checklist(id))
                    .map(|c| AnswerGroup {
                        name: c.name.get(lang).to_string(),
                        items: c
                            .items
                            .iter()
                            .map(|it| {
                                let held = c
                                    .answers(&case_fields)
                                    .and_then(|m| m.get(&it.id))
                                    .and_then(Value::as_str)
                                    .unwrap_or_default();
                                let now = if mine {
                                    form_value(form, &format!("a.{}", it.id))
                                } else {
                                    held
                                };
                                (it.id.clone(), it.name.get(lang).to_string(), now.to_string())
                            })
                            .collect(),
                    })
                    .collect(),
                primary: i == 0,
            }
        })
        .collect();
    let steps = v
        .steps
        .iter()
        .rev()
        .map(|s| {
            let d = s.decision();
            StepLine {
                name: cases::step_name(wf, &s.action, lang),
                who: s.staff_id.map(|_| s.staff_name.clone()),
                role: s.role.as_deref().map(|r| role_word(&policy, wf, r, lang)),
                from: Some(s.from_state.as_str())
                    .filter(|f| !f.is_empty() && *f != s.to_state)
                    .map(|f| state_name(Some(wf), f, lang)),
                to: state_name(Some(wf), &s.to_state, lang),
                note: s.note.clone(),
                at: policy.local_time(ts(s.at)),
                rule: d.as_ref().map(|d| d.rule.to_string()).unwrap_or_default(),
                decision: d.map(|d| d.text.get(lang).to_string()).unwrap_or_default(),
            }
        })
        .collect();
    Ok(CasePage {
        retired: retired.then(|| match lang {
            Lang::Zh => format!("案件只读，按开启时的制度（第 {} 版）显示。", r.policy_version),
            Lang::En => format!(
                "The case is read only, shown by the policy it was opened under (version {}).",
                r.policy_version
            ),
        }),
        id: r.id,
        workflow: wf.name.get(lang).to_string(),
        rule: wf.rule.to_string(),
        customer: r.customer_id.map(|c| (c, r.customer_name.clone().unwrap_or_default())),
        shareable: r.customer_id.is_some() && !wf.internal,
        state: state_name(Some(wf), &r.state, lang),
        tone: if waiting.is_empty() { "done" } else { "pending" },
        overdue_since: r.overdue_since.map(|t| policy.local_time(ts(t))),
        opened: policy.local_time(ts(r.opened_at)),
        opened_by: r.opened_by_name.clone(),
        diagram: diagram(wf, &r.state, &visited, lang),
        // A budget's lines and spending show in its own card.
        fields: wf
            .fields
            .iter()
            .filter(|f| wf.budget.as_ref().is_none_or(|b| b.lines != f.id && b.spent != f.id))
            .map(|f| FieldLine {
                name: f.name.get(lang).to_string(),
                value: case_fields.get(&f.id).and_then(|v| match (&f.kind, v.as_i64()) {
                    // A staff member by name (who left keeps their name).
                    (FieldKind::Staff, Some(id)) => Some(
                        people
                            .iter()
                            .find(|p| p.0 == id)
                            .map(|p| p.1.clone())
                            .unwrap_or_else(|| format!("#{id}")),
                    ),
                    _ => shown(f, v, lang),
                }),
            })
            .collect(),
        checklists: wf
            .checklists
            .iter()
            .map(|c| {
                let t = c.tally(&case_fields);
                let held = c.answers(&case_fields);
                let summary = c.standing(&case_fields).get(lang).to_string();
                ChecklistView {
                    id: c.id.clone(),
                    name: c.name.get(lang).to_string(),
                    rule: c.rule.to_string(),
                    items: c
                        .items
                        .iter()
                        .map(|it| {
                            let a = held
                                .and_then(|m| m.get(&it.id))
                                .and_then(Value::as_str)
                                .unwrap_or_default();
                            (it.name.get(lang).to_string(), answer_words(a, lang), a.to_string())
                        })
                        .collect(),
                    summary,
                    passed: t.passed,
                }
            })
            .collect(),
        completeness: workflow::completeness(wf, &case_fields),
        budget: workflow::budget_of(wf, &facts).and_then(|r| BudgetCard::new(wf, r, lang)),
        charges,
        links,
        files,
        file_hint,
        file_accept: policy.limits.file_types.iter().map(|k| k.mime()).collect(),
        requirements: workflow::requirements(wf, &facts, &cases::today(&policy, now))
            .into_iter()
            .map(|(st, rows)| {
                let rule = st.requires.as_ref().map(|r| r.rule.to_string()).unwrap_or_default();
                let rows = rows
                    .into_iter()
                    .map(|(f, ok)| (f.name.get(lang).to_string(), ok))
                    .collect();
                Requirement {
                    state: st.name.get(lang).to_string(),
                    rule,
                    rows,
                }
            })
            .collect(),
        figures: workflow::figures(wf, &facts)
            .into_iter()
            .map(|f| {
                let value = match (f.value, f.kind) {
                    (Some(v), "money") => format!(
                        "{} {}",
                        kehu_domain::ledger::yuan(v),
                        crate::i18n::tr("ledger.yuan", lang)
                    ),
                    (Some(v), _) => v.to_string(),
                    (None, _) => crate::i18n::tr("cases.figure_unknown", lang).to_string(),
                };
                (f.name.get(lang).to_string(), f.rule.to_string(), value)
            })
            .collect(),
        waiting,
        timers: v
            .timers
            .iter()
            .map(|d| {
                let tid = CaseView::timer_id(d);
                TimerLine {
                    name: wf
                        .timer(tid)
                        .map(|t| t.name.get(lang).to_string())
                        .unwrap_or_else(|| tid.to_string()),
                    rule: d.rule.clone(),
                    due: policy.local_time(ts(d.due_at)),
                    left: time_left(now, ts(d.due_at), lang),
                }
            })
            .collect(),
        actions,
        steps,
        rules: super::policy_section(&policy, &format!("Workflow: {}", wf.name.en), lang),
        flash: None,
        error,
        failed: failed.to_string(),
        note: form_value(form, "note").to_string(),
        c: pc.c.clone(),
    })
}

// ---- A ranking -----------------------------------------------------------------------------

/// A ranked case on the ranking page.
pub struct RankLine {
    pub place: String,
    pub case_id: i64,
    pub customer: Option<(i64, String)>,
    pub state: String,
    pub score: String,
    pub flagged: bool,
    pub decision: String,
}

#[derive(Template)]
#[template(path = "ranking.html")]
struct RankingPage {
    c: Chrome,
    name: String,
    rule: String,
    workflow: String,
    workflow_id: String,
    top: usize,
    flag: String,
    lines: Vec<RankLine>,
    flagged: usize,
    rules: Vec<(String, String)>,
}

/// GET /cases/rankings/{workflow}/{ranking} (R1.9)
pub async fn ranking(
    State(state): State<AppState>,
    mut pc: PageCaller,
    Path((workflow_id, ranking_id)): Path<(String, String)>,
) -> PageResult {
    pc.c.nav = "cases";
    let lang = pc.c.lang;
    let (policy, ranked) = cases::ranking(&state, &pc.caller, &workflow_id, &ranking_id)
        .await
        .or_page(&pc.c)?;
    let wf = cases::workflow_of(&policy, &workflow_id).or_page(&pc.c)?;
    let Some(r) = wf.rankings.iter().find(|r| r.id == ranking_id) else {
        return Err(ApiError::internal()).or_page(&pc.c);
    };
    let lines: Vec<RankLine> = ranked
        .into_iter()
        .map(|(row, x)| RankLine {
            place: x.place.map(|p| p.to_string()).unwrap_or_else(|| "—".to_string()),
            case_id: row.id,
            customer: row
                .customer_id
                .map(|id| (id, row.customer_name.clone().unwrap_or_default())),
            state: state_name(Some(wf), &row.state, lang),
            score: x.score.map(|s| s.to_string()).unwrap_or_else(|| "—".to_string()),
            flagged: x.flagged,
            decision: x.decision.text.get(lang).to_string(),
        })
        .collect();
    let page = RankingPage {
        name: r.name.get(lang).to_string(),
        rule: r.rule.to_string(),
        workflow: wf.name.get(lang).to_string(),
        workflow_id: wf.id.clone(),
        top: r.top,
        flag: r.flag.get(lang).to_string(),
        flagged: lines.iter().filter(|l| l.flagged).count(),
        lines,
        rules: super::policy_section(&policy, &format!("Workflow: {}", wf.name.en), lang),
        c: pc.c.clone(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

/// GET /cases/{id}
pub async fn detail(
    State(state): State<AppState>,
    mut pc: PageCaller,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    pc.c.nav = "cases";
    let id = parse_id(&pc.c, &id)?;
    let mut page = case_page(&state, &pc, id, &[], "", None).await.or_page(&pc.c)?;
    page.flash = match q.done.as_str() {
        "open" => Some("flash.case_opened"),
        "act" => Some("flash.case_acted"),
        "file" => Some("flash.file_attached"),
        _ => None,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "case_for_customer.html")]
struct ForCustomerPage {
    c: Chrome,
    id: i64,
    workflow: String,
    state: String,
    customer: String,
    opened: String,
    /// (name, value in words)
    fields: Vec<(String, String)>,
    /// (what was done, when)
    steps: Vec<(String, String)>,
}

/// GET /cases/{id}/for-customer: the case as its customer may be given it, to print or hand
/// over (R1.5: the partner's grade is never in it).
pub async fn for_customer(State(state): State<AppState>, mut pc: PageCaller, Path(id): Path<String>) -> PageResult {
    pc.c.nav = "cases";
    let lang = pc.c.lang;
    let id = parse_id(&pc.c, &id)?;
    let policy = state.policy(pc.caller.tenant_id).await.or_page(&pc.c)?;
    let v = cases::for_customer(&state, &pc.caller, id).await.or_page(&pc.c)?;
    let page = ForCustomerPage {
        id: v.id,
        workflow: v.workflow_name.get(lang).to_string(),
        state: v.state_name.get(lang).to_string(),
        customer: v.customer_name.unwrap_or_default(),
        opened: policy.local_time(kehu_store::ts(v.opened_at)),
        fields: v
            .fields
            .iter()
            .filter_map(|(f, x)| shown(f, x, lang).map(|s| (f.name.get(lang).to_string(), s)))
            .collect(),
        steps: v
            .steps
            .iter()
            .map(|(name, at)| (name.get(lang).to_string(), policy.local_time(kehu_store::ts(*at))))
            .collect(),
        c: pc.c,
    };
    Ok(render(StatusCode::OK, &page))
}

/// POST /cases/{id}/actions/{action}
pub async fn act(
    State(state): State<AppState>,
    mut pc: PageCaller,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    pc.c.nav = "cases";
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, form_value(&form, "csrf")) {
        return Err(csrf_refused(&pc.c).into());
    }
    let v = cases::get(&state, &pc.caller, id).await.or_page(&pc.c)?;
    let policy = state.policy(pc.caller.tenant_id).await.or_page(&pc.c)?;
    let wf = cases::workflow_of(&policy, &v.row.workflow).or_page(&pc.c)?;
    let settable: Vec<String> = wf.action(&action).map(|a| a.fields.clone()).unwrap_or_default();
    let note = Some(form_value(&form, "note")).filter(|n| !n.trim().is_empty());
    let done = match posted_fields(wf, &form, &|f| settable.contains(&f.id)) {
        Ok(fields) => {
            let answers: Map<String, Value> = form
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("a.")?.to_string(), v.trim())))
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k, Value::from(v)))
                .collect();
            let given = workflow::Given {
                fields: &fields,
                answers: &answers,
                note,
                attested: form_value(&form, "attest") == "on",
            };
            cases::act(&state, &pc.caller, id, &action, &given).await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => Ok(see_other(&format!("/cases/{id}?done=act"))),
        Err(e) => refused_on_page(&state, &pc, id, (&form, &action), &e).await,
    }
}

/// The case page again with the refusal `e` in its error box, answered with the refusal's
/// status; `form` and `failed` keep what the refused form held.
async fn refused_on_page(
    state: &AppState,
    pc: &PageCaller,
    id: i64,
    (form, failed): (&[(String, String)], &str),
    e: &Failure,
) -> PageResult {
    let error = Some(ErrorBox::new(e, pc.c.lang));
    let page = case_page(state, pc, id, form, failed, error).await.or_page(&pc.c)?;
    Ok(render(crate::error::status_of(e.kind), &page))
}

/// A file posted from the case page (`multipart/form-data`: `csrf` and `file`).
pub async fn attach(
    State(state): State<AppState>,
    mut pc: PageCaller,
    Path(id): Path<String>,
    mp: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> PageResult {
    pc.c.nav = "cases";
    let id = parse_id(&pc.c, &id)?;
    let (name, bytes, others) = crate::api::file_part(mp).await.or_page(&pc.c)?;
    if !csrf_ok(&pc.caller, form_value(&others, "csrf")) {
        return Err(csrf_refused(&pc.c).into());
    }
    match crate::case_files::attach(&state, &pc.caller, id, &name, bytes).await {
        Ok(_) => Ok(see_other(&format!("/cases/{id}?done=file#files-h"))),
        Err(e) => refused_on_page(&state, &pc, id, (&[], ""), &e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_yuan_are_read_as_fen() {
        assert_eq!(parse_yuan("80000"), Some(8_000_000));
        assert_eq!(parse_yuan("80,000.5"), Some(8_000_050));
        assert_eq!(parse_yuan("¥1 000.25"), Some(100_025));
        assert_eq!(parse_yuan("0.07"), Some(7));
        for bad in ["", "abc", "1.234", "-5", "1e5", ".5", "1.2.3"] {
            assert_eq!(parse_yuan(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_diagram_marks_the_current_state_and_escapes_names() {
        let src = format!(
            "{}{}",
            include_str!("../../../../presets/car-dealership.toml"),
            r#"
[[workflows]]
id = "loan"
rule = "R90.1"
name = { zh = "借用", en = "Loan <test>" }
initial = "asked"
subject = "none"
states = [
  { id = "asked", name = { zh = "已申请", en = "asked" } },
  { id = "lent", name = { zh = "已借出", en = "lent & out" } },
  { id = "back", name = { zh = "已归还", en = "back" } },
]
[[workflows.actions]]
id = "lend"
name = { zh = "借出", en = "Lend" }
from = ["asked"]
to = "lent"
by = ["sales_manager"]
[[workflows.actions]]
id = "refuse"
name = { zh = "退回", en = "Send back" }
from = ["lent"]
to = "asked"
by = ["sales_manager"]
[[workflows.timers]]
id = "overdue"
name = { zh = "逾期归还", en = "Returned late" }
in = ["lent"]
after = "7 days"
to = "back"
"#
        );
        let p = Policy::parse(&src, "loan.toml").unwrap();
        let wf = p.workflow("loan").unwrap();
        let svg = diagram(wf, "lent", &["asked".to_string()], Lang::En);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(
            svg.contains("Loan &lt;test&gt;") && svg.contains("lent &amp; out"),
            "{svg}"
        );
        assert!(
            svg.contains(r#"class="wf-node wf-current" data-state="lent" aria-current="step""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"class="wf-node wf-visited" data-state="asked""#),
            "{svg}"
        );
        assert_eq!(svg.matches("<path class=\"wf-edge").count(), 3, "{svg}");
        assert!(
            svg.contains("wf-edge wf-timed") && svg.contains("<title>Returned late</title>"),
            "{svg}"
        );
    }
}
