//! Profile snapshots (R1.8): taken by a case's `snapshot` effect (in the step's transaction, with
//! a history event), read by whoever sees the customer, and compared with the profile today.

use kehu_domain::snapshot::{Difference, differences, profile};
use kehu_domain::{Decision, Permission, Text, Timestamp};
use kehu_store::StoreError;
use kehu_store::cases::CaseRow;
use kehu_store::db::Tx;
use kehu_store::history::{self, NewEvent};
use kehu_store::snapshots::{self as store, NewSnapshot, SnapshotRow};

use crate::auth::Caller;
use crate::{AppState, Failure};

/// Keeps a snapshot of the case's customer's profile and the case's fields, once per step
/// (`subject`), with its history event.
pub(crate) async fn take(
    tx: &mut Tx,
    row: &CaseRow,
    subject: &str,
    decision: &Decision,
    now: Timestamp,
) -> Result<(), Failure> {
    let Some(customer_id) = row.customer_id else {
        return Ok(());
    };
    let c = kehu_store::customers::get_tx(tx, row.tenant_id, customer_id).await?;
    let content = profile(
        (&c.name, c.grade.as_deref(), &c.tag_list()),
        (row.id, &row.workflow, &row.field_map()),
    );
    let new = NewSnapshot {
        customer_id,
        case_id: Some(row.id),
        subject,
        content: &content,
        at: now,
        decision,
    };
    if let Some(id) = store::insert(tx, row.tenant_id, new).await? {
        history::append(
            tx,
            row.tenant_id,
            now,
            NewEvent {
                actor_id: None,
                entity: "snapshot",
                entity_id: id,
                customer_id: Some(customer_id),
                action: "take",
                after: Some(content),
                decision: Some(decision),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(())
}

/// The snapshots of a customer the caller sees, newest first.
pub async fn list(state: &AppState, caller: &Caller, customer_id: i64) -> Result<Vec<SnapshotRow>, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::CustomersRead)?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    crate::service::visible_customer(state, caller, &view, customer_id).await?;
    Ok(store::for_customer(&state.db, caller.tenant_id, customer_id).await?)
}

fn missing() -> impl Fn(StoreError) -> Failure {
    move |e| match e {
        StoreError::NotFound => Failure::not_found(Text::new("找不到该档案快照", "No such profile snapshot")),
        other => other.into(),
    }
}

/// One snapshot of a customer the caller sees, and each part of it beside the profile today
/// (the customer as it is, and the case that took it as it is now).
pub async fn compare(
    state: &AppState,
    caller: &Caller,
    customer_id: i64,
    id: i64,
) -> Result<(SnapshotRow, Vec<Difference>), Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::CustomersRead)?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    let customer = crate::service::visible_customer(state, caller, &view, customer_id).await?;
    let snap = store::get(&state.db, caller.tenant_id, customer_id, id)
        .await
        .map_err(missing())?;
    let case = match snap.case_id {
        // The case as it is now (a rule reads it here, whoever may open it).
        Some(c) => match kehu_store::cases::get_any(&state.db, caller.tenant_id, c).await {
            Ok(row) => Some(row),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let (fields, wf_id, case_id) = match &case {
        Some(r) => (r.field_map(), r.workflow.clone(), r.id),
        None => Default::default(),
    };
    let now = profile(
        (&customer.name, customer.grade.as_deref(), &customer.tag_list()),
        (case_id, &wf_id, &fields),
    );
    let defs = match &case {
        Some(r) => Some(crate::cases::policy_of(state, r).await?.0),
        None => None,
    };
    let wf = defs.as_ref().and_then(|p| p.workflow(&wf_id));
    let lines = differences(wf, &snap.content(), &now);
    Ok((snap, lines))
}
