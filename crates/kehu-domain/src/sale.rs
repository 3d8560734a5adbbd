//! Who a sale counts for.
//!
//! By default a sale counts for the customer's owner (or, with no owner, for whoever closed it).
//! R5.7: a friend-referred customer belongs to whoever closes the sale; special cases are decided
//! by a leader and a manager together (both sign a change of credit). R11.5: at an event the
//! customer's earlier follower may help only with the current inviter's consent, and a sale
//! counts for the current inviter.

use serde_json::json;

use crate::Timestamp;
use crate::claim::StaffFacts;
use crate::decision::{Decision, Refusal};
use crate::ledger::{Charge, month, yuan};
use crate::policy::{Policy, SalesPolicy};
use crate::text::Text;

/// A sale as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleFacts {
    pub customer_id: i64,
    pub customer_name: String,
    /// The customer's source as staff wrote it ("朋友介绍").
    pub source: Option<String>,
    /// In fen.
    pub amount: i64,
    /// Who closed the sale (records it).
    pub closer: StaffFacts,
    /// The joint event it was made at, if any: (id, name).
    pub event: Option<(i64, String)>,
    pub at: Timestamp,
}

/// The customer's owner when the sale is made: the holder of the winning claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub staff_id: i64,
    pub name: String,
    pub claim_id: i64,
}

/// What the rules say about a sale.
#[derive(Debug, Clone, PartialEq)]
pub struct Credit {
    /// Who the sale counts for.
    pub staff_id: i64,
    pub staff_name: String,
    /// Whether the customer now belongs to the closer (R5.7): the other claims end and the
    /// closer holds it.
    pub take_over: bool,
    pub decision: Decision,
}

fn sales(policy: &Policy) -> Result<&SalesPolicy, Refusal> {
    policy.sales.as_ref().ok_or_else(|| Refusal {
        code: "no_sales_rules",
        rule: None,
        text: Text::new("本制度没有成交的规定", "This policy has no rules for sales"),
    })
}

/// R5.7: whether a customer from `source` belongs to whoever closes, so that any closer may
/// record a sale on them, seen or not.
pub fn belongs_to_closer(policy: &Policy, source: Option<&str>) -> bool {
    policy.sales.as_ref().is_some_and(|p| referred(policy, p, source))
}

fn referred(policy: &Policy, p: &SalesPolicy, source: Option<&str>) -> bool {
    p.referred
        .as_ref()
        .is_some_and(|r| policy.source_in(source, &r.sources))
}

/// Decides who `sale` counts for. `owner` is the customer's owner; `consented` whether the
/// current inviter has let the closer help with this customer at the sale's event (R11.5).
pub fn decide_sale(
    policy: &Policy,
    sale: &SaleFacts,
    owner: Option<&Owner>,
    consented: bool,
) -> Result<Credit, Refusal> {
    let p = sales(policy)?;
    crate::policy::limits::check_amount(policy, "amount", sale.amount)?;
    let amount = yuan(sale.amount);
    let facts = |rule: &str| {
        json!({
            "customer_id": sale.customer_id,
            "amount": sale.amount,
            "closer_id": sale.closer.id,
            "owner_id": owner.map(|o| o.staff_id),
            "owner_claim_id": owner.map(|o| o.claim_id),
            "source": sale.source,
            "event_id": sale.event.as_ref().map(|e| e.0),
            "basis": rule,
        })
    };
    // R11.5: at an event the sale counts for the current inviter; a helper needs consent.
    if let (Some((_, event)), Some(h)) = (&sale.event, &p.at_events) {
        let Some(inviter) = owner else {
            return Err(Refusal {
                code: "no_inviter",
                rule: Some(h.rule.clone()),
                text: Text::new(
                    format!(
                        "{}没有当前邀约人，会上成交无法记入业绩（{}）",
                        sale.customer_name, h.rule
                    ),
                    format!(
                        "{} has no current inviter; a sale at the event cannot be credited ({})",
                        sale.customer_name, h.rule
                    ),
                ),
            });
        };
        if inviter.staff_id != sale.closer.id && !consented {
            return Err(Refusal {
                code: "no_consent",
                rule: Some(h.rule.clone()),
                text: Text::new(
                    format!(
                        "{}的当前邀约人是{}，须经其同意才能协助（{}）",
                        sale.customer_name, inviter.name, h.rule
                    ),
                    format!(
                        "{}'s current inviter is {}; helping needs their consent ({})",
                        sale.customer_name, inviter.name, h.rule
                    ),
                ),
            });
        }
        let helped = if inviter.staff_id == sale.closer.id {
            (String::new(), String::new())
        } else {
            (
                format!("，{}经同意协助", sale.closer.name),
                format!(", {} helped with consent", sale.closer.name),
            )
        };
        return Ok(Credit {
            staff_id: inviter.staff_id,
            staff_name: inviter.name.clone(),
            take_over: false,
            decision: Decision {
                key: "sale.credited_to_inviter".into(),
                rule: h.rule.clone(),
                policy_version: policy.version,
                facts: facts("current_inviter"),
                text: Text::new(
                    format!(
                        "{}在「{event}」成交 {amount} 元{}，记入当前邀约人{}的业绩（{}）",
                        sale.customer_name, helped.0, inviter.name, h.rule
                    ),
                    format!(
                        "{} bought {amount} yuan at \"{event}\"{}: credited to the current inviter {} ({})",
                        sale.customer_name, helped.1, inviter.name, h.rule
                    ),
                ),
            },
        });
    }
    // R5.7: a referred customer belongs to whoever closes.
    if referred(policy, p, sale.source.as_deref()) {
        let r = p
            .referred
            .as_ref()
            .map(|r| r.rule.clone())
            .unwrap_or_else(|| p.rule.clone());
        let take_over = owner.is_none_or(|o| o.staff_id != sale.closer.id);
        let before = match owner {
            Some(o) if o.staff_id != sale.closer.id => (
                format!("，客户从{}转归{}", o.name, sale.closer.name),
                format!("; the customer passes from {} to {}", o.name, sale.closer.name),
            ),
            _ => (String::new(), String::new()),
        };
        return Ok(Credit {
            staff_id: sale.closer.id,
            staff_name: sale.closer.name.clone(),
            take_over,
            decision: Decision {
                key: "sale.credited_to_closer".into(),
                rule: r.clone(),
                policy_version: policy.version,
                facts: facts("closer_of_referral"),
                text: Text::new(
                    format!(
                        "{}是朋友介绍的客户，归最终成交的{}：成交 {amount} 元记入其业绩{}（{r}）",
                        sale.customer_name, sale.closer.name, before.0
                    ),
                    format!(
                        "{} was referred by a friend and belongs to whoever closes: {} closed {amount} yuan and is credited{} ({r})",
                        sale.customer_name, sale.closer.name, before.1
                    ),
                ),
            },
        });
    }
    let (who, name, zh, en) = match owner {
        Some(o) => (
            o.staff_id,
            o.name.clone(),
            format!("记入客户归属人{}的业绩", o.name),
            format!("credited to the customer's owner {}", o.name),
        ),
        None => (
            sale.closer.id,
            sale.closer.name.clone(),
            format!("客户暂无归属，记入成交人{}的业绩", sale.closer.name),
            format!(
                "the customer has no owner: credited to {}, who closed it",
                sale.closer.name
            ),
        ),
    };
    Ok(Credit {
        staff_id: who,
        staff_name: name,
        take_over: false,
        decision: Decision {
            key: "sale.credited_to_owner".into(),
            rule: p.rule.clone(),
            policy_version: policy.version,
            facts: facts("owner"),
            text: Text::new(
                format!("{}成交 {amount} 元，{zh}（{}）", sale.customer_name, p.rule),
                format!("{} bought {amount} yuan: {en} ({})", sale.customer_name, p.rule),
            ),
        },
    })
}

/// R11.5: whether `by` (the current inviter) may let `helper` help with the customer.
pub fn decide_consent(
    policy: &Policy,
    by: &StaffFacts,
    owner: Option<&Owner>,
    helper: &StaffFacts,
    customer: &str,
    event: &str,
) -> Result<Decision, Refusal> {
    let p = sales(policy)?;
    let Some(h) = &p.at_events else {
        return Err(Refusal {
            code: "no_sales_rules",
            rule: Some(p.rule.clone()),
            text: Text::new(
                "本制度没有会上协助的规定",
                "This policy has no rules for helping at events",
            ),
        });
    };
    if owner.is_none_or(|o| o.staff_id != by.id) {
        return Err(Refusal {
            code: "forbidden",
            rule: Some(h.rule.clone()),
            text: Text::new(
                format!("只有{customer}的当前邀约人可以同意他人协助（{}）", h.rule),
                format!("Only {customer}'s current inviter may let others help ({})", h.rule),
            ),
        });
    }
    if helper.id == by.id {
        return Err(Refusal {
            code: "invalid_helper",
            rule: Some(h.rule.clone()),
            text: Text::new("不需要同意自己协助", "You need no consent to help yourself"),
        });
    }
    Ok(Decision {
        key: "sale.consented".into(),
        rule: h.rule.clone(),
        policy_version: policy.version,
        facts: json!({ "inviter_id": by.id, "helper_id": helper.id, "customer": customer, "event": event }),
        text: Text::new(
            format!(
                "{}同意{}在「{event}」协助接待{customer}；成交仍记入{}的业绩（{}）",
                by.name, helper.name, by.name, h.rule
            ),
            format!(
                "{} lets {} help with {customer} at \"{event}\"; a sale still counts for {} ({})",
                by.name, helper.name, by.name, h.rule
            ),
        ),
    })
}

/// R5.7 special cases: a change of a sale's credit, signed by each of the policy's roles in turn.
/// `signed` lists the roles that signed before `by`. `Ok((decision, done))`: `done` when every
/// role has signed and the credit moves.
pub fn decide_credit_change(
    policy: &Policy,
    by: &StaffFacts,
    signed: &[String],
    to: &StaffFacts,
    customer: &str,
    reason: &str,
) -> Result<(Decision, bool), Refusal> {
    let p = sales(policy)?;
    let Some(s) = &p.special else {
        return Err(Refusal {
            code: "forbidden",
            rule: Some(p.rule.clone()),
            text: Text::new(
                "本制度不允许改记成交业绩",
                "This policy does not let anyone change a sale's credit",
            ),
        });
    };
    let Some(role) = s.roles.iter().find(|r| by.roles.contains(r) && !signed.contains(r)) else {
        let names = policy.roles_text(&s.roles);
        let code = if s.roles.iter().any(|r| by.roles.contains(r)) {
            "already_signed"
        } else {
            "forbidden"
        };
        return Err(Refusal {
            code,
            rule: Some(s.rule.clone()),
            text: if code == "already_signed" {
                Text::new(
                    "您的角色已经签过字，须由另一位负责人签字",
                    "Your role has signed; another must sign next",
                )
            } else {
                Text::new(
                    format!("特殊情况由{}共同决定（{}）", names.zh, s.rule),
                    format!("Special cases are decided by a {} together ({})", names.en, s.rule),
                )
            },
        });
    };
    let reason = reason.trim();
    if reason.chars().count() < 5 {
        return Err(Refusal {
            code: "reason_required",
            rule: Some(s.rule.clone()),
            text: Text::new("请写明原因（至少 5 个字）", "Give a reason of at least 5 characters"),
        });
    }
    let mut all: Vec<String> = signed.to_vec();
    all.push(role.clone());
    let done = s.roles.iter().all(|r| all.contains(r));
    let waiting: Vec<String> = s.roles.iter().filter(|r| !all.contains(r)).cloned().collect();
    let wait = policy.roles_text(&waiting);
    let role_name = policy.role_name(role);
    let text = if done {
        Text::new(
            format!(
                "特殊情况：{}{}签字同意，{customer}的成交改记入{}的业绩（{}）：{reason}",
                role_name.zh, by.name, to.name, s.rule
            ),
            format!(
                "Special case: {} {} signed last; {customer}'s sale now counts for {} ({}): {reason}",
                role_name.en, by.name, to.name, s.rule
            ),
        )
    } else {
        Text::new(
            format!(
                "特殊情况：{}{}提议将{customer}的成交改记入{}的业绩，待{}签字（{}）：{reason}",
                role_name.zh, by.name, to.name, wait.zh, s.rule
            ),
            format!(
                "Special case: {} {} proposes crediting {customer}'s sale to {}; waits for the {} ({}): {reason}",
                role_name.en, by.name, to.name, wait.en, s.rule
            ),
        )
    };
    Ok((
        Decision {
            key: "sale.credit_changed".into(),
            rule: s.rule.clone(),
            policy_version: policy.version,
            facts: json!({ "by": by.id, "role": role, "to": to.id, "signed": all, "done": done, "reason": reason }),
            text,
        },
        done,
    ))
}

/// R11.2: the existing customer who brought a new one to an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral<'a> {
    pub referrer_id: i64,
    pub referrer_name: &'a str,
    pub customer_id: i64,
    pub customer_name: &'a str,
    pub event_id: i64,
    pub event: &'a str,
}

fn points_charge(policy: &Policy, code: &str, quantity: i64, at: Timestamp, decision: Decision) -> Option<Charge> {
    let c = policy.ledger.code(code)?;
    Some(Charge {
        code: c.code.clone(),
        rule: c.rule.clone(),
        kind: c.kind,
        amount: c.amount * quantity,
        points: c.points * quantity,
        flag: None,
        period: month(policy, at),
        decision,
    })
}

/// R11.2: the referrer's points for bringing `r`'s new customer to the event (the new customer
/// was checked in there). `None` without the rule.
pub fn decide_referral_attendance(policy: &Policy, r: &Referral<'_>, at: Timestamp) -> Option<Charge> {
    let p = policy.sales.as_ref()?.referral.as_ref()?;
    let code = p.new_customer.as_deref()?;
    let points = policy.ledger.code(code)?.points;
    let decision = Decision {
        key: "sale.referral_attended".into(),
        rule: p.rule.clone(),
        policy_version: policy.version,
        facts: json!({ "referrer_id": r.referrer_id, "customer_id": r.customer_id, "event_id": r.event_id, "code": code }),
        text: Text::new(
            format!(
                "老顾客{}带新顾客{}参加「{}」，奖励 {points} 分（{}）",
                r.referrer_name, r.customer_name, r.event, p.rule
            ),
            format!(
                "{} brought the new customer {} to \"{}\": {points} points ({})",
                r.referrer_name, r.customer_name, r.event, p.rule
            ),
        ),
    };
    points_charge(policy, code, 1, at, decision)
}

/// R11.2: the referrer's points for what `r`'s new customer bought at the event: the code once
/// per full `per`. `None` without the rule or below `per`. Returns the count with the charge.
pub fn decide_referral_sale(policy: &Policy, r: &Referral<'_>, amount: i64, at: Timestamp) -> Option<(u32, Charge)> {
    let p = policy.sales.as_ref()?.referral.as_ref()?;
    let code = p.sales.as_deref()?;
    let times = amount / p.per;
    if times <= 0 {
        return None;
    }
    let points = policy.ledger.code(code)?.points * times;
    let decision = Decision {
        key: "sale.referral_sold".into(),
        rule: p.rule.clone(),
        policy_version: policy.version,
        facts: json!({
            "referrer_id": r.referrer_id, "customer_id": r.customer_id, "event_id": r.event_id,
            "amount": amount, "per": p.per, "times": times, "code": code,
        }),
        text: Text::new(
            format!(
                "老顾客{}介绍的新顾客{}在「{}」成交 {} 元，每 {} 元奖励一次，共 {points} 分（{}）",
                r.referrer_name,
                r.customer_name,
                r.event,
                yuan(amount),
                yuan(p.per),
                p.rule
            ),
            format!(
                "{}, brought by {}, bought {} yuan at \"{}\": once per {} yuan, {points} points ({})",
                r.customer_name,
                r.referrer_name,
                yuan(amount),
                r.event,
                yuan(p.per),
                p.rule
            ),
        ),
    };
    Some((
        u32::try_from(times).unwrap_or(u32::MAX),
        points_charge(policy, code, times, at, decision)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
[policy]
id = "sales"
version = 3
name = { zh = "成交", en = "Sales" }

[[roles]]
id = "consultant"
name = { zh = "销售顾问", en = "Consultant" }

[[roles]]
id = "team_leader"
name = { zh = "销售组长", en = "Team leader" }

[[roles]]
id = "sales_manager"
name = { zh = "销售经理", en = "Sales manager" }

[claims]
rule = "R5.5"
duplicates = "allow"

[ownership]
rule = "R5.5"
basis = "earliest_effective"

[sales]
rule = "R5.5"

[sales.referred]
rule = "R5.7"
sources = ["朋友介绍"]

[sales.special]
rule = "R5.7"
roles = ["team_leader", "sales_manager"]

[sales.at_events]
rule = "R11.5"
"#;

    fn policy() -> Policy {
        Policy::parse(POLICY, "sales.toml").unwrap()
    }

    fn staff(id: i64, name: &str, role: &str) -> StaffFacts {
        StaffFacts {
            id,
            name: name.into(),
            roles: vec![role.into()],
        }
    }

    fn sale(source: Option<&str>, closer: StaffFacts, event: bool) -> SaleFacts {
        SaleFacts {
            customer_id: 9,
            customer_name: "孙先生".into(),
            source: source.map(str::to_string),
            amount: 12_800_000,
            closer,
            event: event.then(|| (1, "健康讲座".to_string())),
            at: "2027-03-01T02:00:00Z".parse().unwrap(),
        }
    }

    fn owner() -> Owner {
        Owner {
            staff_id: 1,
            name: "王芳".into(),
            claim_id: 5,
        }
    }

    #[test]
    fn r5_7_a_referred_customer_belongs_to_whoever_closes() {
        let p = policy();
        let liu = staff(2, "刘洋", "consultant");
        let c = decide_sale(&p, &sale(Some("朋友介绍"), liu.clone(), false), Some(&owner()), false).unwrap();
        assert_eq!((c.staff_id, c.take_over, c.decision.rule.as_str()), (2, true, "R5.7"));
        assert!(c.decision.text.zh.contains("从王芳转归刘洋"), "{}", c.decision.text.zh);
        // Not referred: the owner keeps the credit.
        let c = decide_sale(&p, &sale(Some("来电"), liu, false), Some(&owner()), false).unwrap();
        assert_eq!((c.staff_id, c.take_over, c.decision.rule.as_str()), (1, false, "R5.5"));
        // No owner: whoever closed.
        let c = decide_sale(&p, &sale(None, staff(3, "赵六", "consultant"), false), None, false).unwrap();
        assert_eq!(c.staff_id, 3);
        let mut zero = sale(None, staff(3, "赵六", "consultant"), false);
        zero.amount = 0;
        assert_eq!(decide_sale(&p, &zero, None, false).unwrap_err().code, "invalid_amount");
    }

    #[test]
    fn r11_5_a_sale_at_an_event_counts_for_the_current_inviter_and_helping_needs_consent() {
        let p = policy();
        let helper = staff(2, "刘洋", "consultant");
        let refused = decide_sale(&p, &sale(None, helper.clone(), true), Some(&owner()), false).unwrap_err();
        assert_eq!((refused.code, refused.rule.unwrap().as_str()), ("no_consent", "R11.5"));
        let c = decide_sale(&p, &sale(Some("朋友介绍"), helper.clone(), true), Some(&owner()), true).unwrap();
        assert_eq!((c.staff_id, c.take_over, c.decision.rule.as_str()), (1, false, "R11.5"));
        assert!(c.decision.text.zh.contains("刘洋经同意协助"), "{}", c.decision.text.zh);
        let wang = staff(1, "王芳", "consultant");
        assert!(decide_consent(&p, &wang, Some(&owner()), &helper, "孙先生", "健康讲座").is_ok());
        assert_eq!(
            decide_consent(&p, &helper, Some(&owner()), &wang, "孙先生", "健康讲座")
                .unwrap_err()
                .code,
            "forbidden"
        );
    }

    #[test]
    fn r11_2_the_referrer_earns_points_for_the_new_customer_and_per_thousand_yuan() {
        let src = format!(
            "{POLICY}\n[ledger]\nmanagers = [\"sales_manager\"]\n\n[[ledger.codes]]\ncode = \"brought\"\nrule = \"R11.2\"\nkind = \"points\"\nname = {{ zh = \"带新\", en = \"Brought\" }}\npoints = 100\nmanual = false\nparty = \"customer\"\n\n[[ledger.codes]]\ncode = \"bought\"\nrule = \"R11.2\"\nkind = \"points\"\nname = {{ zh = \"成交\", en = \"Bought\" }}\npoints = 100\nmanual = false\nparty = \"customer\"\n\n[sales.referral]\nrule = \"R11.2\"\nnew_customer = \"brought\"\nsales = \"bought\"\nper = 100000\n"
        );
        let p = Policy::parse(&src, "sales.toml").unwrap();
        let r = Referral {
            referrer_id: 3,
            referrer_name: "张阿姨",
            customer_id: 9,
            customer_name: "李阿姨",
            event_id: 1,
            event: "健康讲座",
        };
        let at = "2027-03-01T02:00:00Z".parse().unwrap();
        let c = decide_referral_attendance(&p, &r, at).unwrap();
        assert_eq!((c.code.as_str(), c.points, c.rule.as_str()), ("brought", 100, "R11.2"));
        let (times, c) = decide_referral_sale(&p, &r, 350_000, at).unwrap();
        assert_eq!((times, c.points), (3, 300), "3,500 yuan is three full thousands");
        assert!(c.decision.text.zh.contains("共 300 分"), "{}", c.decision.text.zh);
        assert!(decide_referral_sale(&p, &r, 99_999, at).is_none());
        // A manual or staff code cannot be the referral's.
        let bad = src.replace(
            "manual = false\nparty = \"customer\"\n\n[[ledger.codes]]\ncode = \"bought\"",
            "manual = true\n\n[[ledger.codes]]\ncode = \"bought\"",
        );
        let e = Policy::parse(&bad, "sales.toml").unwrap_err();
        assert!(e.to_string().contains("must be automatic and for a customer"), "{e}");
    }

    #[test]
    fn r5_7_special_cases_need_the_leader_and_the_manager() {
        let p = policy();
        let to = staff(2, "刘洋", "consultant");
        let leader = staff(7, "赵组长", "team_leader");
        let manager = staff(8, "钱经理", "sales_manager");
        let reason = "客户由刘洋全程接待";
        let code = |r: Result<(Decision, bool), Refusal>| r.unwrap_err().code;
        assert_eq!(
            code(decide_credit_change(&p, &to, &[], &to, "孙先生", reason)),
            "forbidden"
        );
        assert_eq!(
            code(decide_credit_change(&p, &leader, &[], &to, "孙先生", "短")),
            "reason_required"
        );
        let (d, done) = decide_credit_change(&p, &leader, &[], &to, "孙先生", reason).unwrap();
        assert!(!done && d.text.zh.contains("待销售经理签字"), "{}", d.text.zh);
        let signed = vec!["team_leader".to_string()];
        assert_eq!(
            code(decide_credit_change(&p, &leader, &signed, &to, "孙先生", reason)),
            "already_signed"
        );
        let (d, done) = decide_credit_change(&p, &manager, &signed, &to, "孙先生", reason).unwrap();
        assert!(done && d.text.en.contains("now counts for 刘洋"), "{}", d.text.en);
    }
}
