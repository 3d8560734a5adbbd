//! Sharing customers out: a manager redistributes a leaving person's customers (R7.8(12)), the
//! CRM centre shares an event's files out among the staff who took part (R11.1). Customers are
//! locked in id order, all in one transaction, and each move is a Decision in the history.

use kehu_domain::assign::{self, Method};
use kehu_domain::claim::{ClaimStatus, decide_registration};
use kehu_domain::{Policy, Text};
use kehu_store::claims::{self, ClaimRow, NewClaim};
use kehu_store::history::{self, NewEvent};
use kehu_store::staff::StaffRow;
use kehu_store::{Tx, customers, staff};

use crate::auth::Caller;
use crate::{AppState, Failure};

async fn targets(state: &AppState, caller: &Caller, ids: &[i64]) -> Result<Vec<StaffRow>, Failure> {
    let mut out: Vec<StaffRow> = Vec::new();
    for id in ids {
        let s = staff::get(&state.db, caller.tenant_id, *id)
            .await
            .ok()
            .filter(|s| s.active)
            .ok_or_else(|| {
                Failure::invalid(
                    "invalid_staff",
                    Text::new(
                        format!("员工 {id} 不存在或已停用"),
                        format!("No active staff member {id}"),
                    ),
                )
            })?;
        if !out.iter().any(|x| x.id == s.id) {
            out.push(s);
        }
    }
    Ok(out)
}

fn method_of(m: Option<&str>, default: Method) -> Result<Method, Failure> {
    match m {
        None => Ok(default),
        Some(s) => Method::parse(s).ok_or_else(|| {
            Failure::invalid(
                "invalid_method",
                Text::new(
                    "method 须为 even（平均）或 random（随机）",
                    "method must be `even` or `random`",
                ),
            )
        }),
    }
}

/// One customer's move, as answered.
#[derive(Debug, Clone)]
pub struct Moved {
    pub customer_id: i64,
    /// Who got it; `None` when the customer was skipped.
    pub staff_id: Option<i64>,
    /// The new claim; `None` when the customer was skipped.
    pub claim: Option<ClaimRow>,
    /// Why it was skipped.
    pub skipped: Option<&'static str>,
}

#[allow(clippy::too_many_arguments)]
async fn new_claim(
    tx: &mut Tx,
    policy: &Policy,
    caller: &Caller,
    customer_id: i64,
    to: &StaffRow,
    status: ClaimStatus,
    effective: Option<jiff::Timestamp>,
    reassigned_from: Option<i64>,
    now: jiff::Timestamp,
) -> Result<ClaimRow, Failure> {
    let row = claims::insert(
        tx,
        caller.tenant_id,
        NewClaim {
            customer_id,
            staff_id: to.id,
            registered_by: caller.id(),
            status,
            registered_at: now,
            effective_at: effective,
            policy_version: policy.version,
            reassigned_from,
            contact_at: None,
            from_pool: None,
        },
    )
    .await?;
    if status == ClaimStatus::Valid {
        return Ok(claims::confirm_valid(tx, caller.tenant_id, row.id, caller.id(), now).await?);
    }
    Ok(row)
}

/// R7.8(12): moves every standing claim of `from` to `to` (evenly or at random).
pub async fn redistribute(
    state: &AppState,
    caller: &Caller,
    from: i64,
    to: &[i64],
    method: Option<&str>,
) -> Result<Vec<Moved>, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let lang = caller.lang;
    let from = staff::get(&state.db, caller.tenant_id, from)
        .await
        .map_err(|_| Failure::invalid("invalid_staff", Text::new("该员工不存在", "No such staff member")))?;
    let to: Vec<StaffRow> = targets(state, caller, to)
        .await?
        .into_iter()
        .filter(|s| s.id != from.id)
        .collect();
    let by = caller.facts();
    let rule = assign::check(&policy, policy.claims.redistribute.as_ref(), &by, to.len())?;
    let method = method_of(method, rule.method)?;
    let now = state.now();
    let seed = now.as_millisecond() as u64;
    let held: Vec<ClaimRow> = claims::for_staff(
        &state.db,
        caller.tenant_id,
        from.id,
        100_000,
        &kehu_store::visibility::View::all(),
    )
    .await?
    .into_iter()
    .filter(|c| c.status().is_active())
    .collect();
    let mut customer_ids: Vec<i64> = held.iter().map(|c| c.customer_id).collect();
    customer_ids.sort_unstable();
    customer_ids.dedup();
    let target_ids: Vec<i64> = to.iter().map(|s| s.id).collect();
    let plan = assign::plan(&customer_ids, &target_ids, method, seed);
    let mut tx = state.db.begin().await?;
    let mut out = Vec::new();
    for (customer_id, to_id) in plan {
        let target = to.iter().find(|s| s.id == to_id).expect("planned among targets");
        claims::lock_customer(&mut tx, caller.tenant_id, customer_id).await?;
        let all = claims::for_customer_tx(&mut tx, caller.tenant_id, customer_id).await?;
        let Some(old) = all
            .iter()
            .find(|c| c.staff_id == from.id && c.status().is_active())
            .cloned()
        else {
            continue;
        };
        let decision = assign::decide(
            &policy,
            rule,
            &by,
            Some(&from.facts()),
            (customer_id, &old.customer_name),
            &target.facts(),
            method,
            seed,
            now,
        );
        let reason = decision.text.get(lang).to_string();
        let ended = claims::end(
            &mut tx,
            &old,
            claims::End {
                status: ClaimStatus::Cancelled,
                at: now,
                rule: &decision.rule,
                by: Some(caller.id()),
                reason: Some(&reason),
            },
        )
        .await?;
        kehu_store::deadlines::cancel_kinds(&mut tx, caller.tenant_id, old.id, &crate::lifecycle::CLAIM_DEADLINES)
            .await?;
        let already = all.iter().any(|c| c.staff_id == target.id && c.status().is_active());
        let new = if already {
            None
        } else {
            Some(
                new_claim(
                    &mut tx,
                    &policy,
                    caller,
                    customer_id,
                    target,
                    ClaimStatus::Valid,
                    Some(now),
                    Some(old.id),
                    now,
                )
                .await?,
            )
        };
        history::append(
            &mut tx,
            caller.tenant_id,
            now,
            NewEvent {
                actor_id: Some(caller.id()),
                entity: "claim",
                entity_id: new.as_ref().map(|c| c.id).unwrap_or(old.id),
                customer_id: Some(customer_id),
                action: "redistribute",
                before: Some(ended.as_ref().unwrap_or(&old).to_json()),
                after: new.as_ref().map(ClaimRow::to_json),
                decision: Some(&decision),
            },
        )
        .await?;
        let claim = match new {
            Some(c) => Some(crate::lifecycle::settle(&mut tx, &policy, c, now).await?.0),
            None => None,
        };
        out.push(Moved {
            customer_id,
            staff_id: Some(target.id),
            skipped: claim.is_none().then_some("already_held"),
            claim,
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// R11.1: shares unheld customers out among `to`, evenly unless the policy or request says
/// otherwise; a customer someone already holds is skipped.
pub async fn share_out(
    state: &AppState,
    caller: &Caller,
    customer_ids: &[i64],
    to: &[i64],
    method: Option<&str>,
) -> Result<Vec<Moved>, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    if customer_ids.len() > 5000 {
        return Err(Failure::invalid(
            "too_many",
            Text::new("一次最多分配 5000 个客户", "At most 5,000 customers at a time"),
        ));
    }
    let to = targets(state, caller, to).await?;
    let by = caller.facts();
    let rule = assign::check(&policy, policy.customers.share_out.as_ref(), &by, to.len())?;
    let method = method_of(method, rule.method)?;
    let now = state.now();
    let seed = now.as_millisecond() as u64;
    let view = crate::visibility::view(state, caller, &policy).await?;
    let mut ids = customer_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let target_ids: Vec<i64> = to.iter().map(|s| s.id).collect();
    let mut tx = state.db.begin().await?;
    // Lock every customer first (in id order) and set aside those someone holds, so the even
    // share is even over the customers actually given out.
    let mut out = Vec::new();
    let mut free = Vec::new();
    for &customer_id in &ids {
        crate::visibility::lock_customer(&mut tx, &view, caller, customer_id).await?;
        let held = claims::for_customer_tx(&mut tx, caller.tenant_id, customer_id)
            .await?
            .iter()
            .any(|c| c.status().is_active());
        if held {
            out.push(Moved {
                customer_id,
                staff_id: None,
                claim: None,
                skipped: Some("already_held"),
            });
        } else {
            free.push(customer_id);
        }
    }
    let plan = assign::plan(&free, &target_ids, method, seed);
    for (customer_id, to_id) in plan {
        let target = to.iter().find(|s| s.id == to_id).expect("planned among targets");
        let customer = customers::get_tx(&mut tx, caller.tenant_id, customer_id).await?;
        let existing: Vec<_> = claims::for_customer_tx(&mut tx, caller.tenant_id, customer_id)
            .await?
            .iter()
            .map(ClaimRow::facts)
            .collect();
        let reg = decide_registration(&policy, now, &target.facts(), target.unit_id, &existing)?;
        let decision = assign::decide(
            &policy,
            rule,
            &by,
            None,
            (customer_id, &customer.name),
            &target.facts(),
            method,
            seed,
            now,
        );
        let row = new_claim(
            &mut tx,
            &policy,
            caller,
            customer_id,
            target,
            reg.status,
            reg.effective_at,
            None,
            now,
        )
        .await?;
        if customer.pool_id.is_some() {
            customers::set_pool(&mut tx, caller.tenant_id, customer_id, None, now).await?;
        }
        history::append(
            &mut tx,
            caller.tenant_id,
            now,
            NewEvent {
                actor_id: Some(caller.id()),
                entity: "claim",
                entity_id: row.id,
                customer_id: Some(customer_id),
                action: "share_out",
                after: Some(row.to_json()),
                decision: Some(&decision),
                ..Default::default()
            },
        )
        .await?;
        let (row, _) = crate::lifecycle::settle(&mut tx, &policy, row, now).await?;
        out.push(Moved {
            customer_id,
            staff_id: Some(to_id),
            claim: Some(row),
            skipped: None,
        });
    }
    tx.commit().await?;
    Ok(out)
}
