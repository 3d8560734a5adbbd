//! Joint events of several divisions (R11.3): scheduling, invitations that name an event, the
//! divisions' filings, the late-filing deadline, losing a customer to the other division, and
//! checking invited customers in at the event, which earns a referrer their points (R11.2).

use kehu_domain::claim::ClaimStatus;
use kehu_domain::event::{self, Division, EventFacts, Invitation, NewEvent, Session};
use kehu_domain::{Decision, Permission, Policy, Text, Timestamp};
use kehu_store::claims::{self, ClaimRow};
use kehu_store::deadlines;
use kehu_store::events::{self as store, AttendanceRow, EventRow, NewEventRow};
use kehu_store::history::{self, NewEvent as HistoryEvent};
use kehu_store::{StoreError, Tx, staff, ts, units};

use crate::auth::Caller;
use crate::{AppState, Failure};

fn event_not_found() -> Failure {
    Failure::not_found(Text::new("找不到该会议", "No such event"))
}

async fn unit_names(state: &AppState, tenant_id: i64) -> Result<Vec<(i64, String)>, Failure> {
    Ok(units::list(&state.db, tenant_id)
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect())
}

/// The invitation a claim stands for; `confirmed_at` overrides the claim's own.
pub fn invitation(c: &ClaimRow, confirmed_at: Option<Timestamp>) -> Option<Invitation> {
    Some(Invitation {
        claim_id: c.id,
        customer_id: c.customer_id,
        customer_name: c.customer_name.clone(),
        staff_id: c.staff_id,
        staff_name: c.staff_name.clone(),
        unit_id: c.event_unit?,
        confirmed_at: confirmed_at.or(c.confirmed_at.map(ts)).or(c.effective_at.map(ts))?,
        due_at: ts(c.filing_due?),
        filed_at: c.filed_at.map(ts),
    })
}

/// What an organiser asks for.
pub struct Schedule<'a> {
    pub name: &'a str,
    pub starts_at: Timestamp,
    pub session: Session,
    pub division_ids: &'a [i64],
}

/// R11.3: schedules a joint event of the divisions named, in their order.
pub async fn create(state: &AppState, caller: &Caller, s: Schedule<'_>) -> Result<EventRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let name = crate::service::clean(Some(s.name.to_string()), 100, "name")?
        .ok_or_else(|| Failure::invalid("invalid_field", Text::new("请填写会议名称", "Name the event")))?;
    let names = unit_names(state, caller.tenant_id).await?;
    let mut divisions = Vec::new();
    for id in s.division_ids {
        let unit = names.iter().find(|(u, _)| u == id).ok_or_else(|| {
            Failure::invalid(
                "invalid_unit",
                Text::new(format!("部门 {id} 不存在"), format!("No unit {id}")),
            )
        })?;
        divisions.push(Division {
            unit_id: unit.0,
            name: unit.1.clone(),
        });
    }
    let now = state.now();
    kehu_domain::policy::limits::check_ahead(&policy, "starts_at", s.starts_at, now)?;
    let decision = event::decide_new_event(
        &policy,
        &caller.facts(),
        &NewEvent {
            name: &name,
            starts_at: s.starts_at,
            session: s.session,
            divisions: &divisions,
        },
        now,
    )?;
    let mut tx = state.db.begin().await?;
    let row = store::insert(
        &mut tx,
        caller.tenant_id,
        NewEventRow {
            name: &name,
            starts_at: s.starts_at,
            session: s.session,
            unit_ids: s.division_ids,
            created_by: caller.id(),
            policy_version: policy.version,
        },
        now,
    )
    .await?;
    history::append(
        &mut tx,
        caller.tenant_id,
        now,
        HistoryEvent {
            actor_id: Some(caller.id()),
            entity: "event",
            entity_id: row.id,
            action: "schedule",
            after: Some(row.to_json()),
            decision: Some(&decision),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// A division of an event with its close and its invitations.
pub struct DivisionView {
    pub division: Division,
    pub closes_at: Timestamp,
    pub invitations: Vec<ClaimRow>,
}

/// An event as its page shows it.
pub struct EventView {
    pub row: EventRow,
    pub facts: EventFacts,
    pub divisions: Vec<DivisionView>,
}

fn require_read(policy: &Policy, caller: &Caller) -> Result<(), Failure> {
    event::rules(policy)?;
    caller.require(policy, Permission::CustomersRead)
}

/// The events, upcoming first.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<(EventRow, EventFacts)>, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    require_read(&policy, caller)?;
    let names = unit_names(state, caller.tenant_id).await?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    let rows = store::list(&state.db, caller.tenant_id, state.now(), 200, &view).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let f = r.facts(&names);
            (r, f)
        })
        .collect())
}

/// One event with each division's invitations.
pub async fn get(state: &AppState, caller: &Caller, id: i64) -> Result<EventView, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    require_read(&policy, caller)?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    let row = store::get(&state.db, caller.tenant_id, id, &view)
        .await
        .map_err(|_| event_not_found())?;
    let names = unit_names(state, caller.tenant_id).await?;
    let facts = row.facts(&names);
    let rules = event::rules(&policy)?;
    let all = claims::for_event(&state.db, caller.tenant_id, id, &view).await?;
    let divisions = facts
        .divisions
        .iter()
        .enumerate()
        .map(|(pos, d)| DivisionView {
            division: d.clone(),
            closes_at: event::closes_at(&policy, rules, &facts, pos),
            invitations: all
                .iter()
                .filter(|c| c.event_unit == Some(d.unit_id))
                .cloned()
                .collect(),
        })
        .collect();
    Ok(EventView { row, facts, divisions })
}

async fn facts_tx(tx: &mut Tx, state: &AppState, tenant_id: i64, event_id: i64) -> Result<EventFacts, Failure> {
    let row = store::get_tx(tx, tenant_id, event_id).await?;
    let names = unit_names(state, tenant_id).await?;
    Ok(row.facts(&names))
}

/// At registration: makes `claim` an invitation to `event_id` for the holder's division, if the
/// division takes part and has not closed its invitations.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn attach(
    tx: &mut Tx,
    state: &AppState,
    policy: &Policy,
    caller: &Caller,
    claim: ClaimRow,
    event_id: i64,
    holder_unit: Option<i64>,
    now: Timestamp,
) -> Result<ClaimRow, Failure> {
    event::rules(policy)?;
    let row = match store::get_tx(tx, caller.tenant_id, event_id).await {
        Ok(row) => row,
        Err(StoreError::NotFound) => {
            return Err(Failure::invalid(
                "invalid_event",
                Text::new(format!("会议 {event_id} 不存在"), format!("No event {event_id}")),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let ev = row.facts(&unit_names(state, caller.tenant_id).await?);
    let pos = event::division_of(policy, &ev, holder_unit)?;
    event::filing_due(policy, &ev, pos, now)?;
    let row = claims::set_event(tx, caller.tenant_id, claim.id, event_id, ev.divisions[pos].unit_id).await?;
    confirmed(tx, state, policy, row, now).await
}

/// When an invitation becomes valid (confirmed): it is due to be filed by its division's
/// cut-off, and another division's invitation of the customer that was late to be filed loses
/// the customer to it (R11.3).
pub(crate) async fn confirmed(
    tx: &mut Tx,
    state: &AppState,
    policy: &Policy,
    claim: ClaimRow,
    now: Timestamp,
) -> Result<ClaimRow, Failure> {
    let (Some(event_id), Some(unit)) = (claim.event_id, claim.event_unit) else {
        return Ok(claim);
    };
    if claim.status() != ClaimStatus::Valid || claim.filing_due.is_some() {
        return Ok(claim);
    }
    let Some(rules) = policy.events.as_ref() else {
        return Ok(claim);
    };
    let tenant = claim.tenant_id;
    let ev = facts_tx(tx, state, tenant, event_id).await?;
    let pos = event::division_of(policy, &ev, Some(unit))?;
    let due = event::filing_due(policy, &ev, pos, now)?;
    let claim = claims::set_filing_due(tx, tenant, claim.id, due).await?;
    deadlines::schedule(
        tx,
        tenant,
        FILING.kind,
        claim.id,
        Some(claim.customer_id),
        due,
        &rules.rule,
        now,
    )
    .await?;
    let Some(me) = invitation(&claim, Some(now)) else {
        return Ok(claim);
    };
    let others = claims::for_customer_tx(tx, tenant, claim.customer_id).await?;
    for other in others
        .iter()
        .filter(|o| o.id != claim.id && o.event_id == Some(event_id) && o.status() == ClaimStatus::Valid)
    {
        let Some(held) = invitation(other, None) else {
            continue;
        };
        let Some(decision) = event::decide_lost(policy, &ev, &held, &me) else {
            continue;
        };
        lose(tx, other, &decision, now).await?;
    }
    Ok(claim)
}

async fn lose(tx: &mut Tx, claim: &ClaimRow, decision: &Decision, now: Timestamp) -> Result<(), Failure> {
    let ending = crate::lifecycle::Ending {
        status: ClaimStatus::Expired,
        by: None,
        reason: None,
        action: "lost_to_division",
        decision,
        at: now,
    };
    crate::lifecycle::end_claim(tx, claim, ending).await?;
    Ok(())
}

/// R11.3: the caller files every confirmed invitation of their division not yet filed.
pub async fn file(state: &AppState, caller: &Caller, event_id: i64) -> Result<(Decision, Vec<ClaimRow>), Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    event::rules(&policy)?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    // One filing of an event at a time.
    let lock = format!(
        "SELECT id FROM joint_events WHERE tenant_id = $1 AND id = $2{}",
        tx.for_update()
    );
    let found: Option<(i64,)> = tx
        .fetch_optional(&lock, kehu_store::args![caller.tenant_id, event_id])
        .await?;
    if found.is_none() {
        return Err(event_not_found());
    }
    let ev = facts_tx(&mut tx, state, caller.tenant_id, event_id).await?;
    let pos = event::division_of(&policy, &ev, caller.staff.unit_id)?;
    let unit = ev.divisions[pos].unit_id;
    let rows: Vec<ClaimRow> = claims::for_event_tx(&mut tx, caller.tenant_id, event_id, Some(unit))
        .await?
        .into_iter()
        .filter(|c| c.status() == ClaimStatus::Valid && c.filed_at.is_none() && c.filing_due.is_some())
        .collect();
    let unfiled: Vec<Invitation> = rows.iter().filter_map(|c| invitation(c, None)).collect();
    let decision = event::decide_filing(&policy, &caller.facts(), &ev, pos, &unfiled, now)?;
    for row in &rows {
        let unfired = deadlines::cancel(&mut tx, caller.tenant_id, FILING.kind, row.id).await?;
        // A cut-off that passed before the scheduler fired it still charges, before the filing
        // lands.
        if let Some(due) = row.filing_due.map(ts).filter(|due| unfired && *due <= now) {
            late(&mut tx, state, &policy, &ev, row, due, now).await?;
        }
    }
    let ids: Vec<i64> = rows.iter().map(|c| c.id).collect();
    claims::file(&mut tx, caller.tenant_id, &ids, caller.id(), now).await?;
    history::append(
        &mut tx,
        caller.tenant_id,
        now,
        HistoryEvent {
            actor_id: Some(caller.id()),
            entity: "event",
            entity_id: event_id,
            action: "file_invitations",
            after: Some(serde_json::json!({ "unit_id": unit, "claims": ids })),
            decision: Some(&decision),
            ..Default::default()
        },
    )
    .await?;
    let filed = claims::get_many_tx(&mut tx, caller.tenant_id, &ids).await?;
    tx.commit().await?;
    Ok((decision, filed))
}

/// The filing deadline of one invitation has come: if it is still unfiled, its division was
/// late; the lateness is recorded on the claim and the division's heads are charged once a day.
/// A confirmed invitation to a joint event is filed by its cut-off (R11.3); the subject is the
/// claim.
pub const FILING: crate::deadlines::Owner = crate::deadlines::Owner {
    kind: "event_filing",
    prefix: false,
    fire: |tx, state, policy, d, now| Box::pin(filing_due(tx, state, policy, d, now)),
};

pub(crate) async fn filing_due(
    tx: &mut Tx,
    state: &AppState,
    policy: &Policy,
    d: &deadlines::DeadlineRow,
    now: Timestamp,
) -> Result<(), Failure> {
    let claim = match claims::get_tx(tx, d.tenant_id, d.subject_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let Some(event_id) = claim.event_id else {
        return Ok(());
    };
    if claim.filed_at.is_some() || claim.status() != ClaimStatus::Valid {
        return Ok(());
    }
    let ev = facts_tx(tx, state, d.tenant_id, event_id).await?;
    late(tx, state, policy, &ev, &claim, ts(d.due_at), now).await
}

/// `claim`'s division missed the cut-off `due`: the lateness is recorded on the claim and the
/// division's heads are charged, once per head and day (a filing after the cut-off that the
/// scheduler has not fired yet charges the same way).
async fn late(
    tx: &mut Tx,
    state: &AppState,
    policy: &Policy,
    ev: &EventFacts,
    claim: &ClaimRow,
    due: Timestamp,
    now: Timestamp,
) -> Result<(), Failure> {
    let Some(unit) = claim.event_unit else {
        return Ok(());
    };
    let Ok(pos) = event::division_of(policy, ev, Some(unit)) else {
        return Ok(());
    };
    let (tenant, event_id) = (claim.tenant_id, ev.id);
    let unfiled: Vec<Invitation> = claims::for_event_tx(tx, tenant, event_id, Some(unit))
        .await?
        .iter()
        .filter(|c| {
            c.status() == ClaimStatus::Valid && c.filed_at.is_none() && c.filing_due.is_some_and(|f| ts(f) <= due)
        })
        .filter_map(|c| invitation(c, None))
        .collect();
    let filers = policy.events.as_ref().map(|r| r.filers.clone()).unwrap_or_default();
    let heads: Vec<_> = staff::list(&state.db, tenant)
        .await?
        .into_iter()
        .filter(|s| s.active && s.unit_id == Some(unit) && Policy::holds_any(&s.role_list(), &filers))
        .map(|s| s.facts())
        .collect();
    let Some((code, decision)) = event::decide_late(policy, ev, pos, due, &unfiled, &heads) else {
        return Ok(());
    };
    history::append(
        tx,
        tenant,
        now,
        HistoryEvent {
            actor_id: None,
            entity: "claim",
            entity_id: claim.id,
            customer_id: Some(claim.customer_id),
            action: "filing_late",
            decision: Some(&decision),
            ..Default::default()
        },
    )
    .await?;
    if let Some(code) = code {
        let day = due.to_zoned(policy.tz.clone()).date();
        for head in &heads {
            crate::lifecycle::charge(
                tx,
                policy,
                crate::lifecycle::Charge {
                    tenant_id: tenant,
                    staff_id: head.id,
                    customer_id: None,
                    code: &code,
                    subject: format!("event:{event_id}:unit:{unit}:day:{day}:head:{}", head.id),
                    decision: decision.clone(),
                    at: now,
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// R11.2: checks an invited customer in at a joint event, and charges the referral points of a
/// new customer an existing one brought, in the same transaction.
pub async fn check_in(
    state: &AppState,
    caller: &Caller,
    event_id: i64,
    customer_id: i64,
) -> Result<(AttendanceRow, Decision), Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    event::rules(&policy)?;
    let now = state.now();
    let view = crate::visibility::view(state, caller, &policy).await?;
    // Only at an event the caller sees.
    store::get(&state.db, caller.tenant_id, event_id, &view)
        .await
        .map_err(|_| event_not_found())?;
    let mut tx = state.db.begin().await?;
    let row = match store::get_tx(&mut tx, caller.tenant_id, event_id).await {
        Ok(row) => row,
        Err(StoreError::NotFound) => return Err(event_not_found()),
        Err(e) => return Err(e.into()),
    };
    let no_customer = || Failure::invalid("invalid_customer", Text::new("该客户不存在", "No such customer"));
    // One check-in of a customer at a time, of a customer the caller sees.
    claims::lock_customer_in_view(&mut tx, caller.tenant_id, customer_id, &view)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => no_customer(),
            e => e.into(),
        })?;
    let customer = kehu_store::customers::get_tx(&mut tx, caller.tenant_id, customer_id).await?;
    let ev = row.facts(&unit_names(state, caller.tenant_id).await?);
    let held: Option<ClaimRow> = claims::for_customer_tx(&mut tx, caller.tenant_id, customer_id)
        .await?
        .into_iter()
        .filter(|c| c.event_id == Some(event_id) && c.status() == ClaimStatus::Valid && c.filing_due.is_some())
        .min_by_key(|c| (c.effective_at, c.id));
    let inv = held.as_ref().and_then(|c| invitation(c, None));
    let before = store::attendance_of_tx(&mut tx, caller.tenant_id, event_id, customer_id).await?;
    let decision = event::decide_check_in(
        &policy,
        &caller.facts(),
        &ev,
        &event::Arrival {
            customer_id,
            customer_name: &customer.name,
            invitation: inv.as_ref(),
            checked_in_at: before.map(|b| ts(b.checked_in_at)),
        },
        now,
    )?;
    let attended = store::check_in(
        &mut tx,
        caller.tenant_id,
        store::NewAttendance {
            event_id,
            customer_id,
            claim_id: held.as_ref().map(|c| c.id),
            checked_in_by: caller.id(),
            at: now,
            policy_version: policy.version,
        },
    )
    .await?;
    history::append(
        &mut tx,
        caller.tenant_id,
        now,
        HistoryEvent {
            actor_id: Some(caller.id()),
            entity: "event",
            entity_id: event_id,
            customer_id: Some(customer_id),
            action: "check_in",
            after: Some(attended.to_json()),
            decision: Some(&decision),
            ..Default::default()
        },
    )
    .await?;
    if let Some(claim) = &held {
        referral_points(&mut tx, &policy, claim, &ev, now).await?;
    }
    tx.commit().await?;
    Ok((attended, decision))
}

/// R11.2: who was checked in at the event, in the order they arrived.
pub async fn attendance(state: &AppState, caller: &Caller, event_id: i64) -> Result<Vec<AttendanceRow>, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    require_read(&policy, caller)?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    store::get(&state.db, caller.tenant_id, event_id, &view)
        .await
        .map_err(|_| event_not_found())?;
    Ok(store::attendance(&state.db, caller.tenant_id, event_id).await?)
}

/// Whether the caller may check customers in at events (R11.2).
pub fn may_check_in(policy: &Policy, caller: &Caller) -> bool {
    policy
        .events
        .as_ref()
        .is_some_and(|r| Policy::holds_any(&caller.roles, &r.attendance.roles))
}

/// The upcoming joint events the caller's division may still invite to, soonest first:
/// (id, "name · starts"). Empty without joint-event rules or a division.
pub async fn open_for(state: &AppState, caller: &Caller) -> Result<Vec<(i64, String)>, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    if policy.events.is_none() || caller.staff.unit_id.is_none() {
        return Ok(Vec::new());
    }
    let now = state.now();
    let names = unit_names(state, caller.tenant_id).await?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    let rows = store::list(&state.db, caller.tenant_id, now, 50, &view).await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.starts_at > kehu_store::ms(now))
        .filter_map(|r| {
            let ev = r.facts(&names);
            let pos = event::division_of(&policy, &ev, caller.staff.unit_id).ok()?;
            event::filing_due(&policy, &ev, pos, now).ok()?;
            Some((r.id, format!("{} · {}", r.name, policy.local_time(ev.starts_at))))
        })
        .collect())
}

/// R11.2: a new customer brought by an existing one (`referrer_id`) takes part in the event
/// (is checked in): the referrer earns the points, once per new customer and event.
async fn referral_points(
    tx: &mut Tx,
    policy: &Policy,
    claim: &ClaimRow,
    ev: &EventFacts,
    now: Timestamp,
) -> Result<(), Failure> {
    let tenant = claim.tenant_id;
    let customer = kehu_store::customers::get_tx(tx, tenant, claim.customer_id).await?;
    let Some(referrer_id) = customer.referrer_id else {
        return Ok(());
    };
    let referrer = kehu_store::customers::get_tx(tx, tenant, referrer_id).await?;
    let r = kehu_domain::sale::Referral {
        referrer_id,
        referrer_name: &referrer.name,
        customer_id: customer.id,
        customer_name: &customer.name,
        event_id: ev.id,
        event: &ev.name,
    };
    if let Some(charge) = kehu_domain::sale::decide_referral_attendance(policy, &r, now) {
        let subject = format!("event:{}:customer:{}", ev.id, customer.id);
        crate::lifecycle::charge_customer(tx, tenant, referrer_id, &charge, 1, subject, now).await?;
    }
    Ok(())
}
