//! What waits for one person, across everything (the Today page and `GET /api/v1/inbox`): the
//! case actions the policy gives their roles or their relation to a case, the cards a leader
//! signs (R5.1) and the follow-ups they confirm (R5.2), their own follow-ups falling due, the
//! invitations their division must file (R11.3) and the visits they owe (R1.6). Overdue first.
//!
//! Each source reads at most `limit + 1` rows through indexes, whatever the number of open cases
//! or claims; "waiting for me" means a role the person holds by name (an admin may take every
//! action, but nothing waits for the admin role itself).

use std::collections::HashMap;

use jiff::SignedDuration;
use kehu_domain::claim::decide_confirmation;
use kehu_domain::lifecycle::{Standing, decide_follow_up_confirmation, standing};
use kehu_domain::workflow::{self, HEAD_OF, OPENER, OWNER, Workflow};
use kehu_domain::{Permission, Policy, Text, Timestamp};
use kehu_store::cases::{self as store, Mine, Waiting};
use kehu_store::{activities, claims, deadlines, ts};

use crate::auth::Caller;
use crate::cases::Staffing;
use crate::{AppState, Failure};

/// What kind of thing waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// An action on a case (`id` the case, `action` the workflow's action).
    Case,
    /// A card to sign (`id` the claim, R5.1).
    CardSignature,
    /// A follow-up to confirm (`id` the activity, R5.2).
    FollowUpConfirmation,
    /// One's own follow-up falling due (`id` the claim).
    FollowUpDue,
    /// A division's invitations to file (`id` the joint event, R11.3).
    EventFiling,
    /// A visit one owes (`id` the customer, R1.6).
    VisitDue,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Case,
        Kind::CardSignature,
        Kind::FollowUpConfirmation,
        Kind::FollowUpDue,
        Kind::EventFiling,
        Kind::VisitDue,
    ];

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Case => "case",
            Kind::CardSignature => "card_signature",
            Kind::FollowUpConfirmation => "follow_up_confirmation",
            Kind::FollowUpDue => "follow_up_due",
            Kind::EventFiling => "event_filing",
            Kind::VisitDue => "visit_due",
        }
    }

    pub fn name(self) -> Text {
        match self {
            Kind::Case => Text::new("案件", "Cases"),
            Kind::CardSignature => Text::new("待确认登记", "Claims to confirm"),
            Kind::FollowUpConfirmation => Text::new("待确认跟进", "Follow-ups to confirm"),
            Kind::FollowUpDue => Text::new("到期跟进", "Follow-ups due"),
            Kind::EventFiling => Text::new("待报备邀约", "Invitations to file"),
            Kind::VisitDue => Text::new("待拜访", "Visits due"),
        }
    }
}

/// One thing that waits.
#[derive(Debug, Clone)]
pub struct Item {
    pub kind: Kind,
    pub id: i64,
    /// What to do: a workflow action's id, `sign`, `confirm`, `follow_up`, `file` or `visit`.
    pub action: String,
    /// The other actions one may take on the same case.
    pub also: Vec<String>,
    pub due_at: Option<Timestamp>,
    pub overdue: bool,
    pub rule: Option<String>,
    /// What it is, in a few words ("信用额度申请 · 审批").
    pub title: Text,
    /// Where it stands or why it waits.
    pub detail: Text,
    pub customer_id: Option<i64>,
    pub customer_name: Option<String>,
    /// When it started waiting.
    pub since: Timestamp,
    /// The page where it is done.
    pub href: String,
}

impl Item {
    /// Overdue first (longest overdue first), then by due time, then the oldest without one.
    fn order(&self) -> (bool, bool, Option<Timestamp>, Timestamp, Kind, i64) {
        (
            !self.overdue,
            self.due_at.is_none(),
            self.due_at,
            self.since,
            self.kind,
            self.id,
        )
    }
}

/// What waits for a person: the first `limit` things in order, and whether more wait.
#[derive(Debug, Clone, Default)]
pub struct Inbox {
    pub items: Vec<Item>,
    pub more: bool,
}

impl Inbox {
    pub fn count(&self, kind: Kind) -> usize {
        self.items.iter().filter(|i| i.kind == kind).count()
    }

    pub fn overdue(&self) -> usize {
        self.items.iter().filter(|i| i.overdue).count()
    }
}

/// What waits for the caller now (of one kind, when `only` names it), at most `limit` things
/// and whether more wait.
pub async fn of(state: &AppState, caller: &Caller, only: Option<Kind>, limit: usize) -> Result<Inbox, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let now = state.now();
    let n = limit + 1;
    let mut items = Vec::new();
    let wanted = |k: Kind| only.is_none_or(|o| o == k);
    if wanted(Kind::Case) {
        cases(state, caller, &policy, now, n, &mut items).await?;
    }
    if wanted(Kind::CardSignature) {
        signatures(state, caller, &policy, n, &mut items).await?;
    }
    if wanted(Kind::FollowUpConfirmation) {
        confirmations(state, caller, &policy, now, n, &mut items).await?;
    }
    if wanted(Kind::FollowUpDue) {
        follow_ups_due(state, caller, &policy, now, n, &mut items).await?;
    }
    if wanted(Kind::EventFiling) {
        filings(state, caller, &policy, now, n, &mut items).await?;
    }
    if wanted(Kind::VisitDue) {
        visits(state, caller, &policy, now, n, &mut items).await?;
    }
    items.sort_by_key(Item::order);
    let more = items.len() > limit;
    items.truncate(limit);
    Ok(Inbox { items, more })
}

/// The roles the caller holds by name (an admin's `admin` role excluded).
fn holds(caller: &Caller, roles: &[String]) -> bool {
    roles
        .iter()
        .any(|r| r != kehu_domain::policy::ADMIN_ROLE && caller.roles.contains(r))
}

/// Whom the caller heads for each workflow that seats the head of a named person's unit
/// (`head_of:FIELD`) and whose `head_roles` the caller holds.
fn headed(policy: &Policy, caller: &Caller, staffing: &Staffing) -> HashMap<String, Vec<i64>> {
    policy
        .workflows
        .iter()
        .filter(|w| w.heads_seat(&caller.roles))
        .map(|w| (w.id.clone(), staffing.headed_by(w, caller.id())))
        .collect()
}

/// The places (workflow, state) where an action waits for the caller's roles, and those where
/// only a relation to the case makes it theirs: they opened it, hold its customer, or head a
/// person it names (`headed`, per workflow).
fn places(policy: &Policy, caller: &Caller, headed: &HashMap<String, Vec<i64>>) -> Vec<Waiting> {
    let mut out = Vec::new();
    for wf in &policy.workflows {
        for s in &wf.states {
            let here: Vec<_> = wf.actions.iter().filter(|a| a.from.contains(&s.id)).collect();
            // A step that moves the case waits for whoever may take it; one that leaves it where
            // it is (a record, a renewal, a review) only once a timer has found the case late.
            let signoffs: Vec<String> = here
                .iter()
                .filter(|a| a.signoff.is_several())
                .map(|a| a.id.clone())
                .collect();
            let signed = (!signoffs.is_empty()).then(|| (caller.id(), signoffs));
            let place = |acts: &[&&workflow::Action], overdue_only: bool| {
                let seats = || acts.iter().flat_map(|a| &a.by);
                if acts.iter().any(|a| holds(caller, &a.by)) {
                    return Some(Waiting {
                        workflow: wf.id.clone(),
                        state: s.id.clone(),
                        mine: None,
                        signed: signed.clone(),
                        overdue_only,
                    });
                }
                let mine = Mine {
                    opener: seats().any(|r| r == OPENER).then(|| caller.id()),
                    holder: seats().any(|r| r == OWNER).then(|| caller.id()),
                    member: seats().any(|r| r == workflow::PEOPLE).then(|| caller.id()),
                    headed: if seats().any(|r| r.starts_with(HEAD_OF)) {
                        headed.get(&wf.id).cloned().unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                };
                (mine.opener.is_some() || mine.holder.is_some() || mine.member.is_some() || !mine.headed.is_empty())
                    .then(|| Waiting {
                        workflow: wf.id.clone(),
                        state: s.id.clone(),
                        mine: Some(mine),
                        signed: signed.clone(),
                        overdue_only,
                    })
            };
            let (moving, staying): (Vec<_>, Vec<_>) = here.iter().partition(|a| moves(a, &s.id));
            if let Some(p) = place(&moving, false).or_else(|| place(&staying, true)) {
                out.push(p);
            }
        }
    }
    out
}

/// Whether taking `a` in `state` moves the case on.
fn moves(a: &workflow::Action, state: &str) -> bool {
    a.moves_from(state)
}

fn action_names(wf: &Workflow, ids: &[&str]) -> Text {
    let names: Vec<&Text> = ids.iter().filter_map(|id| wf.action(id)).map(|a| &a.name).collect();
    Text::new(
        names.iter().map(|n| n.zh.as_str()).collect::<Vec<_>>().join("、"),
        names.iter().map(|n| n.en.as_str()).collect::<Vec<_>>().join(", "),
    )
}

async fn cases(
    state: &AppState,
    caller: &Caller,
    policy: &Policy,
    now: Timestamp,
    n: usize,
    out: &mut Vec<Item>,
) -> Result<(), Failure> {
    // The tenant's staffing, read once for the few policies whose workflows seat relations.
    let staffing = match policy.workflows.iter().any(workflow::has_relation_seats) {
        true => Some(Staffing::load(state, caller.tenant_id).await?),
        false => None,
    };
    let headed = staffing.as_ref().map(|s| headed(policy, caller, s)).unwrap_or_default();
    let places = places(policy, caller, &headed);
    if places.is_empty() {
        return Ok(());
    }
    let seen = crate::visibility::view(state, caller, policy).await?;
    let rows = store::waiting(&state.db, caller.tenant_id, &places, n as i64, &seen).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let steps = store::steps_of(&state.db, caller.tenant_id, &ids).await?;
    let timers = deadlines::prefixed_of(&state.db, caller.tenant_id, &ids, crate::cases::TIMER.kind).await?;
    let mut steps_by: HashMap<i64, Vec<_>> = HashMap::new();
    for s in steps {
        steps_by.entry(s.case_id).or_default().push(s);
    }
    let mut due_by: HashMap<i64, i64> = HashMap::new();
    for d in &timers {
        let e = due_by.entry(d.subject_id).or_insert(d.due_at);
        *e = (*e).min(d.due_at);
    }
    let actor = crate::cases::actor(caller);
    // Who holds the relation seats, read once for the few workflows that have them.
    let mut seats = match &staffing {
        Some(s) => crate::cases::seated_many(state, policy, &rows, s).await?,
        None => HashMap::new(),
    };
    for row in rows {
        let Some(wf) = policy.workflow(&row.workflow) else {
            continue;
        };
        let facts = row.facts(steps_by.get(&row.id).map(Vec::as_slice).unwrap_or_default());
        let seated = seats.remove(&row.id).unwrap_or_default();
        let in_seat = |seat: &String| {
            workflow::is_relation(seat) && seated.iter().any(|(s, ids)| s == seat && ids.contains(&caller.id()))
        };
        let mut mine: Vec<&workflow::Action> = workflow::available_seated(wf, &facts, &actor, &seated)
            .into_iter()
            .filter(|a| {
                holds(caller, &a.by)
                    || (a.by.iter().any(|r| r == OPENER) && row.opened_by == caller.id())
                    || a.by.iter().any(in_seat)
            })
            .filter(|a| moves(a, &row.state) || row.overdue_since.is_some())
            .collect();
        // What clears a late case comes first: the step that restarts the timer that found it
        // late (the yearly review, R1.9), then any that moves it or restarts a count (R12.3).
        mine.sort_by_key(|a| workflow::urgency(wf, &facts, a));
        let mine: Vec<&str> = mine.into_iter().map(|a| a.id.as_str()).collect();
        let Some((first, also)) = mine.split_first() else {
            continue;
        };
        let due_at = due_by.get(&row.id).copied().map(ts);
        let here = wf.state(&row.state).map(|s| s.name.clone()).unwrap_or_default();
        let what = action_names(wf, &mine);
        out.push(Item {
            kind: Kind::Case,
            id: row.id,
            action: first.to_string(),
            also: also.iter().map(|a| a.to_string()).collect(),
            due_at,
            overdue: row.overdue_since.is_some() || due_at.is_some_and(|d| d <= now),
            rule: wf.action(first).map(|a| a.rule.to_string()),
            title: Text::new(
                format!("{} #{} · {}", wf.name.zh, row.id, what.zh),
                format!("{} #{} · {}", wf.name.en, row.id, what.en),
            ),
            detail: Text::new(
                format!("{}，{} 开启", here.zh, row.opened_by_name),
                format!("{}, opened by {}", here.en, row.opened_by_name),
            ),
            customer_id: row.customer_id,
            customer_name: row.customer_name.clone(),
            since: ts(row.updated_at),
            href: format!("/cases/{}", row.id),
        });
    }
    Ok(())
}

/// R5.1: the cards waiting for a signature by one of the caller's roles.
async fn signatures(
    state: &AppState,
    caller: &Caller,
    policy: &Policy,
    n: usize,
    out: &mut Vec<Item>,
) -> Result<(), Failure> {
    let Some(conf) = policy.claims.confirmation.as_ref().filter(|c| holds(caller, &c.roles)) else {
        return Ok(());
    };
    let seen = crate::visibility::view(state, caller, policy).await?;
    let now = state.now();
    let rows = claims::pending(&state.db, caller.tenant_id, n as i64, &seen).await?;
    let customers: Vec<i64> = rows.iter().map(|c| c.customer_id).collect();
    let standing = claims::valid_for_customers(&state.db, caller.tenant_id, &customers).await?;
    let me = caller.facts();
    for c in rows {
        // Only what the caller's signature would do now (not their own card, under separation
        // of duties; not a customer another division holds, R11.4): the decision says.
        let others: Vec<_> = standing
            .iter()
            .filter(|o| o.customer_id == c.customer_id && o.id != c.id)
            .map(|o| o.facts())
            .collect();
        if decide_confirmation(policy, now, &c.facts(), &others, &me).is_err() {
            continue;
        }
        out.push(Item {
            kind: Kind::CardSignature,
            id: c.id,
            action: "sign".into(),
            also: Vec::new(),
            due_at: None,
            overdue: false,
            rule: Some(conf.rule.to_string()),
            title: Text::new(
                format!("签字确认 {} 的登记", c.staff_name),
                format!("Confirm {}'s claim", c.staff_name),
            ),
            detail: Text::new(
                format!("确认后生效（{}）", conf.rule),
                format!("It takes effect once confirmed ({})", conf.rule),
            ),
            customer_id: Some(c.customer_id),
            customer_name: Some(c.customer_name.clone()),
            since: ts(c.registered_at),
            href: format!("/customers/{}", c.customer_id),
        });
    }
    Ok(())
}

/// R5.2: the follow-ups that count only once one of the caller's roles confirms them.
async fn confirmations(
    state: &AppState,
    caller: &Caller,
    policy: &Policy,
    now: Timestamp,
    n: usize,
    out: &mut Vec<Item>,
) -> Result<(), Failure> {
    let conf = policy
        .claims
        .lifecycle
        .as_ref()
        .and_then(|lc| lc.confirm_follow_up.as_ref());
    let Some(conf) = conf.filter(|c| holds(caller, &c.roles)) else {
        return Ok(());
    };
    let seen = crate::visibility::view(state, caller, policy).await?;
    let rows = claims::with_unconfirmed(&state.db, caller.tenant_id, n as i64, &seen).await?;
    let customers: Vec<i64> = rows.iter().map(|c| c.customer_id).collect();
    let acts = activities::for_customers(&state.db, caller.tenant_id, &customers).await?;
    for c in rows {
        let mine: Vec<_> = acts
            .iter()
            .filter(|a| a.customer_id == c.customer_id && a.staff_id == c.staff_id)
            .collect();
        let follow_ups: Vec<_> = mine.iter().filter_map(|a| a.follow_up()).collect();
        let Standing::Due(d) = standing(policy, &c.facts(), &follow_ups, now) else {
            continue;
        };
        let Some(f) = d
            .awaiting_confirmation
            .and_then(|id| follow_ups.iter().find(|f| f.id == id))
        else {
            continue;
        };
        if decide_follow_up_confirmation(policy, &c.facts(), &follow_ups, f.id, &caller.facts(), now).is_err() {
            continue;
        }
        let due = conf.within.after(f.at, &policy.tz);
        out.push(Item {
            kind: Kind::FollowUpConfirmation,
            id: f.id,
            action: "confirm".into(),
            also: Vec::new(),
            due_at: Some(due),
            overdue: due <= now,
            rule: Some(conf.rule.to_string()),
            title: Text::new(
                format!("确认 {} 的第 {} 次跟进", c.staff_name, conf.number),
                format!("Confirm {}'s follow-up {}", c.staff_name, conf.number),
            ),
            detail: Text::new(
                format!("逾期确认则以确认时间计（{}）", conf.rule),
                format!("Confirmed late, it counts from the confirmation ({})", conf.rule),
            ),
            customer_id: Some(c.customer_id),
            customer_name: Some(c.customer_name.clone()),
            since: f.at,
            href: format!("/customers/{}", c.customer_id),
        });
    }
    Ok(())
}

/// The caller's own cards whose follow-up limit is near: within the policy's warning, or a day.
async fn follow_ups_due(
    state: &AppState,
    caller: &Caller,
    policy: &Policy,
    now: Timestamp,
    n: usize,
    out: &mut Vec<Item>,
) -> Result<(), Failure> {
    let Some(lc) = &policy.claims.lifecycle else {
        return Ok(());
    };
    let horizon = match lc.warn_before {
        Some(w) => w.after(now, &policy.tz),
        None => now.checked_add(SignedDuration::from_hours(24)).unwrap_or(now),
    };
    let rows = claims::due_before(&state.db, caller.tenant_id, caller.id(), horizon, n as i64).await?;
    let customers: Vec<i64> = rows.iter().map(|c| c.customer_id).collect();
    let acts = activities::for_customers(&state.db, caller.tenant_id, &customers).await?;
    for c in rows {
        let follow_ups: Vec<_> = acts
            .iter()
            .filter(|a| a.customer_id == c.customer_id && a.staff_id == c.staff_id)
            .filter_map(|a| a.follow_up())
            .collect();
        let Standing::Due(d) = standing(policy, &c.facts(), &follow_ups, now) else {
            continue;
        };
        // Waiting for a leader's confirmation, it is the leader's to do.
        if d.awaiting_confirmation.is_some() {
            continue;
        }
        out.push(Item {
            kind: Kind::FollowUpDue,
            id: c.id,
            action: "follow_up".into(),
            also: Vec::new(),
            due_at: Some(d.at),
            overdue: d.at <= now,
            rule: Some(d.rule.to_string()),
            title: Text::new(
                format!("{}：{}", c.customer_name, d.what.zh),
                format!("{}: {}", c.customer_name, d.what.en),
            ),
            detail: Text::new(
                format!("到期未跟进，登记失效（{}）", d.rule),
                format!("Missed, the claim lapses ({})", d.rule),
            ),
            customer_id: Some(c.customer_id),
            customer_name: Some(c.customer_name.clone()),
            since: c.effective_at.map_or(now, ts),
            href: format!("/customers/{}", c.customer_id),
        });
    }
    Ok(())
}

/// R11.3: the joint events whose confirmed invitations of the caller's division are unfiled.
async fn filings(
    state: &AppState,
    caller: &Caller,
    policy: &Policy,
    now: Timestamp,
    n: usize,
    out: &mut Vec<Item>,
) -> Result<(), Failure> {
    let (Some(rules), Some(unit)) = (policy.events.as_ref(), caller.staff.unit_id) else {
        return Ok(());
    };
    if !holds(caller, &rules.filers) {
        return Ok(());
    }
    let seen = crate::visibility::view(state, caller, policy).await?;
    for (event_id, due, count) in claims::unfiled(&state.db, caller.tenant_id, unit, n as i64).await? {
        let Ok(ev) = kehu_store::events::get(&state.db, caller.tenant_id, event_id, &seen).await else {
            continue;
        };
        let due = ts(due);
        out.push(Item {
            kind: Kind::EventFiling,
            id: event_id,
            action: "file".into(),
            also: Vec::new(),
            due_at: Some(due),
            overdue: due <= now,
            rule: Some(rules.rule.to_string()),
            title: Text::new(
                format!("报备「{}」的 {count} 份邀约", ev.name),
                format!("File {count} invitation(s) to “{}”", ev.name),
            ),
            detail: Text::new(
                format!("截止前未报备，本部门计迟报（{}）", rules.rule),
                format!("Unfiled by the cut-off, the division is late ({})", rules.rule),
            ),
            customer_id: None,
            customer_name: None,
            since: ts(ev.created_at),
            href: format!("/events/{event_id}"),
        });
    }
    Ok(())
}

/// R1.6: the visits the caller owes within the next three days or overdue.
async fn visits(
    state: &AppState,
    caller: &Caller,
    policy: &Policy,
    now: Timestamp,
    n: usize,
    out: &mut Vec<Item>,
) -> Result<(), Failure> {
    if policy.cadence.is_none() || !caller.may(policy, Permission::CustomersRead) {
        return Ok(());
    }
    let horizon = now.checked_add(SignedDuration::from_hours(72)).unwrap_or(now);
    let lines = crate::cadence::lines(state, caller, Some(caller.id()), None, false).await?;
    for l in lines.into_iter().filter(|l| l.due <= horizon).take(n) {
        out.push(Item {
            kind: Kind::VisitDue,
            id: l.customer_id,
            action: "visit".into(),
            also: Vec::new(),
            due_at: Some(l.due),
            overdue: l.overdue,
            rule: Some(l.decision.rule.to_string()),
            title: Text::new(format!("拜访 {}", l.name), format!("Visit {}", l.name)),
            detail: l.decision.text.clone(),
            customer_id: Some(l.customer_id),
            customer_name: Some(l.name.clone()),
            since: l.due,
            href: format!("/customers/{}", l.customer_id),
        });
    }
    Ok(())
}
