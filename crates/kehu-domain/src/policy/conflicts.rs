//! The policy section for settling conflicts between two divisions' staff over a customer
//! (R11.6): afterwards the coordinator and the head of each party's division settle it by
//! agreement; when they cannot, the general manager rules alone.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{Checker, LedgerCode, LedgerKind, Party, Role};
use crate::decision::RuleId;

/// R11.6: who records a conflict, whose agreement settles it, who rules once it is escalated.
#[derive(Debug, Clone, Serialize)]
pub struct Conflicts {
    pub rule: RuleId,
    /// Who may record a conflict.
    pub openers: Vec<String>,
    /// The coordinator's roles: one of them signs every settlement and may escalate.
    pub coordinator_roles: Vec<String>,
    /// The heads' roles: the head of each party's unit signs the settlement.
    pub head_roles: Vec<String>,
    /// Who rules alone once a conflict is escalated.
    pub arbiters: Vec<String>,
    /// The automatic ledger code charged to each party when the parties argued in front of the
    /// customer.
    pub penalty: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConflicts {
    rule: Spanned<String>,
    openers: Spanned<Vec<Spanned<String>>>,
    coordinator_roles: Spanned<Vec<Spanned<String>>>,
    head_roles: Spanned<Vec<Spanned<String>>>,
    arbiters: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    penalty: Option<Spanned<String>>,
}

impl Checker<'_> {
    pub(super) fn conflicts(&mut self, raw: RawConflicts, roles: &[Role], codes: &[LedgerCode]) -> Conflicts {
        if let Some(p) = &raw.penalty {
            match codes.iter().find(|c| &c.code == p.get_ref()) {
                None => self.code_ref(p, codes),
                Some(c) if c.manual => self.error(
                    p.span(),
                    format!(
                        "ledger code `{}` is entered by hand; a conflict's fine is charged by its rule",
                        c.code
                    ),
                    "set manual = false on the code, or name an automatic code",
                ),
                Some(c) if c.kind != LedgerKind::Penalty || c.party != Party::Staff => self.error(
                    p.span(),
                    format!("ledger code `{}` is not a penalty charged to staff", c.code),
                    "name a code with kind = \"penalty\" for staff",
                ),
                Some(_) => {}
            }
        }
        Conflicts {
            rule: self.rule(&raw.rule),
            openers: self.role_list(&raw.openers, roles, "[conflicts] openers"),
            coordinator_roles: self.role_list(&raw.coordinator_roles, roles, "[conflicts] coordinator_roles"),
            head_roles: self.role_list(&raw.head_roles, roles, "[conflicts] head_roles"),
            arbiters: self.role_list(&raw.arbiters, roles, "[conflicts] arbiters"),
            penalty: raw.penalty.map(|p| p.into_inner()),
        }
    }
}
