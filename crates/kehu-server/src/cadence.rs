//! Visit cadence (R1.6, R1.7): which customers are due or overdue for a visit, per responsible
//! person and unit, and the senior visits some roles owe. Computed from the customers that have
//! a grade or tags, their visits and their owners; every line carries its decision.

use std::collections::HashMap;

use kehu_domain::cadence::{Visited, duties_due, visit_due};
use kehu_domain::{Decision, Permission, Text, Timestamp};
use kehu_store::{activities, customers, staff, ts};

use crate::auth::Caller;
use crate::{AppState, Failure};

/// One customer's next visit, for its owner or for a duty.
#[derive(Debug, Clone)]
pub struct Line {
    pub customer_id: i64,
    pub name: String,
    pub grade: Option<String>,
    pub tags: Vec<String>,
    /// The owner responsible for the visit (none: unowned).
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub unit_id: Option<i64>,
    /// For a duty visit: the roles that owe it.
    pub duty_roles: Vec<String>,
    pub due: Timestamp,
    pub overdue: bool,
    pub decision: Decision,
}

/// The cadence lines a caller may see: their own customers, or (for managers) a person's, a
/// unit's or everyone's. `overdue_only` keeps the overdue ones.
pub async fn lines(
    state: &AppState,
    caller: &Caller,
    staff_id: Option<i64>,
    unit_id: Option<i64>,
    overdue_only: bool,
) -> Result<Vec<Line>, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::CustomersRead)?;
    let Some(cad) = &policy.cadence else {
        return Ok(Vec::new());
    };
    let manager =
        caller.may(&policy, Permission::ClaimsCreateForOthers) || caller.may(&policy, Permission::StaffManage);
    let staff_id = match (staff_id, unit_id, manager) {
        (Some(id), _, false) if id != caller.id() => {
            return Err(Failure::forbidden(Text::new(
                "只能查看自己的拜访计划",
                "You may see only your own visits",
            )));
        }
        (None, Some(_), false) => {
            return Err(Failure::forbidden(Text::new(
                "只有管理人员可以查看部门的拜访计划",
                "Only managers see a unit's visits",
            )));
        }
        (None, None, false) => Some(caller.id()),
        (s, _, _) => s,
    };
    let now = state.now();
    let people = staff::list(&state.db, caller.tenant_id).await?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    let graded = customers::graded(&state.db, caller.tenant_id, &view).await?;
    let ids: Vec<i64> = graded.iter().map(|c| c.id).collect();
    // Owners as the ownership rule derives them (the same function as the customer pages).
    let mut owners: HashMap<i64, i64> = HashMap::new();
    for chunk in ids.chunks(500) {
        for (cid, (staff_id, _)) in crate::service::owners(state, &policy, caller.tenant_id, chunk).await? {
            owners.insert(cid, staff_id);
        }
    }
    let channels: Vec<&str> = cad.channels.iter().map(|c| c.as_str()).collect();
    let visits = activities::visits(&state.db, caller.tenant_id, &channels).await?;
    // Visits grouped by customer once: (when, the visitor's roles).
    let mut by_customer: HashMap<i64, Vec<(i64, &str)>> = HashMap::new();
    for (cid, at, roles) in &visits {
        by_customer.entry(*cid).or_default().push((*at, roles.as_str()));
    }
    let mut out = Vec::new();
    for c in &graded {
        let v = Visited {
            customer_id: c.id,
            name: c.name.clone(),
            grade: c.grade.clone(),
            tags: c.tag_list(),
            since: ts(c.created_at),
            last_visit: by_customer
                .get(&c.id)
                .and_then(|v| v.iter().map(|(at, _)| *at).max())
                .map(ts),
        };
        let owner = owners.get(&c.id).copied();
        let owner_row = owner.and_then(|o| people.iter().find(|p| p.id == o));
        let base = |due: &kehu_domain::cadence::VisitDue, duty_roles: Vec<String>| Line {
            customer_id: c.id,
            name: c.name.clone(),
            grade: c.grade.clone(),
            tags: c.tag_list(),
            owner_id: owner,
            owner_name: owner_row.map(|p| p.display_name.clone()),
            unit_id: owner_row.and_then(|p| p.unit_id),
            duty_roles,
            due: due.due,
            overdue: due.overdue,
            decision: due.decision.clone(),
        };
        if let Some(due) = visit_due(&policy, &v, now) {
            out.push(base(&due, Vec::new()));
        }
        let mine = by_customer.get(&c.id);
        let by_role = |roles: &[String]| {
            mine.into_iter()
                .flatten()
                .filter(|(_, r)| r.split(',').any(|x| roles.iter().any(|y| y == x)))
                .map(|(at, _)| ts(*at))
                .max()
        };
        for (roles, due) in duties_due(&policy, &v, &by_role, now) {
            out.push(base(&due, roles));
        }
    }
    let unit_members = |u: i64| -> Vec<i64> { people.iter().filter(|p| p.unit_id == Some(u)).map(|p| p.id).collect() };
    let caller_roles = caller.roles.clone();
    out.retain(|l| {
        let mine = match (staff_id, unit_id) {
            (Some(s), _) => {
                l.owner_id == Some(s) || (s == caller.id() && l.duty_roles.iter().any(|r| caller_roles.contains(r)))
            }
            (None, Some(u)) => l.owner_id.is_some_and(|o| unit_members(u).contains(&o)),
            (None, None) => true,
        };
        mine && (!overdue_only || l.overdue)
    });
    out.sort_by_key(|l| (l.due, l.customer_id));
    Ok(out)
}
