//! The ledger's use cases: reading entries, manual entries by managers with escalation (R5.11,
//! R5.17, R6.1), reversals, and monthly statements per person and unit.

use std::collections::BTreeMap;

use kehu_domain::claim::StaffFacts;
use kehu_domain::ledger::{self, ManualEntry, Statement, decide_manual, decide_reversal, statement};
use kehu_domain::{Policy, Text};
use kehu_store::ledger::{EntryRow, NewEntry};
use kehu_store::{StoreError, staff, units};

use crate::auth::Caller;
use crate::{AppState, Failure};

/// Whether the caller sees more of the ledger than their own entries (the policy's
/// `sees.ledger` is `unit` or `all`), for pages that offer a choice of person.
pub fn reads_others(policy: &Policy, caller: &Caller) -> bool {
    policy.scope(&caller.roles, kehu_domain::policy::RecordKind::Ledger) != kehu_domain::policy::Scope::Own
}

fn forbidden() -> Failure {
    Failure::forbidden(Text::new("无权查看他人的台账", "You may read only your own ledger"))
}

fn bad_period() -> Failure {
    Failure::invalid(
        "invalid_period",
        Text::new(
            "period 须为 YYYY-MM 形式的月份",
            "period must be a month written YYYY-MM",
        ),
    )
}

/// The entries the caller sees (the policy's `sees.ledger`), newest first; `staff_id` outside
/// what they see is refused.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    staff_id: Option<i64>,
    period: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<EntryRow>, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    if period.is_some_and(|p| !ledger::is_month(p)) {
        return Err(bad_period());
    }
    let view = crate::visibility::view(state, caller, &policy).await?;
    if staff_id.is_some_and(|id| !view.ledger.has_staff(Some(id))) {
        return Err(forbidden());
    }
    Ok(kehu_store::ledger::list(&state.db, caller.tenant_id, staff_id, period, (before, limit), &view).await?)
}

/// The latest month with entries the caller may read (`staff_id`'s, or as [`list`] filters
/// without one).
pub async fn latest_period(
    state: &AppState,
    caller: &Caller,
    staff_id: Option<i64>,
) -> Result<Option<String>, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    if staff_id.is_some_and(|id| !view.ledger.has_staff(Some(id))) {
        return Err(forbidden());
    }
    Ok(kehu_store::ledger::latest_period(&state.db, caller.tenant_id, staff_id, &view).await?)
}

pub async fn get(state: &AppState, caller: &Caller, id: i64) -> Result<EntryRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let missing = || Failure::not_found(Text::new("找不到该台账记录", "No such ledger entry"));
    let view = crate::visibility::view(state, caller, &policy).await?;
    kehu_store::ledger::get(&state.db, caller.tenant_id, id, &view)
        .await
        .map_err(|_| missing())
}

/// Locks a staff member's ledger for the rest of `tx`, so two managers entering the same code
/// at once count occurrences one after the other.
pub(crate) async fn lock_staff(tx: &mut kehu_store::Tx, tenant_id: i64, staff_id: i64) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT id FROM staff WHERE tenant_id = $1 AND id = $2{}",
        tx.for_update()
    );
    let found: Option<(i64,)> = tx.fetch_optional(&sql, kehu_store::args![tenant_id, staff_id]).await?;
    found.map(|_| ()).ok_or(StoreError::NotFound)
}

/// A manager enters `quantity` occurrences of a manual code against a staff member.
pub async fn add_manual(
    state: &AppState,
    caller: &Caller,
    staff_id: i64,
    code: &str,
    quantity: u32,
    note: &str,
) -> Result<EntryRow, Failure> {
    add_manual_referring(state, caller, Party::Staff(staff_id), code, quantity, note, None).await
}

/// Whom a manual entry is for.
#[derive(Debug, Clone, Copy)]
pub enum Party {
    Staff(i64),
    /// R5.13: a customer (the referring customer's reward).
    Customer(i64),
}

/// As [`add_manual`], for a staff member or a customer, and for a code that refers to another
/// entry (R6.1).
#[allow(clippy::too_many_arguments)]
pub async fn add_manual_referring(
    state: &AppState,
    caller: &Caller,
    party: Party,
    code: &str,
    quantity: u32,
    note: &str,
    refers_to: Option<i64>,
) -> Result<EntryRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let note = crate::service::clean(Some(note.to_string()), 1000, "note")?.unwrap_or_default();
    let note = note.as_str();
    // Who may keep the ledger is checked first, so nobody else learns which ids exist.
    let by = caller.facts();
    ledger::check_manager(&policy, &by)?;
    let who = match party {
        Party::Staff(id) => staff::get(&state.db, caller.tenant_id, id)
            .await
            .map_err(|_| Failure::invalid("invalid_staff", Text::new("该员工不存在", "No such staff member")))?
            .facts(),
        Party::Customer(id) => {
            let c = kehu_store::customers::get(&state.db, caller.tenant_id, id)
                .await
                .map_err(|_| Failure::invalid("invalid_customer", Text::new("该客户不存在", "No such customer")))?;
            StaffFacts {
                id: c.id,
                name: c.name,
                roles: Vec::new(),
            }
        }
    };
    let now = state.now();
    let period = ledger::month(&policy, now);
    let view = crate::visibility::view(state, caller, &policy).await?;
    let mut tx = state.db.begin().await?;
    let before = match party {
        Party::Staff(id) => {
            lock_staff(&mut tx, caller.tenant_id, id).await?;
            kehu_store::ledger::occurrences(&mut tx, caller.tenant_id, id, code, &period).await?
        }
        Party::Customer(id) => {
            crate::visibility::lock_customer(&mut tx, &view, caller, id).await?;
            0
        }
    };
    let referred = match refers_to {
        None => None,
        Some(id) => Some(
            kehu_store::ledger::get_tx(&mut tx, caller.tenant_id, id)
                .await
                .map_err(|_| {
                    Failure::invalid(
                        "invalid_reference",
                        Text::new("所涉及的台账记录不存在", "The entry referred to does not exist"),
                    )
                })?
                .facts(),
        ),
    };
    let charge = decide_manual(
        &policy,
        &ManualEntry {
            code,
            by: &by,
            who: &who,
            before,
            quantity,
            at: now,
            note,
            refers_to: referred.as_ref(),
            for_customer: matches!(party, Party::Customer(_)),
        },
    )?;
    let (staff_id, customer_id) = match party {
        Party::Staff(id) => (Some(id), None),
        Party::Customer(id) => (None, Some(id)),
    };
    let row = kehu_store::ledger::append(
        &mut tx,
        caller.tenant_id,
        NewEntry {
            staff_id,
            customer_id,
            charge: &charge,
            at: now,
            subject: None,
            reverses: None,
            created_by: Some(caller.id()),
            note: note.trim(),
            quantity,
            refers_to,
        },
    )
    .await?
    .ok_or_else(Failure::internal)?;
    tx.commit().await?;
    Ok(row)
}

/// A manager reverses an entry: a new entry of the opposite sign, with the reason.
pub async fn reverse(state: &AppState, caller: &Caller, id: i64, reason: &str) -> Result<EntryRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let reason = crate::service::clean(Some(reason.to_string()), 1000, "reason")?.unwrap_or_default();
    let reason = reason.as_str();
    let missing = || Failure::not_found(Text::new("找不到该台账记录", "No such ledger entry"));
    let now = state.now();
    let by = caller.facts();
    // Only an entry the caller sees can be reversed.
    let view = crate::visibility::view(state, caller, &policy).await?;
    kehu_store::ledger::get(&state.db, caller.tenant_id, id, &view)
        .await
        .map_err(|_| missing())?;
    let mut tx = state.db.begin().await?;
    let entry = kehu_store::ledger::get_tx(&mut tx, caller.tenant_id, id)
        .await
        .map_err(|_| missing())?;
    match (entry.staff_id, entry.customer_id) {
        (Some(s), _) => lock_staff(&mut tx, caller.tenant_id, s).await?,
        (None, Some(c)) => kehu_store::claims::lock_customer(&mut tx, caller.tenant_id, c).await?,
        (None, None) => {}
    }
    let entry = kehu_store::ledger::get_tx(&mut tx, caller.tenant_id, id)
        .await
        .map_err(|_| missing())?;
    let charge = decide_reversal(&policy, &entry.facts(), &by, reason, now)?;
    let row = kehu_store::ledger::append(
        &mut tx,
        caller.tenant_id,
        NewEntry {
            staff_id: entry.staff_id,
            customer_id: entry.customer_id,
            charge: &charge,
            at: now,
            subject: None,
            reverses: Some(entry.id),
            created_by: Some(caller.id()),
            note: reason.trim(),
            quantity: 0,
            refers_to: None,
        },
    )
    .await?
    .ok_or_else(Failure::internal)?;
    tx.commit().await?;
    Ok(row)
}

/// One line of a monthly statement.
#[derive(Debug, Clone)]
pub struct StatementLine {
    pub id: Option<i64>,
    pub name: String,
    pub unit_id: Option<i64>,
    pub statement: Statement,
}

/// A month's statements: per person, per unit, and the total.
#[derive(Debug, Clone)]
pub struct Statements {
    pub period: String,
    pub people: Vec<StatementLine>,
    pub units: Vec<StatementLine>,
    pub total: Statement,
}

/// The month's statements over the entries the caller sees: every person and unit for a
/// reader of the whole ledger, their unit's for `unit`, their own line for `own`.
pub async fn statements(state: &AppState, caller: &Caller, period: Option<&str>) -> Result<Statements, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let lang = caller.lang;
    let period = match period {
        Some(p) if ledger::is_month(p) => p.to_string(),
        Some(_) => return Err(bad_period()),
        None => ledger::month(&policy, state.now()),
    };
    let view = crate::visibility::view(state, caller, &policy).await?;
    let rows = kehu_store::ledger::for_period(&state.db, caller.tenant_id, &period, &view).await?;
    let people_rows = staff::list(&state.db, caller.tenant_id).await?;
    let mut by_staff: BTreeMap<i64, Vec<kehu_domain::ledger::EntryFacts>> = BTreeMap::new();
    for r in &rows {
        if let Some(s) = r.staff_id {
            by_staff.entry(s).or_default().push(r.facts());
        }
    }
    let mut people = Vec::new();
    let mut by_unit: BTreeMap<Option<i64>, Vec<kehu_domain::ledger::EntryFacts>> = BTreeMap::new();
    for (id, entries) in &by_staff {
        let s = people_rows.iter().find(|s| s.id == *id);
        let unit_id = s.and_then(|s| s.unit_id);
        by_unit.entry(unit_id).or_default().extend(entries.iter().cloned());
        people.push(StatementLine {
            id: Some(*id),
            name: s.map(|s| s.display_name.clone()).unwrap_or_default(),
            unit_id,
            statement: statement(entries),
        });
    }
    // Unit lines for whoever sees more than their own entries.
    let all = reads_others(&policy, caller);
    let unit_rows = if all {
        units::list(&state.db, caller.tenant_id).await?
    } else {
        Vec::new()
    };
    let units = if all {
        by_unit
            .iter()
            .map(|(unit_id, entries)| StatementLine {
                id: *unit_id,
                name: unit_id
                    .and_then(|u| unit_rows.iter().find(|r| r.id == u))
                    .map(|u| u.name.clone())
                    .unwrap_or_else(|| Text::new("未分配部门", "No unit").get(lang).to_string()),
                unit_id: *unit_id,
                statement: statement(entries),
            })
            .collect()
    } else {
        Vec::new()
    };
    let facts: Vec<_> = rows.iter().map(EntryRow::facts).collect();
    Ok(Statements {
        period,
        people,
        units,
        total: statement(&facts),
    })
}
