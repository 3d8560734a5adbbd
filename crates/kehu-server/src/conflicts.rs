//! Conflicts between two divisions' staff over a customer (R11.6): recording one, the
//! coordinator's and heads' sign-offs, escalation and the arbiter's ruling. The outcome moves
//! the customer to the party awarded and fines both parties when they argued in front of the
//! customer, in the transaction that closes the conflict.

use kehu_domain::claim::ClaimStatus;
use kehu_domain::conflict::{self, Actor, After, Outcome, PartyFacts, SignOff, Status};
use kehu_domain::{Decision, Lang, Permission, Policy, Text, Timestamp};
use kehu_store::claims::{self, ClaimRow, NewClaim};
use kehu_store::conflicts::{self as store, ConflictRow, NewConflictRow, SignOffRow};
use kehu_store::history::{self, NewEvent};
use kehu_store::{StoreError, Tx, customers, staff};

use crate::auth::Caller;
use crate::{ApiError, AppState};

fn not_found(lang: Lang) -> ApiError {
    ApiError::not_found(Text::new("找不到该冲突", "No such conflict")).in_lang(lang)
}

fn missing(lang: Lang) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => not_found(lang),
        e => e.into(),
    }
}

fn rules(policy: &Policy, lang: Lang) -> Result<&kehu_domain::policy::Conflicts, ApiError> {
    conflict::rules(policy).map_err(|r| ApiError::refused(r).in_lang(lang))
}

fn actor(caller: &Caller) -> Actor {
    Actor {
        staff: caller.facts(),
        unit_id: caller.staff.unit_id,
    }
}

/// What an opener records.
pub struct NewConflict<'a> {
    pub customer_id: i64,
    pub party_ids: &'a [i64],
    pub event_id: Option<i64>,
    pub summary: &'a str,
}

/// R11.6: records a conflict between two staff members over a customer.
pub async fn open(state: &AppState, caller: &Caller, n: NewConflict<'_>) -> Result<ConflictRow, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    let lang = caller.lang;
    rules(&policy, lang)?;
    let summary = crate::service::clean(Some(n.summary.to_string()), 500, "summary", lang)?.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_field",
            Text::new("请写明冲突经过", "Say what the conflict is about"),
        )
        .in_lang(lang)
    })?;
    let &[a, b] = n.party_ids else {
        return Err(ApiError::bad_request(
            "invalid_parties",
            Text::new("冲突须写明两名当事员工", "Name the two staff members in conflict"),
        )
        .in_lang(lang));
    };
    let units = kehu_store::units::list(&state.db, caller.tenant_id).await?;
    let mut parties = Vec::new();
    for id in [a, b] {
        let s = staff::get(&state.db, caller.tenant_id, id)
            .await
            .ok()
            .filter(|s| s.active)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_staff",
                    Text::new(
                        format!("员工 {id} 不存在或已停用"),
                        format!("No active staff member {id}"),
                    ),
                )
                .in_lang(lang)
            })?;
        parties.push(PartyFacts {
            staff_id: s.id,
            name: s.display_name.clone(),
            unit_id: s.unit_id,
            unit_name: s
                .unit_id
                .and_then(|u| units.iter().find(|x| x.id == u))
                .map(|u| u.name.clone())
                .unwrap_or_default(),
        });
    }
    let parties: [PartyFacts; 2] = [parties[0].clone(), parties[1].clone()];
    let seen = crate::visibility::view(state, caller, &policy).await?;
    let customer = customers::get_in_view(&state.db, caller.tenant_id, n.customer_id, &seen)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::bad_request(
                "invalid_customer",
                Text::new(
                    format!("客户 {} 不存在", n.customer_id),
                    format!("No customer {}", n.customer_id),
                ),
            )
            .in_lang(lang),
            e => e.into(),
        })?;
    let event = match n.event_id {
        None => None,
        Some(id) => match kehu_store::events::get(&state.db, caller.tenant_id, id, &seen).await {
            Ok(e) => Some(e),
            Err(StoreError::NotFound) => {
                return Err(ApiError::bad_request(
                    "invalid_event",
                    Text::new(format!("会议 {id} 不存在"), format!("No event {id}")),
                )
                .in_lang(lang));
            }
            Err(e) => return Err(e.into()),
        },
    };
    let now = state.now();
    let decision = conflict::decide_open(
        &policy,
        &caller.facts(),
        (customer.id, &customer.name),
        &parties,
        event.as_ref().map(|e| (e.id, e.name.as_str())),
        now,
    )
    .map_err(|r| ApiError::refused(r).in_lang(lang))?;
    let unit = |p: &PartyFacts| p.unit_id.expect("decide_open refuses a party without a unit");
    let mut tx = state.db.begin().await?;
    let row = store::insert(
        &mut tx,
        caller.tenant_id,
        NewConflictRow {
            customer_id: customer.id,
            event_id: event.as_ref().map(|e| e.id),
            parties: [
                (parties[0].staff_id, unit(&parties[0])),
                (parties[1].staff_id, unit(&parties[1])),
            ],
            summary: &summary,
            opened_by: caller.id(),
            policy_version: policy.version,
        },
        now,
    )
    .await?;
    history::append(
        &mut tx,
        caller.tenant_id,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "conflict",
            entity_id: row.id,
            customer_id: Some(row.customer_id),
            action: "open",
            after: Some(row.to_json()),
            decision: Some(&decision),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

fn require_read(policy: &Policy, caller: &Caller) -> Result<(), ApiError> {
    rules(policy, caller.lang)?;
    caller.require(policy, Permission::CustomersRead)
}

/// Conflicts newest first; only open and escalated ones with `open_only`.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    open_only: bool,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ConflictRow>, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    require_read(&policy, caller)?;
    let seen = crate::visibility::view(state, caller, &policy).await?;
    Ok(store::list(&state.db, caller.tenant_id, open_only, (before, limit), &seen).await?)
}

/// One conflict with its sign-offs.
pub async fn get(state: &AppState, caller: &Caller, id: i64) -> Result<(ConflictRow, Vec<SignOffRow>), ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    require_read(&policy, caller)?;
    let row = seen(state, caller, &policy, id).await?;
    let signoffs = store::signoffs(&state.db, caller.tenant_id, id).await?;
    Ok((row, signoffs))
}

/// What a sign-off, an escalation or a ruling answers: the conflict after it and the decision
/// that counts (the settlement, escalation or ruling when there is one, else the sign-off's).
pub struct Acted {
    pub row: ConflictRow,
    pub signoffs: Vec<SignOffRow>,
    pub decision: Decision,
}

/// The conflict `id` when the caller sees it (the policy's `sees.conflicts`), else not found.
async fn seen(state: &AppState, caller: &Caller, policy: &Policy, id: i64) -> Result<ConflictRow, ApiError> {
    let view = crate::visibility::view(state, caller, policy).await?;
    store::get(&state.db, caller.tenant_id, id, &view)
        .await
        .map_err(missing(caller.lang))
}

async fn locked(tx: &mut Tx, caller: &Caller, id: i64) -> Result<(ConflictRow, Vec<SignOffRow>), ApiError> {
    store::lock(tx, caller.tenant_id, id)
        .await
        .map_err(missing(caller.lang))?;
    let row = store::get_tx(tx, caller.tenant_id, id).await?;
    let signoffs = store::signoffs_tx(tx, caller.tenant_id, id).await?;
    Ok((row, signoffs))
}

fn clean_note(note: &str, lang: Lang) -> Result<String, ApiError> {
    Ok(crate::service::clean(Some(note.to_string()), 500, "note", lang)?.unwrap_or_default())
}

async fn record(
    tx: &mut Tx,
    caller: &Caller,
    before: &ConflictRow,
    after: Option<&ConflictRow>,
    action: &str,
    decision: &Decision,
    now: Timestamp,
) -> Result<(), ApiError> {
    history::append(
        tx,
        caller.tenant_id,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "conflict",
            entity_id: before.id,
            customer_id: Some(before.customer_id),
            action,
            before: after.map(|_| before.to_json()),
            after: after.map(ConflictRow::to_json),
            decision: Some(decision),
        },
    )
    .await?;
    Ok(())
}

/// R11.6: the caller signs an outcome as the coordinator or as the head of a party's unit. The
/// last agreeing sign-off settles the conflict; a differing one escalates it.
pub async fn sign(state: &AppState, caller: &Caller, id: i64, outcome: Outcome) -> Result<Acted, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    let lang = caller.lang;
    rules(&policy, lang)?;
    let outcome = Outcome {
        note: clean_note(&outcome.note, lang)?,
        ..outcome
    };
    let now = state.now();
    seen(state, caller, &policy, id).await?;
    let mut tx = state.db.begin().await?;
    let (row, signoffs) = locked(&mut tx, caller, id).await?;
    let facts = row.facts(&signoffs);
    let by = actor(caller);
    let signed =
        conflict::decide_sign(&policy, &facts, &by, &outcome, now).map_err(|r| ApiError::refused(r).in_lang(lang))?;
    let signoff = SignOff {
        seat: signed.seat,
        staff_id: caller.id(),
        name: caller.staff.display_name.clone(),
        outcome: outcome.clone(),
    };
    store::add_signoff(&mut tx, caller.tenant_id, id, &signoff, now).await?;
    record(&mut tx, caller, &row, None, "sign", &signed.decision, now).await?;
    let (row, decision) = match signed.after {
        After::Waiting => (row, signed.decision),
        After::Escalated(d) => {
            let reason = d.text.get(lang).to_string();
            let after = store::escalate(&mut tx, caller.tenant_id, id, None, &reason, now).await?;
            record(&mut tx, caller, &row, Some(&after), "escalate", &d, now).await?;
            (after, d)
        }
        After::Settled(d) => {
            let after = store::close(
                &mut tx,
                caller.tenant_id,
                id,
                Status::Settled,
                &outcome,
                caller.id(),
                now,
            )
            .await?;
            record(&mut tx, caller, &row, Some(&after), "settle", &d, now).await?;
            award(&mut tx, &policy, caller, &after, &outcome, &d, now).await?;
            (after, d)
        }
    };
    let signoffs = store::signoffs_tx(&mut tx, caller.tenant_id, id).await?;
    tx.commit().await?;
    Ok(Acted {
        row,
        signoffs,
        decision,
    })
}

/// R11.6: the coordinator cannot decide and escalates the conflict to the arbiter.
pub async fn escalate(state: &AppState, caller: &Caller, id: i64, reason: &str) -> Result<Acted, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    let lang = caller.lang;
    rules(&policy, lang)?;
    let reason = crate::service::clean(Some(reason.to_string()), 500, "reason", lang)?.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_field",
            Text::new("请写明无法判定的原因", "Say why it cannot be decided"),
        )
        .in_lang(lang)
    })?;
    let now = state.now();
    seen(state, caller, &policy, id).await?;
    let mut tx = state.db.begin().await?;
    let (row, signoffs) = locked(&mut tx, caller, id).await?;
    let decision = conflict::decide_escalate(&policy, &row.facts(&signoffs), &actor(caller), &reason, now)
        .map_err(|r| ApiError::refused(r).in_lang(lang))?;
    let after = store::escalate(&mut tx, caller.tenant_id, id, Some(caller.id()), &reason, now).await?;
    record(&mut tx, caller, &row, Some(&after), "escalate", &decision, now).await?;
    tx.commit().await?;
    Ok(Acted {
        row: after,
        signoffs,
        decision,
    })
}

/// R11.6: an arbiter rules alone on an escalated conflict.
pub async fn decide(state: &AppState, caller: &Caller, id: i64, outcome: Outcome) -> Result<Acted, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    let lang = caller.lang;
    rules(&policy, lang)?;
    let outcome = Outcome {
        note: clean_note(&outcome.note, lang)?,
        ..outcome
    };
    let now = state.now();
    seen(state, caller, &policy, id).await?;
    let mut tx = state.db.begin().await?;
    let (row, signoffs) = locked(&mut tx, caller, id).await?;
    let decision = conflict::decide_ruling(&policy, &row.facts(&signoffs), &actor(caller), &outcome, now)
        .map_err(|r| ApiError::refused(r).in_lang(lang))?;
    let after = store::close(
        &mut tx,
        caller.tenant_id,
        id,
        Status::Decided,
        &outcome,
        caller.id(),
        now,
    )
    .await?;
    record(&mut tx, caller, &row, Some(&after), "decide", &decision, now).await?;
    award(&mut tx, &policy, caller, &after, &outcome, &decision, now).await?;
    tx.commit().await?;
    Ok(Acted {
        row: after,
        signoffs,
        decision,
    })
}

/// Applies a closing outcome: the other party's standing claims on the customer end under the
/// rule, the awarded party gets a valid claim unless they hold one, and both parties are fined
/// when they argued in front of the customer.
async fn award(
    tx: &mut Tx,
    policy: &Policy,
    caller: &Caller,
    c: &ConflictRow,
    outcome: &Outcome,
    decision: &Decision,
    now: Timestamp,
) -> Result<(), ApiError> {
    let tenant = caller.tenant_id;
    let loser = if outcome.award_to == c.party_a {
        c.party_b
    } else {
        c.party_a
    };
    claims::lock_customer(tx, tenant, c.customer_id).await?;
    let all = claims::for_customer_tx(tx, tenant, c.customer_id).await?;
    let reason = decision.text.get(caller.lang).to_string();
    let mut ended_ids = Vec::new();
    for old in all.iter().filter(|x| x.staff_id == loser && x.status().is_active()) {
        let ending = crate::lifecycle::Ending {
            status: ClaimStatus::Cancelled,
            by: Some(caller.id()),
            reason: Some(&reason),
            action: "conflict_lost",
            decision,
            at: now,
        };
        if crate::lifecycle::end_claim(tx, old, ending).await?.is_none() {
            continue;
        }
        ended_ids.push(old.id);
    }
    let holds = all
        .iter()
        .any(|x| x.staff_id == outcome.award_to && x.status() == ClaimStatus::Valid);
    if !holds {
        let customer = customers::get_tx(tx, tenant, c.customer_id).await?;
        if customer.pool_id.is_some() {
            customers::set_pool(tx, tenant, c.customer_id, None, now).await?;
        }
        let new = new_claim(tx, policy, caller, c, outcome.award_to, ended_ids.first().copied(), now).await?;
        history::append(
            tx,
            tenant,
            now,
            NewEvent {
                actor_id: Some(caller.id()),
                entity: "claim",
                entity_id: new.id,
                customer_id: Some(c.customer_id),
                action: "conflict_award",
                after: Some(new.to_json()),
                decision: Some(decision),
                ..Default::default()
            },
        )
        .await?;
        crate::lifecycle::settle(tx, policy, new, now).await?;
    }
    let penalty = policy
        .conflicts
        .as_ref()
        .and_then(|r| r.penalty.clone())
        .filter(|_| outcome.argued);
    if let Some(code) = penalty {
        for staff_id in [c.party_a, c.party_b] {
            crate::lifecycle::charge(
                tx,
                policy,
                crate::lifecycle::Charge {
                    tenant_id: tenant,
                    staff_id,
                    customer_id: Some(c.customer_id),
                    code: &code,
                    subject: format!("conflict:{}:staff:{staff_id}", c.id),
                    decision: decision.clone(),
                    at: now,
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// The awarded party's valid claim: a pending one of theirs is confirmed, else a new one is
/// registered valid from now.
async fn new_claim(
    tx: &mut Tx,
    policy: &Policy,
    caller: &Caller,
    c: &ConflictRow,
    staff_id: i64,
    reassigned_from: Option<i64>,
    now: Timestamp,
) -> Result<ClaimRow, ApiError> {
    let tenant = caller.tenant_id;
    let pending = claims::for_customer_tx(tx, tenant, c.customer_id)
        .await?
        .into_iter()
        .find(|x| x.staff_id == staff_id && x.status() == ClaimStatus::Pending);
    let row = match pending {
        Some(p) => {
            let role = caller.roles.first().map(String::as_str).unwrap_or("");
            claims::confirm(tx, tenant, p.id, caller.id(), role, now, now).await?
        }
        None => {
            let row = claims::insert(
                tx,
                tenant,
                NewClaim {
                    customer_id: c.customer_id,
                    staff_id,
                    registered_by: caller.id(),
                    status: ClaimStatus::Valid,
                    registered_at: now,
                    effective_at: Some(now),
                    policy_version: policy.version,
                    reassigned_from,
                    contact_at: None,
                    from_pool: None,
                },
            )
            .await?;
            claims::confirm_valid(tx, tenant, row.id, caller.id(), now).await?
        }
    };
    Ok(row)
}
