//! The case engine's rules: a staged process declared in the policy file (`[[workflows]]`) and
//! run as a **case**. A workflow has states, typed fields, guards checked when a case opens, and
//! actions: from which states, to which state, by which roles, with a sign-off (`any` one of the
//! roles, or `all` of them, each by a different person), a required note, the fields it may set
//! and a guard of its own. Guards are CEL expressions over `fields`, `actor` and `case`.
//!
//! [`open`] and [`decide`] are pure: they take the definition, the case as it stands, the actor
//! and the input, and return the new state, the fields, the step to record and the Decision, or
//! a Refusal with the rule. [`waiting_on`] answers which actions the case waits for and whose.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::decision::{Decision, Refusal, RuleId};
use crate::policy::ADMIN_ROLE;
use crate::text::Text;

/// The step that opens a case (an action id no workflow may use).
pub const OPEN: &str = "open";

/// A workflow as the policy file declares it.
#[derive(Debug, Clone, Serialize)]
pub struct Workflow {
    pub id: String,
    pub rule: RuleId,
    pub name: Text,
    /// Whether a case belongs to a customer (`customer`) or stands alone (`none`).
    pub subject: Subject,
    pub states: Vec<State>,
    pub initial: String,
    pub fields: Vec<FieldDef>,
    /// Checked when a case opens.
    pub guards: Vec<Guard>,
    pub actions: Vec<Action>,
    /// The largest amount a money field takes (the policy's `[limits] max_amount`).
    #[serde(skip)]
    pub max_money: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Customer,
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct State {
    pub id: String,
    pub name: Text,
}

/// A typed field of a case.
#[derive(Debug, Clone, Serialize)]
pub struct FieldDef {
    pub id: String,
    pub name: Text,
    pub kind: FieldKind,
    /// Needed when the case opens.
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "of")]
pub enum FieldKind {
    Text,
    /// A whole number.
    Number,
    /// An amount in fen.
    Money,
    Bool,
    /// One of the listed values.
    Choice(Vec<String>),
}

/// A condition written in CEL with the rule it enforces and what to say when it does not hold.
#[derive(Debug, Clone, Serialize)]
pub struct Guard {
    pub rule: RuleId,
    pub when: Expr,
    /// Said when the condition does not hold.
    pub text: Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signoff {
    /// One person holding one of the roles.
    Any,
    /// Every listed role, each by a different person; the state moves on the last.
    All,
}

#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub id: String,
    pub name: Text,
    pub rule: RuleId,
    /// The states it may be taken in.
    pub from: Vec<String>,
    /// Where it leads; `None`: the case stays where it is.
    pub to: Option<String>,
    /// Roles that may take it (`admin` always may).
    pub by: Vec<String>,
    pub signoff: Signoff,
    /// Whoever opened the case may not take it (a submitter does not approve their own).
    pub not_opener: bool,
    /// A note (a reason) is required.
    pub note: bool,
    /// Fields this action may set.
    pub fields: Vec<String>,
    /// Checked with the action's fields applied.
    pub guard: Option<Guard>,
}

/// A compiled CEL expression and its source.
#[derive(Clone)]
pub struct Expr {
    pub source: String,
    program: Arc<cel::Program>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

impl Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

/// The names an expression may read.
pub const VARIABLES: [&str; 3] = ["fields", "actor", "case"];

impl Expr {
    /// Compiles `source`; the error says what is wrong, and names an unknown variable.
    pub fn compile(source: &str) -> Result<Expr, String> {
        let program = cel::Program::compile(source)
            .map_err(|e| e.errors.iter().map(|x| x.msg.clone()).collect::<Vec<_>>().join("; "))?;
        let refs = program.references();
        if let Some(v) = refs.variables().into_iter().find(|v| !VARIABLES.contains(v)) {
            return Err(format!(
                "`{v}` is not something a workflow expression can read (it can read {})",
                VARIABLES.join(", ")
            ));
        }
        Ok(Expr {
            source: source.to_string(),
            program: Arc::new(program),
        })
    }

    /// The top-level names the expression reads.
    pub fn reads(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .program
            .references()
            .variables()
            .into_iter()
            .map(str::to_string)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Evaluates to a boolean, or says why it cannot.
    pub fn holds(&self, scope: &Value) -> Result<bool, String> {
        let mut ctx = cel::Context::default();
        if let Value::Object(m) = scope {
            for (k, v) in m {
                ctx.add_variable(k.as_str(), v.clone()).map_err(|e| e.to_string())?;
            }
        }
        match self.program.execute(&ctx) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("it gave {other:?}, not true or false")),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The field names an expression reads as `fields.NAME` (outside quoted strings), in order.
pub fn fields_read(source: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut quote: Option<char> = None;
    let chars: Vec<char> = source.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) if c == '\\' => i += 1,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None => {
                let word_before =
                    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == '.');
                let rest: String = chars[i..].iter().take(7).collect();
                if !word_before && rest == "fields." {
                    let name: String = chars[i + 7..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                        .collect();
                    if !name.is_empty() && !out.contains(&name) {
                        out.push(name);
                    }
                    i += 7;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

impl Workflow {
    pub fn action(&self, id: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.id == id)
    }

    pub fn field(&self, id: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.id == id)
    }

    pub fn state(&self, id: &str) -> Option<&State> {
        self.states.iter().find(|s| s.id == id)
    }

    /// States no action leads to from the initial state.
    pub fn unreachable(&self) -> Vec<&str> {
        let mut seen = vec![self.initial.as_str()];
        let mut i = 0;
        while i < seen.len() {
            let here = seen[i].to_string();
            for a in &self.actions {
                if let Some(to) = &a.to
                    && a.from.contains(&here)
                    && !seen.contains(&to.as_str())
                {
                    seen.push(to);
                }
            }
            i += 1;
        }
        self.states
            .iter()
            .map(|s| s.id.as_str())
            .filter(|s| !seen.contains(s))
            .collect()
    }
}

/// The staff member acting, as the engine sees them.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: i64,
    pub name: String,
    pub roles: Vec<String>,
}

/// A step taken on a case, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub action: String,
    /// The role it was taken in (for sign-offs by several roles).
    pub role: Option<String>,
    pub staff_id: i64,
    pub from_state: String,
    pub to_state: String,
}

/// A case as it stands.
#[derive(Debug, Clone)]
pub struct CaseFacts {
    pub id: i64,
    pub state: String,
    pub fields: Map<String, Value>,
    pub opened_by: i64,
    /// Oldest first.
    pub steps: Vec<Step>,
}

/// What an action (or opening a case) comes to.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub state: String,
    pub fields: Map<String, Value>,
    /// The role the actor signed in, for a sign-off by several roles.
    pub role: Option<String>,
    /// Whether the state changed.
    pub moved: bool,
    pub decision: Decision,
}

/// An action the case waits for, and the roles that may still take it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waiting {
    pub action: String,
    pub roles: Vec<String>,
}

fn refusal(code: &'static str, rule: &RuleId, zh: String, en: String) -> Refusal {
    Refusal {
        code,
        rule: Some(rule.clone()),
        text: Text::new(zh, en),
    }
}

/// Checks `input` against the fields `allowed` to be set, and returns them typed.
fn typed_fields(
    wf: &Workflow,
    input: &Map<String, Value>,
    allowed: &dyn Fn(&FieldDef) -> bool,
) -> Result<Map<String, Value>, Refusal> {
    let mut out = Map::new();
    for (k, v) in input {
        let Some(def) = wf.field(k).filter(|d| allowed(d)) else {
            let known: Vec<&str> = wf.fields.iter().filter(|d| allowed(d)).map(|d| d.id.as_str()).collect();
            return Err(refusal(
                "invalid_field",
                &wf.rule,
                format!("字段 `{k}` 不能在此填写(可填:{})", known.join("、")),
                format!("The field `{k}` cannot be set here (these can: {})", known.join(", ")),
            ));
        };
        if v.is_null() {
            continue;
        }
        let ok = match &def.kind {
            FieldKind::Text => v.as_str().is_some_and(|s| s.chars().count() <= 2000),
            FieldKind::Number => v.as_i64().is_some(),
            FieldKind::Money => v.as_i64().is_some_and(|n| (0..=wf.max_money).contains(&n)),
            FieldKind::Bool => v.is_boolean(),
            FieldKind::Choice(of) => v.as_str().is_some_and(|s| of.iter().any(|o| o == s)),
        };
        if !ok {
            let want = match &def.kind {
                FieldKind::Text => (
                    "不超过 2000 字的文字".to_string(),
                    "text of at most 2,000 characters".to_string(),
                ),
                FieldKind::Number => ("整数".to_string(), "a whole number".to_string()),
                FieldKind::Money => (
                    "以分计的非负金额".to_string(),
                    "a non-negative amount in fen".to_string(),
                ),
                FieldKind::Bool => ("true 或 false".to_string(), "true or false".to_string()),
                FieldKind::Choice(of) => (
                    format!("其中之一:{}", of.join("、")),
                    format!("one of {}", of.join(", ")),
                ),
            };
            return Err(refusal(
                "invalid_field",
                &wf.rule,
                format!("字段「{}」应为{}", def.name.zh, want.0),
                format!("The field “{}” must be {}", def.name.en, want.1),
            ));
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

/// What a guard reads: the case's fields, the actor and the case.
fn scope(fields: &Map<String, Value>, actor: &Actor, case_id: i64, state: &str) -> Value {
    // Every declared field is present (null when unset) so that `fields.x == null` reads it.
    json!({
        "fields": fields,
        "actor": { "id": actor.id, "roles": actor.roles },
        "case": { "id": case_id, "state": state },
    })
}

fn check_guard(g: &Guard, scope: &Value) -> Result<(), Refusal> {
    match g.when.holds(scope) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Refusal {
            code: "guard_refused",
            rule: Some(g.rule.clone()),
            text: g.text.clone(),
        }),
        Err(e) => Err(refusal(
            "guard_unevaluable",
            &g.rule,
            format!("{}(条件 `{}` 无法判断:{e})", g.text.zh, g.when.source),
            format!(
                "{} (the condition `{}` could not be evaluated: {e})",
                g.text.en, g.when.source
            ),
        )),
    }
}

fn with_declared(wf: &Workflow, fields: Map<String, Value>) -> Map<String, Value> {
    let mut all = fields;
    for f in &wf.fields {
        all.entry(f.id.clone()).or_insert(Value::Null);
    }
    all
}

/// Opens a case: the fields typed and complete, every opening guard holding.
pub fn open(
    wf: &Workflow,
    input: &Map<String, Value>,
    has_customer: bool,
    actor: &Actor,
    version: u32,
) -> Result<Outcome, Refusal> {
    if (wf.subject == Subject::Customer) != has_customer {
        return Err(if has_customer {
            refusal(
                "invalid_customer",
                &wf.rule,
                format!("「{}」不属于某个客户,不要填写 customer_id", wf.name.zh),
                format!("A “{}” belongs to no customer: leave out customer_id", wf.name.en),
            )
        } else {
            refusal(
                "invalid_customer",
                &wf.rule,
                format!("「{}」需要指明客户(customer_id)", wf.name.zh),
                format!("A “{}” needs its customer (customer_id)", wf.name.en),
            )
        });
    }
    let fields = with_declared(wf, typed_fields(wf, input, &|_| true)?);
    if let Some(missing) = wf.fields.iter().find(|f| f.required && fields[&f.id].is_null()) {
        return Err(refusal(
            "invalid_field",
            &wf.rule,
            format!("请填写「{}」", missing.name.zh),
            format!("Fill in “{}”", missing.name.en),
        ));
    }
    let s = scope(&fields, actor, 0, &wf.initial);
    for g in &wf.guards {
        check_guard(g, &s)?;
    }
    let state = wf.state(&wf.initial).map(|s| s.name.clone()).unwrap_or_default();
    Ok(Outcome {
        state: wf.initial.clone(),
        fields,
        role: None,
        moved: true,
        decision: Decision {
            rule: wf.rule.clone(),
            policy_version: version,
            facts: json!({ "workflow": wf.id, "state": wf.initial, "by": actor.id, "guards": wf.guards.iter().map(|g| g.rule.as_str()).collect::<Vec<_>>() }),
            text: Text::new(
                format!("{}开启了「{}」,处于「{}」", actor.name, wf.name.zh, state.zh),
                format!("{} opened a “{}”; it is {}", actor.name, wf.name.en, state.en),
            ),
        },
    })
}

/// The steps taken since the case last changed state (the current round of sign-offs).
fn this_round(case: &CaseFacts) -> &[Step] {
    let start = case
        .steps
        .iter()
        .rposition(|s| s.from_state != s.to_state)
        .map(|i| i + 1)
        .unwrap_or(0);
    &case.steps[start..]
}

/// The roles of an `all` sign-off still unsigned in this round.
fn unsigned<'a>(a: &'a Action, case: &CaseFacts) -> Vec<&'a String> {
    let round = this_round(case);
    a.by.iter()
        .filter(|r| {
            !round
                .iter()
                .any(|s| s.action == a.id && s.role.as_deref() == Some(r.as_str()))
        })
        .collect()
}

/// Takes `action` on the case for `actor` with the fields and note given.
pub fn decide(
    wf: &Workflow,
    case: &CaseFacts,
    action: &str,
    actor: &Actor,
    input: &Map<String, Value>,
    note: Option<&str>,
    version: u32,
) -> Result<Outcome, Refusal> {
    let Some(a) = wf.action(action) else {
        let known: Vec<&str> = wf.actions.iter().map(|a| a.id.as_str()).collect();
        return Err(refusal(
            "invalid_action",
            &wf.rule,
            format!("「{}」没有动作 `{action}`(有:{})", wf.name.zh, known.join("、")),
            format!(
                "A “{}” has no action `{action}` (it has {})",
                wf.name.en,
                known.join(", ")
            ),
        ));
    };
    let here = wf.state(&case.state).map(|s| s.name.clone()).unwrap_or_default();
    if !a.from.contains(&case.state) {
        let from: Vec<String> = a
            .from
            .iter()
            .map(|f| wf.state(f).map(|s| s.name.clone()).unwrap_or_default())
            .map(|t| t.zh)
            .collect();
        let from_en: Vec<String> = a
            .from
            .iter()
            .map(|f| wf.state(f).map(|s| s.name.en.clone()).unwrap_or_default())
            .collect();
        return Err(refusal(
            "action_not_available",
            &a.rule,
            format!(
                "此案件处于「{}」,「{}」只能在「{}」时进行",
                here.zh,
                a.name.zh,
                from.join("、")
            ),
            format!(
                "This case is {}; “{}” can be taken only when it is {}",
                here.en,
                a.name.en,
                from_en.join(" or ")
            ),
        ));
    }
    let admin = actor.roles.iter().any(|r| r == ADMIN_ROLE);
    let mine: Vec<&String> = a.by.iter().filter(|r| actor.roles.contains(r)).collect();
    if !admin && mine.is_empty() {
        return Err(refusal(
            "forbidden",
            &a.rule,
            format!("「{}」由{}进行", a.name.zh, a.by.join("、")),
            format!("“{}” is taken by {}", a.name.en, a.by.join(", ")),
        ));
    }
    if a.not_opener && case.opened_by == actor.id && !admin {
        return Err(refusal(
            "forbidden",
            &a.rule,
            format!("开启此案件的人不能对其「{}」", a.name.zh),
            format!("Whoever opened the case may not take “{}” on it", a.name.en),
        ));
    }
    let round = this_round(case);
    if a.signoff == Signoff::All && round.iter().any(|s| s.action == a.id && s.staff_id == actor.id) {
        return Err(refusal(
            "already_signed",
            &a.rule,
            format!("{}已经签过「{}」,需由另一人签", actor.name, a.name.zh),
            format!(
                "{} has signed “{}” already; another person signs next",
                actor.name, a.name.en
            ),
        ));
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if a.note && note.is_none() {
        return Err(refusal(
            "note_required",
            &a.rule,
            format!("「{}」需写明理由", a.name.zh),
            format!("“{}” needs a note with the reason", a.name.en),
        ));
    }
    let set = typed_fields(wf, input, &|d| a.fields.contains(&d.id))?;
    let mut fields = case.fields.clone();
    fields.extend(set.clone());
    let fields = with_declared(wf, fields);
    if let Some(g) = &a.guard {
        check_guard(g, &scope(&fields, actor, case.id, &case.state))?;
    }
    // The role signed in: the first of the actor's still unsigned (admin signs the first left).
    let (role, left) = match a.signoff {
        Signoff::Any => (mine.first().map(|r| r.to_string()), Vec::new()),
        Signoff::All => {
            let open = unsigned(a, case);
            let Some(role) = open
                .iter()
                .find(|r| mine.contains(r))
                .or(if admin { open.first() } else { None })
            else {
                return Err(refusal(
                    "already_signed",
                    &a.rule,
                    format!("{}的角色已签过「{}」", actor.name, a.name.zh),
                    format!("“{}” has been signed for {}'s role already", a.name.en, actor.name),
                ));
            };
            let role = role.to_string();
            let left: Vec<String> = open.iter().filter(|r| ***r != role).map(|r| r.to_string()).collect();
            (Some(role), left)
        }
    };
    let to = if left.is_empty() {
        a.to.clone().unwrap_or_else(|| case.state.clone())
    } else {
        case.state.clone()
    };
    let there = wf.state(&to).map(|s| s.name.clone()).unwrap_or_default();
    let text = if !left.is_empty() {
        Text::new(
            format!("{}已签「{}」,还需{}签", actor.name, a.name.zh, left.join("、")),
            format!(
                "{} signed “{}”; {} still to sign",
                actor.name,
                a.name.en,
                left.join(", ")
            ),
        )
    } else if to != case.state {
        Text::new(
            format!(
                "{}进行了「{}」:由「{}」转为「{}」",
                actor.name, a.name.zh, here.zh, there.zh
            ),
            format!("{} took “{}”: from {} to {}", actor.name, a.name.en, here.en, there.en),
        )
    } else {
        Text::new(
            format!("{}进行了「{}」", actor.name, a.name.zh),
            format!("{} took “{}”", actor.name, a.name.en),
        )
    };
    let mut facts = json!({
        "workflow": wf.id, "action": a.id, "by": actor.id, "from": case.state, "to": to,
        "set": set, "still_to_sign": left,
    });
    if let Some(g) = &a.guard {
        facts["guard"] = json!({ "rule": g.rule, "when": g.when.source });
    }
    Ok(Outcome {
        moved: to != case.state,
        state: to,
        fields,
        role,
        decision: Decision {
            rule: a.rule.clone(),
            policy_version: version,
            facts,
            text,
        },
    })
}

/// The share of the workflow's declared fields that are filled in, 0 to 100 (100 when it
/// declares none).
pub fn completeness(wf: &Workflow, fields: &Map<String, Value>) -> i64 {
    if wf.fields.is_empty() {
        return 100;
    }
    let filled = wf
        .fields
        .iter()
        .filter(|f| fields.get(&f.id).is_some_and(|v| !v.is_null()))
        .count();
    (filled * 100 / wf.fields.len()) as i64
}

/// The actions the case waits for in its state, and the roles that may still take each.
pub fn waiting_on(wf: &Workflow, case: &CaseFacts) -> Vec<Waiting> {
    wf.actions
        .iter()
        .filter(|a| a.from.contains(&case.state))
        .map(|a| Waiting {
            action: a.id.clone(),
            roles: match a.signoff {
                Signoff::Any => a.by.clone(),
                Signoff::All => unsigned(a, case).into_iter().cloned().collect(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::policy::tests::SAMPLE;

    const CREDIT: &str = r#"
[[workflows]]
id = "credit_line"
rule = "R90.1"
name = { zh = "授信申请", en = "Credit line request" }
subject = "customer"
initial = "proposed"
states = [
  { id = "proposed", name = { zh = "已提出", en = "proposed" } },
  { id = "approved", name = { zh = "已批准", en = "approved" } },
  { id = "rejected", name = { zh = "已驳回", en = "rejected" } },
]
fields = [
  { id = "amount", type = "money", required = true, name = { zh = "额度", en = "Amount" } },
  { id = "terms", type = "choice", of = ["30d", "60d"], name = { zh = "账期", en = "Terms" } },
]
[[workflows.guards]]
rule = "R90.2"
when = "fields.amount >= 100000"
refusal = { zh = "授信额度至少 1,000 元", en = "A credit line is at least 1,000 yuan" }
[[workflows.actions]]
id = "approve"
name = { zh = "批准", en = "Approve" }
from = ["proposed"]
to = "approved"
by = ["team_leader"]
not_opener = true
fields = ["terms"]
guard = { rule = "R90.3", when = "fields.amount <= 5000000 || fields.terms == '30d'", refusal = { zh = "超过 5 万元只给 30 天账期", en = "Above 50,000 yuan only 30-day terms" } }
[[workflows.actions]]
id = "reject"
name = { zh = "驳回", en = "Reject" }
from = ["proposed"]
to = "rejected"
by = ["team_leader"]
note = true
[[workflows.actions]]
id = "countersign"
name = { zh = "会签", en = "Countersign" }
from = ["proposed"]
to = "approved"
by = ["consultant", "team_leader"]
signoff = "all"
"#;

    fn credit() -> Workflow {
        let p = Policy::parse(&format!("{SAMPLE}{CREDIT}"), "credit.toml").unwrap();
        p.workflow("credit_line").unwrap().clone()
    }

    fn actor(id: i64, role: &str) -> Actor {
        Actor {
            id,
            name: format!("staff {id}"),
            roles: vec![role.to_string()],
        }
    }

    fn fields(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn opened(wf: &Workflow, amount: i64) -> CaseFacts {
        let o = open(
            wf,
            &fields(json!({ "amount": amount })),
            true,
            &actor(1, "consultant"),
            3,
        )
        .unwrap();
        CaseFacts {
            id: 7,
            state: o.state,
            fields: o.fields,
            opened_by: 1,
            steps: vec![],
        }
    }

    #[test]
    fn r90_a_case_opens_with_its_fields_typed_and_its_guards_held() {
        let wf = credit();
        let c = opened(&wf, 2_000_000);
        assert_eq!((c.state.as_str(), c.fields["terms"].clone()), ("proposed", Value::Null));
        assert_eq!(completeness(&wf, &c.fields), 50);
        let me = actor(1, "consultant");
        let refuse = |v: Value, customer: bool| open(&wf, &fields(v), customer, &me, 3).unwrap_err();
        let r = refuse(json!({ "amount": 50_000 }), true);
        assert_eq!((r.code, r.rule.unwrap().as_str()), ("guard_refused", "R90.2"));
        assert_eq!(refuse(json!({ "amount": "lots" }), true).code, "invalid_field");
        assert_eq!(refuse(json!({ "terms": "30d" }), true).code, "invalid_field");
        assert_eq!(
            refuse(json!({ "amount": 200_000, "colour": "red" }), true).code,
            "invalid_field"
        );
        assert_eq!(
            refuse(json!({ "amount": 200_000, "terms": "90d" }), true).code,
            "invalid_field"
        );
        assert_eq!(refuse(json!({ "amount": 200_000 }), false).code, "invalid_customer");
    }

    #[test]
    fn r90_an_action_is_taken_by_its_roles_from_its_states_with_its_guard() {
        let wf = credit();
        let c = opened(&wf, 8_000_000);
        let none = Map::new();
        let r = decide(&wf, &c, "approve", &actor(1, "consultant"), &none, None, 3).unwrap_err();
        assert_eq!(r.code, "forbidden");
        let mut own = c.clone();
        own.opened_by = 2;
        let r = decide(&wf, &own, "approve", &actor(2, "team_leader"), &none, None, 3).unwrap_err();
        assert_eq!(r.code, "forbidden", "the opener does not approve their own");
        let r = decide(&wf, &c, "approve", &actor(2, "team_leader"), &none, None, 3).unwrap_err();
        assert_eq!((r.code, r.rule.unwrap().as_str()), ("guard_refused", "R90.3"));
        let o = decide(
            &wf,
            &c,
            "approve",
            &actor(2, "team_leader"),
            &fields(json!({"terms": "30d"})),
            None,
            3,
        )
        .unwrap();
        assert_eq!(
            (o.state.as_str(), o.moved, o.fields["terms"].as_str()),
            ("approved", true, Some("30d"))
        );
        assert_eq!(o.decision.rule.as_str(), "R90.1");
        assert!(
            o.decision.text.en.contains("from proposed to approved"),
            "{}",
            o.decision.text.en
        );
        let mut done = c.clone();
        done.state = "approved".into();
        let r = decide(&wf, &done, "reject", &actor(2, "team_leader"), &none, Some("x"), 3).unwrap_err();
        assert_eq!(r.code, "action_not_available");
        let r = decide(&wf, &c, "reject", &actor(2, "team_leader"), &none, Some("  "), 3).unwrap_err();
        assert_eq!(r.code, "note_required");
        let r = decide(
            &wf,
            &c,
            "approve",
            &actor(2, "team_leader"),
            &fields(json!({"amount": 1})),
            None,
            3,
        )
        .unwrap_err();
        assert_eq!(r.code, "invalid_field", "approve may set only terms");
        assert_eq!(
            decide(&wf, &c, "archive", &actor(2, "team_leader"), &none, None, 3)
                .unwrap_err()
                .code,
            "invalid_action"
        );
    }

    #[test]
    fn r90_a_signoff_by_all_needs_each_role_by_a_different_person() {
        let wf = credit();
        let mut c = opened(&wf, 200_000);
        let none = Map::new();
        assert_eq!(
            waiting_on(&wf, &c)
                .iter()
                .find(|w| w.action == "countersign")
                .unwrap()
                .roles,
            vec!["consultant", "team_leader"]
        );
        let first = decide(&wf, &c, "countersign", &actor(3, "team_leader"), &none, None, 3).unwrap();
        assert_eq!(
            (first.state.as_str(), first.moved, first.role.as_deref()),
            ("proposed", false, Some("team_leader"))
        );
        c.steps.push(Step {
            action: "countersign".into(),
            role: first.role,
            staff_id: 3,
            from_state: "proposed".into(),
            to_state: "proposed".into(),
        });
        assert_eq!(
            waiting_on(&wf, &c)
                .iter()
                .find(|w| w.action == "countersign")
                .unwrap()
                .roles,
            vec!["consultant"]
        );
        let again = decide(&wf, &c, "countersign", &actor(3, "team_leader"), &none, None, 3).unwrap_err();
        assert_eq!(again.code, "already_signed");
        let other_leader = decide(&wf, &c, "countersign", &actor(4, "team_leader"), &none, None, 3).unwrap_err();
        assert_eq!(other_leader.code, "already_signed", "the team leader's part is signed");
        let last = decide(&wf, &c, "countersign", &actor(1, "consultant"), &none, None, 3).unwrap();
        assert_eq!((last.state.as_str(), last.moved), ("approved", true));
    }

    #[test]
    fn r90_a_workflow_is_explained_in_words() {
        let p = Policy::parse(&format!("{SAMPLE}{CREDIT}"), "credit.toml").unwrap();
        let text: Vec<String> = crate::policy::explain(&p).iter().map(|l| l.text.en.clone()).collect();
        let text = text.join("\n");
        assert!(text.contains("Workflow: Credit line request"), "{text}");
        assert!(text.contains("may “Approve” when it is proposed, and it becomes approved; not by whoever opened the case; needs `fields.amount <= 5000000 || fields.terms == '30d'`"), "{text}");
        assert!(
            text.contains("“Reject” when it is proposed, and it becomes rejected; with a note"),
            "{text}"
        );
        assert!(text.contains("each role signs, each by a different person"), "{text}");
    }

    #[test]
    fn r90_a_workflow_is_checked_where_it_is_written() {
        let bad = |from: &str, to: &str| {
            let src = format!("{SAMPLE}{}", CREDIT.replacen(from, to, 1));
            Policy::parse(&src, "credit.toml").unwrap_err().to_string()
        };
        let e = bad("to = \"rejected\"", "to = \"refused\"");
        assert!(e.contains("no state `refused`") && e.contains("credit.toml:"), "{e}");
        let e = bad("fields.amount >= 100000", "fields.amount >= ");
        assert!(e.contains("does not compile"), "{e}");
        let e = bad("fields.amount >= 100000", "customer.grade == 'A'");
        assert!(e.contains("`customer` is not something"), "{e}");
        let e = bad("by = [\"team_leader\"]\nnote", "by = [\"cashier\"]\nnote");
        assert!(e.contains("cashier"), "{e}");
        let e = bad("to = \"rejected\"", "to = \"proposed\"");
        assert!(e.contains("no action leads to rejected"), "{e}");
        let e = bad("fields.amount >= 100000", "fields.amuont >= 100000");
        assert!(
            e.contains("reads `fields.amuont`, which workflow `credit_line` does not declare"),
            "{e}"
        );
        assert_eq!(
            fields_read("fields.a > 1 && 'fields.b' != fields.c_2 || xfields.d"),
            ["a", "c_2"]
        );
        let e = bad("type = \"money\"", "type = \"currency\"");
        assert!(e.contains("field type `currency`"), "{e}");
    }
}
