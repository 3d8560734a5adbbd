//! The policy section for who a sale counts for: the owner by default, the closer of a referred
//! customer (R5.7), the current inviter at an event (R11.5), and the roles that together change a
//! sale's credit in a special case (R5.7).

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{Checker, Role};
use crate::decision::RuleId;

#[derive(Debug, Clone, Serialize)]
pub struct SalesPolicy {
    /// The rule a sale credited to the customer's owner cites.
    pub rule: RuleId,
    pub referred: Option<Referred>,
    pub at_events: Option<AtEvents>,
    pub special: Option<SpecialCases>,
}

/// R5.7: a customer from these sources belongs to whoever closes.
#[derive(Debug, Clone, Serialize)]
pub struct Referred {
    pub rule: RuleId,
    pub sources: Vec<String>,
}

/// R11.5: a sale at an event counts for the current inviter; others help only with consent.
#[derive(Debug, Clone, Serialize)]
pub struct AtEvents {
    pub rule: RuleId,
}

/// R5.7: every one of these roles signs a change of a sale's credit.
#[derive(Debug, Clone, Serialize)]
pub struct SpecialCases {
    pub rule: RuleId,
    pub roles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSales {
    rule: Spanned<String>,
    #[serde(default)]
    referred: Option<RawReferred>,
    #[serde(default)]
    at_events: Option<RawAtEvents>,
    #[serde(default)]
    special: Option<RawSpecial>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReferred {
    rule: Spanned<String>,
    sources: Spanned<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAtEvents {
    rule: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpecial {
    rule: Spanned<String>,
    roles: Spanned<Vec<Spanned<String>>>,
}

impl Checker<'_> {
    pub(super) fn sales(&mut self, raw: RawSales, roles: &[Role]) -> SalesPolicy {
        let referred = raw.referred.map(|r| {
            if r.sources.get_ref().iter().all(|s| s.trim().is_empty()) {
                self.error(
                    r.sources.span(),
                    "referred needs at least one source",
                    "for example sources = [\"朋友介绍\"]",
                );
            }
            Referred {
                rule: self.rule(&r.rule),
                sources: r.sources.into_inner(),
            }
        });
        let special = raw.special.map(|s| {
            if s.roles.get_ref().len() < 2 {
                self.error(
                    s.roles.span(),
                    "special cases need at least two roles signing together",
                    "R5.7: roles = [\"team_leader\", \"sales_manager\"]",
                );
            }
            SpecialCases {
                rule: self.rule(&s.rule),
                roles: self.role_list(&s.roles, roles, "[sales.special] roles"),
            }
        });
        SalesPolicy {
            rule: self.rule(&raw.rule),
            referred,
            at_events: raw.at_events.map(|a| AtEvents {
                rule: self.rule(&a.rule),
            }),
            special,
        }
    }
}
