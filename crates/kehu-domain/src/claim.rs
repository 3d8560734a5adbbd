//! Registering and confirming claims (R3.3, R5.1, R7.7): whether a claim may be registered,
//! whether it waits for a confirming role, and when it takes effect.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Timestamp;
use crate::decision::{Decision, Refusal, RuleId};
use crate::policy::{DuplicateClaims, EffectiveAt, Policy};
use crate::text::Text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// Waiting for confirmation by a role the policy names.
    Pending,
    Valid,
    Expired,
    Void,
    Cancelled,
}

impl ClaimStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Pending => "pending",
            ClaimStatus::Valid => "valid",
            ClaimStatus::Expired => "expired",
            ClaimStatus::Void => "void",
            ClaimStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ClaimStatus> {
        [
            ClaimStatus::Pending,
            ClaimStatus::Valid,
            ClaimStatus::Expired,
            ClaimStatus::Void,
            ClaimStatus::Cancelled,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// Pending or valid: the claim still stands.
    pub fn is_active(self) -> bool {
        matches!(self, ClaimStatus::Pending | ClaimStatus::Valid)
    }

    /// A refusal because a claim is in this state: "This claim is void; <why>".
    pub fn refusal(self, code: &'static str, rule: &RuleId, zh: &str, en: &str) -> Refusal {
        let label = self.label();
        Refusal {
            code,
            rule: Some(rule.clone()),
            text: Text::new(
                format!("该登记状态为“{}”，{zh}", label.zh),
                format!("This claim is {}; {en}", label.en.to_lowercase()),
            ),
        }
    }

    pub fn label(self) -> Text {
        match self {
            ClaimStatus::Pending => Text::new("待确认", "Pending"),
            ClaimStatus::Valid => Text::new("有效", "Valid"),
            ClaimStatus::Expired => Text::new("已过期", "Expired"),
            ClaimStatus::Void => Text::new("已作废", "Void"),
            ClaimStatus::Cancelled => Text::new("已撤销", "Cancelled"),
        }
    }
}

/// What the rules need to know about one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimFacts {
    pub id: i64,
    pub staff_id: i64,
    pub staff_name: String,
    pub status: ClaimStatus,
    pub registered_at: Timestamp,
    pub effective_at: Option<Timestamp>,
    pub confirmed_at: Option<Timestamp>,
    pub confirmed_by_id: Option<i64>,
    pub confirmed_by_name: Option<String>,
    /// The confirming role, as its ID in the policy.
    pub confirmed_by_role: Option<String>,
    /// When the claim stopped standing (lapsed, cancelled), and the rule that ended it.
    pub ended_at: Option<Timestamp>,
    pub ended_rule: Option<RuleId>,
    /// The void claim this one was reassigned from (R5.3).
    pub reassigned_from: Option<i64>,
    /// The customer's grade, for per-grade follow-up windows.
    pub customer_grade: Option<String>,
    /// R3.1, R3.3: when the staff member met and registered the customer, as the form says
    /// (`None`: at the submission).
    pub contact_at: Option<Timestamp>,
    /// R11.4: the division (unit) the claim counts for: its joint event's division, else the
    /// holder's unit.
    pub division: Option<i64>,
    /// R11.3: when an invitation to a joint event must be filed, and when it was.
    pub filing_due: Option<Timestamp>,
    pub filed_at: Option<Timestamp>,
}

/// The staff member a claim is registered for, or who confirms it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffFacts {
    pub id: i64,
    pub name: String,
    pub roles: Vec<String>,
}

/// A registration the rules accept.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub status: ClaimStatus,
    pub effective_at: Option<Timestamp>,
    pub decision: Decision,
}

/// R11.4: whether a claim counting for `division` (`claim_id` once it exists) may be registered
/// or confirmed while the customer's claims are `existing`: refused when another division holds
/// a valid claim, unless that is an invitation to a joint event overdue for filing and not filed
/// (R11.3), which no longer keeps the customer.
pub fn decide_other_division(
    policy: &Policy,
    claim_id: Option<i64>,
    division: Option<i64>,
    existing: &[ClaimFacts],
    now: Timestamp,
) -> Result<(), Refusal> {
    let (Some(rule), Some(mine)) = (&policy.claims.one_division, division) else {
        return Ok(());
    };
    let overdue = |c: &ClaimFacts| c.filing_due.is_some_and(|due| due < now) && c.filed_at.is_none();
    let held = existing
        .iter()
        .filter(|c| Some(c.id) != claim_id && c.status == ClaimStatus::Valid && !overdue(c))
        .filter(|c| c.division.is_some_and(|d| d != mine))
        .min_by_key(|c| (c.effective_at, c.id));
    let Some(other) = held else {
        return Ok(());
    };
    let rule = &rule.rule;
    let at = policy.local_time(other.effective_at.unwrap_or(other.registered_at));
    Err(Refusal {
        code: "invited_by_other_division",
        rule: Some(rule.clone()),
        text: Text::new(
            format!(
                "该客户已由另一部门的{}邀约，并于 {at} 确认；已有部门邀约敲定的顾客，其他部门不能再邀约（{rule}）",
                other.staff_name
            ),
            format!(
                "{} of another division invited this customer, confirmed at {at}; once one division's invitation is confirmed, no other division may invite the customer ({rule})",
                other.staff_name
            ),
        ),
    })
}

/// Decides a new claim by `holder`, counting for `division`, on a customer whose claims are
/// `existing`.
pub fn decide_registration(
    policy: &Policy,
    now: Timestamp,
    holder: &StaffFacts,
    division: Option<i64>,
    existing: &[ClaimFacts],
) -> Result<Registration, Refusal> {
    if existing.iter().any(|c| c.staff_id == holder.id && c.status.is_active()) {
        return Err(Refusal {
            code: "already_claimed",
            rule: None,
            text: Text::new(
                format!("{}已登记该客户，不能重复登记", holder.name),
                format!("{} already holds a claim on this customer", holder.name),
            ),
        });
    }
    if policy.claims.duplicates == DuplicateClaims::Refuse
        && let Some(other) = existing.iter().find(|c| c.status.is_active())
    {
        return Err(Refusal {
            code: "customer_already_claimed",
            rule: Some(policy.ownership.rule.clone()),
            text: Text::new(
                format!(
                    "该客户已由{}登记，不能再登记（{}）",
                    other.staff_name, policy.ownership.rule
                ),
                format!(
                    "This customer is already claimed by {}; it cannot be claimed again ({})",
                    other.staff_name, policy.ownership.rule
                ),
            ),
        });
    }
    decide_other_division(policy, None, division, existing, now)?;
    let at = policy.local_time(now);
    let facts = json!({
        "staff_id": holder.id,
        "registered_at": now.to_string(),
        "other_active_claims": existing.iter().filter(|c| c.status.is_active()).count(),
    });
    match &policy.claims.confirmation {
        Some(conf) => {
            let roles: Vec<String> = conf.roles.iter().map(|r| policy.role_name(r).zh).collect();
            let roles_en: Vec<String> = conf.roles.iter().map(|r| policy.role_name(r).en).collect();
            Ok(Registration {
                status: ClaimStatus::Pending,
                effective_at: None,
                decision: Decision {
                    key: "claim.pending".into(),
                    rule: conf.rule.clone(),
                    policy_version: policy.version,
                    facts,
                    text: Text::new(
                        format!(
                            "{}于 {at} 登记，待{}确认后生效（{}）",
                            holder.name,
                            roles.join("或"),
                            conf.rule
                        ),
                        format!(
                            "{} registered at {at}; the claim takes effect once a {} confirms it ({})",
                            holder.name,
                            roles_en.join(" or ").to_lowercase(),
                            conf.rule
                        ),
                    ),
                },
            })
        }
        None => Ok(Registration {
            status: ClaimStatus::Valid,
            effective_at: Some(now),
            decision: Decision {
                key: "claim.valid".into(),
                rule: policy.claims.rule.clone(),
                policy_version: policy.version,
                facts,
                text: Text::new(
                    format!("{}于 {at} 登记，即时生效（{}）", holder.name, policy.claims.rule),
                    format!(
                        "{} registered at {at}; the claim takes effect at once ({})",
                        holder.name, policy.claims.rule
                    ),
                ),
            },
        }),
    }
}

/// R3.1: the last moment a form for a contact at `contact_at` may be handed in without being
/// a recorded lateness: the next day's `late_until` when the policy allows late submission, else
/// the cut-off. `None` without a cut-off.
pub fn submission_limit(policy: &Policy, contact_at: Timestamp) -> Option<Timestamp> {
    let sub = policy.claims.submission.as_ref()?;
    Some(match sub.late_until {
        Some(t) => t.next_day_after(contact_at, &policy.tz),
        None => sub.by.after(contact_at, &policy.tz),
    })
}

/// R3.1: how late a registration was submitted after the contact, when it was late.
#[derive(Debug, Clone, PartialEq)]
pub struct LateSubmission {
    pub decision: Decision,
    /// The ledger code to charge (R3.12), when later than the grace allows.
    pub penalty: Option<String>,
}

/// Decides whether a registration of a contact at `contact_at`, submitted at `now`, was on time
/// (R3.1). `Ok(None)`: on time, or the policy sets no cut-off.
pub fn decide_submission(
    policy: &Policy,
    holder: &StaffFacts,
    contact_at: Timestamp,
    now: Timestamp,
) -> Result<Option<LateSubmission>, Refusal> {
    let Some(sub) = &policy.claims.submission else {
        return Ok(None);
    };
    if contact_at > now {
        return Err(Refusal {
            code: "contact_in_future",
            rule: Some(sub.rule.clone()),
            text: Text::new("接待时间不能晚于现在", "The contact cannot be in the future"),
        });
    }
    let by = sub.by.after(contact_at, &policy.tz);
    if now <= by {
        return Ok(None);
    }
    let grace = sub.late_until.map(|t| t.next_day_after(contact_at, &policy.tz));
    let (c, b, n) = (
        policy.local_time(contact_at),
        policy.local_time(by),
        policy.local_time(now),
    );
    let facts = json!({
        "staff_id": holder.id,
        "contact_at": contact_at.to_string(),
        "due": by.to_string(),
        "late_until": grace.map(|g| g.to_string()),
        "submitted_at": now.to_string(),
    });
    let rule = &sub.rule;
    if let Some(g) = grace.filter(|g| now <= *g) {
        let g = policy.local_time(g);
        return Ok(Some(LateSubmission {
            penalty: None,
            decision: Decision {
                key: "claim.late_within_grace".into(),
                rule: rule.clone(),
                policy_version: policy.version,
                facts,
                text: Text::new(
                    format!(
                        "{}于 {n} 补交 {c} 接待客户的登记：晚于当天截止（{b}），在次日 {g} 前补交，允许（{rule}）",
                        holder.name
                    ),
                    format!(
                        "{} submitted at {n} the registration of a contact at {c}: after the cut-off ({b}) but before {g} the next day, which is allowed ({rule})",
                        holder.name
                    ),
                ),
            },
        }));
    }
    let limit = grace.map(|g| policy.local_time(g)).unwrap_or(b);
    Ok(Some(LateSubmission {
        penalty: sub.penalty.clone(),
        decision: Decision {
            key: "claim.late".into(),
            rule: rule.clone(),
            policy_version: policy.version,
            facts,
            text: Text::new(
                format!(
                    "{}于 {n} 才提交 {c} 接待客户的登记，晚于 {limit}：记迟交一次（{rule}）",
                    holder.name
                ),
                format!(
                    "{} submitted at {n} the registration of a contact at {c}, after {limit}: a late submission is recorded ({rule})",
                    holder.name
                ),
            ),
        },
    }))
}

/// A confirmation the rules accept.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmed {
    pub effective_at: Timestamp,
    /// The role the confirmer confirmed in.
    pub role: String,
    pub decision: Decision,
}

/// Whether a claim may be registered on a customer the registrant does not otherwise see.
/// Where the policy lets several claims stand (R3.3, R5.5, R7.7), someone who meets a customer
/// that the duplicate check names registers their own claim, and the ownership rule decides
/// between the claims; once registered, the customer is theirs to see. Under `refuse` they may
/// not, so an unseen customer stays not found.
pub fn may_claim_unseen(policy: &Policy) -> bool {
    policy.claims.duplicates == crate::policy::DuplicateClaims::Allow
}

/// Decides whether `confirmer` may confirm `claim` now, and when it takes effect (R5.1); the
/// customer's other claims are `others` (R11.4: another division may hold it already).
pub fn decide_confirmation(
    policy: &Policy,
    now: Timestamp,
    claim: &ClaimFacts,
    others: &[ClaimFacts],
    confirmer: &StaffFacts,
) -> Result<Confirmed, Refusal> {
    let Some(conf) = &policy.claims.confirmation else {
        return Err(Refusal {
            code: "confirmation_not_required",
            rule: Some(policy.claims.rule.clone()),
            text: Text::new(
                format!("本制度下登记无需确认（{}）", policy.claims.rule),
                format!("Claims need no confirmation under this policy ({})", policy.claims.rule),
            ),
        });
    };
    if claim.status != ClaimStatus::Pending {
        return Err(claim.status.refusal(
            "claim_not_pending",
            &conf.rule,
            "只有待确认的登记可以确认",
            "only pending claims can be confirmed",
        ));
    }
    let role = confirmer
        .roles
        .iter()
        .find(|r| conf.roles.contains(r))
        .or_else(|| confirmer.roles.iter().find(|r| *r == crate::policy::ADMIN_ROLE));
    let Some(role) = role else {
        let names = policy.roles_text(&conf.roles);
        return Err(Refusal {
            code: "forbidden",
            rule: Some(conf.rule.clone()),
            text: Text::new(
                format!("只有{}可以确认登记（{}）", names.zh, conf.rule),
                format!("Only a {} may confirm a claim ({})", names.en, conf.rule),
            ),
        });
    };
    // Separation of duties: whoever must confirm a claim is someone other than its holder.
    if policy.separation_of_duties && confirmer.id == claim.staff_id {
        let names = policy.roles_text(&conf.roles);
        return Err(Refusal {
            code: "own_claim",
            rule: Some(conf.rule.clone()),
            text: Text::new(
                format!(
                    "不能确认自己的登记：须由另一位{}确认（{}，职责分离）",
                    names.zh, conf.rule
                ),
                format!(
                    "You cannot confirm your own claim: another {} must ({}, separation of duties)",
                    names.en, conf.rule
                ),
            ),
        });
    }
    decide_other_division(policy, Some(claim.id), claim.division, others, now)?;
    let effective_at = match conf.effective {
        EffectiveAt::AtConfirmation => now,
        EffectiveAt::AtRegistration => claim.registered_at,
    };
    let role_name = policy.role_name(role);
    let (reg, eff) = (policy.local_time(claim.registered_at), policy.local_time(effective_at));
    let text = match conf.effective {
        EffectiveAt::AtConfirmation => Text::new(
            format!(
                "{}于 {reg} 登记，{}{}于 {eff} 确认，自确认时起生效（{}）",
                claim.staff_name, role_name.zh, confirmer.name, conf.rule
            ),
            format!(
                "{} registered at {reg}; {} {} confirmed at {eff}, so the claim takes effect at the confirmation ({})",
                claim.staff_name, role_name.en, confirmer.name, conf.rule
            ),
        ),
        EffectiveAt::AtRegistration => Text::new(
            format!(
                "{}于 {reg} 登记，{}{}确认，自登记时起生效（{}）",
                claim.staff_name, role_name.zh, confirmer.name, conf.rule
            ),
            format!(
                "{} registered at {reg}; {} {} confirmed it, so it takes effect from the registration ({})",
                claim.staff_name, role_name.en, confirmer.name, conf.rule
            ),
        ),
    };
    Ok(Confirmed {
        effective_at,
        role: role.clone(),
        decision: Decision {
            key: "claim.confirmed".into(),
            rule: conf.rule.clone(),
            policy_version: policy.version,
            facts: json!({
                "claim_id": claim.id,
                "registered_at": claim.registered_at.to_string(),
                "confirmed_at": now.to_string(),
                "confirmed_by": confirmer.id,
                "confirmed_as": role,
                "effective": conf.effective,
                "effective_at": effective_at.to_string(),
            }),
            text,
        },
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::policy::tests::sample;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn staff(id: i64, name: &str, role: &str) -> StaffFacts {
        StaffFacts {
            id,
            name: name.into(),
            roles: vec![role.into()],
        }
    }

    pub(crate) fn pending(id: i64, staff_id: i64, name: &str, at: &str) -> ClaimFacts {
        ClaimFacts {
            id,
            staff_id,
            staff_name: name.into(),
            status: ClaimStatus::Pending,
            registered_at: t(at),
            effective_at: None,
            confirmed_at: None,
            confirmed_by_id: None,
            confirmed_by_name: None,
            confirmed_by_role: None,
            ended_at: None,
            ended_rule: None,
            reassigned_from: None,
            customer_grade: None,
            contact_at: None,
            division: None,
            filing_due: None,
            filed_at: None,
        }
    }

    #[test]
    fn r5_1_card_waits_for_the_team_leader() {
        let p = sample();
        let r = decide_registration(
            &p,
            t("2026-11-03T01:12:00Z"),
            &staff(1, "王芳", "consultant"),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(r.status, ClaimStatus::Pending);
        assert_eq!(r.effective_at, None);
        assert_eq!(r.decision.rule.as_str(), "R5.1");
        assert!(
            r.decision.text.zh.contains("2026-11-03 09:12"),
            "{}",
            r.decision.text.zh
        );
        assert!(r.decision.text.zh.contains("销售组长确认后生效"));
    }

    #[test]
    fn r5_1_card_signed_later_takes_effect_at_the_signature() {
        let p = sample();
        let claim = pending(7, 1, "王芳", "2026-11-03T01:12:00Z");
        let now = t("2026-11-04T02:00:00Z");
        let c = decide_confirmation(&p, now, &claim, &[], &staff(2, "赵组长", "team_leader")).unwrap();
        assert_eq!(c.effective_at, now);
        assert_eq!(c.role, "team_leader");
        assert!(c.decision.text.zh.contains("自确认时起生效"));
    }

    #[test]
    fn r5_1_only_the_named_roles_confirm() {
        let p = sample();
        let claim = pending(7, 1, "王芳", "2026-11-03T01:12:00Z");
        let err = decide_confirmation(
            &p,
            t("2026-11-03T02:00:00Z"),
            &claim,
            &[],
            &staff(3, "李强", "consultant"),
        )
        .unwrap_err();
        assert_eq!(err.code, "forbidden");
        assert_eq!(err.rule.unwrap().as_str(), "R5.1");
        let mut valid = claim.clone();
        valid.status = ClaimStatus::Valid;
        let err = decide_confirmation(
            &p,
            t("2026-11-03T02:00:00Z"),
            &valid,
            &[],
            &staff(2, "赵组长", "team_leader"),
        )
        .unwrap_err();
        assert_eq!(err.code, "claim_not_pending");
    }

    #[test]
    fn a_holder_cannot_claim_twice_and_refuse_mode_refuses_others() {
        let p = sample();
        let existing = [pending(7, 1, "王芳", "2026-11-03T01:12:00Z")];
        let now = t("2026-11-03T03:00:00Z");
        let err = decide_registration(&p, now, &staff(1, "王芳", "consultant"), None, &existing).unwrap_err();
        assert_eq!(err.code, "already_claimed");
        assert!(decide_registration(&p, now, &staff(2, "李强", "consultant"), None, &existing).is_ok());
        let mut refusing = p.clone();
        refusing.claims.duplicates = DuplicateClaims::Refuse;
        let err = decide_registration(&refusing, now, &staff(2, "李强", "consultant"), None, &existing).unwrap_err();
        assert_eq!(err.code, "customer_already_claimed");
    }

    #[test]
    fn r11_4_the_first_confirmed_invitation_keeps_other_divisions_off() {
        let p = Policy::parse(include_str!("../../../presets/event-customers.toml"), "e.toml").unwrap();
        let now = t("2026-12-05T02:00:00Z");
        // Division 10's invitation, confirmed.
        let mut held = pending(1, 1, "小王", "2026-12-04T01:00:00Z");
        held.status = ClaimStatus::Valid;
        held.effective_at = Some(t("2026-12-04T02:00:00Z"));
        held.division = Some(10);
        let li = staff(2, "小李", "sales");
        let e = decide_registration(&p, now, &li, Some(20), std::slice::from_ref(&held)).unwrap_err();
        assert_eq!(
            (e.code, e.rule.unwrap().as_str()),
            ("invited_by_other_division", "R11.4")
        );
        assert!(
            e.text.zh.contains("另一部门的小王邀约") && e.text.zh.contains("2026-12-04 10:00"),
            "{}",
            e.text.zh
        );
        // The same division may still register (ownership decides); so may staff of no division.
        assert!(decide_registration(&p, now, &li, Some(10), std::slice::from_ref(&held)).is_ok());
        assert!(decide_registration(&p, now, &li, None, std::slice::from_ref(&held)).is_ok());
        // A pending claim of the other division is not confirmed either.
        let mut theirs = pending(2, 2, "小李", "2026-12-04T00:30:00Z");
        theirs.division = Some(20);
        let head = staff(5, "吴经理", "division_head");
        let claims = [held.clone(), theirs.clone()];
        let e = decide_confirmation(&p, now, &theirs, &claims, &head).unwrap_err();
        assert_eq!(e.code, "invited_by_other_division");
        // Before anyone confirmed, both divisions may invite; the first confirmation wins.
        let mut first = held.clone();
        first.status = ClaimStatus::Pending;
        first.effective_at = None;
        assert!(decide_confirmation(&p, now, &theirs, &[first, theirs.clone()], &head).is_ok());
        // R11.3: an invitation overdue for filing and not filed keeps nobody off; filed late it does.
        let mut overdue = held.clone();
        overdue.filing_due = Some(t("2026-12-04T10:00:00Z"));
        assert!(decide_confirmation(&p, now, &theirs, &[overdue.clone(), theirs.clone()], &head).is_ok());
        overdue.filed_at = Some(t("2026-12-05T01:00:00Z"));
        assert!(decide_confirmation(&p, now, &theirs, &[overdue, theirs.clone()], &head).is_err());
        // A claim that lost (expired) or ended keeps nobody off.
        let mut lost = held.clone();
        lost.status = ClaimStatus::Expired;
        assert!(decide_registration(&p, now, &li, Some(20), &[lost]).is_ok());
        // Without the setting, divisions are not looked at.
        assert!(decide_registration(&sample(), now, &li, Some(20), &[held]).is_ok());
    }

    #[test]
    fn r3_1_registrations_are_due_the_same_day_late_until_10_and_later_is_recorded() {
        let src = format!(
            "{}\n[claims.submission]\nrule = \"R3.1\"\nby = \"end_of_day\"\nlate_until = \"10:00\"\npenalty = \"lateness\"\n",
            crate::policy::tests::SAMPLE
        );
        let p = Policy::parse(&src, "r3.toml").unwrap();
        let who = staff(1, "王芳", "consultant");
        // Met at 15:00 Shanghai on 3 November.
        let contact = t("2026-11-03T07:00:00Z");
        assert_eq!(
            decide_submission(&p, &who, contact, t("2026-11-03T15:59:00Z")).unwrap(),
            None
        );
        let late = decide_submission(&p, &who, contact, t("2026-11-04T01:30:00Z"))
            .unwrap()
            .unwrap();
        assert_eq!((late.penalty, late.decision.rule.as_str()), (None, "R3.1"));
        assert!(late.decision.text.zh.contains("允许"), "{}", late.decision.text.zh);
        let too_late = decide_submission(&p, &who, contact, t("2026-11-04T02:01:00Z"))
            .unwrap()
            .unwrap();
        assert_eq!(too_late.penalty.as_deref(), Some("lateness"));
        assert!(
            too_late.decision.text.zh.contains("记迟交一次"),
            "{}",
            too_late.decision.text.zh
        );
        assert_eq!(
            decide_submission(&p, &who, t("2026-11-05T00:00:00Z"), contact)
                .unwrap_err()
                .code,
            "contact_in_future"
        );
        // Without the section nothing is late.
        assert_eq!(
            decide_submission(&sample(), &who, contact, t("2026-12-01T00:00:00Z")).unwrap(),
            None
        );
    }
}
