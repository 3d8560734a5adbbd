//! The caller's view of the tenant's records: their scopes (the policy's `sees`, per role and
//! record kind) turned into the staff and units whose records they see. Every read for a user
//! passes this [`View`] to the store, which filters by it; outside it a record is 404.

use kehu_domain::Policy;
use kehu_domain::org::Org;
use kehu_domain::policy::{RecordKind, Scope};
use kehu_store::visibility::{Reach, View};

use crate::auth::Caller;
use crate::{AppState, Failure};

/// The staff and units of the caller's unit and every unit below it (the `unit` scope); the
/// caller alone when they belong to no unit.
async fn unit_reach(state: &AppState, caller: &Caller) -> Result<Reach, Failure> {
    let Some(unit) = caller.staff.unit_id else {
        return Ok(own_reach(caller));
    };
    let units = kehu_store::units::list(&state.db, caller.tenant_id).await?;
    let units = Org::new(units.iter().map(|u| (u.id, u.parent_id))).subtree(unit);
    let mut staff: Vec<i64> = kehu_store::staff::list(&state.db, caller.tenant_id)
        .await?
        .into_iter()
        .filter(|s| s.unit_id.is_some_and(|u| units.contains(&u)))
        .map(|s| s.id)
        .collect();
    if !staff.contains(&caller.id()) {
        staff.push(caller.id());
    }
    Ok(Reach::Of { staff, units })
}

fn own_reach(caller: &Caller) -> Reach {
    Reach::Of {
        staff: vec![caller.id()],
        units: caller.staff.unit_id.into_iter().collect(),
    }
}

/// What the caller sees, worked out once per request. Reads the org tree only when one of
/// their scopes is `unit`.
pub async fn view(state: &AppState, caller: &Caller, policy: &Policy) -> Result<View, Failure> {
    if let Some(v) = caller.seen.get() {
        return Ok(v.clone());
    }
    let v = compute(state, caller, policy).await?;
    Ok(caller.seen.get_or_init(|| v).clone())
}

async fn compute(state: &AppState, caller: &Caller, policy: &Policy) -> Result<View, Failure> {
    if caller.is_admin() {
        return Ok(View::all());
    }
    let scopes: Vec<Scope> = RecordKind::ALL
        .iter()
        .map(|k| policy.scope(&caller.roles, *k))
        .collect();
    let unit = if scopes.contains(&Scope::Unit) {
        Some(unit_reach(state, caller).await?)
    } else {
        None
    };
    let reach = |kind: RecordKind| match policy.scope(&caller.roles, kind) {
        Scope::All => Reach::All,
        Scope::Own => own_reach(caller),
        Scope::Unit => unit.clone().unwrap_or_else(|| own_reach(caller)),
    };
    let seated = seated(state, caller, policy).await?;
    Ok(View {
        seated,
        customers: reach(RecordKind::Customers),
        unowned: policy.sees_unowned(&caller.roles),
        claims: reach(RecordKind::Claims),
        activities: reach(RecordKind::Activities),
        ledger: reach(RecordKind::Ledger),
        history: reach(RecordKind::History),
        sales: reach(RecordKind::Sales),
        events: reach(RecordKind::Events),
        cases: reach(RecordKind::Cases),
        // A workflow that names who sees its cases (R12.9) gives those roles every case and
        // everyone else only the cases they are part of; otherwise whoever sees only their own
        // cases and acts in it sees its cases (an approver sees what waits for them), while a
        // reader of their unit's cases sees those of the unit (R11.9: a division head, the
        // complaints about the division's staff).
        acts_in: policy
            .workflows
            .iter()
            .filter(|w| match &w.visible_to {
                Some(seen) => seen.sees_all(&caller.roles),
                None => {
                    policy.scope(&caller.roles, RecordKind::Cases) == Scope::Own
                        && w.actions.iter().any(|a| a.by.iter().any(|r| caller.roles.contains(r)))
                }
            })
            .map(|w| w.id.clone())
            .collect(),
        confined: policy
            .workflows
            .iter()
            .filter(|w| w.visible_to.as_ref().is_some_and(|seen| !seen.sees_all(&caller.roles)))
            .map(|w| w.id.clone())
            .collect(),
        me: caller.id(),
    })
}

/// The workflows where a relation to a case seats a caller who sees only their own cases: an
/// action taken by the customer's holder (`owner`), or by the head of a named person's unit
/// (`head_of:FIELD`) when the caller holds one of the workflow's `head_roles`. Those cases are
/// theirs to see, as the cases of a workflow they act in by role are. A workflow that confines
/// its cases to their own people (R12.9) is left out. Staff and units are read only when a
/// head's seat needs them.
async fn seated(
    state: &AppState,
    caller: &Caller,
    policy: &Policy,
) -> Result<Vec<(String, kehu_store::visibility::Mine)>, Failure> {
    use kehu_domain::workflow::OWNER;
    if policy.scope(&caller.roles, RecordKind::Cases) != Scope::Own {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut staffing = None;
    for w in &policy.workflows {
        if w.visible_to.is_some() {
            continue;
        }
        let seats = || w.actions.iter().flat_map(|a| &a.by);
        let holder = seats().any(|b| b == OWNER).then(|| caller.id());
        let headed = if w.heads_seat(&caller.roles) {
            if staffing.is_none() {
                staffing = Some(crate::cases::Staffing::load(state, caller.tenant_id).await?);
            }
            staffing
                .as_ref()
                .map(|s| s.headed_by(w, caller.id()))
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        if holder.is_some() || !headed.is_empty() {
            out.push((
                w.id.clone(),
                kehu_store::visibility::Mine {
                    opener: None,
                    holder,
                    headed,
                    // The case's people see it already (its own people, whatever the scope).
                    member: None,
                },
            ));
        }
    }
    Ok(out)
}

/// The caller's view with the policy loaded here (for handlers that have no policy at hand).
pub async fn view_of(state: &AppState, caller: &Caller) -> Result<View, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    view(state, caller, &policy).await
}

/// Locks the customer for the rest of `tx` when the caller sees it; else "no such customer",
/// so a write on a customer outside the caller's view is refused as if it did not exist.
pub async fn lock_customer(
    tx: &mut kehu_store::Tx,
    view: &View,
    caller: &Caller,
    customer_id: i64,
) -> Result<(), Failure> {
    kehu_store::claims::lock_customer_in_view(tx, caller.tenant_id, customer_id, view)
        .await
        .map_err(crate::service::customer_missing())
}
