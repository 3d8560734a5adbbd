//! The case engine's interpreter: loads what `kehu_domain::workflow` decides on, calls it, and
//! writes the outcome (the case, its step, the history event with the Decision) in one
//! transaction. Every workflow of every policy runs through these two functions.

use kehu_domain::workflow::{self, Actor, Around, CaseFacts, CustomerFacts, Effect, Given, Listed, Outcome, Workflow};
use std::sync::Arc;

use kehu_domain::{Decision, Lang, Policy, Text, Timestamp};
use kehu_store::StoreError;
use kehu_store::cases::{self as store, CaseRow, Filter, NewCase, NewStep, StepRow};
use kehu_store::db::Tx;
use kehu_store::deadlines::{self, DeadlineRow};
use kehu_store::history::{self, NewEvent};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::deadlines::{Firing, Owner};
use crate::lifecycle::{Charge, charge};
use crate::{AppState, Failure};

/// A workflow's timers: kind `case:<timer>`, the subject the case.
pub const TIMER: Owner = Owner {
    kind: kehu_store::deadlines::CASE_TIMER,
    prefix: true,
    fire: |tx, _, policy, d, now| timer_due(tx, policy, d, now),
};

fn timer_kind(timer: &str) -> String {
    format!("{}{timer}", TIMER.kind)
}

/// A case with the steps taken on it and its timers still to fall due.
#[derive(Debug, Clone)]
pub struct CaseView {
    pub row: CaseRow,
    pub steps: Vec<StepRow>,
    pub timers: Vec<DeadlineRow>,
}

impl CaseView {
    /// The id of a timer of the case (its deadline's kind without `case:`).
    pub fn timer_id(d: &DeadlineRow) -> &str {
        d.kind.strip_prefix(TIMER.kind).unwrap_or(&d.kind)
    }

    /// What the case waits for, by whom.
    pub fn waiting_on(&self, wf: &Workflow) -> Vec<workflow::Waiting> {
        workflow::waiting_on(wf, &self.row.facts(&self.steps))
    }
}

/// The name of what took a step, in `lang`: the opening, one of the workflow's actions or
/// timers, or (for an id the policy no longer has) the id itself.
pub fn step_name(wf: &Workflow, action: &str, lang: Lang) -> String {
    if action == workflow::OPEN {
        return crate::i18n::tr("cases.opened_step", lang).to_string();
    }
    wf.step_name(action)
        .map(|n| n.get(lang).to_string())
        .unwrap_or_else(|| action.to_string())
}

/// No case by that id that the caller sees.
pub fn not_found() -> Failure {
    Failure::not_found(Text::new("找不到该案件", "No such case"))
}

fn missing() -> impl Fn(StoreError) -> Failure {
    move |e| match e {
        StoreError::NotFound => not_found(),
        other => other.into(),
    }
}

/// The workflow `id` of the policy, or a refusal that lists the workflows there are.
pub fn workflow_of<'p>(policy: &'p Policy, id: &str) -> Result<&'p Workflow, Failure> {
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
        Failure::invalid(
            "invalid_workflow",
            Text::new(
                format!("没有流程 `{id}`;可用:{}", list.0),
                format!("There is no workflow `{id}`; there are: {}", list.1),
            ),
        )
    })
}

/// The policy that defines a case's workflow: the active one, or, when a later version removed
/// the workflow, the version the case was opened under (`retired` true): the case is then read
/// only.
pub async fn policy_of(state: &AppState, row: &CaseRow) -> Result<(Arc<Policy>, bool), Failure> {
    let active = state.policy(row.tenant_id).await?;
    if active.workflow(&row.workflow).is_some() {
        return Ok((active, false));
    }
    let old = kehu_store::tenants::policy_version(&state.db, row.tenant_id, row.policy_version).await?;
    let policy = Policy::parse(&old.source, &old.file_name).map_err(|e| {
        tracing::error!(tenant.id = row.tenant_id, version = old.version, error = %e, "stored policy no longer parses");
        Failure::internal()
    })?;
    if policy.workflow(&row.workflow).is_none() {
        tracing::error!(case.id = row.id, workflow = %row.workflow, "a case's workflow is in no policy version");
        return Err(Failure::internal());
    }
    Ok((Arc::new(policy), true))
}

/// A case whose workflow the active policy no longer declares takes no action.
pub fn retired(name: &Text) -> Failure {
    Failure::conflict(
        "workflow_retired",
        Text::new(
            format!("现行制度已不再包含「{}」流程，此案件只读", name.zh),
            format!(
                "The active policy no longer has the “{}” workflow: this case is read only",
                name.en
            ),
        ),
    )
}

/// The caller as the engine sees them.
pub fn actor(caller: &Caller) -> Actor {
    Actor {
        id: caller.id(),
        name: caller.staff.display_name.clone(),
        roles: caller.roles.clone(),
    }
}

fn case_json(row: &CaseRow) -> Value {
    json!({
        "id": row.id, "workflow": row.workflow, "state": row.state, "customer_id": row.customer_id,
        "fields": row.field_map(), "overdue_since": row.overdue_since.map(kehu_store::ts),
    })
}

/// What the case's expressions read about its customer: the customer and its cases, read in the
/// transaction that decides (after the customer or the case is locked), and only when some
/// expression of the workflow reads them.
/// Before a step reads the case's customer and the customer's cases: locks the customer to the
/// commit, so a condition over them (a quota of active cards, R10.1) holds when several steps on
/// its cases run at once; they are decided one after the other. An opening holds this lock
/// from the start.
async fn lock_for_step(tx: &mut Tx, wf: &Workflow, tenant: i64, customer_id: Option<i64>) -> Result<(), Failure> {
    if let Some(id) = customer_id.filter(|_| wf.reads_customer()) {
        kehu_store::claims::lock_customer(tx, tenant, id).await?;
    }
    Ok(())
}

async fn around(
    tx: &mut Tx,
    (policy, wf): (&Policy, &Workflow),
    (tenant, customer_id): (i64, Option<i64>),
    (given, held): (&Map<String, Value>, &Map<String, Value>),
    now: Timestamp,
) -> Result<Around, Failure> {
    let mut near = Around {
        customer_id,
        today: today(policy, now),
        ..Around::default()
    };
    // R12.1: a name that must not be in the directory is looked up as it is set.
    for f in wf.fields.iter().filter(|f| f.not_in_directory.is_some()) {
        if let Some(name) = given
            .get(&f.id)
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
        {
            for (id, found) in kehu_store::customers::named_tx(tx, tenant, name.trim()).await? {
                near.listed.push(Listed {
                    field: f.id.clone(),
                    customer_id: id,
                    name: found,
                });
            }
        }
    }
    if let Some(id) = customer_id.filter(|_| wf.reads_customer()) {
        let c = kehu_store::customers::get_tx(tx, tenant, id).await?;
        near.cases = store::of_customer_tx(tx, tenant, id).await?;
        // Who holds it, read only when the workflow asks (R11.9: a complaint is about the
        // holder by default).
        let owner = if wf.reads_owner() {
            kehu_store::claims::for_customer_tx(tx, tenant, id)
                .await?
                .into_iter()
                .find(|c| c.status() == kehu_domain::claim::ClaimStatus::Valid)
                .map(|c| c.staff_id)
        } else {
            None
        };
        near.customer = Some(CustomerFacts {
            id,
            tags: c.tag_list(),
            kind: c.kind,
            grade: c.grade,
            owner,
        });
    }
    // The staff members the case's staff fields name (given now, or held already, or the
    // customer's holder a default may name), with who heads their unit.
    let mut named: Vec<i64> = wf
        .fields
        .iter()
        .filter(|f| f.kind == kehu_domain::workflow::FieldKind::Staff)
        .filter_map(|f| given.get(&f.id).or_else(|| held.get(&f.id)).and_then(Value::as_i64))
        .collect();
    named.extend(near.customer.as_ref().and_then(|c| c.owner));
    if !named.is_empty() {
        let staffing = Staffing {
            staff: kehu_store::staff::list_tx(tx, tenant).await?,
            org: org_of(&kehu_store::units::list_tx(tx, tenant).await?),
        };
        near.people = staffing.people(wf, &named);
    }
    Ok(near)
}

/// The tenant's date at `now`, as expressions read `today` (R1.10: a document valid until then).
pub fn today(policy: &Policy, now: Timestamp) -> String {
    now.to_zoned(policy.tz.clone()).date().to_string()
}

fn org_of(units: &[kehu_store::units::UnitRow]) -> kehu_domain::org::Org {
    kehu_domain::org::Org::new(units.iter().map(|u| (u.id, u.parent_id)))
}

/// A tenant's staff and units as the engine reads them: who heads whom, for a workflow's
/// `head_roles` (`staff[...].heads`, the `head_of:FIELD` seats).
pub struct Staffing {
    staff: Vec<kehu_store::staff::StaffRow>,
    org: kehu_domain::org::Org,
}

impl Staffing {
    pub async fn load(state: &AppState, tenant: i64) -> Result<Staffing, Failure> {
        Ok(Staffing {
            staff: kehu_store::staff::list(&state.db, tenant).await?,
            org: crate::organisation::org(state, tenant).await?.0,
        })
    }

    /// Active staff holding one of `wf`'s head roles, with their unit.
    fn heads(&self, wf: &Workflow) -> Vec<(i64, Option<i64>)> {
        self.staff
            .iter()
            .filter(|s| s.active && s.role_list().iter().any(|r| wf.head_roles.contains(r)))
            .map(|s| (s.id, s.unit_id))
            .collect()
    }

    /// The staff members `named`, with who heads their unit.
    fn people(&self, wf: &Workflow, named: &[i64]) -> Vec<kehu_domain::workflow::Person> {
        let heads = self.heads(wf);
        self.staff
            .iter()
            .filter(|s| named.contains(&s.id))
            .map(|s| kehu_domain::workflow::Person {
                id: s.id,
                name: s.display_name.clone(),
                unit: s.unit_id,
                roles: s.role_list(),
                active: s.active,
                heads: self.org.heads_of(s.unit_id, &heads, s.id),
            })
            .collect()
    }

    /// Whom `head` heads for `wf` (R11.6: the parties whose conflicts a division head signs).
    pub fn headed_by(&self, wf: &Workflow, head: i64) -> Vec<i64> {
        let everyone: Vec<(i64, Option<i64>)> = self.staff.iter().map(|s| (s.id, s.unit_id)).collect();
        self.org.headed_by(head, &everyone, &self.heads(wf))
    }
}

/// Opens a case of `workflow_id`: the fields checked, the opening guards held, the case, its
/// first step and its history event written together.
pub async fn open(
    state: &AppState,
    caller: &Caller,
    workflow_id: &str,
    customer_id: Option<i64>,
    fields: &Map<String, Value>,
) -> Result<CaseView, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let wf = workflow_of(&policy, workflow_id)?;
    let me = actor(caller);
    let tenant = caller.tenant_id;
    let now = state.now();
    let seen = crate::visibility::view(state, caller, &policy).await?;
    let mut tx = state.db.begin().await?;
    if let Some(c) = customer_id {
        crate::visibility::lock_customer(&mut tx, &seen, caller, c).await?;
    }
    let row = open_in(
        &mut tx,
        &policy,
        Opening {
            wf,
            tenant,
            customer_id,
            fields,
            actor: &me,
            linked: None,
        },
        now,
    )
    .await?;
    let steps = store::steps_tx(&mut tx, tenant, row.id).await?;
    tx.commit().await?;
    view_of(state, row, steps).await
}

/// What opens a case: its workflow and customer, the fields given, who opens it and, for a
/// case a step of another opens (`{ open = WORKFLOW }`), that case and step.
struct Opening<'a> {
    wf: &'a Workflow,
    tenant: i64,
    customer_id: Option<i64>,
    fields: &'a Map<String, Value>,
    actor: &'a Actor,
    linked: Option<(&'a CaseRow, &'a Workflow, &'a str)>,
}

/// Opens a case in `tx` (the customer, if any, locked by the caller): decided by the pure
/// `workflow::open` (or `open_linked`), written with its first step, its history event, its
/// people, its timers and its opening effects.
async fn open_in(tx: &mut Tx, policy: &Policy, o: Opening<'_>, now: Timestamp) -> Result<CaseRow, Failure> {
    let Opening {
        wf,
        tenant,
        customer_id,
        fields,
        actor: me,
        linked,
    } = o;
    // The customer stays locked to the commit, so a guard over its cases (R1.3) holds when the
    // case is written.
    let near = around(tx, (policy, wf), (tenant, customer_id), (fields, &Map::new()), now).await?;
    let outcome = match linked {
        None => workflow::open(wf, fields, &near, me, policy.version),
        Some((from, from_wf, step)) => workflow::open_linked(
            wf,
            fields,
            &near,
            me,
            policy.version,
            workflow::LinkedFrom {
                id: from.id,
                workflow: from_wf,
                step,
            },
        ),
    }?;
    let row = store::insert(
        tx,
        tenant,
        NewCase {
            workflow: &wf.id,
            state: &outcome.state,
            customer_id,
            fields: &outcome.fields,
            opened_by: me.id,
            linked_from: linked.map(|(from, _, _)| from.id),
            at: now,
            decision: &outcome.decision,
        },
    )
    .await?;
    let row = store::record_step(
        tx,
        &row,
        NewStep {
            action: workflow::OPEN,
            role: None,
            staff_id: Some(me.id),
            staff_name: &me.name,
            from_state: "",
            to_state: &outcome.state,
            note: None,
            fields: &outcome.fields,
            case_fields: &outcome.fields,
            at: now,
            decision: &outcome.decision,
            overdue: None,
        },
    )
    .await?;
    history::append(
        tx,
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
    let people = workflow::people_of(wf, &outcome.fields);
    if !people.is_empty() {
        store::set_people(tx, tenant, row.id, &people).await?;
    }
    after_step(tx, policy, wf, (&row, Some(me.id)), workflow::OPEN, &outcome, now).await?;
    Ok(row)
}

/// Takes `action` on case `id` for the caller. The case is locked for the decision, so two
/// sign-offs at once are decided one after the other and neither is lost.
pub async fn act(
    state: &AppState,
    caller: &Caller,
    id: i64,
    action: &str,
    given: &Given<'_>,
) -> Result<CaseView, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    if given.note.is_some_and(|n| n.chars().count() > 2000) {
        return Err(Failure::invalid(
            "invalid_note",
            Text::new("备注不超过 2000 字", "A note has at most 2,000 characters"),
        ));
    }
    let tenant = caller.tenant_id;
    let seen = crate::visibility::view(state, caller, &policy).await?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let before = store::lock_in_view(&mut tx, tenant, id, &seen)
        .await
        .map_err(missing())?;
    let Some(wf) = policy.workflow(&before.workflow) else {
        let (old, _) = policy_of(state, &before).await?;
        let name = old
            .workflow(&before.workflow)
            .map(|w| w.name.clone())
            .unwrap_or_default();
        return Err(retired(&name));
    };
    let mut steps = store::steps_tx(&mut tx, tenant, id).await?;
    let me = actor(caller);
    let facts = before.facts(&steps);
    let held = before.field_map();
    lock_for_step(&mut tx, wf, tenant, before.customer_id).await?;
    let near = around(
        &mut tx,
        (&policy, wf),
        (tenant, before.customer_id),
        (given.fields, &held),
        now,
    )
    .await?;
    let outcome = workflow::decide(wf, &facts, action, &me, given, &near, policy.version)?;
    let note = given.note.map(str::trim).filter(|n| !n.is_empty());
    // What the step set: its fields, and its answers under their checklist's id.
    let mut set = given.fields.clone();
    for (item, answer) in given.answers {
        if let Some((list, _)) = wf.item(item) {
            let entry = set.entry(list.id.clone()).or_insert_with(|| Value::Object(Map::new()));
            if let Some(m) = entry.as_object_mut() {
                m.insert(item.clone(), answer.clone());
            }
        }
    }
    let (row, step) = store::record_step_row(
        &mut tx,
        &before,
        NewStep {
            action,
            role: outcome.role.as_deref(),
            staff_id: Some(me.id),
            staff_name: &me.name,
            from_state: &before.state,
            to_state: &outcome.state,
            note,
            fields: &set,
            case_fields: &outcome.fields,
            at: now,
            decision: &outcome.decision,
            overdue: outcome.overdue,
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
            entity_id: id,
            customer_id: row.customer_id,
            action,
            before: Some(case_json(&before)),
            after: Some(case_json(&row)),
            decision: Some(&outcome.decision),
        },
    )
    .await?;
    let people = workflow::people_of(wf, &outcome.fields);
    if people != workflow::people_of(wf, &held) {
        store::set_people(&mut tx, tenant, id, &people).await?;
    }
    let timers = after_step(&mut tx, &policy, wf, (&row, Some(me.id)), action, &outcome, now).await?;
    // A registered customer (R12.6) is now the case's.
    let row = if outcome.effects.iter().any(|e| matches!(e, Effect::Register { .. })) {
        store::get_tx(&mut tx, tenant, id).await?
    } else {
        row
    };
    // The steps are those read under the lock and this one; the timers, when the step replaced
    // them all, those it set (each a statement fewer than reading them back).
    steps.push(step);
    tx.commit().await?;
    match timers {
        Some(timers) => Ok(CaseView { row, steps, timers }),
        None => view_of(state, row, steps).await,
    }
}

/// What a step does besides itself, in its transaction: the case's timers (those of a state it
/// left go, those of the state it entered start, a restarting step starts its count again) and
/// the step's effects. When the step replaced every timer of the case, returns them as set,
/// earliest first.
async fn after_step(
    tx: &mut Tx,
    policy: &Policy,
    wf: &Workflow,
    (row, by): (&CaseRow, Option<i64>),
    action: &str,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<Option<Vec<DeadlineRow>>, Failure> {
    let timers = workflow::timers_after(wf, action, outcome, now, &policy.tz);
    if timers.cancel_all {
        deadlines::cancel_prefixed(tx, row.tenant_id, row.id, TIMER.kind).await?;
    }
    let mut set = Vec::new();
    for due in &timers.set {
        let Some(t) = wf.timer(&due.timer) else { continue };
        set.push(DeadlineRow {
            id: 0,
            tenant_id: row.tenant_id,
            kind: timer_kind(&t.id),
            subject_id: row.id,
            customer_id: row.customer_id,
            due_at: kehu_store::ms(due.due),
            rule: t.rule.to_string(),
            created_at: kehu_store::ms(now),
        });
        deadlines::schedule(
            tx,
            row.tenant_id,
            &timer_kind(&t.id),
            row.id,
            row.customer_id,
            due.due,
            &t.rule,
            now,
        )
        .await?;
    }
    apply(tx, policy, (row, by, action), &outcome.effects, &outcome.decision, now).await?;
    // The timers of a case are its own (kind `case:`), so after replacing them all they are
    // those just set.
    set.sort_by_key(|d| d.due_at);
    Ok(timers.cancel_all.then_some(set))
}

/// Applies a step's effects through the functions the other rules use (a charge is
/// `lifecycle::charge`, priced and escalated as every automatic entry is).
async fn apply(
    tx: &mut Tx,
    policy: &Policy,
    (row, by, step): (&CaseRow, Option<i64>, &str),
    effects: &[Effect],
    decision: &Decision,
    now: Timestamp,
) -> Result<(), Failure> {
    for e in effects {
        match e {
            Effect::Charge { code, staff_id, .. } => {
                let c = Charge {
                    tenant_id: row.tenant_id,
                    staff_id: *staff_id,
                    customer_id: row.customer_id,
                    code,
                    subject: e.subject(row.id).unwrap_or_default(),
                    decision: decision.clone(),
                    at: now,
                };
                match charge(tx, policy, c).await {
                    Ok(()) => {}
                    Err(StoreError::NotFound) => {
                        tracing::warn!(case.id = row.id, staff.id = staff_id, code = %code, "charge to a staff member who does not exist skipped");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Effect::SetGrade { grade } => {
                if let Some(c) = row.customer_id {
                    crate::service::change_customer(tx, policy, (row.tenant_id, c), (None, Some(decision)), now, |b| {
                        Ok((grade.clone(), b.tags.clone()))
                    })
                    .await?;
                }
            }
            Effect::Snapshot { .. } => {
                crate::snapshots::take(tx, row, &e.subject(row.id).unwrap_or_default(), decision, now).await?
            }
            Effect::Transfer { role, outside_unit } => {
                let to = Receiver::Fewest {
                    role,
                    outside: *outside_unit,
                };
                transfer(tx, policy, row, to, decision, now).await?;
            }
            Effect::TransferTo { staff_id } => {
                transfer(tx, policy, row, Receiver::Named(*staff_id), decision, now).await?;
            }
            // The engine set the field in the case's fields, written with the step.
            Effect::Set { .. } => {}
            Effect::Open { workflow, fields } => {
                open_linked(tx, policy, (row, by, step), (workflow, fields), now).await?
            }
            Effect::Register { name, role } => register(tx, policy, (row, by), (name, role), decision, now).await?,
            Effect::Tag { tag, on } => {
                if let Some(c) = row.customer_id {
                    crate::service::change_customer(tx, policy, (row.tenant_id, c), (None, Some(decision)), now, |b| {
                        let mut list: Vec<String> = b.tag_list().into_iter().filter(|t| t != tag).collect();
                        if *on {
                            list.push(tag.clone());
                        }
                        Ok((b.grade.clone(), list.join(",")))
                    })
                    .await?;
                }
            }
        }
    }
    Ok(())
}

/// Opens the case a step of case `row` opens (`{ open = WORKFLOW }`), on the same customer, as
/// whoever took the step (for a timer's step, the case's opener). A step someone takes is
/// refused when the linked case cannot be opened (its guards say why); a timer's step goes on
/// without it, with a warning, since firing again would be refused the same way.
async fn open_linked(
    tx: &mut Tx,
    policy: &Policy,
    (row, by, step_id): (&CaseRow, Option<i64>, &str),
    (target, fields): (&str, &Map<String, Value>),
    now: Timestamp,
) -> Result<(), Failure> {
    let (Some(wf), Some(from_wf)) = (policy.workflow(target), policy.workflow(&row.workflow)) else {
        tracing::warn!(case.id = row.id, workflow = %target, "linked workflow not in the policy; not opened");
        return Ok(());
    };
    // As a case opened by hand: the customer stays locked to the commit, so a guard over its
    // cases holds when the linked case is written.
    if let Some(c) = row.customer_id {
        kehu_store::claims::lock_customer(tx, row.tenant_id, c).await?;
    }
    let staff = kehu_store::staff::get_tx(tx, row.tenant_id, by.unwrap_or(row.opened_by)).await?;
    let me = Actor {
        id: staff.id,
        name: staff.display_name.clone(),
        roles: staff.role_list(),
    };
    let opened = Box::pin(open_in(
        tx,
        policy,
        Opening {
            wf,
            tenant: row.tenant_id,
            customer_id: row.customer_id,
            fields,
            actor: &me,
            linked: Some((row, from_wf, step_id)),
        },
        now,
    ))
    .await;
    match opened {
        Ok(_) => Ok(()),
        Err(e) if by.is_none() && e.code == workflow::LINKED_REFUSED => {
            tracing::warn!(case.id = row.id, workflow = %target, reason = %e.detail.en, "linked case refused; the timer's step goes on without it");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// R11.9: hands the case's customer from whoever holds it to the holder of `role` with the
/// fewest customers outside `outside` (under the policy's cap on customers held): their claims
/// end under the step's rule and the receiver gets a valid claim, each with the hand-over
/// decision in the history. A customer nobody holds, or nobody to take it, stays as it is (the
/// decision says so in the history of the case's step).
/// Who a transfer hands the customer to.
enum Receiver<'a> {
    /// The holder of `role` with the fewest customers, outside the unit `outside`.
    Fewest { role: &'a str, outside: Option<i64> },
    /// This staff member (R11.6: the party awarded the customer).
    Named(i64),
}

async fn transfer(
    tx: &mut Tx,
    policy: &Policy,
    row: &CaseRow,
    to: Receiver<'_>,
    step: &Decision,
    now: Timestamp,
) -> Result<(), Failure> {
    use kehu_store::claims::{self, ClaimRow, NewClaim};
    let Some(customer_id) = row.customer_id else {
        return Ok(());
    };
    let tenant = row.tenant_id;
    // The customer's claims stay as read until the commit: a claim registered meanwhile waits.
    claims::lock_customer(tx, tenant, customer_id).await?;
    let held: Vec<ClaimRow> = claims::for_customer_tx(tx, tenant, customer_id)
        .await?
        .into_iter()
        .filter(|c| c.status().is_active())
        .collect();
    let staff = kehu_store::staff::active_tx(tx, tenant).await?;
    let customer = kehu_store::customers::get_tx(tx, tenant, customer_id).await?;
    let from: Vec<(i64, String)> = held
        .iter()
        .map(|c| {
            let name = staff
                .iter()
                .find(|s| s.id == c.staff_id)
                .map(|s| s.display_name.clone())
                .unwrap_or_default();
            (c.staff_id, name)
        })
        .collect();
    let h = match to {
        Receiver::Fewest { role, outside } => {
            let counts = claims::held_by_staff(tx, tenant).await?;
            let candidates: Vec<kehu_domain::workflow::Candidate> = staff
                .iter()
                .filter(|s| s.role_list().iter().any(|r| r == role))
                .map(|s| kehu_domain::workflow::Candidate {
                    id: s.id,
                    name: s.display_name.clone(),
                    unit: s.unit_id,
                    held: counts.iter().find(|(id, _)| *id == s.id).map(|(_, n)| *n).unwrap_or(0),
                })
                .collect();
            kehu_domain::workflow::hand_over(
                step,
                (&customer.name, &from),
                &candidates,
                (outside, policy.claims.max_held),
                &policy.role_name(role),
            )
        }
        Receiver::Named(id) => {
            let Some(who) = staff.iter().find(|s| s.id == id) else {
                tracing::warn!(
                    case.id = row.id,
                    staff.id = id,
                    "hand-over to a staff member who is not active skipped"
                );
                return Ok(());
            };
            kehu_domain::workflow::hand_over_to(step, (&customer.name, &from), (who.id, &who.display_name))
        }
    };
    let Some(receiver) = h.receiver else {
        tracing::info!(
            case.id = row.id,
            customer.id = customer_id,
            "hand-over: nobody to take the customer"
        );
        return Ok(());
    };
    // The others' claims end as every rule ends one (kept with the end, deadlines gone, the
    // history with the hand-over decision); the reason is written once, in the tenant's default
    // language, and the decision has both.
    let reason = h.decision.text.zh.clone();
    let mut first = None;
    let valid = |c: &ClaimRow| c.status() == kehu_domain::claim::ClaimStatus::Valid;
    // Every other claim ends, and the receiver's own pending one, superseded by the valid claim
    // they get (R11.6: nobody is left holding the customer only pending).
    for old in held.iter().filter(|c| !(c.staff_id == receiver && valid(c))) {
        let ending = crate::lifecycle::Ending {
            status: kehu_domain::claim::ClaimStatus::Cancelled,
            by: None,
            reason: Some(&reason),
            action: "hand_over",
            decision: &h.decision,
            at: now,
        };
        if crate::lifecycle::end_claim(tx, old, ending).await?.is_some() {
            first.get_or_insert(old.id);
        }
    }
    if held.iter().any(|c| c.staff_id == receiver && valid(c)) {
        // The receiver holds it already: only the others' claims end.
        return Ok(());
    }
    // Out of any pool it waited in: it has a holder now.
    if customer.pool_id.is_some() {
        kehu_store::customers::set_pool(tx, tenant, customer_id, None, now).await?;
    }
    // The system has no staff row of its own: the receiver is the claim's registrant, and the
    // history event (no actor, the hand-over decision) says why.
    let new = claims::insert(
        tx,
        tenant,
        NewClaim {
            customer_id,
            staff_id: receiver,
            registered_by: receiver,
            status: kehu_domain::claim::ClaimStatus::Valid,
            registered_at: now,
            effective_at: Some(now),
            policy_version: policy.version,
            reassigned_from: first,
            contact_at: None,
            from_pool: None,
        },
    )
    .await?;
    history::append(
        tx,
        tenant,
        now,
        NewEvent {
            actor_id: None,
            entity: "claim",
            entity_id: new.id,
            customer_id: Some(customer_id),
            action: "hand_over",
            before: None,
            after: Some(new.to_json()),
            decision: Some(&h.decision),
        },
    )
    .await?;
    // The new holder's claim runs under the policy's follow-up rules from now on.
    crate::lifecycle::settle(tx, policy, new, now).await?;
    Ok(())
}

/// R12.6: registers the company a case names, hands it to whoever holds `role` with the fewest
/// customers (the registration rules deciding the claim as for any other), and makes the case
/// the customer's. A name registered meanwhile, or nobody to hand it to, refuses the step.
async fn register(
    tx: &mut Tx,
    policy: &Policy,
    (row, by): (&CaseRow, Option<i64>),
    (name, role): (&str, &str),
    decision: &Decision,
    now: Timestamp,
) -> Result<(), Failure> {
    use kehu_store::claims::{self, ClaimRow, NewClaim};
    use kehu_store::customers::{self, Created, Key, NewCustomer};
    let tenant = row.tenant_id;
    let refuse = |code: &'static str, text: Text| {
        Failure::refused(kehu_domain::Refusal {
            code,
            rule: Some(decision.rule.clone()),
            text,
        })
    };
    let staff: Vec<kehu_store::staff::StaffRow> = kehu_store::staff::active_tx(tx, tenant)
        .await?
        .into_iter()
        .filter(|s| s.role_list().iter().any(|r| r == role))
        .collect();
    let held = claims::held_by_staff(tx, tenant).await?;
    let ids: Vec<i64> = staff.iter().map(|s| s.id).collect();
    let Some(to) = kehu_domain::org::fewest_held(&ids, &held).and_then(|id| staff.iter().find(|s| s.id == id)) else {
        let who = policy.role_name(role);
        return Err(refuse(
            "no_assignee",
            Text::new(
                format!("没有在职的{}可以接手客户「{name}」", who.zh),
                format!("No active {} can take the customer “{name}” over", who.en),
            ),
        ));
    };
    // The same check as the directory field's (R12.1): by the normalised name, or the company.
    let named = customers::named_tx(tx, tenant, name).await?;
    if !named.is_empty() {
        let names: Vec<String> = named.iter().map(|(_, n)| n.clone()).collect();
        return Err(refuse(
            "already_a_customer",
            Text::new(
                format!("客户名录中已有「{}」，不能再登记", names.join("、")),
                format!(
                    "The directory has “{}” already; it is not registered again",
                    names.join(", ")
                ),
            ),
        ));
    }
    let new = NewCustomer {
        kind: "company".to_string(),
        name: name.to_string(),
        name_norm: kehu_domain::normalize::normalize_name(name),
        grade: None,
        source: None,
        referrer_id: None,
        agent: None,
        keys: vec![Key {
            key: kehu_domain::normalize::company_directory_key(name),
            kind: "company_name",
            value: name.to_string(),
        }],
        deadline: None,
    };
    let customer = match customers::create_tx(tx, tenant, by, &new, now).await? {
        Created::New(c) => *c,
        Created::Duplicate(found) => {
            let names: Vec<String> = found.iter().map(|m| m.name.clone()).collect();
            return Err(refuse(
                "already_a_customer",
                Text::new(
                    format!("客户名录中已有「{}」，不能再登记", names.join("、")),
                    format!(
                        "The directory has “{}” already; it is not registered again",
                        names.join(", ")
                    ),
                ),
            ));
        }
    };
    let reg = kehu_domain::claim::decide_registration(policy, now, &to.facts(), to.unit_id, &[])?;
    let registrar = by.unwrap_or(to.id);
    let mut claim = claims::insert(
        tx,
        tenant,
        NewClaim {
            customer_id: customer.id,
            staff_id: to.id,
            registered_by: registrar,
            status: reg.status,
            registered_at: now,
            effective_at: reg.effective_at,
            policy_version: policy.version,
            reassigned_from: None,
            contact_at: None,
            from_pool: None,
        },
    )
    .await?;
    if reg.status == kehu_domain::claim::ClaimStatus::Valid {
        claim = claims::confirm_valid(tx, tenant, claim.id, registrar, now).await?;
    }
    history::append(
        tx,
        tenant,
        now,
        NewEvent {
            actor_id: by,
            entity: "claim",
            entity_id: claim.id,
            customer_id: Some(customer.id),
            action: "hand_over",
            after: Some(ClaimRow::to_json(&claim)),
            decision: Some(decision),
            ..Default::default()
        },
    )
    .await?;
    store::set_customer(tx, tenant, row.id, customer.id, now).await?;
    Ok(())
}

/// A case timer fell due: the case is locked and re-read, and the engine decides whether the
/// timer still applies (it may have left the state, or `unless` may hold). What it does is
/// recorded as a step nobody took, with its history event and effects; a repeating timer is
/// set again.
fn timer_due<'a>(tx: &'a mut Tx, policy: &'a Policy, d: &'a DeadlineRow, now: Timestamp) -> Firing<'a> {
    Box::pin(async move { fire_timer(tx, policy, d, now).await })
}

async fn fire_timer(tx: &mut Tx, policy: &Policy, d: &DeadlineRow, now: Timestamp) -> Result<(), Failure> {
    let tenant = d.tenant_id;
    let (before, superseded) = match store::lock_for_timer(tx, tenant, d.subject_id, &d.kind).await {
        Ok(locked) => locked,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if superseded {
        // A step in the same batch set this timer afresh: this firing is out of date.
        return Ok(());
    }
    let timer_id = d.kind.strip_prefix(TIMER.kind).unwrap_or_default();
    let Some((wf, timer)) = policy
        .workflow(&before.workflow)
        .and_then(|wf| wf.timer(timer_id).map(|t| (wf, t)))
    else {
        tracing::warn!(case.id = before.id, kind = %d.kind, "timer no longer in the policy dropped");
        return Ok(());
    };
    // A firing reads the case, not its steps (`workflow::fire` decides on state and fields).
    let facts: CaseFacts = before.facts(&[]);
    let due = kehu_store::ts(d.due_at);
    lock_for_step(tx, wf, tenant, before.customer_id).await?;
    let near = around(
        tx,
        (policy, wf),
        (tenant, before.customer_id),
        (&Map::new(), &facts.fields),
        now,
    )
    .await?;
    let fired = workflow::fire(wf, &facts, timer, &near, (due, now), &policy.tz, policy.version).unwrap_or_else(|r| {
        // The policy's expression cannot be evaluated on this case: retrying would fail the
        // same way, so the firing is dropped with a warning (a repeating timer comes due again).
        tracing::warn!(case.id = before.id, timer = %timer.id, reason = %r.text.en, "case timer could not be evaluated; skipped");
        workflow::Fired {
            outcome: None,
            next: timer.repeat.then(|| timer.period.after(now, &policy.tz)),
        }
    });
    if let Some(next) = fired.next {
        deadlines::schedule(
            tx,
            tenant,
            &d.kind,
            before.id,
            before.customer_id,
            next,
            &timer.rule,
            now,
        )
        .await?;
    }
    let Some(outcome) = fired.outcome else {
        return Ok(());
    };
    let row = store::record_step(
        tx,
        &before,
        NewStep {
            action: &timer.id,
            role: None,
            staff_id: None,
            staff_name: "",
            from_state: &before.state,
            to_state: &outcome.state,
            note: None,
            fields: &Map::new(),
            case_fields: &outcome.fields,
            at: now,
            decision: &outcome.decision,
            overdue: outcome.overdue,
        },
    )
    .await?;
    history::append(
        tx,
        tenant,
        now,
        NewEvent {
            actor_id: None,
            entity: "case",
            entity_id: row.id,
            customer_id: row.customer_id,
            action: &timer.id,
            before: Some(case_json(&before)),
            after: Some(case_json(&row)),
            decision: Some(&outcome.decision),
        },
    )
    .await?;
    let people = workflow::people_of(wf, &outcome.fields);
    if people != workflow::people_of(wf, &facts.fields) {
        store::set_people(tx, tenant, row.id, &people).await?;
    }
    if outcome.moved {
        after_step(tx, policy, wf, (&row, None), &timer.id, &outcome, now).await?;
    } else {
        apply(
            tx,
            policy,
            (&row, None, &timer.id),
            &outcome.effects,
            &outcome.decision,
            now,
        )
        .await?;
    }
    Ok(())
}

/// A case as its customer may be given it (R1.5: the grade is internal, never in anything
/// shown or exported for the partner): its workflow and state, the fields the customer may be
/// shown (`FieldDef::for_customer`: not internal, not who at the company, not a budget) and the
/// steps by name and time. The customer's own grade and tags are never part of it, nor the
/// decisions (their sentences may name the grade), the checklists or the ledger.
pub struct ForCustomer {
    pub id: i64,
    pub workflow: String,
    pub workflow_name: Text,
    pub state_name: Text,
    pub customer_name: Option<String>,
    pub opened_at: i64,
    pub fields: Vec<(kehu_domain::workflow::FieldDef, Value)>,
    /// (what took the step, in words; when)
    pub steps: Vec<(Text, i64)>,
}

/// [`ForCustomer`] of case `id`, for a caller who sees it.
pub async fn for_customer(state: &AppState, caller: &Caller, id: i64) -> Result<ForCustomer, Failure> {
    // The case and its steps; its timers are not part of the copy.
    let seen = crate::visibility::view_of(state, caller).await?;
    let row = store::get(&state.db, caller.tenant_id, id, &seen)
        .await
        .map_err(missing())?;
    let v = CaseView {
        steps: store::steps(&state.db, caller.tenant_id, id).await?,
        timers: Vec::new(),
        row,
    };
    let (policy, _) = policy_of(state, &v.row).await?;
    let wf = workflow_of(&policy, &v.row.workflow)?;
    if wf.internal || v.row.customer_id.is_none() {
        return Err(Failure::conflict(
            "internal_workflow",
            Text::new(
                format!("「{}」是内部流程，没有给客户的版本", wf.name.zh),
                format!(
                    "A “{}” is internal: there is no copy of it for the customer",
                    wf.name.en
                ),
            ),
        ));
    }
    let held = v.row.field_map();
    let opened = Text::new(
        crate::i18n::tr("cases.opened_step", Lang::Zh),
        crate::i18n::tr("cases.opened_step", Lang::En),
    );
    Ok(ForCustomer {
        id: v.row.id,
        workflow: wf.id.clone(),
        workflow_name: wf.name.clone(),
        state_name: wf
            .state(&v.row.state)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| Text::new(&v.row.state, &v.row.state)),
        customer_name: v.row.customer_name.clone(),
        opened_at: v.row.opened_at,
        fields: wf
            .fields
            .iter()
            .filter(|f| f.for_customer())
            .filter_map(|f| held.get(&f.id).filter(|x| !x.is_null()).map(|x| (f.clone(), x.clone())))
            .collect(),
        steps: v
            .steps
            .iter()
            .map(|s| {
                let name = if s.action == workflow::OPEN {
                    opened.clone()
                } else {
                    wf.step_name(&s.action)
                        .cloned()
                        .unwrap_or_else(|| Text::new(&s.action, &s.action))
                };
                (name, s.at)
            })
            .collect(),
    })
}

/// The most cases a case's page lists as opened from it.
const LINKED_MAX: i64 = 50;

/// The case that opened `row` (`{ open = WORKFLOW }`) and the cases `row` opened, those the
/// caller sees, without their steps or timers (a page names them only).
pub async fn linked(
    state: &AppState,
    caller: &Caller,
    row: &CaseRow,
) -> Result<(Option<CaseRow>, Vec<CaseRow>), Failure> {
    let seen = crate::visibility::view_of(state, caller).await?;
    let origin = match row.linked_from {
        Some(from) => match store::get(&state.db, row.tenant_id, from, &seen).await {
            Ok(o) => Some(o),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let filter = store::Filter {
        linked_from: Some(row.id),
        ..Default::default()
    };
    let opened = store::list(&state.db, row.tenant_id, &filter, LINKED_MAX, &seen).await?;
    Ok((origin, opened))
}

/// One case the caller sees.
pub async fn get(state: &AppState, caller: &Caller, id: i64) -> Result<CaseView, Failure> {
    let seen = crate::visibility::view_of(state, caller).await?;
    let row = store::get(&state.db, caller.tenant_id, id, &seen)
        .await
        .map_err(missing())?;
    let steps = store::steps(&state.db, caller.tenant_id, id).await?;
    view_of(state, row, steps).await
}

async fn view_of(state: &AppState, row: CaseRow, steps: Vec<StepRow>) -> Result<CaseView, Failure> {
    let timers = deadlines::prefixed(&state.db, row.tenant_id, row.id, TIMER.kind).await?;
    Ok(CaseView { row, steps, timers })
}

/// Who holds the relation seats of case `row`'s workflow (the customer's holder, the head of a
/// named person's unit), read now, for the pages; none to read for most workflows.
pub async fn seated(state: &AppState, policy: &Policy, row: &CaseRow) -> Result<Vec<(String, Vec<i64>)>, Failure> {
    if !policy.workflow(&row.workflow).is_some_and(workflow::has_relation_seats) {
        return Ok(Vec::new());
    }
    let staffing = Staffing::load(state, row.tenant_id).await?;
    let mut seats = seated_many(state, policy, std::slice::from_ref(row), &staffing).await?;
    Ok(seats.remove(&row.id).unwrap_or_default())
}

/// [`seated`] for several cases at once (a list, Today), with the tenant's staffing read once
/// by the caller and the customers' holders in one query. Cases of workflows without relation
/// seats get none.
pub async fn seated_many(
    state: &AppState,
    policy: &Policy,
    rows: &[CaseRow],
    staffing: &Staffing,
) -> Result<std::collections::HashMap<i64, Vec<(String, Vec<i64>)>>, Failure> {
    let mut out = std::collections::HashMap::new();
    let related: Vec<(&CaseRow, &Workflow)> = rows
        .iter()
        .filter_map(|r| policy.workflow(&r.workflow).map(|w| (r, w)))
        .filter(|(_, w)| workflow::has_relation_seats(w))
        .collect();
    let Some((first, _)) = related.first() else {
        return Ok(out);
    };
    let mut customers: Vec<i64> = related.iter().filter_map(|(r, _)| r.customer_id).collect();
    customers.sort_unstable();
    customers.dedup();
    let holders = kehu_store::claims::valid_for_customers(&state.db, first.tenant_id, &customers).await?;
    for (row, wf) in related {
        let fields = row.field_map();
        let named: Vec<i64> = wf
            .fields
            .iter()
            .filter(|f| f.kind == kehu_domain::workflow::FieldKind::Staff)
            .filter_map(|f| fields.get(&f.id).and_then(Value::as_i64))
            .collect();
        let near = Around {
            customer_id: row.customer_id,
            customer: row.customer_id.map(|id| CustomerFacts {
                id,
                kind: String::new(),
                grade: None,
                tags: Vec::new(),
                owner: holders.iter().find(|c| c.customer_id == id).map(|c| c.staff_id),
            }),
            people: staffing.people(wf, &named),
            ..Around::default()
        };
        out.insert(row.id, workflow::seats(wf, &fields, &near));
    }
    Ok(out)
}

/// The ledger entries case `row`'s steps charged that the caller sees, oldest first.
pub async fn charges(
    state: &AppState,
    caller: &Caller,
    row: &CaseRow,
) -> Result<Vec<kehu_store::ledger::EntryRow>, Failure> {
    let seen = crate::visibility::view_of(state, caller).await?;
    Ok(kehu_store::ledger::of_case(&state.db, row.tenant_id, row.id, row.customer_id, &seen).await?)
}

/// The most cases a ranking places (a tenant's partners, projects: far fewer).
const RANKED_MAX: i64 = 10_000;

/// A ranking of a workflow (R1.9) as the caller reads it: every case of its states is placed
/// (places do not depend on who reads), and the caller is shown those they see.
pub async fn ranking(
    state: &AppState,
    caller: &Caller,
    workflow_id: &str,
    ranking_id: &str,
) -> Result<(Arc<Policy>, Vec<(CaseRow, workflow::Ranked)>), Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    // Named in the path: a workflow that is not there is not found (not bad input).
    let Some(wf) = policy.workflow(workflow_id) else {
        return Err(Failure::not_found(Text::new(
            format!("没有流程 `{workflow_id}`"),
            format!("There is no workflow `{workflow_id}`"),
        )));
    };
    let Some(r) = wf.rankings.iter().find(|r| r.id == ranking_id) else {
        let known: Vec<&str> = wf.rankings.iter().map(|r| r.id.as_str()).collect();
        return Err(Failure::not_found(Text::new(
            format!("「{}」没有排名 `{ranking_id}`（有：{}）", wf.name.zh, known.join("、")),
            format!(
                "“{}” has no ranking `{ranking_id}` (it has: {})",
                wf.name.en,
                known.join(", ")
            ),
        )));
    };
    let all = store::in_states(&state.db, caller.tenant_id, (&wf.id, &r.states), None, RANKED_MAX).await?;
    let seen = crate::visibility::view(state, caller, &policy).await?;
    let shown: std::collections::HashSet<i64> = store::in_states(
        &state.db,
        caller.tenant_id,
        (&wf.id, &r.states),
        Some(&seen),
        RANKED_MAX,
    )
    .await?
    .iter()
    .map(|c| c.id)
    .collect();
    let facts: Vec<CaseFacts> = all.iter().map(|c| c.facts(&[])).collect();
    let ranked = workflow::rank(wf, r, &facts, policy.version);
    let mut rows: std::collections::HashMap<i64, CaseRow> = all.into_iter().map(|c| (c.id, c)).collect();
    let out = ranked
        .into_iter()
        .filter(|x| shown.contains(&x.case_id))
        .filter_map(|x| rows.remove(&x.case_id).map(|row| (row, x)))
        .collect();
    Ok((policy, out))
}

/// Cases the caller sees, newest first, with their steps (read in one query for the page).
pub async fn list(state: &AppState, caller: &Caller, f: &Filter, limit: i64) -> Result<Vec<CaseView>, Failure> {
    let seen = crate::visibility::view_of(state, caller).await?;
    let rows = store::list(&state.db, caller.tenant_id, f, limit, &seen).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut steps = store::steps_of(&state.db, caller.tenant_id, &ids).await?;
    let mut timers = deadlines::prefixed_of(&state.db, caller.tenant_id, &ids, TIMER.kind).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (mine, rest) = steps.drain(..).partition(|s: &StepRow| s.case_id == row.id);
            steps = rest;
            let (due, later) = timers.drain(..).partition(|d: &DeadlineRow| d.subject_id == row.id);
            timers = later;
            CaseView {
                row,
                steps: mine,
                timers: due,
            }
        })
        .collect())
}
