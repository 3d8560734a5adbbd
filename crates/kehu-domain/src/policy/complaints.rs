//! The `[complaints]` section (R11.9): who records a complaint found and marks it resolved, what
//! each complaint costs the staff member concerned and their unit's manager, by when it must be
//! resolved, and who may take the customer over when it is not.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::timed::{LedgerCode, Period};
use super::{Checker, Role};
use crate::decision::RuleId;

/// R11.9: complaint fines and the complaint deadline.
#[derive(Debug, Clone, Serialize)]
pub struct Complaints {
    pub rule: RuleId,
    /// Roles that record a complaint found and mark it resolved.
    pub roles: Vec<String>,
    /// Charged to the staff member concerned when the customer did not complain to the boss.
    pub staff_code: String,
    /// Charged to the staff member concerned and to each manager of their unit when the customer
    /// complained to the boss (instead of `staff_code`).
    pub to_boss_code: String,
    /// Roles that count as a unit's manager.
    pub manager_roles: Vec<String>,
    /// A complaint is resolved within this long of being found.
    pub resolve_within: Period,
    /// Charged to the staff member and each manager when the complaint is still open at the limit.
    pub unresolved_code: String,
    /// Roles that may receive the customer, in another unit, when the complaint is still open at
    /// the limit.
    pub reassign_roles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawComplaints {
    rule: Spanned<String>,
    roles: Spanned<Vec<Spanned<String>>>,
    staff_code: Spanned<String>,
    to_boss_code: Spanned<String>,
    manager_roles: Spanned<Vec<Spanned<String>>>,
    resolve_within: Spanned<String>,
    unresolved_code: Spanned<String>,
    reassign_roles: Spanned<Vec<Spanned<String>>>,
}

impl Checker<'_> {
    pub(super) fn complaints(&mut self, raw: RawComplaints, roles: &[Role], codes: &[LedgerCode]) -> Complaints {
        let resolve_within = self
            .period(&raw.resolve_within)
            .unwrap_or_else(|| Period::parse("3 days").expect("a well-formed period"));
        Complaints {
            rule: self.rule(&raw.rule),
            roles: self.role_list(&raw.roles, roles, "[complaints] roles"),
            staff_code: self.automatic_code(&raw.staff_code, codes, "[complaints]"),
            to_boss_code: self.automatic_code(&raw.to_boss_code, codes, "[complaints]"),
            manager_roles: self.role_list(&raw.manager_roles, roles, "[complaints] manager_roles"),
            resolve_within,
            unresolved_code: self.automatic_code(&raw.unresolved_code, codes, "[complaints]"),
            reassign_roles: self.role_list(&raw.reassign_roles, roles, "[complaints] reassign_roles"),
        }
    }
}
