//! The `[[workflows]]` sections: staged processes as data (see `crate::workflow`). Every state,
//! role, field and expression is checked where it is written, with its line and column: unknown
//! states, states nothing leads to, actions nobody may take, expressions that do not compile or
//! read something a workflow cannot.
//!
//! ```toml
//! [[workflows]]
//! id = "credit_line"
//! rule = "R90.1"
//! name = { zh = "授信申请", en = "Credit line request" }
//! subject = "customer"
//! initial = "proposed"
//! states = [
//!   { id = "proposed", name = { zh = "已提出", en = "proposed" } },
//!   { id = "approved", name = { zh = "已批准", en = "approved" } },
//! ]
//! fields = [{ id = "amount", type = "money", required = true, name = { zh = "额度", en = "Amount" } }]
//! [[workflows.actions]]
//! id = "approve"
//! name = { zh = "批准", en = "Approve" }
//! from = ["proposed"]
//! to = "approved"
//! by = ["finance"]
//! ```

use serde::Deserialize;
use toml::Spanned;

use super::{Checker, LedgerCode, Role};
use crate::text::Text;
use crate::workflow::{
    Action, Budget, CUSTOMER_VARIABLES, Checklist, Declared, EffectDef, Expr, FieldDef, FieldKind, Figure, Guard,
    HEAD_OF, Item, Message, OPENER, OWNER, PEOPLE, Ranking, Requires, Route, Signoff, Spend, State, Subject, Timer,
    Unclear, Visibility, Workflow,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorkflow {
    id: Spanned<String>,
    rule: Spanned<String>,
    name: Text,
    #[serde(default)]
    subject: Option<Spanned<String>>,
    states: Spanned<Vec<RawState>>,
    initial: Spanned<String>,
    #[serde(default)]
    fields: Vec<RawField>,
    #[serde(default)]
    checklists: Vec<RawChecklist>,
    #[serde(default)]
    guards: Vec<RawGuard>,
    #[serde(default)]
    actions: Vec<RawAction>,
    #[serde(default)]
    timers: Vec<RawTimer>,
    /// What opening a case does besides (tags on the customer).
    #[serde(default)]
    on_open: Vec<Spanned<RawEffect>>,
    /// Roles that may open a case; none: anyone.
    #[serde(default)]
    open_by: Option<Spanned<Vec<Spanned<String>>>>,
    /// Roles that see the cases (besides each case's own people), whatever their `sees`.
    #[serde(default)]
    visible_to: Option<RawVisibility>,
    /// The cases are the company's own business: no copy of one goes to its customer (R1.5: a
    /// partner's grade change).
    #[serde(default)]
    internal: bool,
    #[serde(default)]
    budget: Option<Spanned<RawBudget>>,
    #[serde(default)]
    figures: Vec<RawFigure>,
    #[serde(default)]
    rankings: Vec<RawRanking>,
    /// The policy's own sentences for steps.
    #[serde(default)]
    messages: Vec<RawMessage>,
    /// The roles that head a unit (whom `staff[...].heads` names).
    #[serde(default)]
    head_roles: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessage {
    step: Spanned<String>,
    text: Spanned<Text>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRanking {
    id: Spanned<String>,
    name: Text,
    #[serde(default)]
    rule: Option<Spanned<String>>,
    #[serde(rename = "in")]
    states: Spanned<Vec<Spanned<String>>>,
    score: Spanned<String>,
    top: Spanned<i64>,
    flag: Text,
    #[serde(default)]
    flag_when: Option<Spanned<String>>,
}

/// `visible_to = { rule = "R12.9", roles = ["review_group", "leader"] }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVisibility {
    #[serde(default)]
    rule: Option<Spanned<String>>,
    roles: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    name: Text,
    #[serde(default)]
    rule: Option<Spanned<String>>,
    /// The `amounts` field with the lines.
    lines: Spanned<String>,
    /// The `amounts` field the engine keeps the spending in.
    spent: Spanned<String>,
    #[serde(default)]
    tolerance_percent: Option<Spanned<i64>>,
    /// Fen.
    #[serde(default)]
    cap: Option<Spanned<i64>>,
    #[serde(default)]
    until: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFigure {
    id: Spanned<String>,
    name: Text,
    #[serde(default)]
    rule: Option<Spanned<String>>,
    #[serde(default, rename = "type")]
    kind: Option<Spanned<String>>,
    value: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpend {
    amount: Spanned<String>,
    line: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecklist {
    id: Spanned<String>,
    name: Text,
    #[serde(default)]
    rule: Option<Spanned<String>>,
    items: Spanned<Vec<RawItem>>,
    /// How an unclear answer counts: `no` (the default, R1.2) or `yes`.
    #[serde(default)]
    unclear: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: Spanned<String>,
    name: Text,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimer {
    id: Spanned<String>,
    name: Text,
    #[serde(default)]
    rule: Option<Spanned<String>>,
    #[serde(rename = "in")]
    states: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    after: Option<Spanned<String>>,
    #[serde(default)]
    every: Option<Spanned<String>>,
    #[serde(default)]
    restarted_by: Vec<Spanned<String>>,
    #[serde(default)]
    unless: Option<Spanned<String>>,
    #[serde(default)]
    to: Option<Spanned<String>>,
    #[serde(default)]
    overdue: Option<bool>,
    #[serde(default)]
    effects: Vec<Spanned<RawEffect>>,
}

/// One effect: `{ charge = CODE, to = EXPR }`, `{ set_grade = EXPR }`, `{ tag = TAG }`,
/// `{ untag = TAG }` or `{ snapshot = true }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEffect {
    /// A ledger code to charge.
    #[serde(default)]
    charge: Option<Spanned<String>>,
    /// Whom: an expression giving a staff id or a list of them.
    #[serde(default)]
    to: Option<Spanned<String>>,
    /// The customer's new grade: an expression giving text or null.
    #[serde(default)]
    set_grade: Option<Spanned<String>>,
    #[serde(default)]
    tag: Option<Spanned<String>>,
    #[serde(default)]
    untag: Option<Spanned<String>>,
    /// `snapshot = true`: keep the customer's profile as it stands (R1.8).
    #[serde(default)]
    snapshot: Option<Spanned<bool>>,
    /// A field of the case to set, to what `value` gives.
    #[serde(default)]
    set: Option<Spanned<String>>,
    #[serde(default)]
    value: Option<Spanned<String>>,
    /// Register a company customer named by this expression, held by `assign_to`.
    #[serde(default)]
    register: Option<Spanned<String>>,
    /// The role whose holder with the fewest customers receives it.
    #[serde(default)]
    assign_to: Option<Spanned<String>>,
    /// Hand the case's customer to the holder of this role with the fewest customers...
    #[serde(default)]
    transfer: Option<Spanned<String>>,
    /// ...outside the unit this expression gives.
    #[serde(default)]
    outside: Option<Spanned<String>>,
    /// Hand the case's customer to the staff member this expression names.
    #[serde(default)]
    transfer_to: Option<Spanned<String>>,
    /// Open a case of this workflow on the same customer, linked to this one...
    #[serde(default)]
    open: Option<Spanned<String>>,
    /// ...with these fields, each an expression.
    #[serde(default)]
    fields: Option<Spanned<std::collections::BTreeMap<String, Spanned<String>>>>,
    /// The effect applies only when this expression holds.
    #[serde(default)]
    when: Option<Spanned<String>>,
}

/// An `open` effect, checked once every workflow is read (it may name one declared later).
pub(super) struct Link {
    from: String,
    subject: Subject,
    target: Spanned<String>,
    /// The fields it gives, at the span of its `fields`.
    fields: Spanned<Vec<String>>,
}

/// What the expressions of one workflow may read.
struct Reads<'a> {
    fields: &'a [FieldDef],
    wf: &'a str,
    subject: Subject,
    roles: &'a [Role],
    /// Fields only the engine writes (checklists, a budget's spending).
    engine_kept: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    id: Spanned<String>,
    name: Text,
    /// What a case must have to enter the state (required documents, R1.10).
    #[serde(default)]
    requires: Option<RawRequires>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequires {
    rule: Spanned<String>,
    fields: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    when: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    id: Spanned<String>,
    name: Text,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    #[serde(default)]
    of: Vec<String>,
    #[serde(default)]
    required: bool,
    /// The rule that keeps a registered customer's name out of this field (R12.1).
    #[serde(default)]
    not_in_directory: Option<Spanned<String>>,
    /// What the field holds when a case opens without it: an expression.
    #[serde(default)]
    default: Option<Spanned<String>>,
    /// Kept from what the case's customer is shown (R1.5: the partner's grade).
    #[serde(default)]
    internal: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuard {
    rule: Spanned<String>,
    when: Spanned<String>,
    /// Said when the condition does not hold.
    refusal: Text,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    id: Spanned<String>,
    name: Text,
    #[serde(default)]
    rule: Option<Spanned<String>>,
    from: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    to: Option<Spanned<String>>,
    /// Where it leads instead when a condition holds: `[{ when = EXPR, to = STATE, name? }]`.
    #[serde(default)]
    routes: Vec<RawRoute>,
    by: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    signoff: Option<Spanned<String>>,
    #[serde(default)]
    not_opener: bool,
    #[serde(default)]
    note: bool,
    #[serde(default)]
    fields: Vec<Spanned<String>>,
    #[serde(default)]
    guard: Option<RawGuard>,
    /// Several conditions, checked in order (each with its own rule).
    #[serde(default)]
    guards: Vec<RawGuard>,
    #[serde(default)]
    answers: Vec<Spanned<String>>,
    #[serde(default)]
    effects: Vec<Spanned<RawEffect>>,
    /// Spending against the workflow's budget: which fields give the amount and the line.
    #[serde(default)]
    spend: Option<Spanned<RawSpend>>,
    /// Running totals: `{ GIVEN = TOTAL }` adds the value given for GIVEN to the field TOTAL.
    #[serde(default)]
    adds: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    /// Fields every signer of an `all` sign-off must give alike...
    #[serde(default)]
    agree: Vec<Spanned<String>>,
    /// ...else the case goes to this state.
    #[serde(default)]
    otherwise: Option<Spanned<String>>,
    /// A number field the engine keeps: how many times the action was completed...
    #[serde(default)]
    count: Option<Spanned<String>>,
    /// ...and the most times it may be (R2.10: one to four inspections).
    #[serde(default)]
    at_most: Option<Spanned<i64>>,
    /// A statement whoever takes it confirms (R2.5).
    #[serde(default)]
    attest: Option<Text>,
    /// With `signoff = "quorum"`: how many different people sign.
    #[serde(default)]
    quorum: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    when: Spanned<String>,
    to: Spanned<String>,
    /// Why it leads there, in words ("10 to 1000 kVA").
    name: Text,
}

/// What an expression may read as `fields.ID`: the fields, and each checklist's answers.
fn readable(fields: &[FieldDef], checklists: &[Checklist]) -> Vec<FieldDef> {
    fields
        .iter()
        .cloned()
        .chain(checklists.iter().map(|c| FieldDef {
            id: c.id.clone(),
            name: c.name.clone(),
            kind: FieldKind::Text,
            required: false,
            not_in_directory: None,
            default: None,
            internal: true,
        }))
        .collect()
}

/// The fields only the engine writes: each checklist's answers and a budget's spending.
fn engine_kept(wf: &Workflow) -> Vec<String> {
    wf.checklists
        .iter()
        .map(|c| c.id.clone())
        .chain(wf.budget.iter().map(|b| b.spent.clone()))
        .collect()
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Checker<'_> {
    fn workflow_id(&mut self, raw: &Spanned<String>, what: &str) -> String {
        let v = raw.get_ref().trim().to_string();
        if !is_id(&v) {
            self.error(
                raw.span(),
                format!("{what} `{v}` is not an id"),
                "write lowercase letters, digits and _, starting with a letter (for example credit_line)",
            );
        }
        v
    }

    fn expr(&mut self, raw: &Spanned<String>) -> Option<Expr> {
        match Expr::compile(raw.get_ref()) {
            Ok(e) => Some(e),
            Err(e) => {
                self.error(
                    raw.span(),
                    format!("the expression `{}` does not compile: {e}", raw.get_ref()),
                    "write a CEL condition over fields, actor and case, for example fields.amount > 5000000",
                );
                None
            }
        }
    }

    /// An expression of a workflow that reads only the fields it declares, and its customer only
    /// when its cases have one.
    fn expr_of(&mut self, raw: &Spanned<String>, r: &Reads<'_>) -> Option<Expr> {
        for f in crate::workflow::fields_read(raw.get_ref()) {
            if !r.fields.iter().any(|d| d.id == f) {
                let known: Vec<&str> = r.fields.iter().map(|d| d.id.as_str()).collect();
                self.error(
                    raw.span(),
                    format!(
                        "the expression reads `fields.{f}`, which workflow `{}` does not declare",
                        r.wf
                    ),
                    format!("its fields: {}", known.join(", ")),
                );
            }
        }
        let e = self.expr(raw)?;
        if r.subject == Subject::None
            && let Some(v) = e.reads().into_iter().find(|v| CUSTOMER_VARIABLES.contains(&v.as_str()))
        {
            self.error(
                raw.span(),
                format!(
                    "the expression reads `{v}`, but a case of workflow `{}` has no customer",
                    r.wf
                ),
                "read fields, checklist, actor and case, or make the workflow's subject \"customer\"",
            );
        }
        Some(e)
    }

    fn guard(&mut self, raw: &RawGuard, r: &Reads<'_>) -> Option<Guard> {
        let rule = self.rule(&raw.rule);
        self.expr_of(&raw.when, r).map(|when| Guard {
            rule,
            when,
            text: raw.refusal.clone(),
        })
    }

    fn effects(&mut self, raw: &[Spanned<RawEffect>], r: &Reads<'_>, codes: &[LedgerCode]) -> Vec<Declared> {
        let mut out = Vec::new();
        for e in raw {
            let span = e.span();
            let e = e.get_ref();
            let given = [
                e.charge.is_some(),
                e.set_grade.is_some(),
                e.tag.is_some(),
                e.untag.is_some(),
                e.snapshot.is_some(),
                e.set.is_some(),
                e.register.is_some(),
                e.transfer.is_some(),
                e.transfer_to.is_some(),
                e.open.is_some(),
            ];
            if given.iter().filter(|g| **g).count() != 1
                || (e.fields.is_some() && e.open.is_none())
                || (e.to.is_some() != e.charge.is_some())
                || (e.value.is_some() != e.set.is_some())
                || (e.assign_to.is_some() != e.register.is_some())
                || (e.outside.is_some() && e.transfer.is_none())
            {
                self.error(
                    span,
                    format!("an effect of workflow `{}` is not one of those known", r.wf),
                    "write one of { charge = \"CODE\", to = \"case.opened_by\" }, { set_grade = \"fields.grade\" }, { tag = \"TAG\" }, { untag = \"TAG\" }, { snapshot = true }, { set = \"FIELD\", value = \"true\" } { register = \"fields.name\", assign_to = \"ROLE\" } or { transfer = \"ROLE\", outside = \"EXPR\" } or { transfer_to = \"fields.STAFF\" } or { open = \"WORKFLOW\", fields = { FIELD = \"EXPR\" } }, each with an optional when = \"EXPR\"",
                );
                continue;
            }
            let def =
                if let (Some(field), Some(value)) = (&e.set, &e.value) {
                    if !r.fields.iter().any(|f| &f.id == field.get_ref()) || r.engine_kept.contains(field.get_ref()) {
                        let known: Vec<&str> = r.fields.iter().map(|d| d.id.as_str()).collect();
                        self.error(
                            field.span(),
                            format!(
                                "the effect sets `{}`, which is not a field workflow `{}` lets it set",
                                field.get_ref(),
                                r.wf
                            ),
                            format!(
                                "its fields: {} (a checklist or a budget's spending is not set this way)",
                                known.join(", ")
                            ),
                        );
                    }
                    self.expr_of(value, r).map(|value| EffectDef::Set {
                        field: field.get_ref().clone(),
                        value,
                    })
                } else if let (Some(name), Some(role)) = (&e.register, &e.assign_to) {
                    if r.subject != Subject::None {
                        self.error(
                        span.clone(),
                        format!("workflow `{}` registers a customer, but its cases have one already", r.wf),
                        "register customers from a workflow whose subject is \"none\" (a project for a new customer)",
                    );
                    }
                    let role = self.role_list(&Spanned::new(role.span(), vec![role.clone()]), r.roles, "assign_to");
                    self.expr_of(name, r).map(|name| EffectDef::Register {
                        name,
                        role: role.into_iter().next().unwrap_or_default(),
                    })
                } else if let Some(to) = &e.transfer_to {
                    self.expr_of(to, r).map(|to| EffectDef::TransferTo { to })
                } else if let Some(target) = &e.open {
                    let mut fields = Vec::new();
                    let mut named = Vec::new();
                    for (f, x) in e.fields.as_ref().map(|f| f.get_ref().iter()).into_iter().flatten() {
                        if let Some(x) = self.expr_of(x, r) {
                            fields.push((f.clone(), x));
                        }
                        named.push(f.clone());
                    }
                    let at = e.fields.as_ref().map(|f| f.span()).unwrap_or_else(|| target.span());
                    self.links.push(Link {
                        from: r.wf.to_string(),
                        subject: r.subject,
                        target: target.clone(),
                        fields: Spanned::new(at, named),
                    });
                    Some(EffectDef::Open {
                        workflow: target.get_ref().clone(),
                        fields,
                    })
                } else if let Some(role) = &e.transfer {
                    let role = self.role_list(&Spanned::new(role.span(), vec![role.clone()]), r.roles, "transfer");
                    let outside = match &e.outside {
                        Some(x) => match self.expr_of(x, r) {
                            Some(x) => Some(x),
                            None => continue,
                        },
                        None => None,
                    };
                    Some(EffectDef::Transfer {
                        role: role.into_iter().next().unwrap_or_default(),
                        outside,
                    })
                } else if let (Some(code), Some(to)) = (&e.charge, &e.to) {
                    let code = self.automatic_code(code, codes, &format!("workflow `{}`", r.wf));
                    self.expr_of(to, r).map(|to| EffectDef::Charge { code, to })
                } else if let Some(v) = &e.set_grade {
                    self.expr_of(v, r).map(|value| EffectDef::SetGrade { value })
                } else if let Some(on) = &e.snapshot {
                    if !*on.get_ref() {
                        self.error(
                            on.span(),
                            "snapshot = false takes no snapshot",
                            "write snapshot = true, or remove the effect",
                        );
                    }
                    Some(EffectDef::Snapshot)
                } else {
                    let (t, on) = match (&e.tag, &e.untag) {
                        (Some(t), _) => (t, true),
                        (_, Some(t)) => (t, false),
                        _ => continue,
                    };
                    let tag = t.get_ref().trim().to_string();
                    if tag.is_empty() || tag.chars().count() > 30 || tag.contains(',') {
                        self.error(
                            t.span(),
                            format!("`{tag}` is not a tag"),
                            "a tag has 1 to 30 characters and no comma",
                        );
                    }
                    Some(EffectDef::Tag { tag, on })
                };
            if let Some(d) = def {
                if d.on_customer() && r.subject == Subject::None {
                    self.error(
                        span,
                        format!("workflow `{}` changes its customer, but its cases have none", r.wf),
                        "make the workflow's subject \"customer\", or remove the effect",
                    );
                }
                let when = match &e.when {
                    Some(w) => match self.expr_of(w, r) {
                        Some(w) => Some(w),
                        None => continue,
                    },
                    None => None,
                };
                out.push(Declared { when, effect: d });
            }
        }
        out
    }

    fn timer(&mut self, t: &RawTimer, wf: &Workflow, roles: &[Role], codes: &[LedgerCode]) -> Option<Timer> {
        let id = self.workflow_id(&t.id, "timer");
        if id == crate::workflow::OPEN || wf.action(&id).is_some() {
            self.error(
                t.id.span(),
                format!("timer `{id}` has the id of a step that is not it (the opening, or an action)"),
                "a timer's steps carry its id: give it one no action has, for example remind",
            );
        }
        if wf.timer(&id).is_some() {
            self.error(
                t.id.span(),
                format!("timer `{id}` is declared twice"),
                "declare each timer once",
            );
        }
        self.states_in(&t.states, &wf.states, &wf.id, &format!("timer `{id}`"));
        if let Some(to) = &t.to {
            self.state_ref(to, &wf.states, &wf.id);
        }
        for a in &t.restarted_by {
            if wf.action(a.get_ref()).is_none() {
                let known: Vec<&str> = wf.actions.iter().map(|a| a.id.as_str()).collect();
                self.error(
                    a.span(),
                    format!(
                        "timer `{id}` is restarted by `{}`, which workflow `{}` does not have",
                        a.get_ref(),
                        wf.id
                    ),
                    format!("its actions: {}", known.join(", ")),
                );
            }
        }
        let (period, repeat) = match (&t.after, &t.every) {
            (Some(p), None) => (self.period(p), false),
            (None, Some(p)) => (self.period(p), true),
            _ => {
                self.error(
                    t.id.span(),
                    format!("timer `{id}` needs one of after or every"),
                    "write after = \"2 days\" (once per stay in the state) or every = \"30 days\" (again and again)",
                );
                (None, false)
            }
        };
        let rule = t.rule.as_ref().map(|r| self.rule(r)).unwrap_or_else(|| wf.rule.clone());
        let readable = readable(&wf.fields, &wf.checklists);
        let r = Reads {
            fields: &readable,
            wf: &wf.id,
            subject: wf.subject,
            roles,
            engine_kept: engine_kept(wf),
        };
        let unless = t.unless.as_ref().and_then(|u| self.expr_of(u, &r));
        let effects = self.effects(&t.effects, &r, codes);
        for raw in &t.effects {
            if raw.get_ref().register.is_some() {
                self.error(
                    raw.span(),
                    format!("timer `{id}` registers a customer, but nobody acts when a timer fires"),
                    "register the customer on an action (who took it is recorded as its registrar)",
                );
            }
        }
        // Nobody acts when a timer fires: its expressions have no actor.
        let exprs = unless.iter().chain(effects.iter().flat_map(Declared::exprs));
        if exprs.into_iter().any(|e| e.reads().iter().any(|v| v == "actor")) {
            self.error(
                t.id.span(),
                format!("timer `{id}` reads `actor`, but nobody acts when a timer fires"),
                "read fields, checklist and case (case.opened_by) instead",
            );
        }
        Some(Timer {
            id,
            name: t.name.clone(),
            rule,
            states: t.states.get_ref().iter().map(|s| s.get_ref().clone()).collect(),
            period: period?,
            repeat,
            restarted_by: t.restarted_by.iter().map(|a| a.get_ref().clone()).collect(),
            unless: if t.unless.is_some() { Some(unless?) } else { None },
            to: t.to.as_ref().map(|s| s.get_ref().clone()),
            overdue: t.overdue.unwrap_or(t.to.is_none()),
            effects,
        })
    }

    /// A field of the workflow of the given kinds, or an error at its place.
    fn field_of(&mut self, raw: &Spanned<String>, fields: &[FieldDef], kinds: &[&str], what: &str) -> Option<String> {
        let Some(f) = fields.iter().find(|f| &f.id == raw.get_ref()) else {
            let known: Vec<&str> = fields.iter().map(|d| d.id.as_str()).collect();
            self.error(
                raw.span(),
                format!("{what} names `{}`, which is not a field of the workflow", raw.get_ref()),
                format!("its fields: {}", known.join(", ")),
            );
            return None;
        };
        if !kinds.contains(&f.kind.name()) {
            self.error(
                raw.span(),
                format!("{what} names `{}`, a {} field", f.id, f.kind.name()),
                format!("it takes a field of type {}", kinds.join(" or ")),
            );
            return None;
        }
        Some(f.id.clone())
    }

    fn budget(
        &mut self,
        raw: &Spanned<RawBudget>,
        fields: &[FieldDef],
        rule: &crate::decision::RuleId,
        max_money: i64,
        r: &Reads<'_>,
    ) -> Option<Budget> {
        let b = raw.get_ref();
        let lines = self.field_of(&b.lines, fields, &["amounts"], "the budget's lines");
        let spent = self.field_of(&b.spent, fields, &["amounts"], "the budget's spending");
        if lines.is_some() && lines == spent {
            self.error(
                b.spent.span(),
                "the budget keeps its spending in the field of its lines",
                "declare a second amounts field for the spending",
            );
        }
        if let Some(f) = fields.iter().find(|f| Some(&f.id) == spent.as_ref() && f.required) {
            self.error(
                b.spent.span(),
                format!("the budget's spending `{}` is required when a case opens", f.id),
                "the engine fills it in: leave out required",
            );
        }
        let tolerance = b.tolerance_percent.as_ref().map(|t| *t.get_ref()).unwrap_or(0);
        if let Some(t) = &b.tolerance_percent
            && !(0..=100).contains(t.get_ref())
        {
            self.error(
                t.span(),
                "tolerance_percent is 0 to 100",
                "write, for example, tolerance_percent = 5",
            );
        }
        if let Some(c) = &b.cap
            && !(0..=max_money).contains(c.get_ref())
        {
            self.error(
                c.span(),
                format!(
                    "the cap {} is not an amount from 0 to the policy's largest",
                    c.get_ref()
                ),
                "write it in fen: 30,000 yuan is cap = 3000000",
            );
        }
        if b.until.is_some() && b.cap.is_none() {
            self.error(
                raw.span(),
                "the budget has until but no cap",
                "write cap = FEN, or remove until",
            );
        }
        let until = b
            .until
            .as_ref()
            .and_then(|u| self.case_only(u, "the budget's until", r));
        Some(Budget {
            rule: b.rule.as_ref().map(|x| self.rule(x)).unwrap_or_else(|| rule.clone()),
            name: b.name.clone(),
            lines: lines?,
            spent: spent?,
            tolerance_percent: tolerance,
            cap: b.cap.as_ref().map(|c| *c.get_ref()),
            until: if b.until.is_some() { Some(until?) } else { None },
        })
    }

    fn spend(
        &mut self,
        raw: &Spanned<RawSpend>,
        action: &str,
        set: &[String],
        fields: &[FieldDef],
        has_budget: bool,
    ) -> Option<Spend> {
        if !has_budget {
            self.error(
                raw.span(),
                format!("action `{action}` spends, but the workflow has no budget"),
                "declare [workflows.budget] with its lines",
            );
        }
        let sp = raw.get_ref();
        let amount = self.field_of(&sp.amount, fields, &["money"], "the spending's amount");
        let line = self.field_of(&sp.line, fields, &["text", "choice"], "the spending's line");
        for f in [&amount, &line].into_iter().flatten() {
            if !set.contains(f) {
                self.error(
                    raw.span(),
                    format!("action `{action}` spends from `{f}`, which it does not set"),
                    format!("add \"{f}\" to its fields"),
                );
            }
        }
        Some(Spend {
            amount: amount?,
            line: line?,
        })
    }

    fn adds(
        &mut self,
        raw: &Spanned<std::collections::BTreeMap<String, String>>,
        action: &str,
        set: &[String],
        fields: &[FieldDef],
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (from, to) in raw.get_ref() {
            let kind = |id: &str| fields.iter().find(|f| f.id == id).map(|f| f.kind.name());
            match (kind(from), kind(to)) {
                (Some(a), Some(b))
                    if a == b && (a == "money" || a == "number") && set.contains(from) && !set.contains(to) =>
                {
                    out.push((from.clone(), to.clone()));
                }
                _ => self.error(
                    raw.span(),
                    format!("action `{action}` adds `{from}` to `{to}`, which does not work"),
                    "both are fields of type money (or both number); the action sets the first, not the total",
                ),
            }
        }
        out
    }

    fn figure(
        &mut self,
        raw: &RawFigure,
        rule: &crate::decision::RuleId,
        seen: &[Figure],
        r: &Reads<'_>,
    ) -> Option<Figure> {
        let id = self.workflow_id(&raw.id, "figure");
        if seen.iter().any(|f| f.id == id) {
            self.error(
                raw.id.span(),
                format!("figure `{id}` is declared twice"),
                "declare each figure once",
            );
        }
        let kind = match raw.kind.as_ref().map(|k| k.get_ref().as_str()) {
            None | Some("money") => FieldKind::Money,
            Some("number") => FieldKind::Number,
            Some(other) => {
                let span = raw.kind.as_ref().map(|k| k.span()).unwrap_or_default();
                self.error(
                    span,
                    format!("figure type `{other}` is not known"),
                    "write type = \"money\" (fen) or \"number\"",
                );
                FieldKind::Money
            }
        };
        let value = self.case_only(&raw.value, &format!("figure `{id}`"), r)?;
        Some(Figure {
            id,
            name: raw.name.clone(),
            rule: raw.rule.as_ref().map(|x| self.rule(x)).unwrap_or_else(|| rule.clone()),
            kind,
            value,
        })
    }

    /// An expression worked out on each case alone (a figure, a ranking's score): it reads the
    /// case's fields, checklists and the case, nothing around it.
    fn case_only(&mut self, raw: &Spanned<String>, what: &str, r: &Reads<'_>) -> Option<Expr> {
        let e = self.expr_of(raw, r)?;
        if let Some(v) = e
            .reads()
            .into_iter()
            .find(|v| matches!(v.as_str(), "actor" | "customer" | "cases" | "today" | "staff"))
        {
            self.error(
                raw.span(),
                format!("{what} reads `{v}`; it is worked out from the case alone"),
                "read fields, checklist and case",
            );
        }
        Some(e)
    }

    /// A step's own sentence: a known step, once, naming only what a step can fill in.
    fn message(&mut self, raw: &RawMessage, wf: &Workflow) -> Option<Message> {
        let step = raw.step.get_ref().clone();
        let is_step = step == crate::workflow::OPEN || wf.action(&step).is_some() || wf.timer(&step).is_some();
        if !is_step {
            let mut known = vec![crate::workflow::OPEN];
            known.extend(wf.actions.iter().map(|a| a.id.as_str()));
            known.extend(wf.timers.iter().map(|t| t.id.as_str()));
            self.error(
                raw.step.span(),
                format!("workflow `{}` has no step `{step}` to word", wf.id),
                format!("its steps: {}", known.join(", ")),
            );
            return None;
        }
        if wf.messages.iter().any(|m| m.step == step) {
            self.error(
                raw.step.span(),
                format!("step `{step}` is worded twice"),
                "give each step one message",
            );
        }
        let spends = wf.action(&step).is_some_and(|a| a.spend.is_some());
        let text = raw.text.get_ref();
        for t in [&text.zh, &text.en] {
            for name in crate::workflow::placeholders(t) {
                let known = crate::workflow::MESSAGE_WORDS.contains(&name.as_str())
                    && (spends || !name.starts_with("budget."))
                    || name.strip_prefix("fields.").is_some_and(|f| wf.field(f).is_some());
                if !known {
                    self.error(
                        raw.text.span(),
                        format!("the message for `{step}` names `{{{name}}}`, which the step does not fill in"),
                        "name {actor}, {from}, {to}, {fields.ID}, and for a step that spends {budget.line}, {budget.amount}, {budget.line_spent}, {budget.line_budget}, {budget.spent}",
                    );
                }
            }
        }
        Some(Message {
            step,
            text: text.clone(),
        })
    }

    fn ranking(
        &mut self,
        raw: &RawRanking,
        (rule, states, seen): (&crate::decision::RuleId, &[State], &[Ranking]),
        r: &Reads<'_>,
    ) -> Option<Ranking> {
        let id = self.workflow_id(&raw.id, "ranking");
        if seen.iter().any(|x| x.id == id) {
            self.error(
                raw.id.span(),
                format!("ranking `{id}` is declared twice"),
                "declare each ranking once",
            );
        }
        self.states_in(&raw.states, states, r.wf, &format!("ranking `{id}`"));
        if !(1..=10_000).contains(raw.top.get_ref()) {
            self.error(
                raw.top.span(),
                "top is 1 to 10,000",
                "write how many places at the top may be flagged, for example top = 10",
            );
        }
        let score = self.case_only(&raw.score, &format!("ranking `{id}`'s score"), r);
        let flag_when = raw
            .flag_when
            .as_ref()
            .map(|w| self.case_only(w, &format!("ranking `{id}`'s flag_when"), r));
        Some(Ranking {
            id,
            name: raw.name.clone(),
            rule: raw.rule.as_ref().map(|x| self.rule(x)).unwrap_or_else(|| rule.clone()),
            states: raw.states.get_ref().iter().map(|s| s.get_ref().clone()).collect(),
            score: score?,
            top: usize::try_from(*raw.top.get_ref()).unwrap_or(1).clamp(1, 10_000),
            flag: raw.flag.clone(),
            flag_when: match flag_when {
                Some(w) => Some(w?),
                None => None,
            },
        })
    }

    /// The states a timer runs in or a ranking ranks (`in`): at least one, each the workflow's.
    fn states_in(&mut self, raw: &Spanned<Vec<Spanned<String>>>, states: &[State], wf: &str, what: &str) {
        if raw.get_ref().is_empty() {
            self.error(
                raw.span(),
                format!("{what} names no state in `in`"),
                "list the states, for example in = [\"proposed\"]",
            );
        }
        for s in raw.get_ref() {
            self.state_ref(s, states, wf);
        }
    }

    fn state_ref(&mut self, raw: &Spanned<String>, states: &[State], wf: &str) {
        if !states.iter().any(|s| &s.id == raw.get_ref()) {
            let known: Vec<&str> = states.iter().map(|s| s.id.as_str()).collect();
            self.error(
                raw.span(),
                format!("workflow `{wf}` has no state `{}`", raw.get_ref()),
                format!("its states: {}", known.join(", ")),
            );
        }
    }

    pub(super) fn workflows(
        &mut self,
        raw: Vec<RawWorkflow>,
        roles: &[Role],
        codes: &[LedgerCode],
        max_money: i64,
    ) -> Vec<Workflow> {
        let mut out: Vec<Workflow> = Vec::new();
        for w in raw {
            let id = self.workflow_id(&w.id, "workflow");
            if out.iter().any(|o| o.id == id) {
                self.error(
                    w.id.span(),
                    format!("workflow `{id}` is declared twice"),
                    "give each workflow its own id",
                );
            }
            let rule = self.rule(&w.rule);
            let subject = match w.subject.as_ref().map(|s| s.get_ref().as_str()) {
                None | Some("customer") => Subject::Customer,
                Some("none") => Subject::None,
                Some(other) => {
                    let span = w.subject.as_ref().map(|s| s.span()).unwrap_or_default();
                    self.error(
                        span,
                        format!("subject `{other}` is not known"),
                        "write subject = \"customer\" (a case of a customer) or \"none\"",
                    );
                    Subject::Customer
                }
            };
            let mut states: Vec<State> = Vec::new();
            for s in w.states.get_ref() {
                let sid = self.workflow_id(&s.id, "state");
                if states.iter().any(|x| x.id == sid) {
                    self.error(
                        s.id.span(),
                        format!("state `{sid}` is listed twice"),
                        "list each state once",
                    );
                }
                states.push(State {
                    id: sid,
                    name: s.name.clone(),
                    requires: None,
                });
            }
            if states.is_empty() {
                self.error(
                    w.states.span(),
                    format!("workflow `{id}` has no states"),
                    "list its states",
                );
            }
            self.state_ref(&w.initial, &states, &id);
            let mut fields: Vec<FieldDef> = Vec::new();
            for f in &w.fields {
                let fid = self.workflow_id(&f.id, "field");
                let kind = match f.kind.get_ref().as_str() {
                    "text" => FieldKind::Text,
                    "number" => FieldKind::Number,
                    "money" => FieldKind::Money,
                    "bool" => FieldKind::Bool,
                    "date" => FieldKind::Date,
                    "amounts" => FieldKind::Amounts,
                    "staff" => FieldKind::Staff,
                    "choice" if !f.of.is_empty() => FieldKind::Choice(f.of.clone()),
                    "choice" => {
                        self.error(
                            f.kind.span(),
                            format!("the choice field `{fid}` lists no values"),
                            "add of = [\"...\", \"...\"]",
                        );
                        FieldKind::Text
                    }
                    other => {
                        self.error(
                            f.kind.span(),
                            format!("field type `{other}` is not known"),
                            "types: text, number, money (fen), bool, date, choice, amounts (named amounts in fen), staff (a staff member's id)",
                        );
                        FieldKind::Text
                    }
                };
                if fields.iter().any(|x| x.id == fid) {
                    self.error(
                        f.id.span(),
                        format!("field `{fid}` is declared twice"),
                        "declare each field once",
                    );
                }
                let not_in_directory = f.not_in_directory.as_ref().map(|r| self.rule(r));
                if let Some(r) = &f.not_in_directory
                    && kind != FieldKind::Text
                {
                    self.error(
                        r.span(),
                        format!("field `{fid}` is kept out of the customer directory, but it is not text"),
                        "not_in_directory applies to a text field holding a name",
                    );
                }
                fields.push(FieldDef {
                    id: fid,
                    name: f.name.clone(),
                    kind,
                    required: f.required,
                    not_in_directory,
                    default: None,
                    internal: f.internal,
                });
            }
            let mut checklists: Vec<Checklist> = Vec::new();
            for c in &w.checklists {
                let cid = self.workflow_id(&c.id, "checklist");
                if fields.iter().any(|f| f.id == cid) || checklists.iter().any(|x| x.id == cid) {
                    self.error(
                        c.id.span(),
                        format!("`{cid}` is already a field or checklist of workflow `{id}`"),
                        "give each field and checklist its own id",
                    );
                }
                let mut items: Vec<Item> = Vec::new();
                for i in c.items.get_ref() {
                    let iid = self.workflow_id(&i.id, "checklist item");
                    if items.iter().any(|x| x.id == iid)
                        || checklists.iter().any(|x| x.items.iter().any(|y| y.id == iid))
                    {
                        self.error(
                            i.id.span(),
                            format!("item `{iid}` is listed twice in workflow `{id}`"),
                            "give each checklist item its own id in the workflow (answers name items by id)",
                        );
                    }
                    items.push(Item {
                        id: iid,
                        name: i.name.clone(),
                    });
                }
                if items.is_empty() {
                    self.error(
                        c.items.span(),
                        format!("checklist `{cid}` has no items"),
                        "list its items: items = [{ id = \"licence\", name = { zh = \"...\", en = \"...\" } }]",
                    );
                }
                let unclear = match c.unclear.as_ref().map(|u| u.get_ref().as_str()) {
                    None | Some("no") => Unclear::No,
                    Some("yes") => Unclear::Yes,
                    Some(other) => {
                        let span = c.unclear.as_ref().map(|u| u.span()).unwrap_or_default();
                        self.error(
                            span,
                            format!("unclear = `{other}` is not known"),
                            "write unclear = \"no\" (an unclear answer counts as no) or \"yes\"",
                        );
                        Unclear::No
                    }
                };
                checklists.push(Checklist {
                    id: cid,
                    name: c.name.clone(),
                    rule: c.rule.as_ref().map(|r| self.rule(r)).unwrap_or_else(|| rule.clone()),
                    items,
                    unclear,
                });
            }
            let readable = readable(&fields, &checklists);
            let defaults: Vec<Option<Expr>> = {
                let r = Reads {
                    fields: &readable,
                    wf: &id,
                    subject,
                    roles,
                    engine_kept: Vec::new(),
                };
                w.fields
                    .iter()
                    .map(|f| f.default.as_ref().and_then(|d| self.expr_of(d, &r)))
                    .collect()
            };
            for (f, d) in fields.iter_mut().zip(defaults) {
                f.default = d;
            }
            let mut r = Reads {
                fields: &readable,
                wf: &id,
                subject,
                roles,
                engine_kept: checklists.iter().map(|c| c.id.clone()).collect(),
            };
            let budget = w
                .budget
                .as_ref()
                .and_then(|b| self.budget(b, &fields, &rule, max_money, &r));
            r.engine_kept.extend(budget.iter().map(|b| b.spent.clone()));
            let guards = w.guards.iter().filter_map(|g| self.guard(g, &r)).collect();
            for (raw, state) in w.states.get_ref().iter().zip(states.iter_mut()) {
                let Some(req) = &raw.requires else { continue };
                let mut needed = Vec::new();
                for f in req.fields.get_ref() {
                    if fields.iter().any(|d| &d.id == f.get_ref()) && !r.engine_kept.contains(f.get_ref()) {
                        needed.push(f.get_ref().clone());
                    } else {
                        self.error(
                            f.span(),
                            format!(
                                "state `{}` requires `{}`, which is not a field anyone fills in",
                                state.id,
                                f.get_ref()
                            ),
                            "name declared fields (a date field counts while it is not past)",
                        );
                    }
                }
                if needed.is_empty() {
                    self.error(
                        req.fields.span(),
                        format!("state `{}` requires nothing", state.id),
                        "list the fields a case needs to enter it, or remove requires",
                    );
                }
                let when = match &req.when {
                    Some(x) => match self.expr_of(x, &r) {
                        Some(x) => Some(x),
                        None => continue,
                    },
                    None => None,
                };
                state.requires = Some(Requires {
                    rule: self.rule(&req.rule),
                    fields: needed,
                    when,
                });
            }
            let on_open = self.effects(&w.on_open, &r, codes);
            for raw in &w.on_open {
                let e = raw.get_ref();
                if e.snapshot.is_some() || e.register.is_some() || e.open.is_some() {
                    self.error(
                        raw.span(),
                        format!("workflow `{id}` takes a snapshot, registers a customer or opens another case when a case opens"),
                        "do that on an action or a timer; on_open may charge, set tags and fields, and hand the customer over",
                    );
                }
            }
            let mut actions: Vec<Action> = Vec::new();
            for a in &w.actions {
                let aid = self.workflow_id(&a.id, "action");
                if aid == crate::workflow::OPEN {
                    self.error(
                        a.id.span(),
                        "`open` is the step that opens a case, not an action",
                        "name the action otherwise (for example submit), or check the case when it opens with [[workflows.guards]]",
                    );
                }
                if actions.iter().any(|x| x.id == aid) {
                    self.error(
                        a.id.span(),
                        format!("action `{aid}` is declared twice"),
                        "declare each action once",
                    );
                }
                for f in a.from.get_ref() {
                    self.state_ref(f, &states, &id);
                }
                if a.from.get_ref().is_empty() {
                    self.error(
                        a.from.span(),
                        format!("action `{aid}` is taken from no state"),
                        "list the states it is taken in",
                    );
                }
                if let Some(to) = &a.to {
                    self.state_ref(to, &states, &id);
                }
                for route in &a.routes {
                    self.state_ref(&route.to, &states, &id);
                }
                // `opener`, `owner` and `head_of:FIELD` are relations to the case; the rest are
                // roles.
                let by_opener = a.by.get_ref().iter().any(|r| r.get_ref() == OPENER);
                let mut relations: Vec<String> = Vec::new();
                for b in a.by.get_ref() {
                    let seat = b.get_ref();
                    if seat == OWNER {
                        if subject == Subject::None {
                            self.error(
                                b.span(),
                                format!("action `{aid}` is taken by the customer's holder, but a case of workflow `{id}` has no customer"),
                                "name roles, or make the workflow's subject \"customer\"",
                            );
                        }
                        relations.push(seat.clone());
                    } else if seat == PEOPLE {
                        if !fields.iter().any(|x| x.kind == FieldKind::Staff) {
                            self.error(
                                b.span(),
                                format!("action `{aid}` is taken by the case's people, but workflow `{id}` has no staff field to name them"),
                                "add a field of type \"staff\" (the people a case names), or name roles",
                            );
                        }
                        relations.push(seat.clone());
                    } else if let Some(f) = seat.strip_prefix(HEAD_OF) {
                        if !fields.iter().any(|x| x.id == f && x.kind == FieldKind::Staff) {
                            self.error(
                                b.span(),
                                format!("`{seat}` names `{f}`, which is not a staff field of workflow `{id}`"),
                                "write head_of:FIELD with a field of type \"staff\"",
                            );
                        }
                        if w.head_roles.as_ref().is_none_or(|h| h.get_ref().is_empty()) {
                            self.error(
                                b.span(),
                                format!("`{seat}` is whoever heads a unit, but workflow `{id}` names no head_roles"),
                                "add head_roles = [\"ROLE\"] to the workflow",
                            );
                        }
                        relations.push(seat.clone());
                    }
                }
                let role_refs: Vec<Spanned<String>> =
                    a.by.get_ref()
                        .iter()
                        .filter(|r| r.get_ref() != OPENER && !relations.contains(r.get_ref()))
                        .cloned()
                        .collect();
                let mut by = if role_refs.is_empty() && (by_opener || !relations.is_empty()) {
                    Vec::new()
                } else {
                    self.role_list(
                        &Spanned::new(a.by.span(), role_refs),
                        roles,
                        &format!("action `{aid}` by"),
                    )
                };
                by.extend(relations);
                if by_opener {
                    by.push(OPENER.to_string());
                    if a.not_opener {
                        self.error(
                            a.by.span(),
                            format!("action `{aid}` is taken by the opener and not by the opener"),
                            "remove opener from by, or not_opener = true",
                        );
                    }
                }
                let signoff = match a.signoff.as_ref().map(|s| s.get_ref().as_str()) {
                    None | Some("any") => Signoff::Any,
                    Some("all") => Signoff::All,
                    Some("sequence") => Signoff::Sequence,
                    Some("quorum") => match &a.quorum {
                        Some(n) if (1..=100).contains(n.get_ref()) => Signoff::Quorum(*n.get_ref() as u32),
                        other => {
                            let span = other.as_ref().map(|n| n.span()).unwrap_or_else(|| a.id.span());
                            self.error(
                                span,
                                format!("action `{aid}` is signed by a quorum, but how many is not 1 to 100"),
                                "write quorum = N with signoff = \"quorum\": N different people holding any of the roles",
                            );
                            Signoff::Any
                        }
                    },
                    Some(other) => {
                        let span = a.signoff.as_ref().map(|s| s.span()).unwrap_or_default();
                        self.error(
                            span,
                            format!("sign-off `{other}` is not known"),
                            "write signoff = \"any\" (one of the roles), \"all\" (each role, by different people), \"sequence\" (each role in the order listed) or \"quorum\" with quorum = N",
                        );
                        Signoff::Any
                    }
                };
                let quorum_named = a.signoff.as_ref().is_some_and(|s| s.get_ref() == "quorum");
                if let (Some(n), false) = (&a.quorum, quorum_named) {
                    self.error(
                        n.span(),
                        format!("action `{aid}` has quorum but is not signed by a quorum"),
                        "add signoff = \"quorum\", or remove quorum",
                    );
                }
                let mut set = Vec::new();
                for f in &a.fields {
                    if fields.iter().any(|x| &x.id == f.get_ref()) {
                        set.push(f.get_ref().clone());
                    } else {
                        self.error(
                            f.span(),
                            format!(
                                "action `{aid}` sets `{}`, which workflow `{id}` does not declare",
                                f.get_ref()
                            ),
                            "declare it under fields",
                        );
                    }
                }
                let answers: Vec<String> = a
                    .answers
                    .iter()
                    .filter_map(|c| {
                        if checklists.iter().any(|x| &x.id == c.get_ref()) {
                            Some(c.get_ref().clone())
                        } else {
                            let known: Vec<&str> = checklists.iter().map(|x| x.id.as_str()).collect();
                            self.error(
                                c.span(),
                                format!(
                                    "action `{aid}` answers `{}`, which workflow `{id}` does not have",
                                    c.get_ref()
                                ),
                                format!("its checklists: {}", known.join(", ")),
                            );
                            None
                        }
                    })
                    .collect();
                let agree: Vec<String> = a.agree.iter().map(|f| f.get_ref().clone()).collect();
                for f in &a.agree {
                    if !set.contains(f.get_ref()) {
                        self.error(
                            f.span(),
                            format!(
                                "action `{aid}` asks its signers to agree on `{}`, which it does not set",
                                f.get_ref()
                            ),
                            "list the field in the action's fields",
                        );
                    }
                }
                if let Some(o) = &a.otherwise {
                    self.state_ref(o, &states, &id);
                    if a.from.get_ref().iter().any(|f| f.get_ref() == o.get_ref()) {
                        self.error(
                            o.span(),
                            format!(
                                "action `{aid}` goes to `{}` when its signers disagree, a state it is taken in",
                                o.get_ref()
                            ),
                            "name a state the case moves to (escalated, for example)",
                        );
                    }
                }
                if !agree.is_empty() && (!signoff.is_several() || a.otherwise.is_none()) {
                    self.error(
                        a.id.span(),
                        format!("action `{aid}` asks its signers to agree, but is not a sign-off of all with a state for when they do not"),
                        "write signoff = \"all\" and otherwise = \"STATE\" with agree",
                    );
                } else if agree.is_empty() && a.otherwise.is_some() {
                    self.error(
                        a.id.span(),
                        format!("action `{aid}` has otherwise but nothing to agree on"),
                        "add agree = [\"FIELD\", ...], or remove otherwise",
                    );
                }
                let spend = a
                    .spend
                    .as_ref()
                    .and_then(|sp| self.spend(sp, &aid, &set, &fields, budget.is_some()));
                let adds = a
                    .adds
                    .as_ref()
                    .map(|m| self.adds(m, &aid, &set, &fields))
                    .unwrap_or_default();
                let count = a.count.as_ref().and_then(|c| {
                    let kind = fields.iter().find(|f| &f.id == c.get_ref()).map(|f| f.kind.name());
                    if kind != Some("number") || set.contains(c.get_ref()) {
                        self.error(
                            c.span(),
                            format!("action `{aid}` counts its steps in `{}`, which is not a number field the engine may keep", c.get_ref()),
                            "declare a field of type number that no action sets, and name it in count",
                        );
                        return None;
                    }
                    Some(c.get_ref().clone())
                });
                let at_most = match (&a.at_most, &count) {
                    (Some(n), Some(_)) if (1..=1000).contains(n.get_ref()) => Some(*n.get_ref() as u32),
                    (Some(n), _) => {
                        self.error(
                            n.span(),
                            format!("action `{aid}` may be taken at most {} times, which does not work", n.get_ref()),
                            "at_most is 1 to 1000, with count = \"FIELD\" (a number field the engine keeps the count in)",
                        );
                        None
                    }
                    (None, _) => None,
                };
                for f in &set {
                    if r.engine_kept.contains(f) {
                        self.error(
                            a.id.span(),
                            format!("action `{aid}` sets `{f}`, which the engine keeps"),
                            "a budget's spending is recorded by an action with spend = { amount = ..., line = ... }",
                        );
                    }
                }
                actions.push(Action {
                    id: aid,
                    spend,
                    adds,
                    name: a.name.clone(),
                    rule: a.rule.as_ref().map(|r| self.rule(r)).unwrap_or_else(|| rule.clone()),
                    from: a.from.get_ref().iter().map(|f| f.get_ref().clone()).collect(),
                    to: a.to.as_ref().map(|t| t.get_ref().clone()),
                    routes: a
                        .routes
                        .iter()
                        .filter_map(|x| {
                            self.expr_of(&x.when, &r).map(|when| Route {
                                when,
                                to: x.to.get_ref().clone(),
                                name: x.name.clone(),
                            })
                        })
                        .collect(),
                    by,
                    signoff,
                    not_opener: a.not_opener,
                    note: a.note,
                    fields: set,
                    guards: a
                        .guard
                        .iter()
                        .chain(&a.guards)
                        .filter_map(|g| self.guard(g, &r))
                        .collect(),
                    answers,
                    effects: self.effects(&a.effects, &r, codes),
                    agree,
                    otherwise: a.otherwise.as_ref().map(|o| o.get_ref().clone()),
                    count,
                    at_most,
                    attest: a.attest.clone(),
                });
            }
            let mut figures: Vec<Figure> = Vec::new();
            for f in &w.figures {
                if let Some(fig) = self.figure(f, &rule, &figures, &r) {
                    figures.push(fig);
                }
            }
            let mut rankings: Vec<Ranking> = Vec::new();
            for raw in &w.rankings {
                if let Some(x) = self.ranking(raw, (&rule, &states, &rankings), &r) {
                    rankings.push(x);
                }
            }
            let visible_to = w.visible_to.as_ref().map(|v| Visibility {
                rule: v.rule.as_ref().map(|x| self.rule(x)).unwrap_or_else(|| rule.clone()),
                roles: self.role_list(&v.roles, roles, &format!("workflow `{}` visible_to", w.id.get_ref())),
            });
            let mut wf = Workflow {
                id,
                rule,
                name: w.name,
                subject,
                states,
                initial: w.initial.get_ref().clone(),
                fields,
                checklists,
                guards,
                actions,
                timers: Vec::new(),
                on_open,
                open_by: w
                    .open_by
                    .as_ref()
                    .map(|r| self.role_list(r, roles, &format!("workflow `{}` open_by", w.id.get_ref())))
                    .unwrap_or_default(),
                visible_to,
                budget,
                figures,
                rankings,
                messages: Vec::new(),
                internal: w.internal,
                head_roles: w
                    .head_roles
                    .as_ref()
                    .map(|r| self.role_list(r, roles, &format!("workflow `{}` head_roles", w.id.get_ref())))
                    .unwrap_or_default(),
                max_money,
                role_names: roles.iter().map(|r| (r.id.clone(), r.name.clone())).collect(),
            };
            // The relations of the actions' `by`, by name: who a page says takes them.
            let seats: Vec<String> = wf
                .actions
                .iter()
                .flat_map(|a| &a.by)
                .filter(|b| crate::workflow::is_relation(b))
                .cloned()
                .collect();
            for seat in seats {
                if wf.role_names.iter().any(|(r, _)| *r == seat) {
                    continue;
                }
                let name = match seat.strip_prefix(HEAD_OF) {
                    Some(f) => {
                        let n = wf.field_name(f);
                        Text::new(
                            format!("「{}」所在部门的负责人", n.zh),
                            format!("the head of {}'s unit", n.en),
                        )
                    }
                    None if seat == PEOPLE => Text::new("案件所列人员", "the people the case names"),
                    None => Text::new("客户归属人", "the customer's holder"),
                };
                wf.role_names.push((seat, name));
            }
            for t in &w.timers {
                if let Some(timer) = self.timer(t, &wf, roles, codes) {
                    wf.timers.push(timer);
                }
            }
            for m in &w.messages {
                if let Some(msg) = self.message(m, &wf) {
                    wf.messages.push(msg);
                }
            }
            // A field only the engine writes cannot be asked for when a case opens.
            for f in &w.fields {
                if f.required && wf.kept_by_engine(f.id.get_ref()) {
                    self.error(
                        f.id.span(),
                        format!("field `{}` is required, but only the engine writes it", f.id.get_ref()),
                        "leave out required: a total, a budget's spending or a field an effect sets is filled in by the engine",
                    );
                }
            }
            if let (Some(seen), Some(raw)) = (&wf.visible_to, &w.visible_to) {
                // Whoever acts on a confined case must see it.
                for a in &wf.actions {
                    if let Some(r) = a.by.iter().find(|r| *r != OPENER && !seen.roles.contains(r)) {
                        self.error(
                            raw.roles.span(),
                            format!(
                                "action `{}` is taken by `{r}`, who does not see the workflow's cases",
                                a.id
                            ),
                            format!("add `{r}` to visible_to, or leave it out of the action's by"),
                        );
                    }
                }
                // A snapshot is read by whoever sees the customer: it would show a confined case.
                let snapshots = wf
                    .actions
                    .iter()
                    .flat_map(|a| &a.effects)
                    .chain(wf.timers.iter().flat_map(|t| &t.effects))
                    .any(|e| matches!(e.effect, EffectDef::Snapshot));
                if snapshots {
                    self.error(
                        raw.roles.span(),
                        format!("workflow `{}` keeps snapshots, which anyone who sees the customer reads, but its cases are confined", wf.id),
                        "remove the snapshot effects, or visible_to",
                    );
                }
            }
            if wf.state(&wf.initial).is_some() {
                let unreachable = wf.unreachable().join(", ");
                if !unreachable.is_empty() {
                    self.error(
                        w.states.span(),
                        format!("in workflow `{}` no action leads to {unreachable}", wf.id),
                        "add an action whose `to` is that state, or remove the state",
                    );
                }
            }
            out.push(wf);
        }
        self.check_links(&out);
        out
    }

    /// Each `open` effect names a workflow, for a case of the same kind of subject, and gives
    /// only fields its cases may open with.
    fn check_links(&mut self, all: &[Workflow]) {
        for link in std::mem::take(&mut self.links) {
            let Some(target) = all.iter().find(|w| &w.id == link.target.get_ref()) else {
                let known: Vec<&str> = all.iter().map(|w| w.id.as_str()).collect();
                self.error(
                    link.target.span(),
                    format!(
                        "workflow `{}` opens a case of `{}`, which is not a workflow",
                        link.from,
                        link.target.get_ref()
                    ),
                    format!("the workflows: {}", known.join(", ")),
                );
                continue;
            };
            if target.subject != link.subject {
                self.error(
                    link.target.span(),
                    format!(
                        "workflow `{}` opens a case of `{}`, but one is about a customer and the other is not",
                        link.from, target.id
                    ),
                    "a linked case belongs to the same customer: both subjects are \"customer\", or both \"none\"",
                );
            }
            let opening: Vec<&str> = target.opening_fields().iter().map(|f| f.id.as_str()).collect();
            for f in link.fields.get_ref() {
                if !opening.contains(&f.as_str()) {
                    self.error(
                        link.fields.span(),
                        format!(
                            "workflow `{}` opens a `{}` with field `{f}`, which a `{}` does not open with",
                            link.from, target.id, target.id
                        ),
                        format!("the fields it opens with: {}", opening.join(", ")),
                    );
                }
            }
        }
    }
}
