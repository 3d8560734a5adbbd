//! R11.9 applied: recording a complaint found (its fines, its limit as a deadline, its history in
//! one transaction), resolving it (the deadline cancelled), and the limit firing with the
//! complaint still open (fines for the staff member and the manager, the customer handed to
//! someone in another unit). The decisions are `kehu_domain::complaint`'s.

use kehu_domain::claim::ClaimStatus;
use kehu_domain::complaint::{
    self, Colleague, ComplaintFacts, NewComplaint, UnitLink, decide_fines, decide_found, decide_resolution,
    decide_unresolved, managers_of,
};
use kehu_domain::ownership::decide_ownership;
use kehu_domain::{Lang, Permission, Policy, Text, Timestamp};
use kehu_store::claims::{self, ClaimRow, NewClaim};
use kehu_store::complaints::{self as store, ComplaintRow, Filter};
use kehu_store::deadlines::{self, DeadlineRow};
use kehu_store::history::{self, NewEvent};
use kehu_store::ledger::EntryRow;
use kehu_store::{StoreError, Tx, customers, staff, units};

use crate::auth::Caller;
use crate::lifecycle::{Charge, charge};
use crate::{ApiError, AppState};

/// A complaint with the ledger entries charged for it that the caller may read.
#[derive(Debug, Clone)]
pub struct ComplaintView {
    pub row: ComplaintRow,
    pub entries: Vec<EntryRow>,
}

/// What a recorder reports.
#[derive(Debug, Clone, Default)]
pub struct ComplaintInput {
    pub customer_id: i64,
    /// The staff member concerned; `None`: the customer's holder.
    pub staff_id: Option<i64>,
    pub to_boss: bool,
    pub summary: String,
}

fn refused(lang: Lang) -> impl Fn(kehu_domain::Refusal) -> ApiError {
    move |r| ApiError::refused(r).in_lang(lang)
}

fn not_found(lang: Lang) -> ApiError {
    ApiError::not_found(Text::new("找不到该投诉", "No such complaint")).in_lang(lang)
}

/// Whether the caller reads every complaint: those who record them, and those who read every
/// ledger. Anyone else reads the complaints about themselves.
/// The staff of the tenant with the customers each holds, and the unit tree, as R11.9 reads them
/// to find a unit's manager and a receiver in another unit.
async fn colleagues(
    state: &AppState,
    tx: &mut Tx,
    tenant_id: i64,
) -> Result<(Vec<Colleague>, Vec<UnitLink>), ApiError> {
    let held = claims::held_by_staff(tx, tenant_id).await?;
    let people = staff::list(&state.db, tenant_id)
        .await?
        .into_iter()
        .map(|s| Colleague {
            held: held
                .iter()
                .find(|(id, _)| *id == s.id)
                .map(|(_, n)| u32::try_from(*n).unwrap_or(u32::MAX))
                .unwrap_or(0),
            unit_id: s.unit_id,
            active: s.active,
            staff: s.facts(),
        })
        .collect();
    let links = units::list(&state.db, tenant_id)
        .await?
        .into_iter()
        .map(|u| UnitLink {
            id: u.id,
            parent_id: u.parent_id,
        })
        .collect();
    Ok((people, links))
}

/// The staff member a complaint is about, as a colleague (kept even if they left since).
fn concerned(facts: &ComplaintFacts, unit_id: Option<i64>, people: &[Colleague]) -> Colleague {
    people
        .iter()
        .find(|p| p.staff.id == facts.staff.id)
        .cloned()
        .unwrap_or(Colleague {
            staff: facts.staff.clone(),
            unit_id,
            active: false,
            held: 0,
        })
}

/// Records a complaint found (R11.9): the row, its limit as a deadline, its history event and
/// its fines, all in one transaction.
pub async fn record(state: &AppState, caller: &Caller, input: ComplaintInput) -> Result<ComplaintView, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    let lang = caller.lang;
    let by = caller.facts();
    // Who may record is checked first, so nobody else learns which customers exist.
    complaint::check_recorder(&policy, &by).map_err(refused(lang))?;
    let summary = crate::service::clean(Some(input.summary), 2000, "summary", lang)?.ok_or_else(|| {
        ApiError::bad_request(
            "summary_required",
            Text::new("请写明客户投诉的内容", "Write what the customer complained about"),
        )
        .in_lang(lang)
    })?;
    let tenant = caller.tenant_id;
    let now = state.now();
    let seen = crate::visibility::view(state, caller, &policy).await?;
    let mut tx = state.db.begin().await?;
    crate::visibility::lock_customer(&mut tx, &seen, caller, input.customer_id).await?;
    let customer = customers::get_tx(&mut tx, tenant, input.customer_id).await?;
    let staff_id = match input.staff_id {
        Some(id) => id,
        None => {
            let held: Vec<_> = claims::for_customer_tx(&mut tx, tenant, customer.id)
                .await?
                .iter()
                .map(ClaimRow::facts)
                .collect();
            decide_ownership(&policy, &held).owner_id.ok_or_else(|| {
                ApiError::bad_request(
                    "no_holder",
                    Text::new(
                        "该客户目前无人持有，请指明涉及的员工",
                        "Nobody holds this customer: name the staff member concerned",
                    ),
                )
                .in_lang(lang)
            })?
        }
    };
    let who = staff::get(&state.db, tenant, staff_id)
        .await
        .ok()
        .filter(|s| s.active)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_staff",
                Text::new("该员工不存在或已停用", "No such active staff member"),
            )
            .in_lang(lang)
        })?;
    let who_facts = who.facts();
    let (due, decision) = decide_found(
        &policy,
        &by,
        &NewComplaint {
            customer_id: customer.id,
            customer_name: &customer.name,
            staff: &who_facts,
            to_boss: input.to_boss,
            found_at: now,
        },
    )
    .map_err(refused(lang))?;
    let row = store::insert(
        &mut tx,
        tenant,
        store::NewComplaint {
            customer_id: customer.id,
            staff_id: who.id,
            to_boss: input.to_boss,
            summary: &summary,
            found_at: now,
            found_by: caller.id(),
            due_at: due,
            decision: &decision,
        },
    )
    .await?;
    deadlines::schedule(
        &mut tx,
        tenant,
        DUE.kind,
        row.id,
        Some(customer.id),
        due,
        &decision.rule,
        now,
    )
    .await?;
    history::append(
        &mut tx,
        tenant,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "complaint",
            entity_id: row.id,
            customer_id: Some(customer.id),
            action: "record",
            after: Some(row.to_json()),
            decision: Some(&decision),
            ..Default::default()
        },
    )
    .await?;
    let managers = if input.to_boss {
        let (people, links) = colleagues(state, &mut tx, tenant).await?;
        let me = concerned(&row.facts(), who.unit_id, &people);
        managers_of(&policy, &me, &links, &people)
    } else {
        Vec::new()
    };
    for fine in decide_fines(&policy, &row.facts(), &managers) {
        charge(
            &mut tx,
            &policy,
            Charge {
                tenant_id: tenant,
                staff_id: fine.staff_id,
                customer_id: Some(customer.id),
                code: &fine.code,
                subject: fine.subject,
                decision: fine.decision,
                at: now,
            },
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(complaint.id = row.id, customer.id = customer.id, rule.id = %decision.rule, "complaint recorded");
    view(state, caller, &policy, row).await
}

/// Marks a complaint resolved with the written resolution; its deadline is cancelled in the
/// same transaction.
pub async fn resolve(state: &AppState, caller: &Caller, id: i64, resolution: &str) -> Result<ComplaintView, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    let lang = caller.lang;
    let by = caller.facts();
    complaint::check_recorder(&policy, &by).map_err(refused(lang))?;
    let resolution =
        crate::service::clean(Some(resolution.to_string()), 2000, "resolution", lang)?.ok_or_else(|| {
            ApiError::bad_request(
                "resolution_required",
                Text::new("请写明投诉如何解决", "Write how the complaint was resolved"),
            )
            .in_lang(lang)
        })?;
    let tenant = caller.tenant_id;
    let now = state.now();
    // Only a complaint the caller sees can be resolved.
    let seen = crate::visibility::view(state, caller, &policy).await?;
    store::get(&state.db, tenant, id, &seen)
        .await
        .map_err(|_| not_found(lang))?;
    let mut tx = state.db.begin().await?;
    let row = store::get_tx(&mut tx, tenant, id).await.map_err(|_| not_found(lang))?;
    claims::lock_customer(&mut tx, tenant, row.customer_id).await?;
    let row = store::get_tx(&mut tx, tenant, id).await?;
    let decision = decide_resolution(&policy, &row.facts(), &by, &resolution, now).map_err(refused(lang))?;
    let after = store::resolve(&mut tx, tenant, id, caller.id(), &resolution, now, &decision)
        .await?
        .ok_or_else(|| ApiError::internal().in_lang(lang))?;
    deadlines::cancel(&mut tx, tenant, DUE.kind, id).await?;
    history::append(
        &mut tx,
        tenant,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "complaint",
            entity_id: id,
            customer_id: Some(row.customer_id),
            action: "resolve",
            before: Some(row.to_json()),
            after: Some(after.to_json()),
            decision: Some(&decision),
        },
    )
    .await?;
    tx.commit().await?;
    view(state, caller, &policy, after).await
}

/// R11.9 at the limit, in the scheduler's transaction: if the complaint is still open, the
/// staff member and their manager are fined and the customer goes to someone in another unit.
/// Firing again changes nothing: the complaint is marked escalated, and each fine has its
/// subject.
/// A complaint's limit to be resolved (R11.9); the subject is the complaint.
pub const DUE: crate::deadlines::Owner = crate::deadlines::Owner {
    kind: "complaint_due",
    prefix: false,
    fire: |tx, state, policy, d, now| Box::pin(fire_due(tx, state, policy, d, now)),
};

pub(crate) async fn fire_due(
    tx: &mut Tx,
    state: &AppState,
    policy: &Policy,
    d: &DeadlineRow,
    now: Timestamp,
) -> Result<(), ApiError> {
    let tenant = d.tenant_id;
    let row = match store::get_tx(tx, tenant, d.subject_id).await {
        Ok(r) => r,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let facts = row.facts();
    let (people, links) = colleagues(state, tx, tenant).await?;
    let me = concerned(&facts, row.staff_unit_id, &people);
    let managers = managers_of(policy, &me, &links, &people);
    let held: Vec<ClaimRow> = claims::for_customer_tx(tx, tenant, row.customer_id)
        .await?
        .into_iter()
        .filter(|c| c.staff_id == row.staff_id && c.status().is_active())
        .collect();
    let Some(u) = decide_unresolved(policy, &facts, &me, !held.is_empty(), &managers, &people, now) else {
        return Ok(());
    };
    let Some(after) = store::escalate(tx, tenant, row.id, now, u.receiver, &u.decision).await? else {
        return Ok(());
    };
    history::append(
        tx,
        tenant,
        now,
        NewEvent {
            actor_id: None,
            entity: "complaint",
            entity_id: row.id,
            customer_id: Some(row.customer_id),
            action: "escalate",
            before: Some(row.to_json()),
            after: Some(after.to_json()),
            decision: Some(&u.decision),
        },
    )
    .await?;
    for fine in u.fines {
        charge(
            tx,
            policy,
            Charge {
                tenant_id: tenant,
                staff_id: fine.staff_id,
                customer_id: Some(row.customer_id),
                code: &fine.code,
                subject: fine.subject,
                decision: fine.decision,
                at: now,
            },
        )
        .await?;
    }
    if let Some(receiver) = u.receiver {
        hand_over(tx, policy, &row, &held, receiver, &u.decision, now).await?;
    }
    tracing::info!(complaint.id = row.id, customer.id = row.customer_id, rule.id = %u.decision.rule, "complaint limit passed open");
    Ok(())
}

/// Ends the staff member's claims on the customer (kept, ended under R11.9) and gives the
/// customer to `receiver` as a valid claim, with the handover decision in the history.
async fn hand_over(
    tx: &mut Tx,
    policy: &Policy,
    row: &ComplaintRow,
    held: &[ClaimRow],
    receiver: i64,
    decision: &kehu_domain::Decision,
    now: Timestamp,
) -> Result<(), ApiError> {
    let tenant = row.tenant_id;
    // The reason is written once, in the tenant's default language; the decision has both.
    let reason = decision.text.zh.as_str();
    let mut events = Vec::new();
    let mut from = None;
    for old in held {
        let ended = claims::end(
            tx,
            old,
            claims::End {
                status: ClaimStatus::Cancelled,
                at: now,
                rule: &decision.rule,
                by: None,
                reason: Some(reason),
            },
        )
        .await?;
        deadlines::cancel_kinds(tx, tenant, old.id, &crate::lifecycle::CLAIM_DEADLINES).await?;
        if let Some(ended) = ended {
            from.get_or_insert(old.id);
            events.push((old.id, old.to_json(), ended.to_json()));
        }
    }
    // The system has no staff row of its own: the receiver is the claim's registrant, as in a
    // registration for oneself, and the history event (no actor, decision R11.9) says why.
    let new = claims::insert(
        tx,
        tenant,
        NewClaim {
            customer_id: row.customer_id,
            staff_id: receiver,
            registered_by: receiver,
            status: ClaimStatus::Valid,
            registered_at: now,
            effective_at: Some(now),
            policy_version: policy.version,
            reassigned_from: from,
            contact_at: None,
            from_pool: None,
        },
    )
    .await?;
    let mut list: Vec<NewEvent<'_>> = events
        .iter()
        .map(|(id, before, after)| NewEvent {
            actor_id: None,
            entity: "claim",
            entity_id: *id,
            customer_id: Some(row.customer_id),
            action: "complaint_handover",
            before: Some(before.clone()),
            after: Some(after.clone()),
            decision: Some(decision),
        })
        .collect();
    list.push(NewEvent {
        actor_id: None,
        entity: "claim",
        entity_id: new.id,
        customer_id: Some(row.customer_id),
        action: "complaint_handover",
        before: None,
        after: Some(new.to_json()),
        decision: Some(decision),
    });
    history::append_many(tx, tenant, now, list).await?;
    // The new holder's claim runs under the policy's follow-up rules from now on.
    crate::lifecycle::settle(tx, policy, new, now).await?;
    Ok(())
}

async fn view(
    state: &AppState,
    caller: &Caller,
    policy: &Policy,
    row: ComplaintRow,
) -> Result<ComplaintView, ApiError> {
    Ok(views(state, caller, policy, vec![row]).await?.remove(0))
}

/// The complaints with the entries charged for them that the caller may read.
async fn views(
    state: &AppState,
    caller: &Caller,
    policy: &Policy,
    rows: Vec<ComplaintRow>,
) -> Result<Vec<ComplaintView>, ApiError> {
    let pairs = store::entry_ids(&state.db, caller.tenant_id, &rows).await?;
    let ids: Vec<i64> = pairs.iter().map(|(_, e)| *e).collect();
    let seen = crate::visibility::view(state, caller, policy).await?;
    let entries = kehu_store::ledger::get_many(&state.db, caller.tenant_id, &ids, &seen).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mine: Vec<EntryRow> = entries
                .iter()
                .filter(|e| pairs.iter().any(|(c, id)| *c == row.id && *id == e.id))
                .cloned()
                .collect();
            ComplaintView { row, entries: mine }
        })
        .collect())
}

/// One complaint the caller sees (the policy's `sees.complaints`).
pub async fn get(state: &AppState, caller: &Caller, id: i64) -> Result<ComplaintView, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    let lang = caller.lang;
    let seen = crate::visibility::view(state, caller, &policy).await?;
    let row = store::get(&state.db, caller.tenant_id, id, &seen)
        .await
        .map_err(|_| not_found(lang))?;
    view(state, caller, &policy, row).await
}

/// The complaints the caller sees, newest first. `open`: only open (`true`) or only resolved
/// (`false`) ones.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    open: Option<bool>,
    customer_id: Option<i64>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ComplaintView>, ApiError> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::CustomersRead)?;
    let filter = Filter {
        open,
        customer_id,
        staff_id: None,
        before,
    };
    let seen = crate::visibility::view(state, caller, &policy).await?;
    let rows = store::list(&state.db, caller.tenant_id, &filter, limit, &seen).await?;
    views(state, caller, &policy, rows).await
}
