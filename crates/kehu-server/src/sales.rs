//! Sales and who they count for: the owner by default, the closer of a friend-referred customer
//! (R5.7, who then holds the customer), the current inviter at an event (R11.5, helpers need the
//! inviter's consent), and special-case changes of credit signed by a leader and a manager (R5.7).

use kehu_domain::claim::ClaimStatus;
use kehu_domain::sale::{self, Owner, SaleFacts};
use kehu_domain::{Decision, Permission, Policy, Text, Timestamp};
use kehu_store::claims::{self, ClaimRow, NewClaim};
use kehu_store::history::{self, NewEvent};
use kehu_store::sales::{self as store, NewSale, SaleRow};
use kehu_store::{StoreError, Tx, customers};

use crate::auth::Caller;
use crate::{AppState, Failure};

fn owner_of(policy: &Policy, rows: &[ClaimRow]) -> Option<Owner> {
    let facts: Vec<_> = rows.iter().map(ClaimRow::facts).collect();
    let w = kehu_domain::ownership::select_owner(policy, &facts)?;
    Some(Owner {
        staff_id: w.staff_id,
        name: w.staff_name.clone(),
        claim_id: w.id,
    })
}

async fn event_name(tx: &mut Tx, caller: &Caller, event_id: i64) -> Result<String, Failure> {
    match kehu_store::events::get_tx(tx, caller.tenant_id, event_id).await {
        Ok(e) => Ok(e.name),
        Err(StoreError::NotFound) => Err(Failure::invalid(
            "invalid_event",
            Text::new(format!("会议 {event_id} 不存在"), format!("No event {event_id}")),
        )),
        Err(e) => Err(e.into()),
    }
}

/// What a closer records.
pub struct NewSaleInput<'a> {
    pub customer_id: i64,
    /// In fen.
    pub amount: i64,
    pub event_id: Option<i64>,
    pub note: &'a str,
}

/// Records a sale by the caller and credits it as the rules say; a referred customer moves to
/// the closer (R5.7).
pub async fn record(state: &AppState, caller: &Caller, s: NewSaleInput<'_>) -> Result<SaleRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::ActivitiesCreate)?;
    let note = crate::service::clean(Some(s.note.to_string()), 500, "note")?.unwrap_or_default();
    let now = state.now();
    // R5.7: a friend-referred customer belongs to whoever closes, so any closer may record a
    // sale on them; any other customer must be one the caller sees.
    let referred = customers::get(&state.db, caller.tenant_id, s.customer_id)
        .await
        .is_ok_and(|c| kehu_domain::sale::belongs_to_closer(&policy, c.source.as_deref()));
    let view = if referred {
        kehu_store::visibility::View::all()
    } else {
        crate::visibility::view(state, caller, &policy).await?
    };
    let mut tx = state.db.begin().await?;
    crate::visibility::lock_customer(&mut tx, &view, caller, s.customer_id).await?;
    let customer = customers::get_tx(&mut tx, caller.tenant_id, s.customer_id).await?;
    let rows = claims::for_customer_tx(&mut tx, caller.tenant_id, s.customer_id).await?;
    let owner = owner_of(&policy, &rows);
    let event = match s.event_id {
        Some(id) => Some((id, event_name(&mut tx, caller, id).await?)),
        None => None,
    };
    let consented = match (&event, &owner) {
        (Some((id, _)), Some(o)) => {
            store::consented(&mut tx, caller.tenant_id, *id, s.customer_id, caller.id(), o.staff_id).await?
        }
        _ => false,
    };
    let facts = SaleFacts {
        customer_id: s.customer_id,
        customer_name: customer.name.clone(),
        source: customer.source.clone(),
        amount: s.amount,
        closer: caller.facts(),
        event,
        at: now,
    };
    let credit = sale::decide_sale(&policy, &facts, owner.as_ref(), consented)?;
    let row = store::insert(
        &mut tx,
        caller.tenant_id,
        NewSale {
            customer_id: s.customer_id,
            amount: s.amount,
            closed_by: caller.id(),
            credited_to: credit.staff_id,
            event_id: s.event_id,
            at: now,
            decision: &credit.decision,
            note: &note,
        },
    )
    .await?;
    history::append(
        &mut tx,
        caller.tenant_id,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "sale",
            entity_id: row.id,
            customer_id: Some(s.customer_id),
            action: "record",
            after: Some(row.to_json()),
            decision: Some(&credit.decision),
            ..Default::default()
        },
    )
    .await?;
    // R11.2: what a referred customer buys at an event earns their referrer points.
    if let (Some((event_id, event)), Some(referrer_id)) = (&facts.event, customer.referrer_id) {
        let referrer = customers::get_tx(&mut tx, caller.tenant_id, referrer_id).await?;
        let r = kehu_domain::sale::Referral {
            referrer_id,
            referrer_name: &referrer.name,
            customer_id: customer.id,
            customer_name: &customer.name,
            event_id: *event_id,
            event,
        };
        if let Some((times, charge)) = kehu_domain::sale::decide_referral_sale(&policy, &r, s.amount, now) {
            let subject = format!("sale:{}", row.id);
            crate::lifecycle::charge_customer(&mut tx, caller.tenant_id, referrer_id, &charge, times, subject, now)
                .await?;
        }
    }
    if credit.take_over {
        take_over(&mut tx, &policy, caller, &rows, &credit.decision, now).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// R5.7: the closer holds the customer; everyone else's standing claims end.
async fn take_over(
    tx: &mut Tx,
    policy: &Policy,
    caller: &Caller,
    rows: &[ClaimRow],
    decision: &Decision,
    now: Timestamp,
) -> Result<(), Failure> {
    let mut holds = false;
    for c in rows.iter().filter(|c| c.status().is_active()) {
        if c.staff_id == caller.id() && c.status() == ClaimStatus::Valid {
            holds = true;
            continue;
        }
        let ending = crate::lifecycle::Ending {
            status: ClaimStatus::Expired,
            by: Some(caller.id()),
            reason: None,
            action: "closed_by_other",
            decision,
            at: now,
        };
        crate::lifecycle::end_claim(tx, c, ending).await?;
    }
    if holds {
        return Ok(());
    }
    let Some(customer_id) = rows.first().map(|c| c.customer_id) else {
        return Ok(());
    };
    let row = claims::insert(
        tx,
        caller.tenant_id,
        NewClaim {
            customer_id,
            staff_id: caller.id(),
            registered_by: caller.id(),
            status: ClaimStatus::Valid,
            registered_at: now,
            effective_at: Some(now),
            policy_version: policy.version,
            reassigned_from: None,
            contact_at: None,
            from_pool: None,
        },
    )
    .await?;
    let row = claims::confirm_valid(tx, caller.tenant_id, row.id, caller.id(), now).await?;
    history::append(
        tx,
        caller.tenant_id,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "claim",
            entity_id: row.id,
            customer_id: Some(customer_id),
            action: "closed_sale",
            after: Some(row.to_json()),
            decision: Some(decision),
            ..Default::default()
        },
    )
    .await?;
    crate::lifecycle::settle(tx, policy, row, now).await?;
    Ok(())
}

/// The customer's sales, newest first.
pub async fn for_customer(state: &AppState, caller: &Caller, customer_id: i64) -> Result<Vec<SaleRow>, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::CustomersRead)?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    crate::service::visible_customer(state, caller, &view, customer_id).await?;
    Ok(store::for_customer(&state.db, caller.tenant_id, customer_id, &view).await?)
}

/// R11.5: the current inviter lets `helper_id` help with the customer at the event.
pub async fn consent(
    state: &AppState,
    caller: &Caller,
    event_id: i64,
    customer_id: i64,
    helper_id: i64,
) -> Result<Decision, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let helper = crate::service::active_staff(state, caller, helper_id).await?;
    let now = state.now();
    let view = crate::visibility::view(state, caller, &policy).await?;
    let mut tx = state.db.begin().await?;
    crate::visibility::lock_customer(&mut tx, &view, caller, customer_id).await?;
    let event = event_name(&mut tx, caller, event_id).await?;
    let customer = customers::get_tx(&mut tx, caller.tenant_id, customer_id).await?;
    let rows = claims::for_customer_tx(&mut tx, caller.tenant_id, customer_id).await?;
    let owner = owner_of(&policy, &rows);
    let decision = sale::decide_consent(
        &policy,
        &caller.facts(),
        owner.as_ref(),
        &helper.facts(),
        &customer.name,
        &event,
    )?;
    if store::consent(
        &mut tx,
        caller.tenant_id,
        event_id,
        customer_id,
        helper.id,
        caller.id(),
        now,
    )
    .await?
    {
        history::append(
            &mut tx,
            caller.tenant_id,
            now,
            NewEvent {
                actor_id: Some(caller.id()),
                entity: "customer",
                entity_id: customer_id,
                customer_id: Some(customer_id),
                action: "helper_consent",
                after: Some(serde_json::json!({ "event_id": event_id, "helper_id": helper.id })),
                decision: Some(&decision),
                ..Default::default()
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(decision)
}

/// R5.7 special cases: the caller signs a change of the sale's credit to `to`; the last of the
/// policy's roles to sign moves it.
pub async fn change_credit(
    state: &AppState,
    caller: &Caller,
    sale_id: i64,
    to: i64,
    reason: &str,
) -> Result<(SaleRow, Decision), Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let target = crate::service::active_staff(state, caller, to).await?;
    let now = state.now();
    let view = crate::visibility::view(state, caller, &policy).await?;
    let mut tx = state.db.begin().await?;
    let not_found = || Failure::not_found(Text::new("找不到该成交记录", "No such sale"));
    let sale = store::get_tx(&mut tx, caller.tenant_id, sale_id)
        .await
        .map_err(|_| not_found())?;
    // One signature at a time: the customer's lock serialises changes to its sales; only a
    // signer who sees the customer may sign.
    claims::lock_customer_in_view(&mut tx, caller.tenant_id, sale.customer_id, &view)
        .await
        .map_err(|_| not_found())?;
    let sale = store::get_tx(&mut tx, caller.tenant_id, sale_id)
        .await
        .map_err(|_| not_found())?;
    // A proposal for someone else starts over.
    let signed = if sale.change_to == Some(target.id) {
        sale.signed()
    } else {
        Vec::new()
    };
    let customer = customers::get_tx(&mut tx, caller.tenant_id, sale.customer_id).await?;
    let (decision, done) = sale::decide_credit_change(
        &policy,
        &caller.facts(),
        &signed,
        &target.facts(),
        &customer.name,
        reason,
    )?;
    let all: Vec<String> = decision.facts["signed"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let row = store::sign_change(&mut tx, &sale, target.id, &all, reason.trim(), done, &decision).await?;
    history::append(
        &mut tx,
        caller.tenant_id,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "sale",
            entity_id: sale.id,
            customer_id: Some(sale.customer_id),
            action: if done { "credit_changed" } else { "credit_change_signed" },
            before: Some(sale.to_json()),
            after: Some(row.to_json()),
            decision: Some(&decision),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((row, decision))
}
