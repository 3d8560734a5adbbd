//! Rules that run on time, applied: a claim's follow-up limit as a deadline (R5.2, R5.4, R7.7),
//! the scheduler that fires due deadlines, and the claim actions that change a lifecycle:
//! confirming a follow-up (R5.2), cancelling (R5.6) and reassigning a void card (R5.3).
//!
//! Every change that can move a claim's limit calls [`settle`] in its own transaction, so the
//! deadline row always matches what `kehu_domain::lifecycle::standing` says.

use kehu_domain::claim::ClaimStatus;
use kehu_domain::lifecycle::{
    Standing, decide_cancel, decide_duplicate_penalty, decide_follow_up_confirmation, decide_reassign, standing,
};
use kehu_domain::{Decision, Policy, Text, Timestamp, ledger};
use kehu_store::claims::{self, ClaimRow, NewClaim};
use kehu_store::deadlines;
use kehu_store::history::{self, NewEvent};
use kehu_store::{StoreError, Tx, activities, staff};

use crate::auth::Caller;
use crate::deadlines::{Firing, Owner};
use crate::{AppState, Failure};

/// Asks the domain where `claim` stands at `now` and applies the answer in `tx`: moves its
/// deadline, or ends it with the lapse decision and a history event.
pub async fn settle(
    tx: &mut Tx,
    policy: &Policy,
    claim: ClaimRow,
    now: Timestamp,
) -> Result<(ClaimRow, Standing), StoreError> {
    let follow_ups: Vec<_> = activities::by_staff_tx(tx, claim.tenant_id, claim.customer_id, claim.staff_id)
        .await?
        .iter()
        .filter_map(activities::ActivityRow::follow_up)
        .collect();
    let mut lapses = Vec::new();
    let out = settle_with(tx, policy, claim, &follow_ups, now, &mut lapses, false).await?;
    record_lapses(tx, now, &lapses).await?;
    Ok(out)
}

/// A claim that lapsed in this transaction, for its history event.
pub struct Lapsed {
    before: ClaimRow,
    after: ClaimRow,
    decision: Decision,
    /// The pool the customer returned to (R11.8).
    pool: Option<(String, Timestamp)>,
}

/// Writes the history events of `lapses`, per tenant, in order.
async fn record_lapses(tx: &mut Tx, now: Timestamp, lapses: &[Lapsed]) -> Result<(), StoreError> {
    let mut tenants: Vec<i64> = lapses.iter().map(|l| l.before.tenant_id).collect();
    tenants.sort_unstable();
    tenants.dedup();
    for tenant in tenants {
        // Each lapse: the claim's event, then the customer's return to the pool if it had one.
        let events: Vec<NewEvent<'_>> = lapses
            .iter()
            .filter(|l| l.before.tenant_id == tenant)
            .flat_map(|l| {
                let claim_event = NewEvent {
                    actor_id: None,
                    entity: "claim",
                    entity_id: l.before.id,
                    customer_id: Some(l.before.customer_id),
                    action: l.after.status().as_str(),
                    before: Some(l.before.to_json()),
                    after: Some(l.after.to_json()),
                    decision: Some(&l.decision),
                };
                let pool_event = l.pool.as_ref().map(|(pool, at)| NewEvent {
                    actor_id: None,
                    entity: "customer",
                    entity_id: l.before.customer_id,
                    customer_id: Some(l.before.customer_id),
                    action: "to_pool",
                    before: None,
                    after: Some(serde_json::json!({ "pool_id": pool, "pooled_at": at.to_string() })),
                    decision: Some(&l.decision),
                });
                std::iter::once(claim_event).chain(pool_event)
            })
            .collect();
        history::append_many(tx, tenant, now, events).await?;
    }
    Ok(())
}

/// [`settle`] with the follow-ups already loaded; a lapse is pushed to `lapses` for its history
/// event. `taken`: the claim's deadline was just taken by the scheduler (nothing to cancel).
async fn settle_with(
    tx: &mut Tx,
    policy: &Policy,
    claim: ClaimRow,
    follow_ups: &[kehu_domain::lifecycle::FollowUp],
    now: Timestamp,
    lapses: &mut Vec<Lapsed>,
    taken: bool,
) -> Result<(ClaimRow, Standing), StoreError> {
    let tenant = claim.tenant_id;
    let s = standing(policy, &claim.facts(), follow_ups, now);
    let row = match &s {
        Standing::Open => {
            if !taken {
                deadlines::cancel(tx, tenant, CLAIM_LAPSE.kind, claim.id).await?;
            }
            if claim.valid_until.is_some() {
                claims::set_valid_until(tx, tenant, claim.id, None).await?;
            }
            ClaimRow {
                valid_until: None,
                ..claim.clone()
            }
        }
        Standing::Due(d) => {
            deadlines::schedule(
                tx,
                tenant,
                CLAIM_LAPSE.kind,
                claim.id,
                Some(claim.customer_id),
                d.at,
                &d.rule,
                now,
            )
            .await?;
            let until = Some(kehu_store::ms(d.at));
            if claim.valid_until != until {
                claims::set_valid_until(tx, tenant, claim.id, Some(d.at)).await?;
            }
            ClaimRow {
                valid_until: until,
                ..claim.clone()
            }
        }
        Standing::Lapsed(l) => {
            if !taken {
                deadlines::cancel(tx, tenant, CLAIM_LAPSE.kind, claim.id).await?;
            }
            let ended = claims::end(
                tx,
                &claim,
                claims::End {
                    status: l.status,
                    at: l.at,
                    rule: &l.decision.rule,
                    by: None,
                    reason: None,
                },
            )
            .await?;
            match ended {
                None => claims::get_tx(tx, tenant, claim.id).await?,
                Some(row) => {
                    tracing::debug!(claim.id = claim.id, rule.id = %l.decision.rule, "claim lapsed");
                    let pool = release_to_pool(tx, policy, &claim, l.at).await?;
                    lapses.push(Lapsed {
                        before: claim,
                        after: row.clone(),
                        decision: l.decision.clone(),
                        pool,
                    });
                    row
                }
            }
        }
    };
    Ok((row, s))
}

/// R11.8: a released customer goes to the policy's pool, unless someone else still holds it.
async fn release_to_pool(
    tx: &mut Tx,
    policy: &Policy,
    claim: &ClaimRow,
    at: Timestamp,
) -> Result<Option<(String, Timestamp)>, StoreError> {
    let Some(pool) = policy
        .claims
        .lifecycle
        .as_ref()
        .filter(|lc| lc.on_miss == kehu_domain::policy::OnMiss::Release)
        .and_then(|lc| lc.release_to.clone())
    else {
        return Ok(None);
    };
    let others = claims::for_customer_tx(tx, claim.tenant_id, claim.customer_id).await?;
    if others.iter().any(|c| c.id != claim.id && c.status().is_active()) {
        return Ok(None);
    }
    kehu_store::customers::set_pool(tx, claim.tenant_id, claim.customer_id, Some(&pool), at).await?;
    Ok(Some((pool, at)))
}

/// R5.5: charges every lapsed holder whose missed follow-up let `new` in, once per card.
pub async fn charge_duplicates(
    tx: &mut Tx,
    policy: &Policy,
    new: &ClaimRow,
    existing: &[ClaimRow],
    now: Timestamp,
) -> Result<(), StoreError> {
    for old in existing {
        if let Some((code, decision)) = decide_duplicate_penalty(policy, &old.facts(), &new.facts()) {
            charge(
                tx,
                policy,
                Charge {
                    tenant_id: new.tenant_id,
                    staff_id: old.staff_id,
                    customer_id: Some(new.customer_id),
                    code: &code,
                    subject: format!("claim:{}", old.id),
                    decision,
                    at: now,
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// An automatic ledger entry a rule calls for.
pub struct Charge<'a> {
    pub tenant_id: i64,
    pub staff_id: i64,
    pub customer_id: Option<i64>,
    pub code: &'a str,
    /// What it is about (`claim:12`): a subject is charged once per code.
    pub subject: String,
    pub decision: Decision,
    pub at: Timestamp,
}

pub async fn charge(tx: &mut Tx, policy: &Policy, c: Charge<'_>) -> Result<(), StoreError> {
    let period = ledger::month(policy, c.at);
    // The escalation count is read under the staff member's lock, as manual entries do.
    crate::ledger::lock_staff(tx, c.tenant_id, c.staff_id).await?;
    let before = kehu_store::ledger::occurrences(tx, c.tenant_id, c.staff_id, c.code, &period).await?;
    let Some(priced) = ledger::automatic(policy, c.code, before + 1, c.at, c.decision) else {
        return Ok(());
    };
    kehu_store::ledger::append(
        tx,
        c.tenant_id,
        kehu_store::ledger::NewEntry {
            staff_id: Some(c.staff_id),
            customer_id: c.customer_id,
            charge: &priced,
            at: c.at,
            subject: Some(c.subject),
            reverses: None,
            created_by: None,
            note: "",
            quantity: 1,
            refers_to: None,
        },
    )
    .await?;
    Ok(())
}

/// How a rule ends a standing claim, and what the history calls it.
pub struct Ending<'a> {
    pub status: ClaimStatus,
    pub by: Option<i64>,
    pub reason: Option<&'a str>,
    /// The history action: `cancel`, `lost_to_division`, `hand_over` ...
    pub action: &'a str,
    pub decision: &'a Decision,
    pub at: Timestamp,
}

/// Ends a standing claim under `e.decision`'s rule: the claim is kept with its end, its deadlines
/// go, and the history records it with the decision. `None` when it no longer stood.
pub async fn end_claim(tx: &mut Tx, claim: &ClaimRow, e: Ending<'_>) -> Result<Option<ClaimRow>, StoreError> {
    let Some(ended) = claims::end(
        tx,
        claim,
        claims::End {
            status: e.status,
            at: e.at,
            rule: &e.decision.rule,
            by: e.by,
            reason: e.reason,
        },
    )
    .await?
    else {
        return Ok(None);
    };
    deadlines::cancel_kinds(tx, claim.tenant_id, claim.id, &CLAIM_DEADLINES).await?;
    history::append(
        tx,
        claim.tenant_id,
        e.at,
        NewEvent {
            actor_id: e.by,
            entity: "claim",
            entity_id: claim.id,
            customer_id: Some(claim.customer_id),
            action: e.action,
            before: Some(claim.to_json()),
            after: Some(ended.to_json()),
            decision: Some(e.decision),
        },
    )
    .await?;
    Ok(Some(ended))
}

/// An automatic entry for a customer (R11.2: the referrer's points), priced by the rule; once
/// per code and `subject`.
pub async fn charge_customer(
    tx: &mut Tx,
    tenant_id: i64,
    customer_id: i64,
    charge: &ledger::Charge,
    quantity: u32,
    subject: String,
    at: Timestamp,
) -> Result<(), StoreError> {
    kehu_store::ledger::append(
        tx,
        tenant_id,
        kehu_store::ledger::NewEntry {
            staff_id: None,
            customer_id: Some(customer_id),
            charge,
            at,
            subject: Some(subject),
            reverses: None,
            created_by: None,
            note: "",
            quantity,
            refers_to: None,
        },
    )
    .await?;
    Ok(())
}

/// Fires the deadline `candidate` in `tx` if it is still due and nobody else holds it;
/// `Ok(false)` when it was skipped.
async fn fire_in(
    tx: &mut Tx,
    state: &AppState,
    candidate: &deadlines::DeadlineRow,
    now: Timestamp,
) -> Result<bool, Failure> {
    let Some(d) = deadlines::take(tx, candidate, now).await? else {
        return Ok(false);
    };
    let policy = state.policy(d.tenant_id).await?;
    crate::deadlines::fire(tx, state, &policy, &d, now).await?;
    Ok(true)
}

/// Fires one deadline in its own transaction.
async fn fire(state: &AppState, candidate: &deadlines::DeadlineRow, now: Timestamp) -> Result<bool, Failure> {
    let mut tx = state.db.begin().await?;
    if fire_in(&mut tx, state, candidate, now).await? {
        tx.commit().await?;
        Ok(true)
    } else {
        tx.rollback().await?;
        Ok(false)
    }
}

/// Fires a batch of deadlines. PostgreSQL: one transaction each, so several processes share
/// the queue. SQLite (one writer, one process): the batch is committed together, as customer
/// registrations are (group commit), with set-based reads and one history append per tenant —
/// each firing is still all-or-nothing with its history event, and if anything in the batch
/// fails, the batch is rolled back and fired one transaction each.
async fn fire_batch(state: &AppState, due: &[deadlines::DeadlineRow], now: Timestamp) -> Result<u64, Failure> {
    if state.db.backend() == kehu_store::Backend::Sqlite && due.len() > 1 {
        let mut tx = state.db.begin().await?;
        match fire_together(&mut tx, state, due, now).await {
            Ok(n) => {
                tx.commit().await?;
                return Ok(n);
            }
            Err(e) => {
                tracing::warn!(error = ?e, "batch fire failed; firing one by one");
                tx.rollback().await?;
            }
        }
    }
    let mut fired = 0;
    for d in due {
        match fire(state, d, now).await {
            Ok(true) => fired += 1,
            Ok(false) => {}
            Err(e) => {
                // One deadline that cannot fire must not hold up the others: it is retried an
                // hour later, and the failure is logged.
                tracing::error!(deadline.id = d.id, kind = %d.kind, error = ?e, "deadline failed to fire; retrying in an hour");
                deadlines::postpone(&state.db, d.tenant_id, d.id, now + jiff::SignedDuration::from_hours(1)).await?;
            }
        }
    }
    Ok(fired)
}

/// Fires `due` in one transaction (SQLite): claim lapses with their claims and follow-ups read
/// once for the batch, other kinds one by one.
async fn fire_together(
    tx: &mut Tx,
    state: &AppState,
    due: &[deadlines::DeadlineRow],
    now: Timestamp,
) -> Result<u64, Failure> {
    let ids: Vec<i64> = due.iter().map(|d| d.id).collect();
    let taken = deadlines::take_many(tx, &ids, now).await?;
    let mut lapses = Vec::new();
    let mut tenants: Vec<i64> = taken.iter().map(|d| d.tenant_id).collect();
    tenants.sort_unstable();
    tenants.dedup();
    for tenant in tenants {
        let policy = state.policy(tenant).await?;
        let mine: Vec<&deadlines::DeadlineRow> = taken.iter().filter(|d| d.tenant_id == tenant).collect();
        let claim_ids: Vec<i64> = mine
            .iter()
            .filter(|d| d.kind == CLAIM_LAPSE.kind)
            .map(|d| d.subject_id)
            .collect();
        let rows = claims::get_many_tx(tx, tenant, &claim_ids).await?;
        let customers: Vec<i64> = rows.iter().map(|c| c.customer_id).collect();
        let acts = activities::for_customers_tx(tx, tenant, &customers).await?;
        for claim in rows {
            let follow_ups: Vec<_> = acts
                .iter()
                .filter(|a| a.customer_id == claim.customer_id && a.staff_id == claim.staff_id)
                .filter_map(activities::ActivityRow::follow_up)
                .collect();
            settle_with(tx, &policy, claim, &follow_ups, now, &mut lapses, true).await?;
        }
        for d in mine.into_iter().filter(|d| d.kind != CLAIM_LAPSE.kind) {
            crate::deadlines::fire(tx, state, &policy, d, now).await?;
        }
    }
    record_lapses(tx, now, &lapses).await?;
    Ok(taken.len() as u64)
}

/// A valid claim's follow-up limit (R5.2, R5.4, R7.7); the subject is the claim.
pub const CLAIM_LAPSE: Owner = Owner {
    kind: "claim_lapse",
    prefix: false,
    fire: |tx, _, policy, d, now| lapse_due(tx, policy, d, now),
};

/// A new customer's first message (R5.8); the subject is the customer.
pub const FIRST_CONTACT: Owner = Owner {
    kind: "first_contact",
    prefix: false,
    fire: |tx, state, policy, d, now| Box::pin(first_contact(tx, state, policy, d, now)),
};

/// The deadlines about a claim, which go when it stops standing.
pub const CLAIM_DEADLINES: [&str; 2] = [CLAIM_LAPSE.kind, crate::events::FILING.kind];

/// A claim's follow-up limit passed: the claim is settled (lapsed, or its limit moved).
fn lapse_due<'a>(tx: &'a mut Tx, policy: &'a Policy, d: &'a deadlines::DeadlineRow, now: Timestamp) -> Firing<'a> {
    Box::pin(async move {
        match claims::get_tx(tx, d.tenant_id, d.subject_id).await {
            Ok(claim) => {
                settle(tx, policy, claim, now).await?;
                Ok(())
            }
            Err(StoreError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    })
}

/// R5.8 at the cut-off: charges the receiver who sent no first message.
async fn first_contact(
    tx: &mut Tx,
    state: &AppState,
    policy: &Policy,
    d: &deadlines::DeadlineRow,
    now: Timestamp,
) -> Result<(), Failure> {
    let customer = match kehu_store::customers::get_tx(tx, d.tenant_id, d.subject_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let Some(receiver_id) = customer.created_by else {
        return Ok(());
    };
    let receiver = staff::get(&state.db, d.tenant_id, receiver_id).await?;
    let acts: Vec<_> = activities::by_staff_tx(tx, d.tenant_id, customer.id, receiver_id)
        .await?
        .iter()
        .filter_map(activities::ActivityRow::follow_up)
        .collect();
    let contact = kehu_domain::contact::NewContact {
        customer_id: customer.id,
        customer_name: customer.name.clone(),
        source: customer.source.clone(),
        has_phone: kehu_store::customers::has_phone_tx(tx, d.tenant_id, customer.id).await?,
        registered_at: kehu_store::ts(customer.created_at),
        receiver_id,
        receiver_name: receiver.display_name.clone(),
    };
    let due = kehu_store::ts(d.due_at);
    if let Some((code, decision)) = kehu_domain::contact::decide_first_contact(policy, &contact, &acts, due) {
        charge(
            tx,
            policy,
            Charge {
                tenant_id: d.tenant_id,
                staff_id: receiver_id,
                customer_id: Some(customer.id),
                code: &code,
                subject: format!("customer:{}", customer.id),
                decision,
                at: now,
            },
        )
        .await?;
    }
    Ok(())
}

/// Fires every deadline due at `now`, earliest first, each in its own transaction. Returns how
/// many fired here (others may have been fired by another process).
pub async fn sweep(state: &AppState, now: Timestamp) -> Result<u64, Failure> {
    const BATCH: i64 = 256;
    let mut fired = 0;
    loop {
        let due = deadlines::due(&state.db, now, BATCH).await?;
        let n = fire_batch(state, &due, now).await?;
        fired += n;
        if (due.len() as i64) < BATCH || n == 0 {
            return Ok(fired);
        }
    }
}

/// Moves the virtual clock to `target`, firing every deadline due on the way at its own time,
/// in time order. Returns how many fired.
pub async fn fire_until(state: &AppState, target: Timestamp) -> Result<u64, Failure> {
    let mut fired = 0;
    while let Some(at) = deadlines::next_due(&state.db, target).await? {
        let n = sweep(state, at).await?;
        if n == 0 {
            // Held by another process: let it finish rather than spin.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        fired += n;
    }
    Ok(fired)
}

/// Runs the scheduler until the process stops: fires what is due, then sleeps until the next
/// deadline (at most a second, so deadlines written by other processes are seen).
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_prune: Option<std::time::Instant> = None;
        loop {
            match sweep(&state, state.now()).await {
                Ok(n) if n > 0 => tracing::info!(fired = n, "deadlines fired"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = ?e, "scheduler sweep failed"),
            }
            // Failed-login windows that ended are forgotten now and then, so the table holds
            // only live counts.
            if last_prune.is_none_or(|t| t.elapsed() > crate::auth::THROTTLE_WINDOW) {
                let since = jiff::Timestamp::now()
                    - jiff::SignedDuration::try_from(crate::auth::THROTTLE_WINDOW).unwrap_or_default();
                if let Err(e) = kehu_store::auth::prune_failures(&state.db, since).await {
                    tracing::warn!(error = %e, "pruning the failed-login counts failed");
                }
                last_prune = Some(std::time::Instant::now());
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    })
}

fn claim_not_found() -> Failure {
    Failure::not_found(Text::new("找不到该登记", "No such claim"))
}

/// Locks a claim the caller sees (and its customer) for the rest of `tx`; a claim outside the
/// caller's view is not found.
pub(crate) async fn lock_claim(
    tx: &mut Tx,
    view: &kehu_store::visibility::View,
    caller: &Caller,
    claim_id: i64,
) -> Result<ClaimRow, Failure> {
    if !claims::in_view_tx(tx, caller.tenant_id, claim_id, view).await? {
        return Err(claim_not_found());
    }
    let claim = claims::get_tx(tx, caller.tenant_id, claim_id)
        .await
        .map_err(|_| claim_not_found())?;
    claims::lock_customer(tx, caller.tenant_id, claim.customer_id).await?;
    claims::get_tx(tx, caller.tenant_id, claim_id)
        .await
        .map_err(|_| claim_not_found())
}

/// R5.6: cancels a claim with a written reason; the claim is kept.
pub async fn cancel_claim(state: &AppState, caller: &Caller, claim_id: i64, reason: &str) -> Result<ClaimRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let reason = crate::service::clean(Some(reason.to_string()), 1000, "reason")?.unwrap_or_default();
    let reason = reason.as_str();
    let now = state.now();
    let seen = crate::visibility::view(state, caller, &policy).await?;
    let mut tx = state.db.begin().await?;
    let claim = lock_claim(&mut tx, &seen, caller, claim_id).await?;
    let decision = decide_cancel(&policy, &claim.facts(), &caller.facts(), reason, now)?;
    let ending = Ending {
        status: ClaimStatus::Cancelled,
        by: Some(caller.id()),
        reason: Some(reason.trim()),
        action: "cancel",
        decision: &decision,
        at: now,
    };
    let row = end_claim(&mut tx, &claim, ending).await?.ok_or_else(claim_not_found)?;
    tx.commit().await?;
    Ok(row)
}

/// R5.3: hands a void claim to another staff member as a new claim, valid at once.
pub async fn reassign_claim(
    state: &AppState,
    caller: &Caller,
    claim_id: i64,
    to_staff: i64,
) -> Result<ClaimRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let to = crate::service::active_staff(state, caller, to_staff).await?;
    let now = state.now();
    let seen = crate::visibility::view(state, caller, &policy).await?;
    let mut tx = state.db.begin().await?;
    let claim = lock_claim(&mut tx, &seen, caller, claim_id).await?;
    let existing = claims::for_customer_tx(&mut tx, caller.tenant_id, claim.customer_id).await?;
    let facts: Vec<_> = existing.iter().map(ClaimRow::facts).collect();
    let to_facts = to.facts();
    let decision = decide_reassign(&policy, &claim.facts(), &facts, &caller.facts(), &to_facts, now)?;
    // The new holder registers like anyone else: the policy's rule on duplicates and the cap on
    // customers held apply.
    kehu_domain::claim::decide_registration(&policy, now, &to_facts, to.unit_id, &facts)?;
    let held = claims::count_held(&mut tx, caller.tenant_id, to.id).await?;
    kehu_domain::pool::decide_capacity(&policy, &to_facts, held)?;
    let row = claims::insert(
        &mut tx,
        caller.tenant_id,
        NewClaim {
            customer_id: claim.customer_id,
            staff_id: to.id,
            registered_by: caller.id(),
            status: ClaimStatus::Valid,
            registered_at: now,
            effective_at: Some(now),
            policy_version: policy.version,
            reassigned_from: Some(claim.id),
            contact_at: None,
            from_pool: None,
        },
    )
    .await?;
    // The reassigning leader signs the new card (R5.1, R5.3).
    let row = claims::confirm_valid(&mut tx, caller.tenant_id, row.id, caller.id(), now).await?;
    history::append(
        &mut tx,
        caller.tenant_id,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "claim",
            entity_id: row.id,
            customer_id: Some(claim.customer_id),
            action: "reassign",
            before: Some(claim.to_json()),
            after: Some(row.to_json()),
            decision: Some(&decision),
        },
    )
    .await?;
    let (row, _) = settle(&mut tx, &policy, row, now).await?;
    tx.commit().await?;
    Ok(row)
}

/// R5.2: a leader confirms a follow-up; the holder's claim limit moves accordingly.
pub async fn confirm_follow_up(
    state: &AppState,
    caller: &Caller,
    activity_id: i64,
) -> Result<(activities::ActivityRow, Option<ClaimRow>), Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let missing = || Failure::not_found(Text::new("找不到该跟进记录", "No such follow-up"));
    let now = state.now();
    let view = crate::visibility::view(state, caller, &policy).await?;
    let mut tx = state.db.begin().await?;
    let activity = activities::get_tx(&mut tx, caller.tenant_id, activity_id)
        .await
        .map_err(|_| missing())?;
    claims::lock_customer_in_view(&mut tx, caller.tenant_id, activity.customer_id, &view)
        .await
        .map_err(|_| missing())?;
    let claim = claims::for_customer_tx(&mut tx, caller.tenant_id, activity.customer_id)
        .await?
        .into_iter()
        .rev()
        .find(|c| c.staff_id == activity.staff_id && c.status().is_active())
        .ok_or_else(|| {
            Failure::refused(kehu_domain::Refusal {
                code: "no_claim",
                rule: None,
                text: Text::new(
                    "该跟进人没有有效的登记，无需确认",
                    "The follow-up's author holds no standing claim on this customer",
                ),
            })
        })?;
    let follow_ups: Vec<_> = activities::by_staff_tx(&mut tx, caller.tenant_id, claim.customer_id, claim.staff_id)
        .await?
        .iter()
        .filter_map(activities::ActivityRow::follow_up)
        .collect();
    let decision =
        decide_follow_up_confirmation(&policy, &claim.facts(), &follow_ups, activity_id, &caller.facts(), now)?;
    let row = activities::confirm(&mut tx, caller.tenant_id, activity_id, caller.id(), now).await?;
    history::append(
        &mut tx,
        caller.tenant_id,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "activity",
            entity_id: activity_id,
            customer_id: Some(activity.customer_id),
            action: "confirm",
            before: Some(activity.to_json()),
            after: Some(row.to_json()),
            decision: Some(&decision),
        },
    )
    .await?;
    let (claim, _) = settle(&mut tx, &policy, claim, now).await?;
    tx.commit().await?;
    Ok((row, Some(claim)))
}

/// Where a claim stands now, for showing its limit: `None` when no limit applies.
pub async fn due_of(state: &AppState, tenant_id: i64, claim: &ClaimRow) -> Result<Option<Standing>, Failure> {
    if claim.status() != ClaimStatus::Valid {
        return Ok(None);
    }
    let policy = state.policy(tenant_id).await?;
    let rows = activities::by_staff(&state.db, tenant_id, claim.customer_id, claim.staff_id).await?;
    let follow_ups: Vec<_> = rows.iter().filter_map(activities::ActivityRow::follow_up).collect();
    Ok(Some(standing(&policy, &claim.facts(), &follow_ups, state.now())))
}

/// Claims with where each valid one stands: a staff member's own (`view` none), or the void
/// claims not yet reassigned (`void_unassigned`, R5.3; a signer-only policy shows a leader the
/// cards they signed).
pub async fn list_claims(
    state: &AppState,
    caller: &Caller,
    staff_id: Option<i64>,
    view: Option<&str>,
    limit: i64,
) -> Result<Vec<(ClaimRow, Option<Standing>)>, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let seen = crate::visibility::view(state, caller, &policy).await?;
    let rows = match view {
        None | Some("") => {
            let staff_id = staff_id.unwrap_or(caller.id());
            if staff_id != caller.id() {
                caller.require(&policy, kehu_domain::Permission::ClaimsCreateForOthers)?;
            }
            claims::for_staff(&state.db, caller.tenant_id, staff_id, limit, &seen).await?
        }
        Some("void_unassigned") => {
            let action = policy.claims.reassign.as_ref();
            if !action.is_some_and(|a| Policy::holds_any(&caller.roles, &a.roles)) {
                return Err(Failure::forbidden(Text::new(
                    "只有可转交登记的角色可以查看作废登记",
                    "Only roles that may reassign claims see the void ones",
                )));
            }
            let signer = (action.is_some_and(|a| a.signer_only) && !caller.is_admin()).then(|| caller.id());
            claims::void_unassigned(&state.db, caller.tenant_id, signer, limit, &seen).await?
        }
        Some(_) => {
            return Err(Failure::invalid(
                "invalid_view",
                Text::new("view 只能是 void_unassigned", "view must be void_unassigned"),
            ));
        }
    };
    // The valid claims' follow-ups, read once for the page.
    let mut customers: Vec<i64> = rows
        .iter()
        .filter(|c| c.status() == ClaimStatus::Valid)
        .map(|c| c.customer_id)
        .collect();
    customers.sort_unstable();
    customers.dedup();
    let acts = activities::for_customers(&state.db, caller.tenant_id, &customers).await?;
    let now = state.now();
    Ok(rows
        .into_iter()
        .map(|row| {
            let s = (row.status() == ClaimStatus::Valid).then(|| {
                let follow_ups: Vec<_> = acts
                    .iter()
                    .filter(|a| a.customer_id == row.customer_id && a.staff_id == row.staff_id)
                    .filter_map(activities::ActivityRow::follow_up)
                    .collect();
                standing(&policy, &row.facts(), &follow_ups, now)
            });
            (row, s)
        })
        .collect())
}

/// The pools the caller is a member of (or all, for an admin), with how many customers each holds.
pub async fn pools(state: &AppState, caller: &Caller) -> Result<Vec<(kehu_domain::policy::Pool, i64)>, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let counts = kehu_store::customers::pool_counts(&state.db, caller.tenant_id).await?;
    Ok(policy
        .pools
        .iter()
        .filter(|p| Policy::holds_any(&caller.roles, &p.members))
        .map(|p| {
            let n = counts.iter().find(|(id, _)| *id == p.id).map(|(_, n)| *n).unwrap_or(0);
            (p.clone(), n)
        })
        .collect())
}

fn no_pool() -> Failure {
    Failure::not_found(Text::new(
        "没有该客户池，或你不是其成员",
        "No such pool, or you are not a member",
    ))
}

/// The customers in a pool, longest there first.
pub async fn pool_customers(
    state: &AppState,
    caller: &Caller,
    pool: &str,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<kehu_store::customers::CustomerRow>, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    if !policy
        .pool(pool)
        .is_some_and(|p| Policy::holds_any(&caller.roles, &p.members))
    {
        return Err(no_pool());
    }
    Ok(kehu_store::customers::in_pool(&state.db, caller.tenant_id, pool, after, limit).await?)
}

/// Claims a customer from a pool, first come first served: the customer's lock orders
/// concurrent claims, and only the first finds it still in the pool (R11.8).
pub async fn claim_from_pool(
    state: &AppState,
    caller: &Caller,
    pool: &str,
    customer_id: i64,
) -> Result<ClaimRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    if policy.pool(pool).is_none() {
        return Err(no_pool());
    }
    let now = state.now();
    let view = crate::visibility::view(state, caller, &policy).await?;
    let mut tx = state.db.begin().await?;
    crate::visibility::lock_customer(&mut tx, &view, caller, customer_id).await?;
    let row = take_from_pool(&mut tx, &policy, caller, pool, customer_id, now).await?;
    tx.commit().await?;
    Ok(row)
}

/// The claim of a pooled customer, in `tx` with the customer locked.
pub(crate) async fn take_from_pool(
    tx: &mut Tx,
    policy: &Policy,
    caller: &Caller,
    pool: &str,
    customer_id: i64,
    now: Timestamp,
) -> Result<ClaimRow, Failure> {
    let tenant = caller.tenant_id;
    let customer = kehu_store::customers::get_tx(tx, tenant, customer_id).await?;
    let existing = claims::for_customer_tx(tx, tenant, customer_id).await?;
    let released = existing
        .iter()
        .filter(|c| c.staff_id == caller.id() && c.status() == ClaimStatus::Expired)
        .filter_map(|c| c.ended_at)
        .max()
        .map(kehu_store::ts);
    let today = now
        .to_zoned(policy.tz.clone())
        .start_of_day()
        .map(|z| z.timestamp())
        .unwrap_or(now);
    let claimed_today = claims::count_from_pool_since(tx, tenant, caller.id(), pool, today).await?;
    let held = claims::count_held(tx, tenant, caller.id()).await?;
    let holder = caller.facts();
    let decision = kehu_domain::pool::decide_pool_claim(
        policy,
        &holder,
        &kehu_domain::pool::PoolClaim {
            pool,
            customer_id,
            customer_name: &customer.name,
            in_pool: customer.pool_id.as_deref(),
            released_from_holder_at: released,
            claimed_today,
            held,
        },
        now,
    )?;
    let facts: Vec<_> = existing.iter().map(ClaimRow::facts).collect();
    let reg = kehu_domain::claim::decide_registration(policy, now, &holder, caller.staff.unit_id, &facts)?;
    let row = claims::insert(
        tx,
        tenant,
        NewClaim {
            customer_id,
            staff_id: caller.id(),
            registered_by: caller.id(),
            status: reg.status,
            registered_at: now,
            effective_at: reg.effective_at,
            policy_version: policy.version,
            reassigned_from: None,
            contact_at: None,
            from_pool: Some(pool.to_string()),
        },
    )
    .await?;
    kehu_store::customers::set_pool(tx, tenant, customer_id, None, now).await?;
    history::append(
        tx,
        tenant,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "claim",
            entity_id: row.id,
            customer_id: Some(customer_id),
            action: "claim_from_pool",
            before: Some(serde_json::json!({ "pool_id": pool })),
            after: Some(row.to_json()),
            decision: Some(&decision),
        },
    )
    .await?;
    let (row, _) = settle(tx, policy, row, now).await?;
    Ok(row)
}
