//! The policy section for who a sale counts for: the owner by default, the closer of a referred
//! customer (R5.7), the current inviter at an event (R11.5), and the roles that together change a
//! sale's credit in a special case (R5.7).

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{Checker, LedgerCode, Party, Role};
use crate::decision::RuleId;

#[derive(Debug, Clone, Serialize)]
pub struct SalesPolicy {
    /// The rule a sale credited to the customer's owner cites.
    pub rule: RuleId,
    pub referred: Option<Referred>,
    pub at_events: Option<AtEvents>,
    pub special: Option<SpecialCases>,
    pub referral: Option<ReferralPoints>,
}

/// R11.2: points for the existing customer who brought a new one (its `referrer_id`): per new
/// customer brought to an event (checked in at it, see `[events.attendance]`), and per `per` fen
/// the new customer buys at the event.
#[derive(Debug, Clone, Serialize)]
pub struct ReferralPoints {
    pub rule: RuleId,
    /// The ledger code charged once per new customer and event.
    pub new_customer: Option<String>,
    /// The ledger code charged once per full `per` of a sale at an event.
    pub sales: Option<String>,
    /// In fen: 100000 is 1,000 yuan.
    pub per: i64,
}

/// R5.7: a customer from these sources (ids of the policy's sources, or free text when it lists
/// none) belongs to whoever closes.
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
    #[serde(default)]
    referral: Option<RawReferral>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReferral {
    rule: Spanned<String>,
    #[serde(default)]
    new_customer: Option<Spanned<String>>,
    #[serde(default)]
    sales: Option<Spanned<String>>,
    #[serde(default)]
    per: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReferred {
    rule: Spanned<String>,
    sources: Spanned<Vec<Spanned<String>>>,
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
    pub(super) fn sales(
        &mut self,
        raw: RawSales,
        roles: &[Role],
        codes: &[LedgerCode],
        sources: &[super::Source],
    ) -> SalesPolicy {
        let referred = raw.referred.map(|r| Referred {
            sources: self.source_refs(&r.sources, sources, "referred"),
            rule: self.rule(&r.rule),
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
        let referral = raw.referral.map(|r| {
            for c in [&r.new_customer, &r.sales].into_iter().flatten() {
                self.code_ref(c, codes);
                if let Some(code) = codes.iter().find(|x| &x.code == c.get_ref())
                    && (code.manual || code.party != Party::Customer)
                {
                    self.error(
                        c.span(),
                        format!("ledger code `{}` must be automatic and for a customer", c.get_ref()),
                        "set manual = false and party = \"customer\" on the code",
                    );
                }
            }
            let per = r.per.as_ref().map(|p| *p.get_ref()).unwrap_or(100_000);
            if per <= 0 {
                let span = r.per.as_ref().map(|p| p.span()).unwrap_or_else(|| r.rule.span());
                self.error(
                    span,
                    format!("per = {per} must be more than zero"),
                    "R11.2: per = 100000 (1,000 yuan)",
                );
            }
            ReferralPoints {
                rule: self.rule(&r.rule),
                new_customer: r.new_customer.map(|c| c.into_inner()),
                sales: r.sales.map(|c| c.into_inner()),
                per: per.max(1),
            }
        });
        SalesPolicy {
            referral,
            rule: self.rule(&raw.rule),
            referred,
            at_events: raw.at_events.map(|a| AtEvents {
                rule: self.rule(&a.rule),
            }),
            special,
        }
    }
}
