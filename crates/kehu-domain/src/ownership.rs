//! Who owns a customer, derived from its claims (R3.3 earliest registration, R5.5 earliest
//! signature, R7.7 first visit): the valid claim that took effect first wins, or (R3.3 with
//! `basis = "earliest_registered_on_form"`) the one whose registration form names the earliest
//! time, when the form was handed in on time. Ownership is never stored; it is decided from the
//! claims each time.

use serde_json::json;

use crate::Timestamp;
use crate::claim::{ClaimFacts, ClaimStatus, submission_limit};
use crate::decision::Decision;
use crate::policy::{OwnershipBasis, Policy};
use crate::text::Text;

/// How a claim's time for ownership was read (R3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormTime {
    /// The time on a form handed in by the R3.1 cut-off or its grace.
    OnForm,
    /// The form came in later than that: it counts from its submission.
    Late { limit: Timestamp },
    /// The claim names no time of its own: its submission.
    Submitted,
}

impl FormTime {
    fn as_str(self) -> &'static str {
        match self {
            FormTime::OnForm => "on_form",
            FormTime::Late { .. } => "late_form",
            FormTime::Submitted => "submitted",
        }
    }
}

/// The moment a valid claim counts from for ownership, and how it was read; `None` for a claim
/// that does not stand.
pub fn counts_from(policy: &Policy, c: &ClaimFacts) -> Option<(Timestamp, FormTime)> {
    if c.status != ClaimStatus::Valid {
        return None;
    }
    let eff = c.effective_at?;
    match policy.ownership.basis {
        OwnershipBasis::EarliestEffective => Some((eff, FormTime::Submitted)),
        OwnershipBasis::EarliestRegisteredOnForm => Some(match c.contact_at {
            Some(at) => match submission_limit(policy, at) {
                Some(limit) if c.registered_at > limit => (c.registered_at, FormTime::Late { limit }),
                _ => (at, FormTime::OnForm),
            },
            None => (c.registered_at, FormTime::Submitted),
        }),
    }
}

/// The outcome: the winning claim, if any, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Ownership {
    pub owner_id: Option<i64>,
    pub claim_id: Option<i64>,
    pub decision: Decision,
}

/// The winning claim without the explanation: cheap enough for list pages.
pub fn select_owner<'a>(policy: &Policy, claims: &'a [ClaimFacts]) -> Option<&'a ClaimFacts> {
    claims
        .iter()
        .filter_map(|c| counts_from(policy, c).map(|(at, _)| (at, c.id, c)))
        .min_by_key(|(at, id, _)| (*at, *id))
        .map(|(_, _, c)| c)
}

/// Decides who owns a customer and says why, in one sentence.
pub fn decide_ownership(policy: &Policy, claims: &[ClaimFacts]) -> Ownership {
    let rule = policy.ownership.rule.clone();
    let winner = select_owner(policy, claims);
    let on_form = policy.ownership.basis == OwnershipBasis::EarliestRegisteredOnForm;
    let claim_json = |c: &ClaimFacts| {
        let mut v = json!({
            "claim_id": c.id,
            "staff_id": c.staff_id,
            "status": c.status.as_str(),
            "registered_at": c.registered_at.to_string(),
            "effective_at": c.effective_at.map(|t| t.to_string()),
        });
        if on_form {
            let from = counts_from(policy, c);
            v["registered_on_form"] = json!(c.contact_at.map(|t| t.to_string()));
            v["form"] = json!(from.map(|(_, f)| f.as_str()));
            v["form_due"] = json!(
                c.contact_at
                    .and_then(|at| submission_limit(policy, at))
                    .map(|t| t.to_string())
            );
            v["counts_from"] = json!(from.map(|(t, _)| t.to_string()));
        }
        v
    };
    let facts = json!({
        "basis": policy.ownership.basis,
        "winner": winner.map(claim_json),
        "claims": claims.iter().map(claim_json).collect::<Vec<_>>(),
    });
    let text = match winner {
        Some(w) if on_form => form_text(policy, w, claims),
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
            key: "ownership.decided".into(),
            rule,
            policy_version: policy.version,
            facts,
            text,
        },
    }
}

/// R3.3: "owned by A: the form A handed in registered the customer at T, earlier than B's".
fn form_text(policy: &Policy, w: &ClaimFacts, claims: &[ClaimFacts]) -> Text {
    let rule = &policy.ownership.rule;
    let Some((at, how)) = counts_from(policy, w) else {
        return Text::new(String::new(), String::new());
    };
    let t = policy.local_time(at);
    let name = &w.staff_name;
    let (how_zh, how_en) = match how {
        FormTime::OnForm => (
            format!("{name}上交的登记表上的登记时间为 {t}，按时上交"),
            format!("the form {name} handed in on time registered the customer at {t}"),
        ),
        FormTime::Late { limit } => {
            let l = policy.local_time(limit);
            (
                format!("{name}的登记表晚于 {l} 才上交，按上交时间 {t} 计"),
                format!("{name}'s form came in after {l}, so it counts from its submission at {t}"),
            )
        }
        FormTime::Submitted => (
            format!("{name}于 {t} 登记"),
            format!("{name} registered the customer at {t}"),
        ),
    };
    let mut others: Vec<(Timestamp, i64, &str)> = claims
        .iter()
        .filter(|c| c.id != w.id && c.staff_id != w.staff_id)
        .filter_map(|c| counts_from(policy, c).map(|(t, _)| (t, c.id, c.staff_name.as_str())))
        .collect();
    others.sort();
    let mut names: Vec<&str> = Vec::new();
    for (_, _, n) in others {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let (earlier_zh, earlier_en) = if names.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!("，早于{}的登记", names.join("、")),
            format!(", earlier than the registration of {}", names.join(", ")),
        )
    };
    Text::new(
        format!("归{name}所有：{how_zh}{earlier_zh}（{rule}）"),
        format!("Owned by {name}: {how_en}{earlier_en} ({rule})"),
    )
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

    /// R3.3's reading of the sample: ownership by the time on the form, handed in by the end of
    /// the day or until 10:00 the next.
    fn on_form() -> Policy {
        let src = format!(
            "{}\n[claims.submission]\nrule = \"R3.1\"\nby = \"end_of_day\"\nlate_until = \"10:00\"\n",
            crate::policy::tests::SAMPLE
                .replace(
                    "basis = \"earliest_effective\"",
                    "basis = \"earliest_registered_on_form\""
                )
                .replace("[ownership]\nrule = \"R5.5\"", "[ownership]\nrule = \"R3.3\"")
        );
        Policy::parse(&src, "r3.toml").unwrap()
    }

    /// A registration of a contact at `met`, handed in at `submitted`.
    fn form(id: i64, staff_id: i64, name: &str, met: &str, submitted: &str) -> ClaimFacts {
        let mut c = valid(id, staff_id, name, submitted);
        c.contact_at = Some(t(met));
        c
    }

    #[test]
    fn r3_3_the_time_on_a_form_handed_in_on_time_decides() {
        let p = on_form();
        // Zhang met the customer at 09:00 (Shanghai) and handed the form in that evening; Li met
        // them at 10:00 and handed his in at 10:30.
        let zhang = form(1, 10, "张经理", "2026-11-03T01:00:00Z", "2026-11-03T12:00:00Z");
        let li = form(2, 20, "李经理", "2026-11-03T02:00:00Z", "2026-11-03T02:30:00Z");
        let claims = [li.clone(), zhang.clone()];
        // By the moment of submission Li would win; by the form, Zhang does.
        assert_eq!(decide_ownership(&sample(), &claims).owner_id, Some(20));
        let o = decide_ownership(&p, &claims);
        assert_eq!((o.owner_id, o.decision.rule.as_str()), (Some(10), "R3.3"));
        assert_eq!(
            o.decision.text.zh,
            "归张经理所有：张经理上交的登记表上的登记时间为 2026-11-03 09:00，按时上交，早于李经理的登记（R3.3）"
        );
        assert_eq!(o.decision.facts["basis"], "earliest_registered_on_form");
        assert_eq!(o.decision.facts["winner"]["registered_on_form"], "2026-11-03T01:00:00Z");
        assert_eq!(o.decision.facts["winner"]["form"], "on_form");
        // Handed in at 09:30 the next day, within the grace: still on time.
        let next_morning = form(1, 10, "张经理", "2026-11-03T01:00:00Z", "2026-11-04T01:30:00Z");
        assert_eq!(decide_ownership(&p, &[li.clone(), next_morning]).owner_id, Some(10));
        // Handed in at 11:00 the next day, past 10:00: it counts from the submission, and Li wins.
        let late = form(1, 10, "张经理", "2026-11-03T01:00:00Z", "2026-11-04T03:00:00Z");
        let o = decide_ownership(&p, &[late, li]);
        assert_eq!(o.owner_id, Some(20));
        let zhang_facts = &o.decision.facts["claims"][0];
        assert_eq!(
            (zhang_facts["form"].as_str(), zhang_facts["counts_from"].as_str()),
            (Some("late_form"), Some("2026-11-04T03:00:00Z"))
        );
        assert_eq!(zhang_facts["form_due"], "2026-11-04T02:00:00Z");
        // Without a cut-off the basis has no meaning: the file says so at its place.
        let src = crate::policy::tests::SAMPLE.replace(
            "basis = \"earliest_effective\"",
            "basis = \"earliest_registered_on_form\"",
        );
        let e = &Policy::parse(&src, "p.toml").unwrap_err().0[0];
        assert!(e.message.contains("[claims.submission]"), "{e}");
        assert_eq!((e.line, e.column), (28, 9));
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
                contact_at: None,
                division: None,
                filing_due: None,
                filed_at: None,
            }
        })
    }

    fn arb_form() -> impl Strategy<Value = ClaimFacts> {
        (arb_claim(), proptest::option::of(0i64..3 * 86_400)).prop_map(|(mut c, before)| {
            c.contact_at = before.map(|b| c.registered_at - jiff::SignedDuration::from_secs(b));
            c
        })
    }

    proptest! {
        /// R3.3: by the time on the forms, still exactly one owner when any claim stands: it
        /// holds a valid claim, none counts from earlier, and the load order does not matter.
        #[test]
        fn r3_3_one_owner_by_the_time_on_the_forms(mut claims in proptest::collection::vec(arb_form(), 0..12)) {
            for (i, c) in claims.iter_mut().enumerate() {
                c.id = i as i64 + 1;
            }
            let p = on_form();
            let o = decide_ownership(&p, &claims);
            let key = |c: &ClaimFacts| counts_from(&p, c).map(|(t, _)| (t, c.id));
            match o.claim_id {
                Some(id) => {
                    let w = claims.iter().find(|c| c.id == id).unwrap();
                    prop_assert_eq!(w.status, ClaimStatus::Valid);
                    prop_assert_eq!(Some(w.staff_id), o.owner_id);
                    for c in claims.iter().filter(|c| c.status == ClaimStatus::Valid) {
                        prop_assert!(key(c) >= key(w));
                    }
                    // A form counts from its own time only when it came in by the limit.
                    if let Some((at, how)) = counts_from(&p, w) {
                        match (w.contact_at, how) {
                            (Some(met), FormTime::OnForm) => prop_assert_eq!(at, met),
                            (Some(_), FormTime::Late { limit }) => prop_assert!(at == w.registered_at && at > limit),
                            (None, FormTime::Submitted) => prop_assert_eq!(at, w.registered_at),
                            other => prop_assert!(false, "unexpected {:?}", other),
                        }
                    }
                }
                None => prop_assert!(claims.iter().all(|c| c.status != ClaimStatus::Valid)),
            }
            claims.reverse();
            prop_assert_eq!(decide_ownership(&p, &claims).claim_id, o.claim_id);
        }

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
