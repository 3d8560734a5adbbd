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

use crate::Timestamp;
use crate::decision::{Decision, Refusal, RuleId};
use crate::policy::{ADMIN_ROLE, Period};
use crate::text::Text;

/// The step that opens a case (an action id no workflow may use).
pub const OPEN: &str = "open";

/// In an action's `by`: whoever opened the case (a relation to the case, not a role). Staff see
/// the cases they opened, so an action by the opener shows no one else's cases.
pub const OPENER: &str = "opener";

/// In an action's `by`: the case's customer's holder (the staff member with its valid claim).
pub const OWNER: &str = "owner";

/// In an action's `by`: the case's own people, the staff members its staff fields name (R12.9:
/// a project's team records its tracking).
pub const PEOPLE: &str = "people";

/// In an action's `by`, `head_of:FIELD`: whoever heads the unit of the staff member the field
/// names (the workflow's `head_roles` in that unit, or the nearest unit above; R11.6: the head
/// of each party's division signs the settlement).
pub const HEAD_OF: &str = "head_of:";

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
    /// Lists of items answered yes, no or unclear (an inspection, R1.2).
    pub checklists: Vec<Checklist>,
    /// Checked when a case opens.
    pub guards: Vec<Guard>,
    pub actions: Vec<Action>,
    /// Timers that run while a case is in given states.
    pub timers: Vec<Timer>,
    /// What opening a case does besides (R1.7: a cooperation project tags its customer).
    pub on_open: Vec<Declared>,
    /// Roles that may open a case (`admin` always may); empty: anyone who sees the customer.
    pub open_by: Vec<String>,
    /// `Some`: the cases are seen only by its roles and by the case's own people (whoever
    /// opened it or took a step on it), whatever a role's `sees` says (R12.9).
    pub visible_to: Option<Visibility>,
    /// The case's budget: lines filed in a field, spending recorded against them (R12.7).
    pub budget: Option<Budget>,
    /// Figures worked out from the case's fields (R12.8: a year-end reward).
    pub figures: Vec<Figure>,
    /// Rankings of the cases in some states, the top ones flagged (R1.9).
    pub rankings: Vec<Ranking>,
    /// The roles that head a unit, for `staff[...].heads`.
    pub head_roles: Vec<String>,
    /// No copy of a case goes to its customer (R1.5: a partner's grade change).
    pub internal: bool,
    /// The policy's own sentences for steps, in place of the engine's.
    pub messages: Vec<Message>,
    /// The largest amount a money field takes (the policy's `[limits] max_amount`).
    #[serde(skip)]
    pub max_money: i64,
    /// The names of the roles the workflow names (for its sentences), from `[[roles]]`.
    #[serde(skip)]
    pub role_names: Vec<(String, Text)>,
}

impl Workflow {
    /// Whether only the engine writes the field: a budget's spending, a running total, a field
    /// an effect sets. Nobody sets it when opening a case.
    pub fn kept_by_engine(&self, field: &str) -> bool {
        let set_by_effect = self
            .on_open
            .iter()
            .chain(self.actions.iter().flat_map(|a| &a.effects))
            .chain(self.timers.iter().flat_map(|t| &t.effects))
            .any(|e| matches!(&e.effect, EffectDef::Set { field: f, .. } if f == field));
        set_by_effect
            || self.budget.as_ref().is_some_and(|b| b.spent == field)
            || self.actions.iter().any(|a| a.adds.iter().any(|(_, to)| to == field))
            || self.actions.iter().any(|a| a.count.as_deref() == Some(field))
    }

    /// The fields a form opening a case asks for: those required, and those the engine does not
    /// keep that no action sets or that an action in the first state sets. What each signer of a
    /// sign-off of all gives (R11.6: to whom the customer goes) is theirs, never the opener's.
    pub fn opening_fields(&self) -> Vec<&FieldDef> {
        self.fields
            .iter()
            .filter(|f| {
                let setters: Vec<&Action> = self.actions.iter().filter(|a| a.fields.contains(&f.id)).collect();
                f.required
                    || (!self.kept_by_engine(&f.id)
                        && (setters.is_empty()
                            || setters
                                .iter()
                                .any(|a| a.from.contains(&self.initial) && !a.signoff.is_several())))
            })
            .collect()
    }

    /// Every expression the interpreter may evaluate with the case's surroundings: conditions,
    /// routes, effects, timers' `unless` and fields' defaults.
    fn expressions(&self) -> impl Iterator<Item = &Expr> {
        let guards = self
            .guards
            .iter()
            .chain(self.actions.iter().flat_map(|a| &a.guards))
            .map(|g| &g.when);
        let routes = self.actions.iter().flat_map(|a| a.routes.iter().map(|r| &r.when));
        let effects = self
            .on_open
            .iter()
            .chain(self.actions.iter().flat_map(|a| &a.effects))
            .chain(self.timers.iter().flat_map(|t| &t.effects))
            .flat_map(Declared::exprs);
        let others = self
            .fields
            .iter()
            .filter_map(|f| f.default.as_ref())
            .chain(self.timers.iter().filter_map(|t| t.unless.as_ref()));
        guards.chain(routes).chain(effects).chain(others)
    }

    /// Whether the workflow needs to know who holds its customer: an expression reads
    /// `customer.owner`, or an action is taken by the `owner` (when none does, the interpreter
    /// does not look the holder up).
    pub fn reads_owner(&self) -> bool {
        self.actions.iter().any(|a| a.by.iter().any(|b| b == OWNER))
            || self.expressions().any(|e| e.source.contains("customer.owner"))
    }

    /// Whether any expression of the workflow reads its customer or the customer's other cases
    /// (when none does, the interpreter reads neither).
    pub fn reads_customer(&self) -> bool {
        self.actions.iter().any(|a| a.by.iter().any(|b| b == OWNER))
            || self
                .expressions()
                .any(|e| e.reads().iter().any(|v| CUSTOMER_VARIABLES.contains(&v.as_str())))
    }
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
    /// What a case must have to enter it.
    pub requires: Option<Requires>,
}

/// The fields (documents) a case must have to enter a state, under a rule (R1.10: an A or B
/// partner has all its documents, each still valid). A date field counts while it is not past.
#[derive(Debug, Clone, Serialize)]
pub struct Requires {
    pub rule: RuleId,
    pub fields: Vec<String>,
    /// Only when this holds (R1.10: only for grades A and B).
    pub when: Option<Expr>,
}

/// A typed field of a case.
#[derive(Debug, Clone, Serialize)]
pub struct FieldDef {
    pub id: String,
    pub name: Text,
    pub kind: FieldKind,
    /// Needed when the case opens.
    pub required: bool,
    /// The value names a party that must not be in the customer directory yet: a case that
    /// names a registered customer is refused with this rule (R12.1: a development project is
    /// for a new customer).
    pub not_in_directory: Option<RuleId>,
    /// What the field holds when a case opens without it (R11.9: the staff member a complaint
    /// is about is by default the customer's holder, `customer.owner`).
    pub default: Option<Expr>,
    /// Kept from what the case's customer is shown or given (R1.5: the partner's grade).
    pub internal: bool,
}

impl FieldDef {
    /// Whether the case's customer may be shown it: not internal, not a staff member (who at
    /// the company), not a budget (the company's own figures).
    pub fn for_customer(&self) -> bool {
        !self.internal && !matches!(self.kind, FieldKind::Staff | FieldKind::Amounts)
    }
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
    /// A calendar date written `YYYY-MM-DD` (a document's validity, R1.10); compares with
    /// `today` as text.
    Date,
    /// One of the listed values.
    Choice(Vec<String>),
    /// Named amounts in fen, `{"差旅费": 500000, ...}`: the lines of a budget.
    Amounts,
    /// A staff member of the tenant, by id (the one a complaint is about); expressions read who
    /// they are as `staff[string(fields.ID)]`.
    Staff,
}

/// The most entries an `amounts` field holds, and the longest name of one.
pub const AMOUNTS_MAX: usize = 50;
pub const AMOUNT_NAME_MAX: usize = 60;

impl FieldKind {
    /// The type as the policy writes it: `text`, `number`, `money`, `bool`, `date` or `choice`.
    pub fn name(&self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Number => "number",
            FieldKind::Money => "money",
            FieldKind::Bool => "bool",
            FieldKind::Date => "date",
            FieldKind::Choice(_) => "choice",
            FieldKind::Amounts => "amounts",
            FieldKind::Staff => "staff",
        }
    }

    /// A choice's values; empty for the other types.
    pub fn values(&self) -> &[String] {
        match self {
            FieldKind::Choice(of) => of,
            _ => &[],
        }
    }
}

/// A checklist: items answered `yes`, `no` or `unclear` by the actions that may answer it.
/// The answers are kept in the case's fields under the checklist's id (`fields.inspection.licence`).
#[derive(Debug, Clone, Serialize)]
pub struct Checklist {
    pub id: String,
    pub name: Text,
    pub rule: RuleId,
    pub items: Vec<Item>,
    /// How an `unclear` answer counts when the checklist is judged (R1.2: as no).
    pub unclear: Unclear,
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: String,
    pub name: Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unclear {
    /// Unclear counts as no: the checklist passes only with every item yes.
    No,
    /// Unclear counts as yes.
    Yes,
}

/// An answer to a checklist item.
pub const ANSWERS: [&str; 3] = ["yes", "no", "unclear"];

/// Where a checklist stands: how many items are answered, and whether it passes (every item
/// answered and none counting as no).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tally {
    pub answered: usize,
    pub total: usize,
    pub yes: usize,
    pub no: usize,
    pub unclear: usize,
    /// Items counting as no (`no`, and `unclear` when it counts as no).
    pub failing: usize,
    pub passed: bool,
}

impl Checklist {
    /// The answers the case holds for this checklist.
    pub fn answers<'a>(&self, fields: &'a Map<String, Value>) -> Option<&'a Map<String, Value>> {
        fields.get(&self.id).and_then(Value::as_object)
    }

    /// Where the checklist stands, in words: "已答 2/3 项" / "2 of 3 answered", then whether it
    /// passed and, if not, why ("未通过（0 项否，1 项不确定按否计）").
    pub fn standing(&self, fields: &Map<String, Value>) -> Text {
        let t = self.tally(fields);
        let (zh, en) = (
            format!("已答 {}/{} 项", t.answered, t.total),
            format!("{} of {} answered", t.answered, t.total),
        );
        if t.passed {
            Text::new(format!("{zh}，通过"), format!("{en}, passed"))
        } else if t.answered < t.total {
            Text::new(zh, en)
        } else if self.unclear == Unclear::No && t.unclear > 0 {
            Text::new(
                format!("{zh}，未通过（{} 项否，{} 项不确定按否计）", t.no, t.unclear),
                format!("{en}, not passed ({} no, {} unclear counted as no)", t.no, t.unclear),
            )
        } else {
            Text::new(
                format!("{zh}，未通过（{} 项否）", t.failing),
                format!("{en}, not passed ({} no)", t.failing),
            )
        }
    }

    pub fn tally(&self, fields: &Map<String, Value>) -> Tally {
        let answers = self.answers(fields);
        let answer = |item: &Item| answers.and_then(|a| a.get(&item.id)).and_then(Value::as_str);
        let count = |want: &str| self.items.iter().filter(|i| answer(i) == Some(want)).count();
        let (yes, no, unclear) = (count("yes"), count("no"), count("unclear"));
        let answered = yes + no + unclear;
        let failing = no + if self.unclear == Unclear::No { unclear } else { 0 };
        Tally {
            answered,
            total: self.items.len(),
            yes,
            no,
            unclear,
            failing,
            passed: answered == self.items.len() && failing == 0,
        }
    }
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
    /// Every listed role in the order listed, each by a different person (approvals in
    /// sequence, R12.2); the state moves on the last.
    Sequence,
    /// This many different people holding any of the roles (a committee's quorum).
    Quorum(u32),
}

impl Signoff {
    /// Whether the action takes several signatures, each by a different person.
    pub fn is_several(self) -> bool {
        self != Signoff::Any
    }

    /// Its name in the policy file and the API.
    pub fn name(self) -> &'static str {
        match self {
            Signoff::Any => "any",
            Signoff::All => "all",
            Signoff::Sequence => "sequence",
            Signoff::Quorum(_) => "quorum",
        }
    }
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
    /// Where it leads instead when a condition holds, the first that holds (R2.3: a design
    /// review goes to the station, the branch or the city company by capacity); `to` when none.
    pub routes: Vec<Route>,
    /// Roles that may take it (`admin` always may), or [`OPENER`].
    pub by: Vec<String>,
    pub signoff: Signoff,
    /// Whoever opened the case may not take it (a submitter does not approve their own).
    pub not_opener: bool,
    /// A note (a reason) is required.
    pub note: bool,
    /// Fields this action may set.
    pub fields: Vec<String>,
    /// Checked with the action's fields applied, in order; the first that fails refuses.
    pub guards: Vec<Guard>,
    /// Checklists this action may answer.
    pub answers: Vec<String>,
    /// What happens besides the move, once the action is complete (the last sign-off).
    pub effects: Vec<Declared>,
    /// The action records spending against the workflow's budget.
    pub spend: Option<Spend>,
    /// Running totals: the value given for the first field is added to the second (a payment
    /// collected adds to what the case has collected, R12.8).
    pub adds: Vec<(String, String)>,
    /// A sign-off of several whose signers must give the same values of these fields (R11.6:
    /// to whom the customer goes, whether the parties argued); when one differs from an earlier
    /// signature of the round, the case goes to `otherwise` instead.
    pub agree: Vec<String>,
    pub otherwise: Option<String>,
    /// The number field the engine counts the action's completed steps in (R2.10: how many
    /// inspections there were), readable by every expression...
    pub count: Option<String>,
    /// ...and the most times it may be completed; the next is refused with the action's rule.
    pub at_most: Option<u32>,
    /// A statement whoever takes the action confirms, kept with the step (R2.5: that the
    /// customer was not told which designer, builder or supplier to use).
    pub attest: Option<Text>,
}

/// One way an action may lead: to `to` when `when` holds.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub when: Expr,
    pub to: String,
    /// Why it leads there, in words for the decision and the explanation ("10 to 1000 kVA").
    pub name: Text,
}

impl Action {
    /// Every state the action may lead to: its routes' and `to`.
    pub fn targets(&self) -> impl Iterator<Item = &String> {
        self.routes.iter().map(|r| &r.to).chain(self.to.iter())
    }

    /// Whether taking it in `state` may move the case on.
    pub fn moves_from(&self, state: &str) -> bool {
        self.targets().any(|t| t != state)
    }
}

/// Who sees a workflow's cases besides each case's own people, and the rule that says so.
#[derive(Debug, Clone, Serialize)]
pub struct Visibility {
    pub rule: RuleId,
    pub roles: Vec<String>,
}

impl Visibility {
    /// Whether someone holding `roles` sees every case of the workflow.
    pub fn sees_all(&self, roles: &[String]) -> bool {
        self.roles.iter().any(|r| roles.contains(r))
    }
}

/// Which of an action's fields give the amount spent and the budget line it is spent on.
#[derive(Debug, Clone, Serialize)]
pub struct Spend {
    pub amount: String,
    pub line: String,
}

/// A case's budget (R12.7): lines filed in an `amounts` field, spending per line kept in another;
/// a line may be overspent by at most `tolerance_percent`, and until `until` holds (substantive
/// progress) all spending together stays within `cap`.
#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    pub rule: RuleId,
    pub name: Text,
    /// The `amounts` field with the lines.
    pub lines: String,
    /// The `amounts` field the engine keeps the spending in.
    pub spent: String,
    pub tolerance_percent: i64,
    /// Fen.
    pub cap: Option<i64>,
    /// While this does not hold, `cap` applies.
    pub until: Option<Expr>,
}

/// A budget line as it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetLine {
    pub line: String,
    pub budget: i64,
    pub spent: i64,
    /// The most the line may reach with the tolerance.
    pub limit: i64,
}

/// Where a case's budget stands (the budget-execution report of one case).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetReport {
    pub filed: bool,
    pub lines: Vec<BudgetLine>,
    pub budget: i64,
    pub spent: i64,
    /// The cap on all spending, while it applies.
    pub cap: Option<i64>,
}

/// The policy's own sentence for a step (`open`, an action or a timer): a template in zh and en
/// whose `{...}` are filled in from the step: `{actor}`, `{from}`, `{to}` (state names),
/// `{fields.ID}` (the case's field after the step; money in yuan) and, for spending,
/// `{budget.line}`, `{budget.amount}`, `{budget.line_spent}`, `{budget.line_budget}`,
/// `{budget.spent}` (yuan).
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub step: String,
    pub text: Text,
}

/// What a message template may name besides `fields.ID`.
pub const MESSAGE_WORDS: [&str; 8] = [
    "actor",
    "from",
    "to",
    "budget.line",
    "budget.amount",
    "budget.line_spent",
    "budget.line_budget",
    "budget.spent",
];

/// The `{...}` a template names, in order.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else { break };
        out.push(rest[i + 1..i + j].to_string());
        rest = &rest[i + j + 1..];
    }
    out
}

/// `template` with each `{name}` replaced by `value(name)`, in one pass from left to right (a
/// filled-in value is never read again as a template).
fn fill_in(template: &str, value: &dyn Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else { break };
        out.push_str(&rest[..i]);
        out.push_str(&value(&rest[i + 1..i + j]));
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    out
}

/// The step's sentence from the policy's message for it, if it has one; else `engine`.
fn worded(
    wf: &Workflow,
    step: &str,
    (actor, from, to): (Option<&str>, &str, &str),
    fields: &Map<String, Value>,
    facts: &Value,
    engine: Text,
) -> Text {
    let Some(m) = wf.messages.iter().find(|m| m.step == step) else {
        return engine;
    };
    let y = crate::ledger::yuan;
    // The checker allows only the names below (`policy::workflows`, `message`).
    let fill = |template: &str, lang: crate::Lang| {
        fill_in(template, &|name: &str| match name {
            "actor" => actor.map(str::to_string).unwrap_or_else(|| match lang {
                crate::Lang::Zh => "系统".to_string(),
                crate::Lang::En => "the system".to_string(),
            }),
            "from" => wf.state_name(from).get(lang).to_string(),
            "to" => wf.state_name(to).get(lang).to_string(),
            "budget.line" => facts["budget"]["line"].as_str().unwrap_or_default().to_string(),
            b if b.starts_with("budget.") => facts["budget"][&b[7..]].as_i64().map(y).unwrap_or_default(),
            f => {
                let id = f.strip_prefix("fields.").unwrap_or(f);
                match (wf.field(id).map(|d| &d.kind), fields.get(id)) {
                    (Some(FieldKind::Money), Some(Value::Number(n))) => n.as_i64().map(y).unwrap_or_default(),
                    (_, Some(Value::String(s))) => s.clone(),
                    (_, None | Some(Value::Null)) => String::new(),
                    (_, Some(v)) => v.to_string(),
                }
            }
        })
    };
    Text::new(fill(&m.text.zh, crate::Lang::Zh), fill(&m.text.en, crate::Lang::En))
}

/// A ranking of the workflow's cases in some states by a score, the first `top` flagged when
/// `flag_when` holds for them (R1.9: partners by dossier completeness; the top ones with a
/// clean past year get fee discounts and priority service).
#[derive(Debug, Clone, Serialize)]
pub struct Ranking {
    pub id: String,
    pub name: Text,
    pub rule: RuleId,
    #[serde(rename = "in")]
    pub states: Vec<String>,
    /// A whole number; the higher, the better placed.
    pub score: Expr,
    /// How many places at the top may be flagged.
    pub top: usize,
    /// What the flag means (`可享费用优惠与优先服务`).
    pub flag: Text,
    /// Besides a top place, what a flagged case needs.
    pub flag_when: Option<Expr>,
}

/// A case's place in a ranking, with the Decision that placed and flagged it.
#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    pub case_id: i64,
    /// 1 for the first; cases whose score cannot be worked out come last, unplaced.
    pub place: Option<usize>,
    pub score: Option<i64>,
    pub flagged: bool,
    pub decision: Decision,
}

/// Ranks the cases of `r`'s states: by score, highest first, the older case (lower id) first
/// among equals; the first `top` are flagged when `flag_when` holds for them.
pub fn rank(wf: &Workflow, r: &Ranking, cases: &[CaseFacts], version: u32) -> Vec<Ranked> {
    let mut scored: Vec<(&CaseFacts, Result<i64, String>, Value)> = cases
        .iter()
        .filter(|c| r.states.contains(&c.state))
        .map(|c| {
            let s = alone(wf, c);
            (c, r.score.number(&s), s)
        })
        .collect();
    scored.sort_by(|a, b| match (&a.1, &b.1) {
        (Ok(x), Ok(y)) => y.cmp(x).then(a.0.id.cmp(&b.0.id)),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => a.0.id.cmp(&b.0.id),
    });
    scored
        .into_iter()
        .enumerate()
        .map(|(i, (c, score, s))| {
            let place = score.is_ok().then_some(i + 1);
            let top = place.is_some_and(|p| p <= r.top);
            let condition = match (&r.flag_when, top) {
                (Some(when), true) => when.holds(&s).unwrap_or(false),
                (None, true) => true,
                (_, false) => false,
            };
            let flagged = top && condition;
            let text = match (&score, flagged) {
                (Err(e), _) => Text::new(
                    format!("「{}」无法计算此案件的得分：{e}", r.name.zh),
                    format!("“{}” cannot score this case: {e}", r.name.en),
                ),
                (Ok(n), true) => Text::new(
                    format!(
                        "「{}」第 {} 名（得分 {n}），在前 {} 名且符合条件：{}",
                        r.name.zh,
                        i + 1,
                        r.top,
                        r.flag.zh
                    ),
                    format!(
                        "“{}”: place {} (score {n}), within the top {} and meeting the conditions: {}",
                        r.name.en,
                        i + 1,
                        r.top,
                        r.flag.en
                    ),
                ),
                (Ok(n), false) if top => Text::new(
                    format!(
                        "「{}」第 {} 名（得分 {n}），在前 {} 名但不符合「{}」的条件",
                        r.name.zh,
                        i + 1,
                        r.top,
                        r.flag.zh
                    ),
                    format!(
                        "“{}”: place {} (score {n}), within the top {} but not meeting the conditions for “{}”",
                        r.name.en,
                        i + 1,
                        r.top,
                        r.flag.en
                    ),
                ),
                (Ok(n), false) => Text::new(
                    format!("「{}」第 {} 名（得分 {n}），不在前 {} 名", r.name.zh, i + 1, r.top),
                    format!(
                        "“{}”: place {} (score {n}), outside the top {}",
                        r.name.en,
                        i + 1,
                        r.top
                    ),
                ),
            };
            Ranked {
                case_id: c.id,
                place,
                score: score.as_ref().ok().copied(),
                flagged,
                decision: Decision {
                    key: "case.ranked".into(),
                    rule: r.rule.clone(),
                    policy_version: version,
                    facts: json!({
                        "workflow": wf.id, "ranking": r.id, "case": c.id, "place": place,
                        "score": score.as_ref().ok(), "top": r.top, "within_top": top,
                        "condition_held": r.flag_when.as_ref().map(|_| condition), "flagged": flagged,
                    }),
                    text,
                },
            }
        })
        .collect()
}

/// A number worked out from the case (R12.8: the year-end reward from the project's scale and
/// the payments collected).
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub id: String,
    pub name: Text,
    pub rule: RuleId,
    /// `money` (fen) or `number`.
    pub kind: FieldKind,
    pub value: Expr,
}

/// A timer: `period` after a case enters one of the states `r#in` (or after the last step that
/// restarts it), the timer fires; with `repeat`, again every `period` while the case stays.
/// A firing re-reads the case: when the case has left the states, or `unless` holds, nothing
/// happens, so a timer that fires twice changes nothing the second time.
#[derive(Debug, Clone, Serialize)]
pub struct Timer {
    pub id: String,
    pub name: Text,
    pub rule: RuleId,
    #[serde(rename = "in")]
    pub states: Vec<String>,
    pub period: Period,
    /// `every` (again each period) rather than `after` (once per stay).
    pub repeat: bool,
    /// Actions whose step starts the count again (a tracking record, R12.3).
    pub restarted_by: Vec<String>,
    /// When this holds at the firing, the timer does nothing.
    pub unless: Option<Expr>,
    /// Where the firing moves the case; `None`: it stays.
    pub to: Option<String>,
    /// Whether the firing marks the case overdue (cleared when the case moves or a restarting
    /// step is taken).
    pub overdue: bool,
    pub effects: Vec<Declared>,
}

/// An effect as the policy declares it, with the condition under which it applies (`when`:
/// always when none; R11.9: the fine for a complaint to the boss only when it went to the boss).
#[derive(Debug, Clone, Serialize)]
pub struct Declared {
    pub when: Option<Expr>,
    #[serde(flatten)]
    pub effect: EffectDef,
}

impl Declared {
    /// The expressions the effect evaluates: its condition and its own.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.when.iter().chain(self.effect.exprs())
    }
}

/// What an effect does.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "effect")]
pub enum EffectDef {
    /// Charge a ledger code to the staff the expression `to` names (an id or a list of ids).
    Charge { code: String, to: Expr },
    /// Set the case's customer's grade to what `value` gives (a grade, or null for none):
    /// a grade decided by the case (R1.5, R1.11).
    SetGrade { value: Expr },
    /// Put a tag on the case's customer (`on`) or take it off: what other rules read (R1.7: a
    /// pending cooperation project raises the visit frequency).
    Tag { tag: String, on: bool },
    /// Keep a snapshot of the case's customer's profile and the case's fields, unchanged from
    /// then on (R1.8).
    Snapshot,
    /// Set one of the case's own fields to what `value` gives (R12.4: a project three months
    /// without progress is marked for special attention).
    Set { field: String, value: Expr },
    /// Register a company customer named by `name` and hand it to the holder of `role` with the
    /// fewest customers; the case then belongs to it (R12.6: a successful development project
    /// hands its customer to regular sales).
    Register { name: Expr, role: String },
    /// Hand the case's customer over from whoever holds it to the holder of `role` with the
    /// fewest customers, outside the unit `outside` gives (a unit id, or null for anywhere)
    /// (R11.9: a complaint unresolved for 3 days moves the customer to another division).
    Transfer { role: String, outside: Option<Expr> },
    /// Hand the case's customer to the staff member `to` names (R11.6: to the party the
    /// settlement awards it to).
    TransferTo { to: Expr },
    /// Open a case of `workflow` on the same customer, linked to this one, with its fields
    /// given by the expressions `fields` (R8.12: a rejected outcome reopens as a new case
    /// linked to the old one).
    Open {
        workflow: String,
        fields: Vec<(String, Expr)>,
    },
}

impl EffectDef {
    /// The expressions the effect evaluates.
    pub fn exprs(&self) -> Vec<&Expr> {
        match self {
            EffectDef::Charge { to, .. } => vec![to],
            EffectDef::SetGrade { value } | EffectDef::Set { value, .. } => vec![value],
            EffectDef::Register { name, .. } => vec![name],
            EffectDef::Transfer { outside, .. } => outside.iter().collect(),
            EffectDef::TransferTo { to } => vec![to],
            EffectDef::Open { fields, .. } => fields.iter().map(|(_, x)| x).collect(),
            EffectDef::Tag { .. } | EffectDef::Snapshot => Vec::new(),
        }
    }

    /// Whether the effect changes the case's customer (so the case must have one).
    pub fn on_customer(&self) -> bool {
        matches!(
            self,
            EffectDef::SetGrade { .. }
                | EffectDef::Tag { .. }
                | EffectDef::Snapshot
                | EffectDef::Transfer { .. }
                | EffectDef::TransferTo { .. }
        )
    }
}

/// An effect decided for one step, for the interpreter to apply in the step's transaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "effect")]
pub enum Effect {
    /// Charge `code` to `staff_id`; the step and the person make it once (see `subject`).
    Charge { code: String, staff_id: i64, step: String },
    /// The case's customer's grade becomes `grade` (`None`: no grade).
    SetGrade { grade: Option<String> },
    /// `tag` goes on the case's customer (`on`) or comes off.
    Tag { tag: String, on: bool },
    /// A snapshot of the customer's profile; the case and the step make it once.
    Snapshot { step: String },
    /// The case's field `field` became `value` (applied by the engine to the case's fields).
    Set { field: String, value: Value },
    /// Register the company `name` as a customer held by whoever holds `role` with the fewest
    /// customers, and make the case its.
    Register { name: String, role: String },
    /// Hand the customer to whoever holds `role` with the fewest customers, outside
    /// `outside_unit` when there is one.
    Transfer { role: String, outside_unit: Option<i64> },
    /// Hand the customer to `staff_id`.
    TransferTo { staff_id: i64 },
    /// Open a case of `workflow` on the case's customer with `fields`, linked to the case.
    Open {
        workflow: String,
        fields: Map<String, Value>,
    },
}

impl Effect {
    /// What makes the effect once for case `case_id` (a charge or a snapshot): its step and, for
    /// a charge, the person.
    pub fn subject(&self, case_id: i64) -> Option<String> {
        match self {
            Effect::Charge { staff_id, step, .. } => Some(format!("case:{case_id}:{step}:staff:{staff_id}")),
            Effect::Snapshot { step } => Some(format!("case:{case_id}:{step}")),
            _ => None,
        }
    }
}

/// The longest grade a customer may carry (as the customer API allows).
pub const GRADE_MAX: usize = 20;

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
pub const VARIABLES: [&str; 8] = [
    "fields",
    "actor",
    "case",
    "checklist",
    "customer",
    "cases",
    "today",
    "staff",
];

/// The names that read the case's customer (nothing for a workflow of no customer).
pub const CUSTOMER_VARIABLES: [&str; 2] = ["customer", "cases"];

impl Expr {
    /// Compiles `source`; the error says what is wrong, and names an unknown variable.
    pub fn compile(source: &str) -> Result<Expr, String> {
        let program = cel::Program::compile(source)
            .map_err(|e| e.errors.iter().map(|x| x.msg.clone()).collect::<Vec<_>>().join("; "))?;
        let refs = program.references();
        let bound = macro_variables(source);
        if let Some(v) = refs
            .variables()
            .into_iter()
            .find(|v| !VARIABLES.contains(v) && !bound.iter().any(|b| b == v))
        {
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

    /// The top-level names the expression reads (not those a macro binds, such as `c` in
    /// `cases.exists(c, ...)`).
    pub fn reads(&self) -> Vec<String> {
        let bound = macro_variables(&self.source);
        let mut v: Vec<String> = self
            .program
            .references()
            .variables()
            .into_iter()
            .filter(|v| VARIABLES.contains(v) || !bound.iter().any(|b| b == v))
            .map(str::to_string)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    fn run(&self, scope: &Value) -> Result<cel::Value, String> {
        let mut ctx = cel::Context::default();
        if let Value::Object(m) = scope {
            for (k, v) in m {
                ctx.add_variable(k.as_str(), to_cel(v)).map_err(|e| e.to_string())?;
            }
        }
        self.program.execute(&ctx).map_err(|e| e.to_string())
    }

    /// Evaluates to a boolean, or says why it cannot.
    pub fn holds(&self, scope: &Value) -> Result<bool, String> {
        match self.run(scope)? {
            cel::Value::Bool(b) => Ok(b),
            other => Err(format!("it gave {other:?}, not true or false")),
        }
    }

    /// Evaluates to a grade: a string of 1 to [`GRADE_MAX`] characters, or null for none.
    pub fn grade(&self, scope: &Value) -> Result<Option<String>, String> {
        match self.run(scope)? {
            cel::Value::Null => Ok(None),
            cel::Value::String(s) if !s.trim().is_empty() && s.chars().count() <= GRADE_MAX => {
                Ok(Some(s.trim().to_string()))
            }
            other => Err(format!(
                "it gave {other:?}, not a grade (text of 1 to {GRADE_MAX} characters, or null)"
            )),
        }
    }

    /// Evaluates to a whole number (a figure, R12.8), or says why it cannot.
    pub fn number(&self, scope: &Value) -> Result<i64, String> {
        match self.run(scope)? {
            cel::Value::Int(i) => Ok(i),
            cel::Value::UInt(u) => i64::try_from(u).map_err(|_| "the number is too large".to_string()),
            cel::Value::Float(f) if f.is_finite() && f.abs() < 9.0e15 => Ok(f.round() as i64),
            other => Err(format!("it gave {other:?}, not a number")),
        }
    }

    /// Evaluates to a plain value (null, true or false, a number or text) to keep in a field.
    pub fn scalar(&self, scope: &Value) -> Result<Value, String> {
        Ok(match self.run(scope)? {
            cel::Value::Null => Value::Null,
            cel::Value::Bool(b) => Value::Bool(b),
            cel::Value::Int(i) => Value::from(i),
            cel::Value::UInt(u) => Value::from(u),
            cel::Value::String(s) => Value::from(s.to_string()),
            other => return Err(format!("it gave {other:?}, not null, true, false, a number or text")),
        })
    }

    /// Evaluates to staff ids (one id, or a list of them; null is nobody), or says why it cannot.
    pub fn staff_ids(&self, scope: &Value) -> Result<Vec<i64>, String> {
        fn id(v: &cel::Value) -> Result<Option<i64>, String> {
            match v {
                cel::Value::Int(i) if *i > 0 => Ok(Some(*i)),
                cel::Value::UInt(u) if *u > 0 => Ok(i64::try_from(*u).ok()),
                cel::Value::Null => Ok(None),
                other => Err(format!("it gave {other:?}, not a staff id")),
            }
        }
        let mut out = Vec::new();
        match self.run(scope)? {
            cel::Value::List(l) => {
                for v in l.iter() {
                    out.extend(id(v)?);
                }
            }
            v => out.extend(id(&v)?),
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

/// A JSON value as CEL reads it. A whole number is an `int`, whatever its sign (left to serde,
/// a positive one would be a `uint`, and `fields.collected * 2` would fail: CEL does not mix
/// the two in arithmetic).
fn to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(a) => cel::Value::List(Arc::new(a.iter().map(to_cel).collect())),
        Value::Object(m) => {
            let map: std::collections::HashMap<cel::objects::Key, cel::Value> = m
                .iter()
                .map(|(k, v)| (cel::objects::Key::from(k.clone()), to_cel(v)))
                .collect();
            cel::Value::Map(map.into())
        }
    }
}

/// The names CEL's macros bind in `source`: `c` in `cases.exists(c, ...)`, and likewise for
/// `all`, `exists_one`, `map` and `filter` (the names a list's items go by inside them).
fn macro_variables(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for m in [".all(", ".exists(", ".exists_one(", ".map(", ".filter("] {
        for (i, _) in source.match_indices(m) {
            let rest = source[i + m.len()..].trim_start();
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && rest[name.len()..].trim_start().starts_with(',') {
                out.push(name);
            }
        }
    }
    out
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

    pub fn checklist(&self, id: &str) -> Option<&Checklist> {
        self.checklists.iter().find(|c| c.id == id)
    }

    /// The checklist an item belongs to.
    pub fn item(&self, id: &str) -> Option<(&Checklist, &Item)> {
        self.checklists
            .iter()
            .find_map(|c| c.items.iter().find(|i| i.id == id).map(|i| (c, i)))
    }

    pub fn timer(&self, id: &str) -> Option<&Timer> {
        self.timers.iter().find(|t| t.id == id)
    }

    /// Whether someone holding `roles` may sit in one of the workflow's `head_of:FIELD` seats
    /// (it has one, and they hold one of its `head_roles`).
    pub fn heads_seat(&self, roles: &[String]) -> bool {
        self.actions.iter().flat_map(|a| &a.by).any(|b| b.starts_with(HEAD_OF))
            && self
                .head_roles
                .iter()
                .any(|r| r != crate::policy::ADMIN_ROLE && roles.contains(r))
    }

    /// A field's name, or its id when the workflow does not declare it.
    pub fn field_name(&self, id: &str) -> Text {
        self.field(id)
            .map(|d| d.name.clone())
            .unwrap_or_else(|| Text::new(id, id))
    }

    /// The name of what took a step: one of the workflow's actions or timers.
    pub fn step_name(&self, id: &str) -> Option<&Text> {
        self.action(id)
            .map(|a| &a.name)
            .or_else(|| self.timer(id).map(|t| &t.name))
    }

    /// A state's name, or its id when the workflow (of an older policy) no longer has it.
    /// Role ids in words: their names from the policy, `opener` as whoever opened the case.
    pub fn roles_text<S: AsRef<str>>(&self, ids: &[S]) -> Text {
        let names: Vec<Text> = ids
            .iter()
            .map(|id| {
                let id = id.as_ref();
                if id == OPENER {
                    return Text::new("开启人", "whoever opened the case");
                }
                self.role_names
                    .iter()
                    .find(|(r, _)| r == id)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_else(|| Text::new(id, id))
            })
            .collect();
        Text::new(
            names.iter().map(|n| n.zh.as_str()).collect::<Vec<_>>().join("、"),
            names.iter().map(|n| n.en.as_str()).collect::<Vec<_>>().join(", "),
        )
    }

    fn state_name(&self, id: &str) -> Text {
        self.state(id)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| Text::new(id, id))
    }

    /// States no action leads to from the initial state.
    pub fn unreachable(&self) -> Vec<&str> {
        let mut seen = vec![self.initial.as_str()];
        let mut i = 0;
        while i < seen.len() {
            let here = seen[i].to_string();
            let moves = self
                .actions
                .iter()
                .flat_map(|a| a.targets().map(move |t| (&a.from, Some(t))));
            let disagreed = self.actions.iter().map(|a| (&a.from, a.otherwise.as_ref()));
            let timed = self.timers.iter().map(|t| (&t.states, t.to.as_ref()));
            for (from, to) in moves.chain(disagreed).chain(timed) {
                if let Some(to) = to
                    && from.contains(&here)
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
    /// `None` for a timer's step.
    pub staff_id: Option<i64>,
    pub from_state: String,
    pub to_state: String,
    /// The fields the step set (what a signer gave, compared by `agree`).
    pub fields: Map<String, Value>,
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

/// What a case's expressions read besides the case itself: its customer and the customer's
/// other cases (R1.3: no cooperation project before the admission is accepted). Empty for a
/// case of no customer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Around {
    /// The case's customer, if it has one.
    pub customer_id: Option<i64>,
    /// What expressions read of it (`None` also when no expression of the workflow reads it).
    pub customer: Option<CustomerFacts>,
    /// The customer's cases, the case itself left out.
    pub cases: Vec<OtherCase>,
    /// The tenant's date when the engine decides, `YYYY-MM-DD` (R1.10: a document valid until
    /// a date is valid while `fields.licence_until >= today`).
    pub today: String,
    /// Customers of the directory that the values of `not_in_directory` fields name (R12.1),
    /// looked up by the interpreter for the values being set.
    pub listed: Vec<Listed>,
    /// The staff members the case's `staff` fields name, with their unit and who heads it
    /// (R11.9: a complaint fines the staff member and their unit's manager).
    pub people: Vec<Person>,
}

/// A staff member a case names, as expressions read them (`staff[string(fields.against)]`).
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub unit: Option<i64>,
    pub roles: Vec<String>,
    pub active: bool,
    /// Who heads their unit: active holders of the workflow's `head_roles` in it, or in the
    /// nearest unit above that has one; never themselves.
    pub heads: Vec<i64>,
}

/// A registered customer that a field's value names.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub field: String,
    pub customer_id: i64,
    pub name: String,
}

/// A case's customer as expressions read it (`customer.kind == "company"`, `customer.grade`).
#[derive(Debug, Clone, Serialize)]
pub struct CustomerFacts {
    pub id: i64,
    /// `company` or `person`.
    pub kind: String,
    pub grade: Option<String>,
    pub tags: Vec<String>,
    /// Who holds the customer (a valid claim), if anyone.
    pub owner: Option<i64>,
}

/// Another case of the same customer (`cases.exists(c, c.workflow == "admission" && ...)`),
/// with its fields (R1.10: the admission's documents).
#[derive(Debug, Clone, Serialize)]
pub struct OtherCase {
    pub id: i64,
    pub workflow: String,
    pub state: String,
    pub fields: Map<String, Value>,
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
    /// Whether the step is complete: false for a signature that leaves others to sign.
    pub complete: bool,
    /// `Some(true)`: the case is now overdue; `Some(false)`: no longer; `None`: as it was.
    pub overdue: Option<bool>,
    pub effects: Vec<Effect>,
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
                format!("字段 `{k}` 不能在此填写（可填：{}）", known.join("、")),
                format!("The field `{k}` cannot be set here (these can: {})", known.join(", ")),
            ));
        };
        // A blank text is no text: a required one is still missing.
        if v.is_null() || (def.kind == FieldKind::Text && v.as_str().is_some_and(|t| t.trim().is_empty())) {
            continue;
        }
        let ok = match &def.kind {
            FieldKind::Text => v.as_str().is_some_and(|s| s.chars().count() <= 2000),
            FieldKind::Number => v.as_i64().is_some(),
            FieldKind::Money => v.as_i64().is_some_and(|n| (0..=wf.max_money).contains(&n)),
            FieldKind::Bool => v.is_boolean(),
            FieldKind::Date => v
                .as_str()
                .is_some_and(|s| s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok()),
            FieldKind::Choice(of) => v.as_str().is_some_and(|s| of.iter().any(|o| o == s)),
            FieldKind::Staff => v.as_i64().is_some_and(|n| n > 0),
            FieldKind::Amounts => v.as_object().is_some_and(|m| {
                m.len() <= AMOUNTS_MAX
                    && m.iter().all(|(name, n)| {
                        let len = name.trim().chars().count();
                        (1..=AMOUNT_NAME_MAX).contains(&len)
                            && name.trim() == name
                            && n.as_i64().is_some_and(|n| (0..=wf.max_money).contains(&n))
                    })
            }),
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
                FieldKind::Date => (
                    "日期，如 2027-06-30".to_string(),
                    "a date such as 2027-06-30".to_string(),
                ),
                FieldKind::Choice(of) => (
                    format!("其中之一：{}", of.join("、")),
                    format!("one of {}", of.join(", ")),
                ),
                FieldKind::Staff => ("员工编号".to_string(), "a staff member's id".to_string()),
                FieldKind::Amounts => (
                    format!(
                        "名目与金额（分）的列表，如 {{\"差旅费\": 500000}}，最多 {AMOUNTS_MAX} 项，名目不超过 {AMOUNT_NAME_MAX} 字"
                    ),
                    format!(
                        "named amounts in fen, such as {{\"travel\": 500000}}: at most {AMOUNTS_MAX}, names of at most {AMOUNT_NAME_MAX} characters"
                    ),
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

/// What an expression reads: the case's fields, the actor (null for a timer), the case, its
/// checklists' tallies, its customer (null for none) and the customer's other cases.
fn scope(
    wf: &Workflow,
    fields: &Map<String, Value>,
    actor: Option<&Actor>,
    case: (i64, &str, i64),
    around: &Around,
) -> Value {
    // Every declared field is present (null when unset) so that `fields.x == null` reads it.
    let (id, state, opened_by) = case;
    let checklist: Map<String, Value> = wf
        .checklists
        .iter()
        .map(|c| (c.id.clone(), json!(c.tally(fields))))
        .collect();
    let others: Vec<&OtherCase> = around.cases.iter().filter(|c| c.id != id).collect();
    let mut case =
        json!({ "id": id, "state": state, "opened_by": opened_by, "completeness": completeness(wf, fields) });
    if let Some(b) = &wf.budget {
        // What the budget adds up to and what has been spent (R12.5: a termination accounts for
        // the costs).
        case["budget"] = json!(amounts_total(fields.get(&b.lines)));
        case["spent"] = json!(amounts_total(fields.get(&b.spent)));
    }
    let mut v = json!({
        "fields": fields,
        "actor": actor.map(|a| json!({ "id": a.id, "roles": a.roles })),
        "case": case,
        "checklist": checklist,
        "customer": around.customer,
        "cases": others,
        "today": around.today,
        "staff": around
            .people
            .iter()
            .map(|p| (p.id.to_string(), json!(p)))
            .collect::<Map<String, Value>>(),
    });
    // What the state requires that the case lacks (a daily timer's `unless =
    // "case.missing.size() == 0"` marks a lapsed document, R1.10).
    let lacking = missing(wf, state, fields, &v, &around.today);
    v["case"]["missing"] = json!(lacking);
    v
}

/// The fields state `state` requires (`requires`) that `fields` lack: unset or blank, or a date
/// before `today`. Nothing when its `when` does not hold on `scope` (a condition that cannot be
/// evaluated counts as holding: the requirement stands).
pub fn missing(wf: &Workflow, state: &str, fields: &Map<String, Value>, scope: &Value, today: &str) -> Vec<String> {
    let Some(req) = wf.state(state).and_then(|s| s.requires.as_ref()) else {
        return Vec::new();
    };
    if req.when.as_ref().is_some_and(|w| w.holds(scope) == Ok(false)) {
        return Vec::new();
    }
    req.fields
        .iter()
        .filter(|f| {
            let v = fields.get(*f).unwrap_or(&Value::Null);
            let blank = v.is_null() || v.as_str().is_some_and(|t| t.trim().is_empty());
            let past = wf.field(f).is_some_and(|d| d.kind == FieldKind::Date)
                && v.as_str().is_some_and(|d| !today.is_empty() && d < today);
            blank || past
        })
        .cloned()
        .collect()
}

/// What the case's state and the states its actions lead to require, for its page: each state
/// with a requirement that applies, its rule, and each field with whether the case has it.
pub fn requirements<'w>(
    wf: &'w Workflow,
    case: &CaseFacts,
    today: &str,
) -> Vec<(&'w State, Vec<(&'w FieldDef, bool)>)> {
    let fields = with_declared(wf, case.fields.clone());
    let around = Around {
        today: today.to_string(),
        ..Around::default()
    };
    let s = scope(wf, &fields, None, (case.id, &case.state, case.opened_by), &around);
    let mut states: Vec<&str> = vec![case.state.as_str()];
    for a in wf.actions.iter().filter(|a| a.from.contains(&case.state)) {
        for t in a.targets() {
            if !states.contains(&t.as_str()) {
                states.push(t);
            }
        }
    }
    states
        .into_iter()
        .filter_map(|id| wf.state(id))
        .filter_map(|st| {
            let req = st.requires.as_ref()?;
            if req.when.as_ref().is_some_and(|w| w.holds(&s) == Ok(false)) {
                return None;
            }
            let lacking = missing(wf, &st.id, &fields, &s, today);
            let rows = req
                .fields
                .iter()
                .filter_map(|f| wf.field(f))
                .map(|d| (d, !lacking.contains(&d.id)))
                .collect();
            Some((st, rows))
        })
        .collect()
}

/// Refuses entering `to` while the case lacks what it requires, with the requirement's rule.
fn check_requires(
    wf: &Workflow,
    to: &str,
    fields: &Map<String, Value>,
    scope: &Value,
    today: &str,
) -> Result<(), Refusal> {
    let lacking = missing(wf, to, fields, scope, today);
    let (Some(req), false) = (wf.state(to).and_then(|s| s.requires.as_ref()), lacking.is_empty()) else {
        return Ok(());
    };
    let names: Vec<Text> = lacking.iter().map(|f| wf.field_name(f)).collect();
    let names = Text::quoted_list(&names);
    let there = wf.state(to).map(|s| s.name.clone()).unwrap_or_default();
    Err(refusal(
        "requirement_missing",
        &req.rule,
        format!("进入「{}」须具备{}（缺少或已过期）", there.zh, names.zh),
        format!("Entering {} needs {} (missing or expired)", there.en, names.en),
    ))
}

/// What an expression worked out on the case alone reads (a figure, a ranking's score, a
/// budget's `until` on its report): the case's fields, checklists and the case, nothing around.
fn alone(wf: &Workflow, case: &CaseFacts) -> Value {
    scope(
        wf,
        &with_declared(wf, case.fields.clone()),
        None,
        (case.id, &case.state, case.opened_by),
        &Around::default(),
    )
}

/// The effects `defs` come to for one step; `step` names the step, so each is applied once.
fn effects_of(defs: &[Declared], scope: &Value, rule: &RuleId, step: &str) -> Result<Vec<Effect>, Refusal> {
    let mut out = Vec::new();
    for declared in defs {
        if let Some(w) = &declared.when {
            match w.holds(scope) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    return Err(refusal(
                        "effect_unevaluable",
                        rule,
                        format!("无法判断效果的条件 `{}`：{e}", w.source),
                        format!("The condition `{}` of an effect could not be evaluated: {e}", w.source),
                    ));
                }
            }
        }
        match &declared.effect {
            EffectDef::Charge { code, to } => {
                let staff = to.staff_ids(scope).map_err(|e| {
                    refusal(
                        "effect_unevaluable",
                        rule,
                        format!("无法确定「{code}」记给谁（`{}`：{e}）", to.source),
                        format!("Whom to charge `{code}` cannot be told (`{}`: {e})", to.source),
                    )
                })?;
                out.extend(staff.into_iter().map(|staff_id| Effect::Charge {
                    code: code.clone(),
                    staff_id,
                    step: step.to_string(),
                }));
            }
            EffectDef::SetGrade { value } => {
                let grade = value.grade(scope).map_err(|e| {
                    refusal(
                        "effect_unevaluable",
                        rule,
                        format!("无法确定客户的新等级（`{}`：{e}）", value.source),
                        format!("The customer's new grade cannot be told (`{}`: {e})", value.source),
                    )
                })?;
                out.push(Effect::SetGrade { grade });
            }
            EffectDef::Tag { tag, on } => out.push(Effect::Tag {
                tag: tag.clone(),
                on: *on,
            }),
            EffectDef::Snapshot => out.push(Effect::Snapshot { step: step.to_string() }),
            EffectDef::Transfer { role, outside } => {
                let outside_unit = match outside {
                    None => None,
                    Some(x) => match x.scalar(scope) {
                        Ok(Value::Null) => None,
                        Ok(v) if v.as_i64().is_some() => v.as_i64(),
                        other => {
                            let why = match other {
                                Ok(v) => format!("{v}"),
                                Err(e) => e,
                            };
                            return Err(refusal(
                                "effect_unevaluable",
                                rule,
                                format!("无法确定客户转出的部门（`{}`：{why}）", x.source),
                                format!("The unit the customer leaves cannot be told (`{}`: {why})", x.source),
                            ));
                        }
                    },
                };
                out.push(Effect::Transfer {
                    role: role.clone(),
                    outside_unit,
                });
            }
            EffectDef::TransferTo { to } => match to.staff_ids(scope).as_deref() {
                Ok([one]) => out.push(Effect::TransferTo { staff_id: *one }),
                other => {
                    let why = match other {
                        Ok(ids) => format!("{ids:?}"),
                        Err(e) => e.clone(),
                    };
                    return Err(refusal(
                        "effect_unevaluable",
                        rule,
                        format!("无法确定客户转交给谁（`{}`：{why}），应为一名员工", to.source),
                        format!(
                            "Whom the customer goes to cannot be told (`{}`: {why}); it is one staff member",
                            to.source
                        ),
                    ));
                }
            },
            EffectDef::Open { workflow, fields } => {
                let mut given = Map::new();
                for (field, x) in fields {
                    let v = x.scalar(scope).map_err(|e| {
                        refusal(
                            "effect_unevaluable",
                            rule,
                            format!("无法确定要开启的案件的字段 `{field}`（`{}`：{e}）", x.source),
                            format!(
                                "The field `{field}` of the case to open cannot be told (`{}`: {e})",
                                x.source
                            ),
                        )
                    })?;
                    given.insert(field.clone(), v);
                }
                out.push(Effect::Open {
                    workflow: workflow.clone(),
                    fields: given,
                });
            }
            EffectDef::Set { field, value } => {
                let v = value.scalar(scope).map_err(|e| {
                    refusal(
                        "effect_unevaluable",
                        rule,
                        format!("无法确定字段 `{field}` 的新值（`{}`：{e}）", value.source),
                        format!("The new value of `{field}` cannot be told (`{}`: {e})", value.source),
                    )
                })?;
                out.push(Effect::Set {
                    field: field.clone(),
                    value: v,
                });
            }
            EffectDef::Register { name, role } => {
                let n = match name.scalar(scope) {
                    Ok(Value::String(n)) if !n.trim().is_empty() && n.trim().chars().count() <= 200 => {
                        n.trim().to_string()
                    }
                    Ok(other) => {
                        return Err(refusal(
                            "effect_unevaluable",
                            rule,
                            format!("要登记的客户名称 `{}` 为 {other}，应为 1 到 200 字的文字", name.source),
                            format!(
                                "The customer's name to register (`{}`) is {other}, not text of 1 to 200 characters",
                                name.source
                            ),
                        ));
                    }
                    Err(e) => {
                        return Err(refusal(
                            "effect_unevaluable",
                            rule,
                            format!("无法确定要登记的客户名称（`{}`：{e}）", name.source),
                            format!(
                                "The customer's name to register cannot be told (`{}`: {e})",
                                name.source
                            ),
                        ));
                    }
                };
                out.push(Effect::Register {
                    name: n,
                    role: role.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// Applies the effects that set the case's own fields, each value checked against its field's
/// type.
fn set_fields(
    wf: &Workflow,
    rule: &RuleId,
    fields: &mut Map<String, Value>,
    effects: &[Effect],
) -> Result<(), Refusal> {
    for e in effects {
        if let Effect::Set { field, value } = e {
            let one: Map<String, Value> = [(field.clone(), value.clone())].into_iter().collect();
            typed_fields(wf, &one, &|_| true).map_err(|r| Refusal {
                rule: Some(rule.clone()),
                ..r
            })?;
            fields.insert(field.clone(), value.clone());
        }
    }
    Ok(())
}

/// The sum of an `amounts` field (0 when unset).
pub fn amounts_total(v: Option<&Value>) -> i64 {
    v.and_then(Value::as_object)
        .map(|m| m.values().filter_map(Value::as_i64).sum())
        .unwrap_or(0)
}

/// R12.7: a spending of `amount` on `line` within the budget: the line filed, the line's
/// tolerance and, until the budget's `until` holds, the cap on all spending together. Returns
/// the facts of the check and records the spending in the budget's `spent` field.
fn spend(
    b: &Budget,
    sp: &Spend,
    (given, fields): (&Map<String, Value>, &mut Map<String, Value>),
    scope: &Value,
) -> Result<Value, Refusal> {
    let no = |code: &'static str, zh: String, en: String| refusal(code, &b.rule, zh, en);
    // What this step gives, never what an earlier spending left on the case.
    let (Some(amount), Some(line)) = (
        given.get(&sp.amount).and_then(Value::as_i64),
        given.get(&sp.line).and_then(Value::as_str).map(str::to_string),
    ) else {
        return Err(no(
            "invalid_field",
            "请填写支出金额和预算名目".to_string(),
            "Give the amount spent and the budget line".to_string(),
        ));
    };
    let lines = fields
        .get(&b.lines)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if lines.is_empty() {
        return Err(no(
            "budget_not_filed",
            format!("「{}」尚未编制，先编制预算再记支出", b.name.zh),
            format!("The “{}” has not been filed: file it before spending", b.name.en),
        ));
    }
    let Some(planned) = lines.get(&line).and_then(Value::as_i64) else {
        let known: Vec<&str> = lines.keys().map(String::as_str).collect();
        return Err(no(
            "budget_line_unknown",
            format!("「{}」没有「{line}」这一项（有：{}）", b.name.zh, known.join("、")),
            format!("The “{}” has no line “{line}” (it has {})", b.name.en, known.join(", ")),
        ));
    };
    let mut spent = fields
        .get(&b.spent)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let before = spent.get(&line).and_then(Value::as_i64).unwrap_or(0);
    let limit = planned + planned * b.tolerance_percent / 100;
    let y = crate::ledger::yuan;
    if before + amount > limit {
        return Err(no(
            "budget_line_exceeded",
            format!(
                "「{line}」预算 {} 元，已支出 {} 元，本次 {} 元将超过预算的 {}%（最多 {} 元）",
                y(planned),
                y(before),
                y(amount),
                100 + b.tolerance_percent,
                y(limit)
            ),
            format!(
                "The line “{line}” has {} yuan, {} spent; {} more would pass {}% of it ({} yuan at most)",
                y(planned),
                y(before),
                y(amount),
                100 + b.tolerance_percent,
                y(limit)
            ),
        ));
    }
    let total: i64 = spent.values().filter_map(Value::as_i64).sum();
    let capped = match (&b.cap, &b.until) {
        (None, _) => None,
        (Some(cap), None) => Some(*cap),
        (Some(cap), Some(until)) => match until.holds(scope) {
            Ok(true) => None,
            Ok(false) => Some(*cap),
            Err(e) => {
                return Err(no(
                    "guard_unevaluable",
                    format!("无法判断上限是否仍适用（`{}`：{e}）", until.source),
                    format!("Whether the cap still applies cannot be told (`{}`: {e})", until.source),
                ));
            }
        },
    };
    if let Some(cap) = capped
        && total + amount > cap
    {
        return Err(no(
            "budget_cap_exceeded",
            format!(
                "取得实质性进展前，支出合计不超过 {} 元：已支出 {} 元，本次 {} 元将超出",
                y(cap),
                y(total),
                y(amount)
            ),
            format!(
                "Until substantive progress, spending stays within {} yuan in all: {} spent, {} more would pass it",
                y(cap),
                y(total),
                y(amount)
            ),
        ));
    }
    spent.insert(line.clone(), Value::from(before + amount));
    fields.insert(b.spent.clone(), Value::Object(spent));
    Ok(json!({
        "line": line, "amount": amount, "line_budget": planned, "line_spent": before + amount,
        "line_limit": limit, "spent": total + amount, "cap": capped,
    }))
}

/// Where the case's budget stands: each line filed, with what it allows and what was spent on
/// it (a line spent on but not filed shows with budget 0); `None` when the workflow keeps none.
pub fn budget_report(wf: &Workflow, fields: &Map<String, Value>, scope_until: Option<bool>) -> Option<BudgetReport> {
    let b = wf.budget.as_ref()?;
    let lines = fields.get(&b.lines).and_then(Value::as_object);
    let spent = fields.get(&b.spent).and_then(Value::as_object);
    let mut out: Vec<BudgetLine> = lines
        .into_iter()
        .flatten()
        .map(|(line, v)| {
            let budget = v.as_i64().unwrap_or(0);
            BudgetLine {
                line: line.clone(),
                budget,
                spent: spent.and_then(|m| m.get(line)).and_then(Value::as_i64).unwrap_or(0),
                limit: budget + budget * b.tolerance_percent / 100,
            }
        })
        .collect();
    for (line, v) in spent.into_iter().flatten() {
        if !out.iter().any(|l| &l.line == line) {
            out.push(BudgetLine {
                line: line.clone(),
                budget: 0,
                spent: v.as_i64().unwrap_or(0),
                limit: 0,
            });
        }
    }
    Some(BudgetReport {
        filed: lines.is_some_and(|m| !m.is_empty()),
        budget: out.iter().map(|l| l.budget).sum(),
        spent: out.iter().map(|l| l.spent).sum(),
        lines: out,
        cap: b.cap.filter(|_| scope_until != Some(true)),
    })
}

/// The budget of the case as it stands: whether its cap still applies is judged on the case's
/// fields (as when spending).
pub fn budget_of(wf: &Workflow, case: &CaseFacts) -> Option<BudgetReport> {
    let b = wf.budget.as_ref()?;
    let until = b.until.as_ref().map(|u| {
        let s = alone(wf, case);
        u.holds(&s).unwrap_or(false)
    });
    budget_report(wf, &case.fields, until)
}

/// A figure of the case, worked out (or why it cannot be).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureValue {
    pub id: String,
    pub name: Text,
    pub rule: RuleId,
    pub kind: &'static str,
    pub value: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The workflow's figures for the case (R12.8: the year-end reward).
pub fn figures(wf: &Workflow, case: &CaseFacts) -> Vec<FigureValue> {
    if wf.figures.is_empty() {
        return Vec::new();
    }
    let s = alone(wf, case);
    wf.figures
        .iter()
        .map(|f| {
            let r = f.value.number(&s);
            FigureValue {
                id: f.id.clone(),
                name: f.name.clone(),
                rule: f.rule.clone(),
                kind: f.kind.name(),
                value: r.as_ref().ok().copied(),
                error: r.err(),
            }
        })
        .collect()
}

/// A `staff` field names a staff member of the tenant (the interpreter read those named).
fn check_staff(wf: &Workflow, set: &Map<String, Value>, around: &Around) -> Result<(), Refusal> {
    for f in wf.fields.iter().filter(|f| f.kind == FieldKind::Staff) {
        let Some(id) = set.get(&f.id).and_then(Value::as_i64) else {
            continue;
        };
        if !around.people.iter().any(|p| p.id == id) {
            return Err(refusal(
                "invalid_field",
                &wf.rule,
                format!("「{}」：没有编号为 {id} 的员工", f.name.zh),
                format!("“{}”: there is no staff member {id}", f.name.en),
            ));
        }
    }
    Ok(())
}

/// R12.1: a field whose value must not name a customer of the directory, refused when the
/// interpreter found one.
fn check_directory(wf: &Workflow, fields: &Map<String, Value>, around: &Around) -> Result<(), Refusal> {
    for f in &wf.fields {
        let Some(rule) = &f.not_in_directory else { continue };
        let Some(value) = fields.get(&f.id).and_then(Value::as_str) else {
            continue;
        };
        if let Some(hit) = around.listed.iter().find(|l| l.field == f.id) {
            return Err(refusal(
                "already_a_customer",
                rule,
                format!(
                    "「{value}」已在客户名录中（{}，编号 {}），「{}」只针对名录以外的新客户",
                    hit.name, hit.customer_id, wf.name.zh
                ),
                format!(
                    "“{value}” is in the customer directory already ({}, no. {}); a “{}” is for a customer not yet in it",
                    hit.name, hit.customer_id, wf.name.en
                ),
            ));
        }
    }
    Ok(())
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
            format!("{}（条件 `{}` 无法判断：{e}）", g.text.zh, g.when.source),
            format!(
                "{} (the condition `{}` could not be evaluated: {e})",
                g.text.en, g.when.source
            ),
        )),
    }
}

/// Someone who may take a customer over: who, in which unit, holding how many customers.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: i64,
    pub name: String,
    pub unit: Option<i64>,
    pub held: i64,
}

/// A hand-over decided: who receives the customer (none: it stays) and the decision that says
/// why, under the step's rule.
#[derive(Debug, Clone)]
pub struct HandOver {
    pub receiver: Option<i64>,
    pub decision: Decision,
}

/// A transfer effect decided (R11.9): of `candidates` (the holders of the role), those in a unit
/// and not in `outside`, not among the customer's holders `from`, under the cap on customers
/// held; the one holding the fewest, the lowest id among equals. A customer nobody holds is not
/// handed over.
pub fn hand_over(
    step: &Decision,
    (customer, from): (&str, &[(i64, String)]),
    candidates: &[Candidate],
    (outside, max_held): (Option<i64>, Option<u32>),
    role: &Text,
) -> HandOver {
    let pick = candidates
        .iter()
        .filter(|c| {
            c.unit.is_some()
                && (outside.is_none() || c.unit != outside)
                && !from.iter().any(|(id, _)| *id == c.id)
                && max_held.is_none_or(|m| c.held < i64::from(m))
        })
        .min_by_key(|c| (c.held, c.id));
    let receiver = pick.filter(|_| !from.is_empty());
    let holders: Vec<&str> = from.iter().map(|(_, n)| n.as_str()).collect();
    let (zh_where, en_where) = if outside.is_some() {
        ("其他部门", " of another unit")
    } else {
        ("", "")
    };
    let text = match (receiver, from.is_empty()) {
        (Some(r), _) => Text::new(
            format!(
                "客户「{customer}」由{}转交给{zh_where}的{}{}（持有客户最少，{} 个）",
                holders.join("、"),
                role.zh,
                r.name,
                r.held
            ),
            format!(
                "The customer “{customer}” goes from {} to {}, the {}{en_where} holding the fewest customers ({})",
                holders.join(", "),
                r.name,
                role.en,
                r.held
            ),
        ),
        (None, true) => Text::new(
            format!("客户「{customer}」目前无人持有，不转交"),
            format!("Nobody holds the customer “{customer}”: it is not handed over"),
        ),
        (None, false) => Text::new(
            format!(
                "没有{zh_where}的{}可以接手客户「{customer}」，仍由{}持有",
                role.zh,
                holders.join("、")
            ),
            format!(
                "No {}{en_where} can take the customer “{customer}” over; {} keeps it",
                role.en,
                holders.join(", ")
            ),
        ),
    };
    HandOver {
        receiver: receiver.map(|r| r.id),
        decision: Decision {
            key: "case.handed_over".into(),
            rule: step.rule.clone(),
            policy_version: step.policy_version,
            facts: json!({
                "from": from.iter().map(|(id, _)| id).collect::<Vec<_>>(),
                "receiver_id": receiver.map(|r| r.id),
                "receiver_held": receiver.map(|r| r.held),
                "outside_unit": outside,
                "candidates": candidates.len(),
            }),
            text,
        },
    }
}

/// A hand-over to a named staff member (R11.6: the party a settlement awards the customer to):
/// the customer's other holders' claims end; nothing happens when `receiver` alone holds it
/// already.
pub fn hand_over_to(step: &Decision, (customer, from): (&str, &[(i64, String)]), receiver: (i64, &str)) -> HandOver {
    let (id, name) = receiver;
    let others: Vec<&str> = from.iter().filter(|(s, _)| *s != id).map(|(_, n)| n.as_str()).collect();
    let already = others.is_empty() && from.iter().any(|(s, _)| *s == id);
    let text = if already {
        Text::new(
            format!("客户「{customer}」仍由{name}持有"),
            format!("The customer “{customer}” stays with {name}"),
        )
    } else if others.is_empty() {
        Text::new(
            format!("客户「{customer}」交给{name}"),
            format!("The customer “{customer}” goes to {name}"),
        )
    } else {
        Text::new(
            format!("客户「{customer}」由{}转交给{name}", others.join("、")),
            format!("The customer “{customer}” goes from {} to {name}", others.join(", ")),
        )
    };
    HandOver {
        receiver: (!already).then_some(id),
        decision: Decision {
            key: "case.handed_over_to".into(),
            rule: step.rule.clone(),
            policy_version: step.policy_version,
            facts: json!({
                "from": from.iter().map(|(s, _)| s).collect::<Vec<_>>(),
                "receiver_id": id,
            }),
            text,
        },
    }
}

/// The people a case names in its staff fields: its own people, who see it (R11.9: the staff
/// member a complaint is about reads it).
pub fn people_of(wf: &Workflow, fields: &Map<String, Value>) -> Vec<i64> {
    let mut out: Vec<i64> = wf
        .fields
        .iter()
        .filter(|f| f.kind == FieldKind::Staff)
        .filter_map(|f| fields.get(&f.id).and_then(Value::as_i64))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn with_declared(wf: &Workflow, fields: Map<String, Value>) -> Map<String, Value> {
    let mut all = fields;
    for f in &wf.fields {
        all.entry(f.id.clone()).or_insert(Value::Null);
    }
    all
}

/// Whether `actor` may open a case of the workflow (its `open_by` roles; `admin` always).
pub fn may_open(wf: &Workflow, actor: &Actor) -> bool {
    wf.open_by.is_empty() || actor.roles.iter().any(|r| r == ADMIN_ROLE || wf.open_by.contains(r))
}

/// Opens a case: the fields typed and complete, every opening guard holding.
pub fn open(
    wf: &Workflow,
    input: &Map<String, Value>,
    around: &Around,
    actor: &Actor,
    version: u32,
) -> Result<Outcome, Refusal> {
    opening(wf, input, around, actor, version, None)
}

/// The refusal of a step whose linked case cannot be opened (the rule and the reason are the
/// linked workflow's).
pub const LINKED_REFUSED: &str = "linked_case_refused";

/// The case a step of another opens (`{ open = WORKFLOW }`): the case it comes from, by id and
/// workflow.
pub struct LinkedFrom<'a> {
    pub id: i64,
    pub workflow: &'a Workflow,
    /// The step that opens it.
    pub step: &'a str,
}

/// Opens a case that a step of case `from` opens (`{ open = WORKFLOW }`): the policy linked it,
/// so who may open one by hand does not matter; the fields and the opening guards do, as for
/// any case (R1.3 holds for a linked cooperation project too). `actor` is whoever took the
/// step (for a timer's, the case's opener).
pub fn open_linked(
    wf: &Workflow,
    input: &Map<String, Value>,
    around: &Around,
    actor: &Actor,
    version: u32,
    from: LinkedFrom<'_>,
) -> Result<Outcome, Refusal> {
    let (id, from_name) = (from.id, from.workflow.name.clone());
    opening(wf, input, around, actor, version, Some(from)).map_err(|r| Refusal {
        code: LINKED_REFUSED,
        text: Text::new(
            format!(
                "案件 #{id}「{}」要开启的「{}」开不了：{}",
                from_name.zh, wf.name.zh, r.text.zh
            ),
            format!("The “{}” case #{id} opens cannot be opened: {}", wf.name.en, r.text.en),
        ),
        ..r
    })
}

fn opening(
    wf: &Workflow,
    input: &Map<String, Value>,
    around: &Around,
    actor: &Actor,
    version: u32,
    linked: Option<LinkedFrom<'_>>,
) -> Result<Outcome, Refusal> {
    let has_customer = around.customer_id.is_some();
    if linked.is_none() && !may_open(wf, actor) {
        return Err(refusal(
            "forbidden",
            &wf.rule,
            format!("「{}」由{}开启", wf.name.zh, wf.roles_text(&wf.open_by).zh),
            format!("A “{}” is opened by {}", wf.name.en, wf.roles_text(&wf.open_by).en),
        ));
    }
    if (wf.subject == Subject::Customer) != has_customer {
        return Err(if has_customer {
            refusal(
                "invalid_customer",
                &wf.rule,
                format!("「{}」不属于某个客户，不要填写 customer_id", wf.name.zh),
                format!("A “{}” belongs to no customer: leave out customer_id", wf.name.en),
            )
        } else {
            refusal(
                "invalid_customer",
                &wf.rule,
                format!("「{}」需要指明客户（customer_id）", wf.name.zh),
                format!("A “{}” needs its customer (customer_id)", wf.name.en),
            )
        });
    }
    let opening: Vec<&str> = wf.opening_fields().iter().map(|f| f.id.as_str()).collect();
    let mut fields = with_declared(wf, typed_fields(wf, input, &|d| opening.contains(&d.id.as_str()))?);
    let given = scope(wf, &fields, Some(actor), (0, &wf.initial, actor.id), around);
    let mut defaults = Map::new();
    for f in wf.fields.iter().filter(|f| fields[&f.id].is_null()) {
        let Some(d) = &f.default else { continue };
        let v = d.scalar(&given).map_err(|e| {
            refusal(
                "field_unevaluable",
                &wf.rule,
                format!("无法确定「{}」的默认值（`{}`：{e}）", f.name.zh, d.source),
                format!("The default of “{}” cannot be told (`{}`: {e})", f.name.en, d.source),
            )
        })?;
        defaults.insert(f.id.clone(), v);
    }
    fields.extend(typed_fields(wf, &defaults, &|_| true)?);
    if let Some(missing) = wf.fields.iter().find(|f| f.required && fields[&f.id].is_null()) {
        return Err(refusal(
            "invalid_field",
            &wf.rule,
            format!("请填写「{}」", missing.name.zh),
            format!("Fill in “{}”", missing.name.en),
        ));
    }
    let s = scope(wf, &fields, Some(actor), (0, &wf.initial, actor.id), around);
    for g in &wf.guards {
        check_guard(g, &s)?;
    }
    check_directory(wf, &fields, around)?;
    check_staff(wf, &fields, around)?;
    check_requires(wf, &wf.initial, &fields, &s, &around.today)?;
    let effects = effects_of(&wf.on_open, &s, &wf.rule, OPEN)?;
    set_fields(wf, &wf.rule, &mut fields, &effects)?;
    let state = wf.state(&wf.initial).map(|s| s.name.clone()).unwrap_or_default();
    let mut facts = json!({ "workflow": wf.id, "state": wf.initial, "by": actor.id, "guards": wf.guards.iter().map(|g| g.rule.as_str()).collect::<Vec<_>>() });
    let plain = match &linked {
        None => Text::new(
            format!("{}开启了「{}」，处于「{}」", actor.name, wf.name.zh, state.zh),
            format!("{} opened a “{}”; it is {}", actor.name, wf.name.en, state.en),
        ),
        Some(from) => {
            facts["linked_from"] = json!(from.id);
            facts["linked_step"] = json!(from.step);
            let step = from
                .workflow
                .step_name(from.step)
                .cloned()
                .unwrap_or_else(|| Text::new(from.step, from.step));
            Text::new(
                format!(
                    "案件 #{}「{}」的「{}」开启了关联的「{}」，处于「{}」",
                    from.id, from.workflow.name.zh, step.zh, wf.name.zh, state.zh
                ),
                format!(
                    "“{}” on “{}” case #{} opened a linked “{}”; it is {}",
                    step.en, from.workflow.name.en, from.id, wf.name.en, state.en
                ),
            )
        }
    };
    let text = worded(
        wf,
        OPEN,
        (Some(&actor.name), &wf.initial, &wf.initial),
        &fields,
        &facts,
        plain,
    );
    Ok(Outcome {
        state: wf.initial.clone(),
        fields,
        role: None,
        moved: true,
        complete: true,
        overdue: None,
        effects,
        decision: Decision {
            key: "case.opened".into(),
            rule: wf.rule.clone(),
            policy_version: version,
            facts,
            text,
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

/// How many have signed `a` in the case's current round.
pub fn signatures(a: &Action, case: &CaseFacts) -> usize {
    this_round(case).iter().filter(|s| s.action == a.id).count()
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

/// Whether `actor` may take `a` on the case (its roles or relation, the opener rule, a second
/// signature by the same person), and in which role: the role signed in and the roles still to
/// sign after this one.
fn signer(
    wf: &Workflow,
    a: &Action,
    case: &CaseFacts,
    actor: &Actor,
    seated: &[(String, Vec<i64>)],
) -> Result<(Option<String>, Vec<String>), Refusal> {
    let admin = actor.roles.iter().any(|r| r == ADMIN_ROLE);
    let mine: Vec<&String> =
        a.by.iter()
            .filter(|r| {
                actor.roles.contains(r)
                    || (r.as_str() == OPENER && case.opened_by == actor.id)
                    || seated.iter().any(|(s, ids)| s == *r && ids.contains(&actor.id))
            })
            .collect();
    if !admin && mine.is_empty() {
        return Err(refusal(
            "forbidden",
            &a.rule,
            format!("「{}」由{}进行", a.name.zh, wf.roles_text(&a.by).zh),
            format!("“{}” is taken by {}", a.name.en, wf.roles_text(&a.by).en),
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
    if a.signoff.is_several() && round.iter().any(|s| s.action == a.id && s.staff_id == Some(actor.id)) {
        return Err(refusal(
            "already_signed",
            &a.rule,
            format!("{}已经签过「{}」，需由另一人签", actor.name, a.name.zh),
            format!(
                "{} has signed “{}” already; another person signs next",
                actor.name, a.name.en
            ),
        ));
    }
    // The role signed in: the first of the actor's still unsigned (admin signs the first left).
    Ok(match a.signoff {
        Signoff::Any => (mine.first().map(|r| r.to_string()), Vec::new()),
        Signoff::Quorum(n) => {
            let signed = round.iter().filter(|s| s.action == a.id).count();
            let role = mine.first().copied().or(if admin { a.by.first() } else { None });
            let left = if signed + 1 >= n as usize {
                Vec::new()
            } else {
                a.by.clone()
            };
            (role.map(|r| r.to_string()), left)
        }
        Signoff::Sequence => {
            let open = unsigned(a, case);
            let Some(next) = open.first() else {
                return Err(refusal(
                    "already_signed",
                    &a.rule,
                    format!("「{}」已签齐", a.name.zh),
                    format!("“{}” has every signature already", a.name.en),
                ));
            };
            if !mine.contains(next) && !admin {
                let next_name = wf.roles_text(std::slice::from_ref(*next));
                return Err(refusal(
                    "not_your_turn",
                    &a.rule,
                    format!("「{}」按顺序签，下一位是{}", a.name.zh, next_name.zh),
                    format!("“{}” is signed in order; {} signs next", a.name.en, next_name.en),
                ));
            }
            let role = next.to_string();
            (Some(role), open.iter().skip(1).map(|r| r.to_string()).collect())
        }
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
    })
}

/// The actions `actor` may take on the case now (for the pages and the inbox); an action's
/// guard and fields are checked when it is taken. Seats held by a relation other than the opener
/// (`owner`, `head_of:FIELD`) count only in `available_seated`, given who holds them.
pub fn available<'w>(wf: &'w Workflow, case: &CaseFacts, actor: &Actor) -> Vec<&'w Action> {
    available_seated(wf, case, actor, &[])
}

/// `available`, with who holds the workflow's relation seats on this case (`seats`).
pub fn available_seated<'w>(
    wf: &'w Workflow,
    case: &CaseFacts,
    actor: &Actor,
    seated: &[(String, Vec<i64>)],
) -> Vec<&'w Action> {
    wf.actions
        .iter()
        .filter(|a| a.from.contains(&case.state) && signer(wf, a, case, actor, seated).is_ok())
        .collect()
}

/// Whether some action of the workflow is taken by a relation that needs the case's
/// surroundings to tell (`owner`, `head_of:FIELD`).
pub fn has_relation_seats(wf: &Workflow) -> bool {
    wf.actions.iter().flat_map(|a| &a.by).any(|b| is_relation(b))
}

/// Whether an entry of an action's `by` is a relation seat held per case (`owner`,
/// `head_of:FIELD`) rather than a role.
pub fn is_relation(seat: &str) -> bool {
    seat == OWNER || seat == PEOPLE || seat.starts_with(HEAD_OF)
}

/// Who holds each relation seat of the workflow's actions on a case (`owner`: the customer's
/// holder; `head_of:FIELD`: the heads of the unit of the staff member FIELD names), as the
/// interpreter read the case's surroundings.
pub fn seats(wf: &Workflow, fields: &Map<String, Value>, around: &Around) -> Vec<(String, Vec<i64>)> {
    let mut out: Vec<(String, Vec<i64>)> = Vec::new();
    for seat in wf.actions.iter().flat_map(|a| &a.by) {
        if out.iter().any(|(s, _)| s == seat) {
            continue;
        }
        let ids: Vec<i64> = if seat == OWNER {
            around.customer.as_ref().and_then(|c| c.owner).into_iter().collect()
        } else if seat == PEOPLE {
            people_of(wf, fields)
        } else if let Some(f) = seat.strip_prefix(HEAD_OF) {
            fields
                .get(f)
                .and_then(Value::as_i64)
                .and_then(|id| around.people.iter().find(|p| p.id == id))
                .map(|p| p.heads.clone())
                .unwrap_or_default()
        } else {
            continue;
        };
        out.push((seat.clone(), ids));
    }
    out
}

/// What an action is taken with.
#[derive(Debug, Clone, Copy)]
pub struct Given<'a> {
    /// Fields it sets.
    pub fields: &'a Map<String, Value>,
    /// Checklist answers it gives: `{ITEM: "yes" | "no" | "unclear"}`.
    pub answers: &'a Map<String, Value>,
    pub note: Option<&'a str>,
    /// Whether the actor confirms the action's attestation (R2.5).
    pub attested: bool,
}

/// Takes `action` on the case for `actor` with the fields, answers and note given.
pub fn decide(
    wf: &Workflow,
    case: &CaseFacts,
    action: &str,
    actor: &Actor,
    given: &Given<'_>,
    around: &Around,
    version: u32,
) -> Result<Outcome, Refusal> {
    let (input, note) = (given.fields, given.note);
    let Some(a) = wf.action(action) else {
        let known: Vec<&str> = wf.actions.iter().map(|a| a.id.as_str()).collect();
        return Err(refusal(
            "invalid_action",
            &wf.rule,
            format!("「{}」没有动作 `{action}`（有：{}）", wf.name.zh, known.join("、")),
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
                "此案件处于「{}」，「{}」只能在「{}」时进行",
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
    let seated = seats(wf, &case.fields, around);
    let (role, left) = signer(wf, a, case, actor, &seated)?;
    if let (Some(statement), false) = (&a.attest, given.attested) {
        return Err(refusal(
            "attestation_required",
            &a.rule,
            format!("「{}」须确认声明：{}", a.name.zh, statement.zh),
            format!("“{}” needs the statement confirmed: {}", a.name.en, statement.en),
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
    let taken = a
        .count
        .as_ref()
        .map(|c| case.fields.get(c).and_then(Value::as_i64).unwrap_or(0));
    if let (Some(n), Some(most)) = (taken, a.at_most)
        && n >= i64::from(most)
    {
        return Err(refusal(
            "too_many_times",
            &a.rule,
            format!("「{}」最多 {most} 次，此案件已有 {n} 次", a.name.zh),
            format!("“{}” is taken at most {most} times; this case has had {n}", a.name.en),
        ));
    }
    let set = typed_fields(wf, input, &|d| a.fields.contains(&d.id))?;
    // A sign-off whose signers must agree (R11.6): a value that differs from an earlier
    // signature of this round ends the round, and the case goes to `otherwise`.
    let disagreed: Vec<String> = {
        let earlier: Vec<&Step> = this_round(case).iter().filter(|s| s.action == a.id).collect();
        a.agree
            .iter()
            .filter(|f| {
                let now = set.get(*f).unwrap_or(&Value::Null);
                earlier.iter().any(|s| s.fields.get(*f).unwrap_or(&Value::Null) != now)
            })
            .cloned()
            .collect()
    };
    let left = if disagreed.is_empty() { left } else { Vec::new() };
    let mut fields = case.fields.clone();
    fields.extend(set.clone());
    // Running totals and spending count once, on the step that completes the action.
    let completes = left.is_empty() && disagreed.is_empty();
    let mut added = Map::new();
    for (from, to) in a.adds.iter().filter(|_| completes) {
        if let Some(n) = set.get(from).and_then(Value::as_i64) {
            let total = case
                .fields
                .get(to)
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .saturating_add(n);
            fields.insert(to.clone(), Value::from(total));
            added.insert(to.clone(), Value::from(total));
        }
    }
    if !added.is_empty() {
        typed_fields(wf, &added, &|_| true)?;
    }
    // The count of completed steps, on the step that completes the action.
    let counted = match (&a.count, taken) {
        (Some(c), Some(n)) if completes => {
            fields.insert(c.clone(), Value::from(n + 1));
            Some(n + 1)
        }
        _ => None,
    };
    check_directory(wf, &set, around)?;
    check_staff(wf, &set, around)?;
    let answers = answered(wf, a, &mut fields, given.answers)?;
    let mut fields = with_declared(wf, fields);
    let spent = match (&a.spend, &wf.budget) {
        (Some(sp), Some(b)) if completes => {
            let before = scope(wf, &fields, Some(actor), (case.id, &case.state, case.opened_by), around);
            Some(spend(b, sp, (&set, &mut fields), &before)?)
        }
        _ => None,
    };
    let here_scope = scope(wf, &fields, Some(actor), (case.id, &case.state, case.opened_by), around);
    for g in &a.guards {
        check_guard(g, &here_scope)?;
    }
    let mut routed = None;
    let to: String = if !disagreed.is_empty() {
        a.otherwise.clone().unwrap_or_else(|| case.state.clone())
    } else if left.is_empty() {
        routed = route(a, &here_scope)?;
        routed
            .map(|r| r.to.clone())
            .or_else(|| a.to.clone())
            .unwrap_or_else(|| case.state.clone())
    } else {
        case.state.clone()
    };
    if to != case.state {
        check_requires(wf, &to, &fields, &here_scope, &around.today)?;
    }
    let there = wf.state(&to).map(|s| s.name.clone()).unwrap_or_default();
    // The message key: which of the engine's sentences this step's Decision says.
    let key = if !disagreed.is_empty() {
        "case.signed_otherwise"
    } else if let (false, Signoff::Quorum(_)) = (left.is_empty(), a.signoff) {
        "case.signed_toward_quorum"
    } else if !left.is_empty() {
        "case.signed"
    } else if to != case.state {
        "case.moved"
    } else {
        "case.took"
    };
    let mut text = if !disagreed.is_empty() {
        let names: Vec<Text> = disagreed.iter().map(|f| wf.field_name(f)).collect();
        let names = Text::quoted_list(&names);
        Text::new(
            format!(
                "{}签「{}」的意见与此前的签署不一致（{}），转为「{}」",
                actor.name, a.name.zh, names.zh, there.zh
            ),
            format!(
                "{} signed “{}” otherwise than before ({}): it is now {}",
                actor.name, a.name.en, names.en, there.en
            ),
        )
    } else if let (false, Signoff::Quorum(n)) = (left.is_empty(), a.signoff) {
        let k = signatures(a, case) + 1;
        Text::new(
            format!(
                "{}已签「{}」（须 {n} 人，已签 {k} 人），还需 {} 人签",
                actor.name,
                a.name.zh,
                n as usize - k
            ),
            format!(
                "{} signed “{}” ({k} of the {n} needed); {} more to sign",
                actor.name,
                a.name.en,
                n as usize - k
            ),
        )
    } else if !left.is_empty() {
        Text::new(
            format!("{}已签「{}」，还需{}签", actor.name, a.name.zh, wf.roles_text(&left).zh),
            format!(
                "{} signed “{}”; {} still to sign",
                actor.name,
                a.name.en,
                wf.roles_text(&left).en
            ),
        )
    } else if to != case.state {
        Text::new(
            format!(
                "{}进行了「{}」：由「{}」转为「{}」",
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
    let done = completes;
    let effects = if done {
        let step = format!("{}#{}", a.id, case.steps.len() + 1);
        effects_of(&a.effects, &here_scope, &a.rule, &step)?
    } else {
        Vec::new()
    };
    set_fields(wf, &a.rule, &mut fields, &effects)?;
    let moved = to != case.state;
    let restarts = done
        && wf
            .timers
            .iter()
            .any(|t| t.restarted_by.contains(&a.id) && t.states.contains(&case.state));
    let mut facts = json!({
        "workflow": wf.id, "action": a.id, "by": actor.id, "from": case.state, "to": to,
        "set": set, "still_to_sign": left,
    });
    if !disagreed.is_empty() {
        facts["disagreed"] = json!(disagreed);
    }
    if let Some(statement) = &a.attest {
        facts["attested"] = json!(statement);
        text.zh.push_str(&format!("；{}声明：{}", actor.name, statement.zh));
        text.en.push_str(&format!("; {} states: {}", actor.name, statement.en));
    }
    if let (Some(n), Some(c)) = (counted, &a.count) {
        facts["count"] = json!({ "field": c, "times": n, "at_most": a.at_most });
        match a.at_most {
            Some(most) => {
                text.zh.push_str(&format!("（第 {n} 次，最多 {most} 次）"));
                text.en.push_str(&format!(" (time {n} of at most {most})"));
            }
            None => {
                text.zh.push_str(&format!("（第 {n} 次）"));
                text.en.push_str(&format!(" (time {n})"));
            }
        }
    }
    if let Some(r) = routed {
        facts["route"] = json!(r.when.source);
        text.zh.push_str(&format!("（{}）", r.name.zh));
        text.en.push_str(&format!(" ({})", r.name.en));
    }
    if !a.guards.is_empty() {
        facts["guards"] = a
            .guards
            .iter()
            .map(|g| json!({ "rule": g.rule, "when": g.when.source }))
            .collect();
    }
    if !effects.is_empty() {
        facts["effects"] = json!(effects);
    }
    if let Some(sp) = spent {
        let y = crate::ledger::yuan;
        let line = sp["line"].as_str().unwrap_or_default();
        let (used, planned) = (
            sp["line_spent"].as_i64().unwrap_or(0),
            sp["line_budget"].as_i64().unwrap_or(0),
        );
        text.zh
            .push_str(&format!("；「{line}」已支出 {} 元，预算 {} 元", y(used), y(planned)));
        text.en
            .push_str(&format!("; “{line}”: {} yuan spent of {}", y(used), y(planned)));
        facts["budget"] = sp;
    }
    if !added.is_empty() {
        facts["totals"] = Value::Object(added);
    }
    if !answers.is_empty() {
        for c in wf.checklists.iter().filter(|c| a.answers.contains(&c.id)) {
            let standing = c.standing(&fields);
            text.zh.push_str(&format!("；「{}」{}", c.name.zh, standing.zh));
            text.en.push_str(&format!("; “{}”: {}", c.name.en, standing.en));
        }
        facts["answers"] = Value::Object(answers);
        facts["checklists"] = wf
            .checklists
            .iter()
            .filter(|c| a.answers.contains(&c.id))
            .map(|c| (c.id.clone(), json!(c.tally(&fields))))
            .collect::<Map<String, Value>>()
            .into();
    }
    let text = if done {
        worded(wf, &a.id, (Some(&actor.name), &case.state, &to), &fields, &facts, text)
    } else {
        text
    };
    Ok(Outcome {
        moved,
        complete: done,
        overdue: (moved || restarts).then_some(false),
        effects,
        state: to,
        fields,
        role,
        decision: Decision {
            key: key.into(),
            rule: a.rule.clone(),
            policy_version: version,
            facts,
            text,
        },
    })
}

/// The share of what the case asks for that is there, 0 to 100 (100 when it asks for nothing):
/// each declared field filled in and each checklist item answered counts one.
pub fn completeness(wf: &Workflow, fields: &Map<String, Value>) -> i64 {
    let tallies: Vec<Tally> = wf.checklists.iter().map(|c| c.tally(fields)).collect();
    // What the engine keeps (a budget's spending, a total, a field an effect sets) is not asked
    // of anyone.
    let asked: Vec<&FieldDef> = wf.fields.iter().filter(|f| !wf.kept_by_engine(&f.id)).collect();
    let total = asked.len() + tallies.iter().map(|t| t.total).sum::<usize>();
    if total == 0 {
        return 100;
    }
    let filled = asked
        .iter()
        .filter(|f| fields.get(&f.id).is_some_and(|v| !v.is_null()))
        .count()
        + tallies.iter().map(|t| t.answered).sum::<usize>();
    (filled * 100 / total) as i64
}

/// Checks the answers an action gives (`{ITEM: "yes" | "no" | "unclear"}`) against the checklists
/// it may answer, and merges them into the case's fields.
fn answered(
    wf: &Workflow,
    a: &Action,
    fields: &mut Map<String, Value>,
    answers: &Map<String, Value>,
) -> Result<Map<String, Value>, Refusal> {
    let mut given = Map::new();
    for (item, v) in answers {
        let Some((list, _)) = wf.item(item).filter(|(c, _)| a.answers.contains(&c.id)) else {
            let known: Vec<&str> = wf
                .checklists
                .iter()
                .filter(|c| a.answers.contains(&c.id))
                .flat_map(|c| c.items.iter().map(|i| i.id.as_str()))
                .collect();
            return Err(refusal(
                "invalid_answer",
                &a.rule,
                format!("「{}」不能回答 `{item}`（可回答：{}）", a.name.zh, known.join("、")),
                format!(
                    "“{}” cannot answer `{item}` (it answers {})",
                    a.name.en,
                    known.join(", ")
                ),
            ));
        };
        let Some(answer) = v.as_str().filter(|s| ANSWERS.contains(s)) else {
            return Err(refusal(
                "invalid_answer",
                &list.rule,
                format!("`{item}` 的回答应为 yes、no 或 unclear"),
                format!("The answer to `{item}` must be yes, no or unclear"),
            ));
        };
        let entry = fields
            .entry(list.id.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        if let Some(m) = entry.as_object_mut() {
            m.insert(item.clone(), Value::from(answer));
        }
        given.insert(item.clone(), Value::from(answer));
    }
    Ok(given)
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
                Signoff::Sequence => unsigned(a, case).into_iter().take(1).cloned().collect(),
                Signoff::Quorum(_) => a.by.clone(),
            },
        })
        .collect()
}

/// The first of `a`'s routes whose condition holds on `scope`, if any (then `a.to` applies). A
/// condition that cannot be evaluated refuses the step: where the case goes cannot be told.
fn route<'a>(a: &'a Action, scope: &Value) -> Result<Option<&'a Route>, Refusal> {
    for r in &a.routes {
        match r.when.holds(scope) {
            Ok(true) => return Ok(Some(r)),
            Ok(false) => {}
            Err(e) => {
                return Err(refusal(
                    "route_unevaluable",
                    &a.rule,
                    format!("无法判断「{}」去向的条件 `{}`：{e}", a.name.zh, r.when.source),
                    format!(
                        "The condition `{}` of where “{}” leads could not be evaluated: {e}",
                        r.when.source, a.name.en
                    ),
                ));
            }
        }
    }
    Ok(None)
}

/// Whether taking `a` in `state` clears a late case's overdue mark: it moves the case on, or it
/// restarts the count of a timer of that state (a tracking record, R12.3).
pub fn clears_overdue(wf: &Workflow, state: &str, a: &Action) -> bool {
    a.moves_from(state)
        || wf
            .timers
            .iter()
            .any(|t| t.states.iter().any(|s| s == state) && t.restarted_by.contains(&a.id))
}

/// How soon `a` is due on the case, for ordering what waits (lower first): 0 when it restarts
/// the timer whose firing last found the case late, 1 when it otherwise clears the mark
/// ([`clears_overdue`]), 2 for the rest.
pub fn urgency(wf: &Workflow, case: &CaseFacts, a: &Action) -> u8 {
    let late_by = case
        .steps
        .iter()
        .rev()
        .find(|s| s.staff_id.is_none())
        .and_then(|s| wf.timer(&s.action))
        .filter(|t| t.overdue && t.restarted_by.contains(&a.id));
    if late_by.is_some() {
        0
    } else if clears_overdue(wf, &case.state, a) {
        1
    } else {
        2
    }
}

/// A timer to set: `timer` of the case falls due at `due`.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub timer: String,
    pub due: Timestamp,
}

/// What a step does to the case's timers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timers {
    /// Every timer of the case goes first (the case changed state).
    pub cancel_all: bool,
    pub set: Vec<Due>,
}

/// The timers a step sets: entering a state (opening, or a move) starts every timer of the new
/// state; a complete step (the last signature of a sign-off) that restarts a timer while the case
/// stays starts that count again. Calendar units count in `tz`.
pub fn timers_after(wf: &Workflow, action: &str, outcome: &Outcome, at: Timestamp, tz: &jiff::tz::TimeZone) -> Timers {
    let (moved, state) = (outcome.moved, outcome.state.as_str());
    let set = wf
        .timers
        .iter()
        .filter(|t| t.states.iter().any(|s| s == state))
        .filter(|t| moved || (outcome.complete && t.restarted_by.iter().any(|a| a == action)))
        .map(|t| Due {
            timer: t.id.clone(),
            due: t.period.after(at, tz),
        })
        .collect();
    Timers { cancel_all: moved, set }
}

/// What a timer's firing comes to.
#[derive(Debug, Clone)]
pub struct Fired {
    /// `None`: the case has left the timer's states, or its `unless` holds; nothing happens.
    pub outcome: Option<Outcome>,
    /// When a repeating timer falls due next (the case stays in its states).
    pub next: Option<Timestamp>,
}

/// Fires `timer` of the case (its state and fields; its steps are not read), due at `due`, at
/// `now` (the pair given as `(due, now)`): `None` when the case has left the timer's
/// states or its `unless` holds (a repeating timer then still falls due again, `next`).
pub fn fire(
    wf: &Workflow,
    case: &CaseFacts,
    timer: &Timer,
    around: &Around,
    (due, now): (Timestamp, Timestamp),
    tz: &jiff::tz::TimeZone,
    version: u32,
) -> Result<Fired, Refusal> {
    let next_after = |from: Timestamp| {
        let mut n = timer.period.after(from, tz);
        while n <= now {
            n = timer.period.after(n, tz);
        }
        n
    };
    let quiet = |next: Option<Timestamp>| Fired { outcome: None, next };
    if !timer.states.contains(&case.state) {
        return Ok(quiet(None));
    }
    let s = scope(wf, &case.fields, None, (case.id, &case.state, case.opened_by), around);
    let stays = timer.to.as_ref().is_none_or(|t| *t == case.state);
    let next = (timer.repeat && stays).then(|| next_after(due));
    if let Some(u) = &timer.unless {
        match u.holds(&s) {
            Ok(true) => return Ok(quiet(next)),
            Ok(false) => {}
            Err(e) => {
                return Err(refusal(
                    "guard_unevaluable",
                    &timer.rule,
                    format!("「{}」的条件 `{}` 无法判断：{e}", timer.name.zh, u.source),
                    format!(
                        "The condition `{}` of “{}” could not be evaluated: {e}",
                        u.source, timer.name.en
                    ),
                ));
            }
        }
    }
    let step = format!("{}@{}", timer.id, due.as_millisecond());
    let effects = effects_of(&timer.effects, &s, &timer.rule, &step)?;
    let mut fields = case.fields.clone();
    set_fields(wf, &timer.rule, &mut fields, &effects)?;
    let to = timer.to.clone().unwrap_or_else(|| case.state.clone());
    let (here, there) = (wf.state_name(&case.state), wf.state_name(&to));
    let period = timer.period.text();
    let without: Vec<&Action> = timer.restarted_by.iter().filter_map(|a| wf.action(a)).collect();
    let (zh_since, en_since) = if without.is_empty() {
        (
            format!("已在「{}」{}", here.zh, period.zh),
            format!("has been {} for {}", here.en, period.en),
        )
    } else {
        let zh: Vec<&str> = without.iter().map(|a| a.name.zh.as_str()).collect();
        let en: Vec<&str> = without.iter().map(|a| a.name.en.as_str()).collect();
        (
            format!("{}没有「{}」", period.zh, zh.join("、")),
            format!("has gone {} without “{}”", period.en, en.join("” or “")),
        )
    };
    let (zh_then, en_then) = if to != case.state {
        (format!("，转为「{}」", there.zh), format!("; it moves to {}", there.en))
    } else if timer.overdue {
        ("，已逾期".to_string(), "; it is overdue".to_string())
    } else {
        (String::new(), String::new())
    };
    let moved = to != case.state;
    let mut facts = json!({
        "workflow": wf.id, "timer": timer.id, "due": due, "period": timer.period,
        "from": case.state, "to": to, "restarted_by": timer.restarted_by,
    });
    if !effects.is_empty() {
        facts["effects"] = json!(effects);
    }
    let text = worded(
        wf,
        &timer.id,
        (None, &case.state, &to),
        &fields,
        &facts,
        Text::new(
            format!("「{}」：此案件{zh_since}{zh_then}", timer.name.zh),
            format!("“{}”: the case {en_since}{en_then}", timer.name.en),
        ),
    );
    Ok(Fired {
        outcome: Some(Outcome {
            state: to,
            fields,
            role: None,
            moved,
            complete: true,
            overdue: if moved {
                Some(false)
            } else {
                timer.overdue.then_some(true)
            },
            effects,
            decision: Decision {
                key: "case.timer".into(),
                rule: timer.rule.clone(),
                policy_version: version,
                text,
                facts,
            },
        }),
        next,
    })
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
[[workflows.actions]]
id = "review"
name = { zh = "复核", en = "Review" }
rule = "R90.5"
from = ["approved"]
by = ["team_leader", "opener"]
[[workflows.timers]]
id = "remind"
rule = "R90.4"
name = { zh = "审批提醒", en = "Approval reminder" }
in = ["proposed"]
after = "2 days"
effects = [{ charge = "credit_slow", to = "[case.opened_by, 9]" }]
[[workflows.timers]]
id = "unreviewed"
rule = "R90.5"
name = { zh = "复核到期", en = "Review due" }
in = ["approved"]
every = "30 days"
restarted_by = ["review"]
unless = "fields.terms == '60d'"
[[ledger.codes]]
code = "credit_slow"
rule = "R90.4"
kind = "points"
name = { zh = "授信审批拖延", en = "Slow credit approval" }
points = -1
manual = false
"#;

    /// The engine's `decide` with no answers.
    fn decide(
        wf: &Workflow,
        case: &CaseFacts,
        action: &str,
        actor: &Actor,
        input: &Map<String, Value>,
        note: Option<&str>,
        version: u32,
    ) -> Result<Outcome, Refusal> {
        let given = Given {
            fields: input,
            answers: &Map::new(),
            note,
            attested: false,
        };
        super::decide(wf, case, action, actor, &given, &company(), version)
    }

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

    /// A company customer with no other cases.
    fn company() -> Around {
        Around {
            customer_id: Some(40),
            customer: Some(CustomerFacts {
                id: 40,
                kind: "company".into(),
                grade: None,
                tags: vec![],
                owner: None,
            }),
            cases: vec![],
            today: "2026-12-03".into(),
            listed: vec![],
            people: vec![],
        }
    }

    fn fields(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn opened(wf: &Workflow, amount: i64) -> CaseFacts {
        let o = open(
            wf,
            &fields(json!({ "amount": amount })),
            &company(),
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
        let refuse = |v: Value, customer: bool| {
            let around = if customer { company() } else { Around::default() };
            open(&wf, &fields(v), &around, &me, 3).unwrap_err()
        };
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
    fn r90_a_state_is_entered_only_with_what_it_requires_each_date_still_valid() {
        let src = CREDIT
            .replacen(
                "  { id = \"approved\", name = { zh = \"已批准\", en = \"approved\" } },",
                "  { id = \"approved\", name = { zh = \"已批准\", en = \"approved\" }, requires = { rule = \"R90.6\", fields = [\"contract_until\"], when = \"fields.amount > 1000000\" } },",
                1,
            )
            .replacen(
                "  { id = \"terms\"",
                "  { id = \"contract_until\", type = \"date\", name = { zh = \"授信合同有效期\", en = \"Credit contract valid until\" } },\n  { id = \"terms\"",
                1,
            )
            .replacen("fields = [\"terms\"]", "fields = [\"terms\", \"contract_until\"]", 1);
        assert_eq!(src.matches("contract_until").count(), 3, "every edit applied");
        let p = Policy::parse(&format!("{SAMPLE}{src}"), "credit.toml").unwrap();
        let wf = p.workflow("credit_line").unwrap();
        let lead = actor(2, "team_leader");
        let approve = |c: &CaseFacts, until: Value| {
            let given = fields(json!({ "terms": "30d", "contract_until": until }));
            decide(wf, c, "approve", &lead, &given, None, 3)
        };
        let big = opened(wf, 2_000_000);
        // today is 2026-12-03 in company()
        for until in [Value::Null, json!("2026-12-02")] {
            let r = approve(&big, until).unwrap_err();
            assert_eq!((r.code, r.rule.unwrap().as_str()), ("requirement_missing", "R90.6"));
            assert_eq!(r.text.zh, "进入「已批准」须具备「授信合同有效期」（缺少或已过期）");
        }
        assert_eq!(approve(&big, json!("2026-12-03")).unwrap().state, "approved");
        assert_eq!(
            approve(&opened(wf, 500_000), Value::Null).unwrap().state,
            "approved",
            "only above 10,000 yuan"
        );
        // The page lists what the states ahead need; the scope says what the state lacks.
        let ahead = requirements(wf, &big, "2026-12-03");
        assert_eq!(ahead.len(), 1);
        assert_eq!(
            (ahead[0].0.id.as_str(), ahead[0].1[0].0.id.as_str(), ahead[0].1[0].1),
            ("approved", "contract_until", false)
        );
        let mut held = big.clone();
        held.state = "approved".into();
        held.fields.insert("contract_until".into(), json!("2026-11-30"));
        let s = scope(
            wf,
            &with_declared(wf, held.fields.clone()),
            None,
            (7, "approved", 1),
            &company(),
        );
        assert_eq!(s["case"]["missing"], json!(["contract_until"]));
        let words: Vec<String> = crate::policy::explain(&p).iter().map(|l| l.text.zh.clone()).collect();
        assert!(
            words
                .iter()
                .any(|w| w.contains("进入「已批准」须具备「授信合同有效期」（视情况而定）")),
            "{words:?}"
        );

        let bad = |from: &str, to: &str| {
            Policy::parse(&format!("{SAMPLE}{}", src.replacen(from, to, 1)), "credit.toml")
                .unwrap_err()
                .to_string()
        };
        let e = bad("fields = [\"contract_until\"]", "fields = [\"contract\"]");
        assert!(
            e.contains("requires `contract`, which is not a field anyone fills in"),
            "{e}"
        );
        let e = bad("fields = [\"contract_until\"]", "fields = []");
        assert!(e.contains("requires nothing"), "{e}");
    }

    #[test]
    fn r90_an_action_of_the_cases_own_people_is_theirs_alone() {
        let src = CREDIT
            .replacen(
                "  { id = \"terms\"",
                "  { id = \"handler\", type = \"staff\", name = { zh = \"经办人\", en = \"Handler\" } },\n  { id = \"terms\"",
                1,
            )
            .replacen("by = [\"team_leader\", \"opener\"]", "by = [\"people\"]", 1);
        assert_eq!(src.matches("people").count(), 1);
        let p = Policy::parse(&format!("{SAMPLE}{src}"), "credit.toml").unwrap();
        let wf = p.workflow("credit_line").unwrap();
        let mut c = opened(wf, 200_000);
        c.state = "approved".into();
        c.fields.insert("handler".into(), json!(8));
        let seated = seats(wf, &c.fields, &company());
        assert_eq!(seated, vec![("people".to_string(), vec![8])]);
        let ids = |who: &Actor| {
            available_seated(wf, &c, who, &seated)
                .iter()
                .map(|a| a.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&actor(8, "consultant")), ["review"]);
        assert!(ids(&actor(9, "consultant")).is_empty());
        let r = decide(wf, &c, "review", &actor(9, "team_leader"), &Map::new(), None, 3).unwrap_err();
        assert!(r.text.zh.contains("案件所列人员"), "{}", r.text.zh);
        let e = Policy::parse(
            &format!(
                "{SAMPLE}{}",
                CREDIT.replacen("by = [\"team_leader\", \"opener\"]", "by = [\"people\"]", 1)
            ),
            "credit.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("has no staff field to name them"), "{e}");
    }

    /// The credit line with its countersign signed as `signoff` says.
    fn countersigned(signoff: &str) -> Policy {
        let src = CREDIT.replacen("signoff = \"all\"", signoff, 1);
        assert_ne!(src, CREDIT);
        Policy::parse(&format!("{SAMPLE}{src}"), "credit.toml").unwrap()
    }

    /// `c` with the step `o` took for `who` on `action`.
    fn signed_by(c: &mut CaseFacts, action: &str, who: i64, o: Outcome) {
        c.steps.push(Step {
            action: action.into(),
            role: o.role,
            staff_id: Some(who),
            from_state: c.state.clone(),
            to_state: o.state.clone(),
            fields: Map::new(),
        });
        c.state = o.state;
    }

    #[test]
    fn r90_a_signoff_in_sequence_goes_role_by_role_and_a_quorum_counts_people() {
        let none = Map::new();
        let p = countersigned("signoff = \"sequence\"");
        let wf = p.workflow("credit_line").unwrap();
        let mut c = opened(wf, 200_000);
        let r = decide(wf, &c, "countersign", &actor(3, "team_leader"), &none, None, 3).unwrap_err();
        assert_eq!(
            (r.code, r.text.zh.as_str()),
            ("not_your_turn", "「会签」按顺序签，下一位是销售顾问")
        );
        let first = decide(wf, &c, "countersign", &actor(5, "consultant"), &none, None, 3).unwrap();
        assert_eq!(
            (first.state.as_str(), first.role.as_deref()),
            ("proposed", Some("consultant"))
        );
        signed_by(&mut c, "countersign", 5, first);
        let waits = waiting_on(wf, &c)
            .into_iter()
            .find(|w| w.action == "countersign")
            .unwrap();
        assert_eq!(waits.roles, vec!["team_leader"]);
        assert_eq!(
            decide(wf, &c, "countersign", &actor(6, "consultant"), &none, None, 3)
                .unwrap_err()
                .code,
            "not_your_turn"
        );
        let last = decide(wf, &c, "countersign", &actor(3, "team_leader"), &none, None, 3).unwrap();
        assert_eq!(last.state, "approved");

        // Two different team leaders make the quorum; the same one twice does not.
        let p = countersigned("signoff = \"quorum\"\nquorum = 2");
        let wf = p.workflow("credit_line").unwrap();
        let mut c = opened(wf, 200_000);
        let one = decide(wf, &c, "countersign", &actor(3, "team_leader"), &none, None, 3).unwrap();
        assert_eq!(one.state, "proposed");
        assert!(
            one.decision.text.zh.ends_with("（须 2 人，已签 1 人），还需 1 人签"),
            "{}",
            one.decision.text.zh
        );
        signed_by(&mut c, "countersign", 3, one);
        assert_eq!(
            decide(wf, &c, "countersign", &actor(3, "team_leader"), &none, None, 3)
                .unwrap_err()
                .code,
            "already_signed"
        );
        assert_eq!(signatures(wf.action("countersign").unwrap(), &c), 1);
        let two = decide(wf, &c, "countersign", &actor(4, "team_leader"), &none, None, 3).unwrap();
        assert_eq!(two.state, "approved");
        let words: Vec<String> = crate::policy::explain(&p).iter().map(|l| l.text.zh.clone()).collect();
        assert!(words.iter().any(|w| w.contains("须 2 人签署（不同的人）")), "{words:?}");

        let bad = |signoff: &str| {
            let src = format!("{SAMPLE}{}", CREDIT.replacen("signoff = \"all\"", signoff, 1));
            Policy::parse(&src, "credit.toml").unwrap_err().to_string()
        };
        assert!(bad("signoff = \"quorum\"").contains("how many is not 1 to 100"));
        assert!(bad("signoff = \"quorum\"\nquorum = 0").contains("how many is not 1 to 100"));
        assert!(bad("signoff = \"all\"\nquorum = 2").contains("has quorum but is not signed by a quorum"));
        assert!(bad("signoff = \"most\"").contains("\"sequence\""));
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
            staff_id: Some(3),
            from_state: "proposed".into(),
            to_state: "proposed".into(),
            fields: Map::new(),
        });
        assert_eq!(
            waiting_on(&wf, &c)
                .iter()
                .find(|w| w.action == "countersign")
                .unwrap()
                .roles,
            vec!["consultant"]
        );
        let ids = |who: &Actor| {
            available(&wf, &c, who)
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(&actor(3, "team_leader")),
            ["approve", "reject"],
            "signed once: not again"
        );
        assert_eq!(ids(&actor(1, "consultant")), ["countersign"]);
        assert_eq!(ids(&actor(5, "cashier")), Vec::<&str>::new());
        let again = decide(&wf, &c, "countersign", &actor(3, "team_leader"), &none, None, 3).unwrap_err();
        assert_eq!(again.code, "already_signed");
        let other_leader = decide(&wf, &c, "countersign", &actor(4, "team_leader"), &none, None, 3).unwrap_err();
        assert_eq!(other_leader.code, "already_signed", "the team leader's part is signed");
        let last = decide(&wf, &c, "countersign", &actor(1, "consultant"), &none, None, 3).unwrap();
        assert_eq!((last.state.as_str(), last.moved), ("approved", true));
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// A step's outcome as `timers_after` reads it.
    fn step(moved: bool, complete: bool, state: &str) -> Outcome {
        Outcome {
            state: state.into(),
            fields: Map::new(),
            role: None,
            moved,
            complete,
            overdue: None,
            effects: Vec::new(),
            decision: Decision {
                key: "case.took".into(),
                rule: RuleId::parse("R90.1").unwrap(),
                policy_version: 3,
                facts: Value::Null,
                text: Text::new("", ""),
            },
        }
    }

    #[test]
    fn r90_timers_start_when_a_case_enters_their_state_and_restart_on_their_steps() {
        let wf = credit();
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let t0 = at("2026-03-01T02:00:00Z");
        let opened = timers_after(&wf, OPEN, &step(true, true, "proposed"), t0, &tz);
        assert_eq!(
            opened.set,
            [Due {
                timer: "remind".into(),
                due: at("2026-03-03T02:00:00Z")
            }]
        );
        let approved = timers_after(&wf, "approve", &step(true, true, "approved"), t0, &tz);
        assert!(approved.cancel_all);
        assert_eq!(approved.set[0].timer, "unreviewed");
        let reviewed = timers_after(
            &wf,
            "review",
            &step(false, true, "approved"),
            at("2026-03-05T02:00:00Z"),
            &tz,
        );
        assert!(!reviewed.cancel_all);
        assert_eq!(reviewed.set[0].due, at("2026-04-04T02:00:00Z"));
        let half = timers_after(&wf, "review", &step(false, false, "approved"), t0, &tz);
        assert_eq!(
            half,
            Timers::default(),
            "a signature that leaves others to sign restarts nothing"
        );
        assert_eq!(
            timers_after(&wf, "countersign", &step(false, true, "proposed"), t0, &tz),
            Timers::default()
        );

        let mut c = opened_case(&wf);
        c.state = "approved".into();
        let o = decide(&wf, &c, "review", &actor(2, "team_leader"), &Map::new(), None, 3).unwrap();
        assert_eq!(
            (o.moved, o.overdue),
            (false, Some(false)),
            "a restarting step clears overdue"
        );
        let own = decide(&wf, &c, "review", &actor(1, "consultant"), &Map::new(), None, 3).unwrap();
        assert_eq!(own.role.as_deref(), Some(OPENER), "the opener reviews their own");
        let r = decide(&wf, &c, "review", &actor(5, "consultant"), &Map::new(), None, 3).unwrap_err();
        assert_eq!(r.code, "forbidden", "another consultant does not");
    }

    fn opened_case(wf: &Workflow) -> CaseFacts {
        opened(wf, 200_000)
    }

    #[test]
    fn r90_a_timer_fires_once_in_its_state_with_its_effects_and_says_why() {
        let wf = credit();
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let remind = wf.timer("remind").unwrap();
        let c = opened_case(&wf);
        let due = at("2026-03-03T02:00:00Z");
        let f = fire(&wf, &c, remind, &company(), (due, due), &tz, 3).unwrap();
        assert_eq!(f.next, None, "after = once per stay");
        let o = f.outcome.unwrap();
        assert_eq!((o.state.as_str(), o.moved, o.overdue), ("proposed", false, Some(true)));
        let charged = |staff_id: i64| Effect::Charge {
            code: "credit_slow".into(),
            staff_id,
            step: format!("remind@{}", due.as_millisecond()),
        };
        assert_eq!(o.effects, [charged(1), charged(9)]);
        assert_eq!(o.decision.rule.as_str(), "R90.4");
        assert_eq!(
            o.decision.text.en,
            "“Approval reminder”: the case has been proposed for 2 days; it is overdue"
        );
        assert_eq!(o.decision.text.zh, "「审批提醒」：此案件已在「已提出」2 天，已逾期");
        let mut left = c.clone();
        left.state = "approved".into();
        let quiet = fire(&wf, &left, remind, &company(), (due, due), &tz, 3).unwrap();
        assert!(
            quiet.outcome.is_none() && quiet.next.is_none(),
            "the case moved on: nothing"
        );
    }

    #[test]
    fn r90_a_repeating_timer_falls_due_again_and_unless_keeps_it_quiet() {
        let wf = credit();
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let every = wf.timer("unreviewed").unwrap();
        let mut c = opened_case(&wf);
        c.state = "approved".into();
        let due = at("2026-04-01T02:00:00Z");
        // The sweep ran late (40 days): the next firing is the first one still ahead.
        let f = fire(&wf, &c, every, &company(), (due, at("2026-05-10T00:00:00Z")), &tz, 3).unwrap();
        assert_eq!(f.next, Some(at("2026-05-31T02:00:00Z")));
        let o = f.outcome.unwrap();
        assert!(o.effects.is_empty());
        assert!(
            o.decision.text.en.contains("has gone 30 days without “Review”"),
            "{}",
            o.decision.text.en
        );
        c.fields.insert("terms".into(), json!("60d"));
        let f = fire(&wf, &c, every, &company(), (due, due), &tz, 3).unwrap();
        assert!(f.outcome.is_none());
        assert_eq!(f.next, Some(at("2026-05-01T02:00:00Z")));
    }

    const ADMISSION: &str = r#"
[[workflows]]
id = "admission"
rule = "R91.1"
name = { zh = "准入", en = "Admission" }
initial = "inspecting"
states = [
  { id = "inspecting", name = { zh = "考察中", en = "being inspected" } },
  { id = "admitted", name = { zh = "已准入", en = "admitted" } },
]
fields = [{ id = "site", type = "text", name = { zh = "地点", en = "Site" } }]
[[workflows.checklists]]
id = "inspection"
rule = "R91.2"
name = { zh = "考察清单", en = "Inspection" }
items = [
  { id = "licence", name = { zh = "执照", en = "Licence" } },
  { id = "premises", name = { zh = "场地", en = "Premises" } },
  { id = "staff", name = { zh = "人员", en = "Staff" } },
]
[[workflows.actions]]
id = "inspect"
name = { zh = "考察", en = "Inspect" }
from = ["inspecting"]
by = ["team_leader"]
answers = ["inspection"]
[[workflows.actions]]
id = "admit"
name = { zh = "准入", en = "Admit" }
from = ["inspecting"]
to = "admitted"
by = ["team_leader"]
guard = { rule = "R91.2", when = "checklist.inspection.passed", refusal = { zh = "考察未通过", en = "The inspection has not passed" } }
"#;

    #[test]
    fn r91_a_checklist_is_answered_yes_no_or_unclear_and_unclear_counts_as_no() {
        let p = Policy::parse(&format!("{SAMPLE}{ADMISSION}"), "admission.toml").unwrap();
        let wf = p.workflow("admission").unwrap();
        let leader = actor(2, "team_leader");
        let mut c = CaseFacts {
            id: 3,
            state: "inspecting".into(),
            fields: with_declared(wf, Map::new()),
            opened_by: 1,
            steps: vec![],
        };
        assert_eq!(completeness(wf, &c.fields), 0, "a field and three items, none there");
        let answers = fields(json!({ "licence": "yes", "premises": "unclear", "staff": "yes" }));
        let given = Given {
            fields: &Map::new(),
            answers: &answers,
            note: None,
            attested: false,
        };
        let o = super::decide(wf, &c, "inspect", &leader, &given, &company(), 3).unwrap();
        assert_eq!(
            o.fields["inspection"],
            json!({ "licence": "yes", "premises": "unclear", "staff": "yes" })
        );
        assert_eq!(completeness(wf, &o.fields), 75);
        let t = wf.checklist("inspection").unwrap().tally(&o.fields);
        assert_eq!((t.answered, t.unclear, t.failing, t.passed), (3, 1, 1, false));
        assert!(
            o.decision
                .text
                .zh
                .ends_with("「考察清单」已答 3/3 项，未通过（0 项否，1 项不确定按否计）"),
            "{}",
            o.decision.text.zh
        );
        assert_eq!(o.decision.facts["checklists"]["inspection"]["failing"], 1);
        c.fields = o.fields;
        let r = decide(wf, &c, "admit", &leader, &Map::new(), None, 3).unwrap_err();
        assert_eq!(
            (r.code, r.rule.unwrap().as_str()),
            ("guard_refused", "R91.2"),
            "unclear counts as no"
        );
        let fix = fields(json!({ "premises": "yes" }));
        let o = super::decide(
            wf,
            &c,
            "inspect",
            &leader,
            &Given {
                fields: &Map::new(),
                answers: &fix,
                note: None,
                attested: false,
            },
            &company(),
            3,
        )
        .unwrap();
        assert!(wf.checklist("inspection").unwrap().tally(&o.fields).passed);
        c.fields = o.fields;
        assert_eq!(
            decide(wf, &c, "admit", &leader, &Map::new(), None, 3).unwrap().state,
            "admitted"
        );
        for (bad, why) in [
            (json!({ "colour": "yes" }), "not an item"),
            (json!({ "licence": "maybe" }), "not an answer"),
        ] {
            let bad = fields(bad);
            let r = super::decide(
                wf,
                &c,
                "inspect",
                &leader,
                &Given {
                    fields: &Map::new(),
                    answers: &bad,
                    note: None,
                    attested: false,
                },
                &company(),
                3,
            )
            .unwrap_err();
            assert_eq!(r.code, "invalid_answer", "{why}");
        }
        let r = super::decide(wf, &c, "admit", &leader, &given, &company(), 3).unwrap_err();
        assert_eq!(r.code, "invalid_answer", "admit answers no checklist");
        let lax = ADMISSION.replace("items = [", "unclear = \"yes\"\nitems = [");
        let p = Policy::parse(&format!("{SAMPLE}{lax}"), "admission.toml").unwrap();
        let list = p
            .workflow("admission")
            .unwrap()
            .checklist("inspection")
            .unwrap()
            .clone();
        let mut f = Map::new();
        f.insert(
            "inspection".into(),
            json!({ "licence": "yes", "premises": "unclear", "staff": "yes" }),
        );
        assert!(list.tally(&f).passed, "unclear counts as yes here");
        let text: Vec<String> = crate::policy::explain(&p).iter().map(|l| l.text.en.clone()).collect();
        assert!(text.iter().any(|t| t.contains("Checklist “Inspection”: Licence, Premises, Staff; each answered yes, no or unclear, unclear counts as yes")), "{text:?}");
        let bad = |from: &str, to: &str| {
            Policy::parse(&format!("{SAMPLE}{}", ADMISSION.replacen(from, to, 1)), "a.toml")
                .unwrap_err()
                .to_string()
        };
        assert!(bad("answers = [\"inspection\"]", "answers = [\"inspecton\"]").contains("answers `inspecton`"));
        assert!(bad("id = \"staff\"", "id = \"licence\"").contains("item `licence` is listed twice"));
        assert!(bad("items = [", "unclear = \"maybe\"\nitems = [").contains("unclear = `maybe`"));
        assert!(bad("id = \"inspection\"", "id = \"site\"").contains("`site` is already a field"));
    }

    #[test]
    fn r90_a_workflow_is_explained_in_words() {
        let p = Policy::parse(&format!("{SAMPLE}{CREDIT}"), "credit.toml").unwrap();
        let text: Vec<String> = crate::policy::explain(&p).iter().map(|l| l.text.en.clone()).collect();
        let text = text.join("\n");
        assert!(text.contains("Workflow: Credit line request"), "{text}");
        assert!(text.contains("may “Approve” when it is proposed, and it becomes approved; not by whoever opened the case; its condition is checked first, and when it fails: Above 50,000 yuan only 30-day terms"), "{text}");
        assert!(
            text.contains("“Reject” when it is proposed, and it becomes rejected; with a note"),
            "{text}"
        );
        assert!(text.contains("each role signs, each by a different person"), "{text}");
        assert!(
            text.contains("“Approval reminder”: when a case has been proposed for 2 days, it is marked overdue; charges “Slow credit approval” to the staff it names"),
            "{text}"
        );
        assert!(
            text.contains("“Review due”: when a case that is approved goes 30 days without “Review” (except cases its exception covers)"),
            "{text}"
        );
    }

    const REGRADE: &str = r#"
[[workflows]]
id = "regrade"
rule = "R1.11"
name = { zh = "调级", en = "Regrade" }
open_by = ["consultant"]
initial = "proposed"
states = [
  { id = "proposed", name = { zh = "待批", en = "proposed" } },
  { id = "done", name = { zh = "已生效", en = "in effect" } },
]
fields = [
  { id = "grade", type = "choice", of = ["A", "B"], required = true, name = { zh = "等级", en = "Grade" } },
  { id = "licence_until", type = "date", name = { zh = "执照有效期至", en = "Licence valid until" } },
]
on_open = [{ tag = "regrading" }]
[[workflows.guards]]
rule = "R1.10"
when = "fields.licence_until == null || fields.licence_until >= today"
refusal = { zh = "执照已过期", en = "The licence has lapsed" }
[[workflows.guards]]
rule = "R1.3"
when = "customer.kind == 'company' && cases.exists(c, c.workflow == 'admission' && c.state == 'admitted')"
refusal = { zh = "未入网", en = "Not admitted" }
[[workflows.actions]]
id = "approve"
name = { zh = "批准", en = "Approve" }
from = ["proposed"]
to = "done"
by = ["team_leader"]
effects = [{ set_grade = "fields.grade" }, { untag = "regrading" }]
"#;

    #[test]
    fn r1_expressions_read_the_customer_and_its_other_cases_and_effects_change_the_customer() {
        let p = Policy::parse(&format!("{SAMPLE}{REGRADE}"), "regrade.toml").unwrap();
        let wf = p.workflow("regrade").unwrap();
        let input = fields(json!({ "grade": "A" }));
        let me = actor(1, "consultant");
        let other = |state: &str| OtherCase {
            id: 3,
            workflow: "admission".into(),
            state: state.into(),
            fields: Map::new(),
        };
        let mut around = company();
        around.cases = vec![other("submitted")];
        let r = open(wf, &input, &around, &me, 1).unwrap_err();
        assert_eq!((r.code, r.rule.unwrap().as_str()), ("guard_refused", "R1.3"));
        let r = open(wf, &input, &around, &actor(2, "team_leader"), 1).unwrap_err();
        assert_eq!(r.code, "forbidden", "open_by");
        around.cases = vec![other("admitted")];
        let o = open(wf, &input, &around, &me, 1).unwrap();
        assert_eq!(
            o.effects,
            [Effect::Tag {
                tag: "regrading".into(),
                on: true
            }]
        );
        if let Some(c) = around.customer.as_mut() {
            c.kind = "person".into();
        }
        assert_eq!(open(wf, &input, &around, &me, 1).unwrap_err().code, "guard_refused");
        let case = CaseFacts {
            id: 9,
            state: o.state,
            fields: o.fields,
            opened_by: 1,
            steps: vec![],
        };
        let given = Given {
            fields: &Map::new(),
            answers: &Map::new(),
            note: None,
            attested: false,
        };
        let o = super::decide(wf, &case, "approve", &actor(2, "team_leader"), &given, &company(), 1).unwrap();
        assert_eq!(
            o.effects,
            [
                Effect::SetGrade {
                    grade: Some("A".into())
                },
                Effect::Tag {
                    tag: "regrading".into(),
                    on: false
                }
            ]
        );
        assert_eq!(
            Expr::compile("cases.all(x, x.state != 'open')").unwrap().reads(),
            ["cases"]
        );
        // A date field is a calendar date, and compares with today (R1.10).
        let dated = |d: &str| fields(json!({ "grade": "A", "licence_until": d }));
        let mut admitted = company();
        admitted.cases = vec![other("admitted")];
        assert_eq!(
            open(wf, &dated("2027-02-30"), &admitted, &me, 1).unwrap_err().code,
            "invalid_field"
        );
        let r = open(wf, &dated("2026-12-02"), &admitted, &me, 1).unwrap_err();
        assert_eq!(
            (r.code, r.rule.unwrap().as_str()),
            ("guard_refused", "R1.10"),
            "today is 2026-12-03"
        );
        assert!(open(wf, &dated("2026-12-03"), &admitted, &me, 1).is_ok());
    }

    #[test]
    fn r90_an_action_leads_where_its_first_holding_route_says() {
        let routed = CREDIT.replacen(
            "to = \"approved\"\nby = [\"team_leader\"]\nnot_opener = true",
            "to = \"approved\"\nroutes = [\n  { when = \"fields.amount > 5000000\", to = \"rejected\", name = { zh = \"超过 5 万元\", en = \"above 50,000 yuan\" } },\n  { when = \"fields.terms == '60d'\", to = \"proposed\", name = { zh = \"60 天账期\", en = \"60-day terms\" } },\n]\nby = [\"team_leader\"]\nnot_opener = true",
            1,
        ).replacen("fields.amount <= 5000000 || fields.terms == '30d'", "true", 1);
        let p = Policy::parse(&format!("{SAMPLE}{routed}"), "credit.toml").unwrap();
        let wf = p.workflow("credit_line").unwrap();
        let lead = actor(2, "team_leader");
        let go = |amount: i64, terms: &str| {
            decide(
                wf,
                &opened(wf, amount),
                "approve",
                &lead,
                &fields(json!({ "terms": terms })),
                None,
                3,
            )
            .unwrap()
        };
        // The first route that holds, in order; `to` when none does.
        let big = go(8_000_000, "60d");
        assert_eq!(big.state, "rejected");
        assert_eq!(big.decision.facts["route"], "fields.amount > 5000000");
        assert!(
            big.decision
                .text
                .zh
                .ends_with("由「已提出」转为「已驳回」（超过 5 万元）"),
            "{}",
            big.decision.text.zh
        );
        let (stays, plain) = (go(100_000, "60d"), go(100_000, "30d"));
        assert_eq!((stays.state.as_str(), stays.moved), ("proposed", false));
        assert_eq!(
            (plain.state.as_str(), plain.decision.facts.get("route")),
            ("approved", None)
        );
        assert!(wf.action("approve").unwrap().moves_from("proposed"));
        assert_ne!(routed, CREDIT);
        let words: Vec<String> = crate::policy::explain(&p).iter().map(|l| l.text.zh.clone()).collect();
        assert!(
            words
                .iter()
                .any(|w| w.contains("超过 5 万元时转为「已驳回」，60 天账期时转为「已提出」，否则转为「已批准」")),
            "{words:?}"
        );

        // A route to a state that is not there, or without words for why, is an error where
        // written; a route counts as a way into its state.
        let e = Policy::parse(
            &format!(
                "{SAMPLE}{}",
                routed.replacen("to = \"rejected\", name", "to = \"refused\", name", 1)
            ),
            "credit.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no state `refused`"), "{e}");
        let e = Policy::parse(
            &format!(
                "{SAMPLE}{}",
                routed.replacen(", name = { zh = \"60 天账期\", en = \"60-day terms\" }", "", 1)
            ),
            "credit.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("name"), "{e}");
        let only_routed = routed
            .replacen(
                "to = \"rejected\"\nby = [\"team_leader\"]\nnote = true",
                "by = [\"team_leader\"]\nnote = true",
                1,
            )
            .replacen(
                "from = [\"proposed\"]\nto = \"approved\"\nby = [\"consultant\"",
                "from = [\"proposed\"]\nby = [\"consultant\"",
                1,
            );
        assert_eq!(
            only_routed.matches("to = \"rejected\"").count(),
            1,
            "only the route leads there"
        );
        assert_eq!(only_routed.matches("to = \"approved\"").count(), 1);
        assert!(
            Policy::parse(&format!("{SAMPLE}{only_routed}"), "credit.toml").is_ok(),
            "rejected is reached by a route"
        );
    }

    #[test]
    fn r90_an_action_is_repeated_within_its_bounds_and_counted() {
        let counted = CREDIT
            .replacen(
                "rule = \"R90.5\"\nfrom = [\"approved\"]",
                "rule = \"R90.5\"\nfrom = [\"approved\"]\ncount = \"reviews\"\nat_most = 2",
                1,
            )
            .replacen(
                "  { id = \"terms\"",
                "  { id = \"reviews\", type = \"number\", name = { zh = \"复核次数\", en = \"Reviews\" } },\n  { id = \"terms\"",
                1,
            );
        assert_eq!(counted.matches("reviews").count(), 2, "both edits applied");
        let p = Policy::parse(&format!("{SAMPLE}{counted}"), "credit.toml").unwrap();
        let wf = p.workflow("credit_line").unwrap();
        assert!(wf.kept_by_engine("reviews") && !wf.opening_fields().iter().any(|f| f.id == "reviews"));
        let lead = actor(2, "team_leader");
        let none = Map::new();
        let mut c = opened(wf, 800_000);
        c.state = "approved".into();
        for n in 1..=2 {
            let o = decide(wf, &c, "review", &lead, &none, None, 3).unwrap();
            assert_eq!(o.fields["reviews"], n);
            assert_eq!(
                o.decision.facts["count"],
                json!({ "field": "reviews", "times": n, "at_most": 2 })
            );
            assert!(
                o.decision.text.zh.ends_with(&format!("（第 {n} 次，最多 2 次）")),
                "{}",
                o.decision.text.zh
            );
            c.fields = o.fields;
        }
        let r = decide(wf, &c, "review", &lead, &none, None, 3).unwrap_err();
        assert_eq!((r.code, r.rule.unwrap().as_str()), ("too_many_times", "R90.5"));
        assert_eq!(r.text.zh, "「复核」最多 2 次，此案件已有 2 次");
        let words: Vec<String> = crate::policy::explain(&p).iter().map(|l| l.text.zh.clone()).collect();
        assert!(
            words.iter().any(|w| w.contains("最多 2 次，次数记在「复核次数」")),
            "{words:?}"
        );

        let bad = |from: &str, to: &str| {
            let src = format!("{SAMPLE}{}", counted.replacen(from, to, 1));
            Policy::parse(&src, "credit.toml").unwrap_err().to_string()
        };
        let e = bad("count = \"reviews\"", "count = \"terms\"");
        assert!(
            e.contains("counts its steps in `terms`, which is not a number field"),
            "{e}"
        );
        let e = bad("count = \"reviews\"\n", "");
        assert!(e.contains("may be taken at most 2 times, which does not work"), "{e}");
        let e = bad("at_most = 2", "at_most = 0");
        assert!(e.contains("at most 0 times"), "{e}");
    }

    /// The credit line with a reject that opens a second request, linked, for a smaller amount.
    fn with_appeal(effect: &str) -> String {
        let appeal = CREDIT.replacen("id = \"credit_line\"", "id = \"appeal\"", 1);
        let appeal = appeal.split("[[ledger.codes]]").next().unwrap_or_default();
        // The appeal keeps no timers (they would charge twice) and only the manager opens one.
        let appeal = appeal
            .split("[[workflows.timers]]")
            .next()
            .unwrap_or_default()
            .replacen(
                "initial = \"proposed\"",
                "initial = \"proposed\"\nopen_by = [\"team_leader\"]",
                1,
            );
        let first = CREDIT.replacen(
            "to = \"rejected\"\n",
            &format!("to = \"rejected\"\neffects = [{effect}]\n"),
            1,
        );
        format!("{SAMPLE}{first}{appeal}")
    }

    #[test]
    fn r90_a_step_opens_a_linked_case_by_the_policy_not_by_who_may_open_one() {
        let src = with_appeal(r#"{ open = "appeal", fields = { amount = "fields.amount / 2" } }"#);
        let p = Policy::parse(&src, "credit.toml").unwrap();
        let (first, appeal) = (p.workflow("credit_line").unwrap(), p.workflow("appeal").unwrap());
        let c = opened(first, 800_000);
        let done = decide(
            first,
            &c,
            "reject",
            &actor(2, "team_leader"),
            &Map::new(),
            Some("太高"),
            3,
        )
        .unwrap();
        assert_eq!(
            done.effects,
            vec![Effect::Open {
                workflow: "appeal".into(),
                fields: fields(json!({ "amount": 400_000 }))
            }]
        );
        // A consultant may not open an appeal by hand; the reject opens one for them.
        let me = actor(1, "consultant");
        let given = fields(json!({ "amount": 400_000 }));
        assert_eq!(open(appeal, &given, &company(), &me, 3).unwrap_err().code, "forbidden");
        let from = || LinkedFrom {
            id: 7,
            workflow: first,
            step: "reject",
        };
        let o = open_linked(appeal, &given, &company(), &me, 3, from()).unwrap();
        assert_eq!(
            (o.state.as_str(), o.decision.facts["linked_from"].as_i64()),
            ("proposed", Some(7))
        );
        assert_eq!(
            o.decision.text.zh,
            "案件 #7「授信申请」的「驳回」开启了关联的「授信申请」，处于「已提出」"
        );
        // Its guards hold all the same, and the refusal says which case could not be opened.
        let r = open_linked(appeal, &fields(json!({ "amount": 500 })), &company(), &me, 3, from()).unwrap_err();
        assert_eq!((r.code, r.rule.unwrap().as_str()), (LINKED_REFUSED, "R90.2"));
        assert!(
            r.text
                .zh
                .starts_with("案件 #7「授信申请」要开启的「授信申请」开不了：授信额度至少"),
            "{}",
            r.text.zh
        );

        // Checked where written: a workflow that is not there, a field it does not open with, a
        // case of another kind of subject, and opening one when a case opens.
        let bad = |effect: &str| {
            Policy::parse(&with_appeal(effect), "credit.toml")
                .unwrap_err()
                .to_string()
        };
        let e = bad(r#"{ open = "appel" }"#);
        assert!(
            e.contains("`appel`, which is not a workflow") && e.contains("credit.toml:"),
            "{e}"
        );
        let e = bad(r#"{ open = "appeal", fields = { limit = "1", amount = "1" } }"#);
        assert!(
            e.contains("with field `limit`, which a `appeal` does not open with"),
            "{e}"
        );
        let e = bad(r#"{ fields = { amount = "1" } }"#);
        assert!(e.contains("not one of those known"), "{e}");
        let lone = with_appeal(r#"{ open = "appeal" }"#).replacen(
            "id = \"appeal\"\nrule = \"R90.1\"\nname = { zh = \"授信申请\", en = \"Credit line request\" }\nsubject = \"customer\"",
            "id = \"appeal\"\nrule = \"R90.1\"\nname = { zh = \"授信申请\", en = \"Credit line request\" }\nsubject = \"none\"",
            1,
        );
        let e = Policy::parse(&lone, "credit.toml").unwrap_err().to_string();
        assert!(e.contains("one is about a customer and the other is not"), "{e}");
        let on_open = with_appeal(r#"{ tag = "x" }"#).replacen(
            "[[workflows.guards]]",
            "on_open = [{ open = \"appeal\" }]\n[[workflows.guards]]",
            1,
        );
        let e = Policy::parse(&on_open, "credit.toml").unwrap_err().to_string();
        assert!(e.contains("opens another case when a case opens"), "{e}");
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
        let e = bad("fields.amount >= 100000", "client.grade == 'A'");
        assert!(e.contains("`client` is not something"), "{e}");
        // A macro's own variable is read; another unknown name is not.
        let src = format!(
            "{SAMPLE}{}",
            CREDIT.replacen("fields.amount >= 100000", "cases.exists(c, c.state == 'x')", 1)
        );
        assert!(Policy::parse(&src, "credit.toml").is_ok());
        let e = bad("fields.amount >= 100000", "cases.exists(c, d.state == 'x')");
        assert!(e.contains("`d` is not something"), "{e}");
        // A workflow of no customer reads no customer and changes none.
        let lone = CREDIT.replacen("subject = \"customer\"", "subject = \"none\"", 1);
        let e = Policy::parse(
            &format!(
                "{SAMPLE}{}",
                lone.replacen("fields.amount >= 100000", "customer.grade == 'A'", 1)
            ),
            "credit.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("reads `customer`, but a case of workflow `credit_line` has no customer"),
            "{e}"
        );
        let e = Policy::parse(
            &format!(
                "{SAMPLE}{}",
                lone.replacen(
                    "not_opener = true",
                    "not_opener = true\neffects = [{ tag = \"vip\" }]",
                    1
                )
            ),
            "credit.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("changes its customer, but its cases have none"), "{e}");
        let e = bad("effects = [{ charge", "effects = [{ tag = \"x\", charge");
        assert!(e.contains("not one of those known"), "{e}");
        let e = bad(
            "initial = \"proposed\"",
            "initial = \"proposed\"\non_open = [{ snapshot = true }]",
        );
        assert!(
            e.contains("takes a snapshot, registers a customer or opens another case when a case opens"),
            "{e}"
        );
        let e = bad(
            "initial = \"proposed\"",
            "initial = \"proposed\"\non_open = [{ charge = \"credit_slow\", to = \"case.opened_by\", when = \"fields.nothing\" }]",
        );
        assert!(
            e.contains("does not declare"),
            "a condition is checked like any expression: {e}"
        );
        let e = bad(
            "initial = \"proposed\"",
            "initial = \"proposed\"\non_open = [{ transfer = \"cashier\" }]",
        );
        assert!(e.contains("cashier"), "a transfer names a role the policy has: {e}");
        let e = bad(
            "initial = \"proposed\"",
            "initial = \"proposed\"\non_open = [{ tag = \"x\", outside = \"1\" }]",
        );
        assert!(
            e.contains("not one of those known"),
            "`outside` goes with a transfer: {e}"
        );
        let e = bad("by = [\"team_leader\"]\nnote", "by = [\"head_of:amount\"]\nnote");
        assert!(
            e.contains("not a staff field") && e.contains("names no head_roles"),
            "a relation names a staff field and needs head_roles: {e}"
        );
        let e = bad(
            "by = [\"team_leader\"]\nnote",
            "by = [\"team_leader\"]\nagree = [\"amount\"]\nnote",
        );
        assert!(
            e.contains("which it does not set") && e.contains("not a sign-off of all"),
            "signers agree on fields they give, in a sign-off of all with otherwise: {e}"
        );
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
        let e = bad("in = [\"proposed\"]", "in = [\"pending\"]");
        assert!(e.contains("no state `pending`"), "{e}");
        let e = bad("restarted_by = [\"review\"]", "restarted_by = [\"reveiw\"]");
        assert!(e.contains("restarted by `reveiw`"), "{e}");
        let e = bad("after = \"2 days\"", "after = \"2 days\"\nevery = \"1 day\"");
        assert!(e.contains("needs one of after or every"), "{e}");
        let e = bad("after = \"2 days\"", "after = \"two days\"");
        assert!(e.contains("`two days` is not a length of time"), "{e}");
        let e = bad("charge = \"credit_slow\"", "charge = \"lateness\"");
        assert!(e.contains("`lateness` is entered by hand"), "{e}");
        let e = bad("by = [\"team_leader\"]\nnot_opener", "by = [\"opener\"]\nnot_opener");
        assert!(e.contains("taken by the opener and not by the opener"), "{e}");
        let e = bad("id = \"remind\"", "id = \"review\"");
        assert!(e.contains("timer `review` has the id of a step"), "{e}");
        let e = bad("to = \"[case.opened_by, 9]\"", "to = \"actor.id\"");
        assert!(e.contains("reads `actor`, but nobody acts"), "{e}");
        let e = bad("to = \"[case.opened_by, 9]\"", "to = \"fields.owner\"");
        assert!(e.contains("reads `fields.owner`"), "{e}");
    }

    const PROJECT: &str = r#"
[[workflows]]
id = "project"
rule = "R91.1"
name = { zh = "开发项目", en = "Project" }
subject = "none"
initial = "open"
visible_to = { rule = "R91.5", roles = ["team_leader"] }
states = [
  { id = "open", name = { zh = "进行中", en = "open" } },
  { id = "won", name = { zh = "成功", en = "won" } },
]
fields = [
  { id = "target", type = "text", required = true, not_in_directory = "R91.1", name = { zh = "目标", en = "Target" } },
  { id = "lines", type = "amounts", name = { zh = "预算", en = "Budget" } },
  { id = "spent", type = "amounts", name = { zh = "已支出", en = "Spent" } },
  { id = "line", type = "text", name = { zh = "名目", en = "Line" } },
  { id = "amount", type = "money", name = { zh = "金额", en = "Amount" } },
  { id = "progress", type = "bool", name = { zh = "进展", en = "Progress" } },
  { id = "payment", type = "money", name = { zh = "回款", en = "Payment" } },
  { id = "collected", type = "money", name = { zh = "累计回款", en = "Collected" } },
]
[workflows.budget]
rule = "R91.2"
name = { zh = "预算", en = "Budget" }
lines = "lines"
spent = "spent"
tolerance_percent = 10
cap = 1000
until = "fields.progress == true"
[[workflows.figures]]
id = "bonus"
rule = "R91.4"
name = { zh = "奖励", en = "Bonus" }
value = "fields.collected == null ? 0 : fields.collected * 3 / 100"
[[workflows.messages]]
step = "spend"
text = { zh = "{actor}支出「{budget.line}」{budget.amount} 元，该项已支出 {budget.line_spent} 元", en = "{actor} spent {budget.amount} yuan on “{budget.line}”, {budget.line_spent} on it so far" }
[[workflows.messages]]
step = "open"
text = { zh = "{actor}立项：{fields.target}", en = "{actor} opened a project for {fields.target}" }
[[workflows.rankings]]
id = "best"
rule = "R91.6"
name = { zh = "排名", en = "Ranking" }
in = ["open"]
score = "fields.collected == null ? 0 : fields.collected"
top = 1
flag = { zh = "优先", en = "Priority" }
flag_when = "fields.progress == true"
[[workflows.actions]]
id = "plan"
name = { zh = "编制预算", en = "Plan" }
from = ["open"]
by = ["opener"]
fields = ["lines"]
[[workflows.actions]]
id = "spend"
name = { zh = "支出", en = "Spend" }
from = ["open"]
by = ["opener"]
fields = ["line", "amount"]
spend = { amount = "amount", line = "line" }
[[workflows.actions]]
id = "advance"
name = { zh = "进展", en = "Advance" }
from = ["open"]
by = ["opener"]
effects = [{ set = "progress", value = "true" }]
[[workflows.actions]]
id = "collect"
name = { zh = "回款", en = "Collect" }
from = ["open"]
by = ["opener"]
fields = ["payment"]
adds = { payment = "collected" }
[[workflows.actions]]
id = "win"
rule = "R91.3"
name = { zh = "成功", en = "Win" }
from = ["open"]
to = "won"
by = ["team_leader"]
effects = [{ register = "fields.target", assign_to = "consultant" }]
"#;

    fn project() -> Workflow {
        let p = Policy::parse(&format!("{SAMPLE}{PROJECT}"), "project.toml").unwrap();
        p.workflow("project").unwrap().clone()
    }

    /// Takes `action` by the opener (staff 1) and returns the case as it stands after.
    fn take(wf: &Workflow, c: &CaseFacts, action: &str, input: Value) -> Result<CaseFacts, Refusal> {
        let given = Given {
            fields: &fields(input),
            answers: &Map::new(),
            note: None,
            attested: false,
        };
        let o = super::decide(wf, c, action, &actor(1, "consultant"), &given, &Around::default(), 1)?;
        Ok(CaseFacts {
            state: o.state,
            fields: o.fields,
            ..c.clone()
        })
    }

    #[test]
    fn r91_a_name_in_the_directory_and_fields_the_engine_keeps_are_refused_at_opening() {
        let wf = project();
        let me = actor(1, "consultant");
        let listed = Around {
            listed: vec![Listed {
                field: "target".into(),
                customer_id: 12,
                name: "华信科技有限公司".into(),
            }],
            ..Around::default()
        };
        let r = open(&wf, &fields(json!({ "target": "华信科技" })), &listed, &me, 1).unwrap_err();
        assert_eq!((r.code, r.rule.unwrap().as_str()), ("already_a_customer", "R91.1"));
        assert!(
            r.text.zh.contains("华信科技有限公司") && r.text.zh.contains("12"),
            "{}",
            r.text.zh
        );
        let r = open(
            &wf,
            &fields(json!({ "target": "新公司", "spent": { "a": 1 } })),
            &Around::default(),
            &me,
            1,
        )
        .unwrap_err();
        assert_eq!(r.code, "invalid_field", "the engine keeps the spending");
        let names: Vec<&str> = wf.opening_fields().iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            names,
            ["target", "lines", "line", "amount", "payment"],
            "what the initial state's actions set may be given at once; the rest the engine keeps"
        );
        assert!(wf.kept_by_engine("spent") && wf.kept_by_engine("collected") && wf.kept_by_engine("progress"));
        assert!(open(&wf, &fields(json!({ "target": "新公司" })), &Around::default(), &me, 1).is_ok());
    }

    #[test]
    fn r91_spending_keeps_to_the_lines_their_tolerance_and_the_cap_until_progress() {
        let wf = project();
        let o = open(
            &wf,
            &fields(json!({ "target": "新公司" })),
            &Around::default(),
            &actor(1, "consultant"),
            1,
        )
        .unwrap();
        let c = CaseFacts {
            id: 5,
            state: o.state,
            fields: o.fields,
            opened_by: 1,
            steps: vec![],
        };
        let code = |r: Result<CaseFacts, Refusal>| r.map(|_| "ok").unwrap_or_else(|e| e.code);
        assert_eq!(
            code(take(&wf, &c, "spend", json!({ "line": "a", "amount": 10 }))),
            "budget_not_filed"
        );
        let bad = take(&wf, &c, "plan", json!({ "lines": { "a": "lots" } })).unwrap_err();
        assert_eq!(bad.code, "invalid_field");
        let c = take(&wf, &c, "plan", json!({ "lines": { "a": 500, "b": 600 } })).unwrap();
        assert_eq!(
            code(take(&wf, &c, "spend", json!({ "line": "x", "amount": 10 }))),
            "budget_line_unknown"
        );
        let c = take(&wf, &c, "spend", json!({ "line": "a", "amount": 550 })).unwrap();
        // The last spending stays on the case's fields; a step that gives none spends nothing.
        assert_eq!(code(take(&wf, &c, "spend", json!({}))), "invalid_field");
        let r = take(&wf, &c, "spend", json!({ "line": "a", "amount": 1 })).unwrap_err();
        assert_eq!((r.code, r.rule.unwrap().as_str()), ("budget_line_exceeded", "R91.2"));
        assert!(r.text.zh.contains("110%"), "{}", r.text.zh);
        assert_eq!(
            code(take(&wf, &c, "spend", json!({ "line": "b", "amount": 460 }))),
            "budget_cap_exceeded"
        );
        let c = take(&wf, &c, "advance", json!({})).unwrap();
        assert_eq!(c.fields["progress"], true, "the effect set the field");
        let c = take(&wf, &c, "spend", json!({ "line": "b", "amount": 460 })).unwrap();
        let report = budget_of(&wf, &c).unwrap();
        assert_eq!((report.spent, report.budget, report.cap), (1010, 1100, None));
        assert_eq!(
            report.lines[0],
            BudgetLine {
                line: "a".into(),
                budget: 500,
                spent: 550,
                limit: 550
            }
        );
        // Running totals, and a figure over them (the CEL integers do arithmetic).
        let c = take(&wf, &c, "collect", json!({ "payment": 1_000 })).unwrap();
        let c = take(&wf, &c, "collect", json!({ "payment": 1_000 })).unwrap();
        assert_eq!(c.fields["collected"], 2_000);
        let f = figures(&wf, &c);
        assert_eq!(
            (f[0].id.as_str(), f[0].value, f[0].error.clone()),
            ("bonus", Some(60), None)
        );
        // Success registers the company for the interpreter to hand over.
        let given = Given {
            fields: &Map::new(),
            answers: &Map::new(),
            note: None,
            attested: false,
        };
        let o = super::decide(&wf, &c, "win", &actor(2, "team_leader"), &given, &Around::default(), 1).unwrap();
        assert_eq!(
            o.effects,
            vec![Effect::Register {
                name: "新公司".into(),
                role: "consultant".into()
            }]
        );
        let v = wf.visible_to.as_ref().unwrap();
        assert_eq!(v.rule.as_str(), "R91.5");
        assert!(v.sees_all(&["team_leader".to_string()]) && !v.sees_all(&["consultant".to_string()]));
    }

    #[test]
    fn r91_budgets_figures_and_new_effects_are_checked_where_they_are_written() {
        let bad = |from: &str, to: &str| {
            let src = format!("{SAMPLE}{}", PROJECT.replacen(from, to, 1));
            Policy::parse(&src, "project.toml").unwrap_err().to_string()
        };
        let e = bad("lines = \"lines\"", "lines = \"line\"");
        assert!(e.contains("the budget's lines names `line`, a text field"), "{e}");
        let e = bad(
            "spend = { amount = \"amount\", line = \"line\" }",
            "spend = { amount = \"line\", line = \"line\" }",
        );
        assert!(e.contains("a text field") && e.contains("money"), "{e}");
        let e = bad("fields = [\"line\", \"amount\"]", "fields = [\"line\"]");
        assert!(e.contains("spends from `amount`, which it does not set"), "{e}");
        let e = bad("tolerance_percent = 10", "tolerance_percent = 200");
        assert!(e.contains("tolerance_percent is 0 to 100"), "{e}");
        let e = bad("adds = { payment = \"collected\" }", "adds = { payment = \"target\" }");
        assert!(e.contains("adds `payment` to `target`"), "{e}");
        let e = bad(
            "[[workflows.actions]]\nid = \"win\"",
            "[[workflows.actions]]\nid = \"x\"\nname = { zh = \"x\", en = \"x\" }\nfrom = [\"open\"]\nby = [\"opener\"]\nfields = [\"spent\"]\n[[workflows.actions]]\nid = \"win\"",
        );
        assert!(e.contains("sets `spent`, which the engine keeps"), "{e}");
        let e = bad(
            "{ set = \"progress\", value = \"true\" }",
            "{ set = \"spent\", value = \"true\" }",
        );
        assert!(e.contains("not a field workflow `project` lets it set"), "{e}");
        let e = bad("subject = \"none\"", "subject = \"customer\"");
        assert!(
            e.contains("registers a customer, but its cases have one already"),
            "{e}"
        );
        let e = bad("assign_to = \"consultant\"", "assign_to = \"nobody\"");
        assert!(e.contains("nobody"), "{e}");
        let e = bad(
            "{ id = \"collected\", type = \"money\",",
            "{ id = \"collected\", type = \"money\", required = true,",
        );
        assert!(
            e.contains("field `collected` is required, but only the engine writes it"),
            "{e}"
        );
        let e = bad("roles = [\"team_leader\"]", "roles = [\"sales_manager\"]");
        assert!(
            e.contains("action `win` is taken by `team_leader`, who does not see"),
            "{e}"
        );
        let e = bad("fields.collected * 3 / 100", "actor.id");
        assert!(
            e.contains("figure `bonus` reads `actor`; it is worked out from the case alone"),
            "{e}"
        );
        let e = bad(
            "{ id = \"amount\", type = \"money\",",
            "{ id = \"amount\", type = \"money\", not_in_directory = \"R91.1\",",
        );
        assert!(
            e.contains("field `amount` is kept out of the customer directory, but it is not text"),
            "{e}"
        );
    }

    #[test]
    fn r91_a_ranking_places_by_score_flags_the_top_that_meet_its_condition_and_puts_the_unscored_last() {
        let wf = project();
        let r = &wf.rankings[0];
        let case = |id: i64, state: &str, f: Value| CaseFacts {
            id,
            state: state.into(),
            fields: fields(f),
            opened_by: 1,
            steps: vec![],
        };
        let cases = vec![
            case(1, "open", json!({ "collected": 5 })),
            case(2, "open", json!({ "collected": 9, "progress": true })),
            case(3, "open", json!({ "collected": 9, "progress": true })),
            case(4, "open", json!({ "collected": "lots" })),
            case(5, "won", json!({ "collected": 99 })),
        ];
        let ranked = rank(&wf, r, &cases, 4);
        let got: Vec<(i64, Option<usize>, bool)> = ranked.iter().map(|x| (x.case_id, x.place, x.flagged)).collect();
        // Level scores: the older first; only the top one may be flagged; a won case is not ranked.
        assert_eq!(
            got,
            vec![
                (2, Some(1), true),
                (3, Some(2), false),
                (1, Some(3), false),
                (4, None, false)
            ]
        );
        assert_eq!(
            (ranked[0].decision.rule.as_str(), ranked[0].decision.policy_version),
            ("R91.6", 4)
        );
        assert!(
            ranked[1].decision.text.en.contains("outside the top 1"),
            "{}",
            ranked[1].decision.text.en
        );
        assert!(
            ranked[3].decision.text.en.contains("cannot score"),
            "{}",
            ranked[3].decision.text.en
        );
        let e = Policy::parse(
            &format!("{SAMPLE}{}", PROJECT.replacen("top = 1", "top = 0", 1)),
            "p.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("top is 1 to 10,000"), "{e}");
    }

    #[test]
    fn r91_a_policy_words_a_step_in_its_own_sentence() {
        let wf = project();
        let me = actor(1, "consultant");
        let o = open(&wf, &fields(json!({ "target": "新公司" })), &Around::default(), &me, 1).unwrap();
        assert_eq!(o.decision.text.zh, "staff 1立项：新公司");
        let c = CaseFacts {
            id: 5,
            state: o.state,
            fields: o.fields,
            opened_by: 1,
            steps: vec![],
        };
        let c = take(&wf, &c, "plan", json!({ "lines": { "a": 900 } })).unwrap();
        let given = Given {
            fields: &fields(json!({ "line": "a", "amount": 850 })),
            answers: &Map::new(),
            note: None,
            attested: false,
        };
        let o = super::decide(&wf, &c, "spend", &me, &given, &Around::default(), 1).unwrap();
        assert_eq!(o.decision.text.zh, "staff 1支出「a」8.50 元，该项已支出 8.50 元");
        assert_eq!(o.decision.text.en, "staff 1 spent 8.50 yuan on “a”, 8.50 on it so far");
        // A step with no message keeps the engine's sentence.
        let o = super::decide(&wf, &c, "advance", &me, &no_input(), &Around::default(), 1).unwrap();
        assert!(o.decision.text.zh.contains("进行了「进展」"), "{}", o.decision.text.zh);
        let bad = |from: &str, to: &str| {
            Policy::parse(&format!("{SAMPLE}{}", PROJECT.replacen(from, to, 1)), "p.toml")
                .unwrap_err()
                .to_string()
        };
        let e = bad("step = \"open\"", "step = \"close\"");
        assert!(e.contains("no step `close` to word"), "{e}");
        let e = bad("{actor}立项：{fields.target}", "{actor}立项：{fields.nope}");
        assert!(e.contains("names `{fields.nope}`"), "{e}");
        let e = bad("{actor}立项：{fields.target}", "{ actor }");
        assert!(e.contains("names `{ actor }`"), "{e}");
        let e = bad("{actor}立项：{fields.target}", "{budget.line}");
        assert!(
            e.contains("names `{budget.line}`"),
            "only a step that spends fills it in: {e}"
        );
    }

    fn no_input() -> Given<'static> {
        static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
        Given {
            fields: &EMPTY,
            answers: &EMPTY,
            note: None,
            attested: false,
        }
    }

    #[test]
    fn a_positive_number_does_arithmetic_with_a_literal() {
        let e = Expr::compile("fields.n * 2 + 1").unwrap();
        assert_eq!(e.number(&json!({ "fields": { "n": 5 } })), Ok(11));
        let e = Expr::compile("size(fields.m) == 2 && fields.m.a * 2 == 8").unwrap();
        assert_eq!(e.holds(&json!({ "fields": { "m": { "a": 4, "b": 1 } } })), Ok(true));
    }

    #[test]
    fn r11_9_a_hand_over_goes_to_whoever_holds_fewest_outside_the_unit_and_says_why() {
        let step = Decision {
            key: "case.handed_over".into(),
            rule: RuleId::parse("R11.9").unwrap(),
            policy_version: 5,
            facts: json!({}),
            text: Text::new("x", "x"),
        };
        let c = |id: i64, unit: Option<i64>, held: i64| Candidate {
            id,
            name: format!("s{id}"),
            unit,
            held,
        };
        let role = Text::new("销售员", "sales person");
        let from = vec![(1, "小王".to_string())];
        // The holder, the busy one, two holding one each, one in no unit, one in the same unit.
        let all = vec![
            c(1, Some(10), 0),
            c(2, Some(20), 3),
            c(6, Some(30), 1),
            c(3, Some(20), 1),
            c(4, None, 0),
            c(5, Some(10), 0),
        ];
        let h = hand_over(&step, ("孙阿姨", &from), &all, (Some(10), None), &role);
        assert_eq!(h.receiver, Some(3), "fewest held, then the lowest id");
        assert_eq!(
            (h.decision.rule.as_str(), h.decision.facts["receiver_id"].as_i64()),
            ("R11.9", Some(3))
        );
        assert!(
            h.decision.text.zh.contains("由小王转交给其他部门的销售员s3"),
            "{}",
            h.decision.text.zh
        );
        // Under a cap of one customer held, nobody outside the unit may take it: it stays.
        let h = hand_over(&step, ("孙阿姨", &from), &all, (Some(10), Some(1)), &role);
        assert_eq!(h.receiver, None);
        assert!(h.decision.text.zh.contains("仍由小王持有"), "{}", h.decision.text.zh);
        // Without `outside` the same unit counts too; a customer nobody holds is not handed over.
        let h = hand_over(&step, ("孙阿姨", &from), &all, (None, None), &role);
        assert_eq!(h.receiver, Some(5));
        let h = hand_over(&step, ("孙阿姨", &[]), &all, (None, None), &role);
        assert_eq!(h.receiver, None);
        assert!(h.decision.text.zh.contains("无人持有"));
    }

    /// The charges of an outcome as (code, staff id).
    fn charged(o: &Outcome) -> Vec<(&str, i64)> {
        o.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Charge { code, staff_id, .. } => Some((code.as_str(), *staff_id)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn r11_9_an_effect_applies_when_its_condition_holds_and_a_default_fills_a_field() {
        let src = include_str!("../../../presets/event-customers.toml");
        let p = Policy::parse(src, "event-customers.toml").unwrap();
        let wf = p.workflow("complaint").unwrap();
        assert!(wf.reads_owner(), "the default reads the customer's holder");
        let partners = Policy::parse(include_str!("../../../presets/partner-network.toml"), "p.toml").unwrap();
        assert!(
            partners.workflows.iter().all(|w| !w.reads_owner()),
            "nobody looks the holder up for nothing"
        );
        let head = Actor {
            id: 9,
            name: "钱主任".into(),
            roles: vec!["division_head".into()],
        };
        let around = |owner: Option<i64>| Around {
            customer_id: Some(40),
            customer: Some(CustomerFacts {
                id: 40,
                kind: "person".into(),
                grade: None,
                tags: vec![],
                owner,
            }),
            people: vec![Person {
                id: 3,
                name: "小王".into(),
                unit: Some(10),
                roles: vec!["sales".into()],
                active: true,
                heads: vec![9],
            }],
            ..Around::default()
        };
        let given = |v: Value| v.as_object().unwrap().clone();
        let o = open(wf, &given(json!({ "summary": "晚到" })), &around(Some(3)), &head, 5).unwrap();
        assert_eq!(o.fields["staff"], json!(3), "the holder by default");
        let got = charged(&o);
        assert_eq!(got, vec![("complaint", 3)]);
        let o = open(
            wf,
            &given(json!({ "summary": "找老板", "to_boss": true })),
            &around(Some(3)),
            &head,
            5,
        )
        .unwrap();
        let got = charged(&o);
        assert_eq!(got, vec![("complaint_to_boss", 3), ("complaint_to_boss", 9)]);
        assert_eq!(o.effects[0].subject(7).as_deref(), Some("case:7:open:staff:3"));
        assert_eq!(people_of(wf, &o.fields), vec![3]);
        // Nobody holds the customer and nobody is named: the field is missing.
        let e = open(wf, &given(json!({ "summary": "无主" })), &around(None), &head, 5).unwrap_err();
        assert_eq!(e.code, "invalid_field");
        assert!(e.text.zh.contains("被投诉员工"), "{}", e.text.zh);
        // A text of spaces is no text.
        let e = open(wf, &given(json!({ "summary": "   " })), &around(Some(3)), &head, 5).unwrap_err();
        assert!(e.text.zh.contains("投诉内容"), "{}", e.text.zh);
    }
}
