//! Who owns a customer, derived from its claims (R3.3 earliest registration, R5.5 earliest
//! signature, R7.7 first visit): the valid claim that took effect first wins. Ownership is never
//! stored; it is decided from the claims each time.

use serde_json::json;

use crate::claim::{ClaimFacts, ClaimStatus};
use crate::decision::Decision;
use crate::policy::{OwnershipBasis, Policy};
use crate::text::Text;

/// The outcome: the winning claim, if any, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Ownership {
    pub owner_id: Option<i64>,
    pub claim_id: Option<i64>,
    pub decision: Decision,
}

/// The winning claim without the explanation: cheap enough for list pages.
pub fn select_owner<'a>(policy: &Policy, claims: &'a [ClaimFacts]) -> Option<&'a ClaimFacts> {
    match policy.ownership.basis {
        OwnershipBasis::EarliestEffective => claims
            .iter()
            .filter(|c| c.status == ClaimStatus::Valid)
            .filter_map(|c| c.effective_at.map(|at| (at, c.id, c)))
            .min_by_key(|(at, id, _)| (*at, *id))
            .map(|(_, _, c)| c),
    }
}

/// Decides who owns a customer and says why, in one sentence.
pub fn decide_ownership(policy: &Policy, claims: &[ClaimFacts]) -> Ownership {
    let rule = policy.ownership.rule.clone();
    let winner = select_owner(policy, claims);
    let claim_json = |c: &ClaimFacts| {
        json!({
            "claim_id": c.id,
            "staff_id": c.staff_id,
            "status": c.status.as_str(),
            "registered_at": c.registered_at.to_string(),
            "effective_at": c.effective_at.map(|t| t.to_string()),
        })
    };
    let facts = json!({
        "basis": policy.ownership.basis,
        "winner": winner.map(claim_json),
        "claims": claims.iter().map(claim_json).collect::<Vec<_>>(),
    });
    let text = match winner {
        Some(w) => {
            let at = policy.local_time(w.effective_at.unwrap_or(w.registered_at));
            let (how_zh, how_en) = match (&w.confirmed_by_role, &w.confirmed_by_name) {
                (Some(role), Some(name)) => {
                    let r = policy.role_name(role);
                    (
                        format!("经{}{}确认生效", r.zh, name),
                        format!("took effect when {} {} confirmed it", r.en.to_lowercase(), name),
                    )
                }
                _ => ("生效".to_string(), "took effect".to_string()),
            };
            let mut others: Vec<&ClaimFacts> = claims
                .iter()
                .filter(|c| c.id != w.id && c.status == ClaimStatus::Valid)
                .collect();
            others.sort_by_key(|c| (c.effective_at, c.id));
            let mut names: Vec<&str> = Vec::new();
            for o in &others {
                if o.staff_id != w.staff_id && !names.contains(&o.staff_name.as_str()) {
                    names.push(&o.staff_name);
                }
            }
            let (earlier_zh, earlier_en) = if names.is_empty() {
                (String::new(), String::new())
            } else {
                (
                    format!("，早于{}的登记", names.join("、")),
                    format!(", earlier than the claim of {}", names.join(", ")),
                )
            };
            Text::new(
                format!(
                    "归{}所有：{}的登记于 {at} {how_zh}{earlier_zh}（{rule}）",
                    w.staff_name, w.staff_name
                ),
                format!(
                    "Owned by {}: their claim {how_en} at {at}{earlier_en} ({rule})",
                    w.staff_name
                ),
            )
        }
        None => {
            let pending: Vec<&str> = claims
                .iter()
                .filter(|c| c.status == ClaimStatus::Pending)
                .map(|c| c.staff_name.as_str())
                .collect();
            if pending.is_empty() {
                Text::new(
                    format!("暂无归属：没有有效的登记（{rule}）"),
                    format!("No owner: there is no valid claim ({rule})"),
                )
            } else {
                Text::new(
                    format!("暂无归属：{}的登记尚待确认，确认后生效（{rule}）", pending.join("、")),
                    format!(
                        "No owner yet: the claim of {} waits for confirmation ({rule})",
                        pending.join(", ")
                    ),
                )
            }
        }
    };
    Ownership {
        owner_id: winner.map(|c| c.staff_id),
        claim_id: winner.map(|c| c.id),
        decision: Decision {
            rule,
            policy_version: policy.version,
            facts,
            text,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::policy::tests::sample;
    use proptest::prelude::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn valid(id: i64, staff_id: i64, name: &str, eff: &str) -> ClaimFacts {
        ClaimFacts {
            id,
            staff_id,
            staff_name: name.into(),
            status: ClaimStatus::Valid,
            registered_at: t(eff),
            effective_at: Some(t(eff)),
            confirmed_at: Some(t(eff)),
            confirmed_by_name: Some("赵组长".into()),
            confirmed_by_role: Some("team_leader".into()),
            ..crate::claim::tests::pending(id, staff_id, name, eff)
        }
    }

    #[test]
    fn r5_5_earliest_signature_wins_and_says_why() {
        let p = sample();
        let claims = [
            valid(2, 20, "李强", "2026-11-04T02:00:00Z"),
            valid(1, 10, "王芳", "2026-11-03T01:12:00Z"),
        ];
        let o = decide_ownership(&p, &claims);
        assert_eq!(o.owner_id, Some(10));
        assert_eq!(o.claim_id, Some(1));
        assert_eq!(o.decision.rule.as_str(), "R5.5");
        assert_eq!(
            o.decision.text.zh,
            "归王芳所有：王芳的登记于 2026-11-03 09:12 经销售组长赵组长确认生效，早于李强的登记（R5.5）"
        );
        assert!(o.decision.text.en.starts_with("Owned by 王芳"));
    }

    #[test]
    fn pending_void_and_cancelled_claims_do_not_own() {
        let p = sample();
        let mut void = valid(1, 10, "王芳", "2026-11-03T01:12:00Z");
        void.status = ClaimStatus::Void;
        let mut pend = valid(2, 20, "李强", "2026-11-04T02:00:00Z");
        pend.status = ClaimStatus::Pending;
        pend.effective_at = None;
        let o = decide_ownership(&p, &[void, pend]);
        assert_eq!(o.owner_id, None);
        assert!(o.decision.text.zh.contains("李强的登记尚待确认"));
        assert!(decide_ownership(&p, &[]).decision.text.zh.starts_with("暂无归属"));
    }

    fn arb_claim() -> impl Strategy<Value = ClaimFacts> {
        (1i64..50, 1i64..8, 0usize..5, 0i64..1_000_000).prop_map(|(id, staff, status, secs)| {
            let statuses = [
                ClaimStatus::Pending,
                ClaimStatus::Valid,
                ClaimStatus::Expired,
                ClaimStatus::Void,
                ClaimStatus::Cancelled,
            ];
            let at = Timestamp::from_second(1_790_000_000 + secs).unwrap();
            ClaimFacts {
                id,
                staff_id: staff,
                staff_name: format!("s{staff}"),
                status: statuses[status],
                registered_at: at,
                effective_at: (status != 0).then_some(at),
                confirmed_at: None,
                confirmed_by_name: None,
                confirmed_by_role: None,
                confirmed_by_id: None,
                ended_at: None,
                ended_rule: None,
                reassigned_from: None,
                customer_grade: None,
            }
        })
    }

    proptest! {
        /// At most one owner, it holds a valid claim, no valid claim took effect earlier, and the
        /// answer does not depend on the order the claims were loaded in.
        #[test]
        fn one_owner_holding_the_earliest_valid_claim(mut claims in proptest::collection::vec(arb_claim(), 0..12)) {
            for (i, c) in claims.iter_mut().enumerate() {
                c.id = i as i64 + 1;
            }
            let p = sample();
            let o = decide_ownership(&p, &claims);
            match o.claim_id {
                Some(id) => {
                    let w = claims.iter().find(|c| c.id == id).unwrap();
                    prop_assert_eq!(w.status, ClaimStatus::Valid);
                    prop_assert_eq!(Some(w.staff_id), o.owner_id);
                    for c in claims.iter().filter(|c| c.status == ClaimStatus::Valid) {
                        prop_assert!((c.effective_at, c.id) >= (w.effective_at, w.id));
                    }
                }
                None => prop_assert!(claims.iter().all(|c| c.status != ClaimStatus::Valid)),
            }
            claims.reverse();
            prop_assert_eq!(decide_ownership(&p, &claims).claim_id, o.claim_id);
        }
    }
}
