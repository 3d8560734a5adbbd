//! Customer pools (公海, R11.8 and the pools of the Chinese CRMs): customers nobody holds,
//! claimed first come, first served by the pool's members, with a cooldown for the former
//! holder, a daily limit per member and a cap on how many customers one person holds.

use serde_json::json;

use crate::Timestamp;
use crate::claim::StaffFacts;
use crate::decision::{Decision, Refusal};
use crate::policy::Policy;
use crate::text::Text;

/// What a claim from a pool is decided on.
#[derive(Debug, Clone)]
pub struct PoolClaim<'a> {
    /// The pool asked for.
    pub pool: &'a str,
    pub customer_id: i64,
    pub customer_name: &'a str,
    /// The pool the customer is in now, if any.
    pub in_pool: Option<&'a str>,
    /// When the customer was last released from a claim of this holder.
    pub released_from_holder_at: Option<Timestamp>,
    /// How many customers the holder claimed from this pool today (local day).
    pub claimed_today: u32,
    /// How many standing claims the holder has.
    pub held: u32,
}

fn refusal(code: &'static str, rule: &crate::RuleId, zh: String, en: String) -> Refusal {
    Refusal {
        code,
        rule: Some(rule.clone()),
        text: Text::new(zh, en),
    }
}

/// Whether `holder` may hold one more customer (the policy's `max_held`).
pub fn decide_capacity(policy: &Policy, holder: &StaffFacts, held: u32) -> Result<(), Refusal> {
    match policy.claims.max_held {
        Some(max) if held >= max => Err(refusal(
            "held_limit",
            &policy.claims.rule,
            format!("{}已持有 {held} 个客户，达到上限 {max} 个", holder.name),
            format!("{} already holds {held} customers, the limit is {max}", holder.name),
        )),
        _ => Ok(()),
    }
}

/// Decides a claim from a pool: first come, first served among the pool's members.
pub fn decide_pool_claim(
    policy: &Policy,
    holder: &StaffFacts,
    c: &PoolClaim<'_>,
    now: Timestamp,
) -> Result<Decision, Refusal> {
    let Some(pool) = policy.pool(c.pool) else {
        return Err(Refusal {
            code: "no_such_pool",
            rule: None,
            text: Text::new(
                format!("没有名为“{}”的客户池", c.pool),
                format!("There is no pool `{}`", c.pool),
            ),
        });
    };
    let rule = &pool.rule;
    if !Policy::holds_any(&holder.roles, &pool.members) {
        let names = policy.roles_text(&pool.members);
        return Err(refusal(
            "forbidden",
            rule,
            format!("只有{}可以从{}领取客户", names.zh, pool.name.zh),
            format!("Only a {} may claim from {}", names.en, pool.name.en),
        ));
    }
    if c.in_pool != Some(pool.id.as_str()) {
        return Err(refusal(
            "not_in_pool",
            rule,
            format!("{}已不在{}中（可能已被他人领取）", c.customer_name, pool.name.zh),
            format!(
                "{} is no longer in {} (someone may have claimed it first)",
                c.customer_name, pool.name.en
            ),
        ));
    }
    if let (Some(cool), Some(released)) = (pool.cooldown, c.released_from_holder_at) {
        let until = cool.after(released, &policy.tz);
        if now < until {
            let (t, u) = (cool.text(), policy.local_time(until));
            return Err(refusal(
                "cooldown",
                rule,
                format!(
                    "{}退回{}后 {}内原持有人不能再领取，{u} 后可领取",
                    c.customer_name, pool.name.zh, t.zh
                ),
                format!(
                    "{} was released from your claim; a former holder may reclaim only {} later, from {u}",
                    c.customer_name, t.en
                ),
            ));
        }
    }
    if let Some(max) = pool.max_claims_per_day
        && c.claimed_today >= max
    {
        return Err(refusal(
            "daily_limit",
            rule,
            format!(
                "今天已从{}领取 {} 个客户，每天最多 {max} 个",
                pool.name.zh, c.claimed_today
            ),
            format!(
                "You claimed {} from {} today; the limit is {max} a day",
                c.claimed_today, pool.name.en
            ),
        ));
    }
    decide_capacity(policy, holder, c.held)?;
    let at = policy.local_time(now);
    Ok(Decision {
        key: "pool.claimed".into(),
        rule: rule.clone(),
        policy_version: policy.version,
        facts: json!({
            "pool": pool.id,
            "customer_id": c.customer_id,
            "staff_id": holder.id,
            "claimed_at": now.to_string(),
            "claimed_today": c.claimed_today + 1,
            "held": c.held + 1,
        }),
        text: Text::new(
            format!(
                "{}于 {at} 从{}领取{}，先到先得（{rule}）",
                holder.name, pool.name.zh, c.customer_name
            ),
            format!(
                "{} claimed {} from {} at {at}, first come first served ({rule})",
                holder.name, c.customer_name, pool.name.en
            ),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
[policy]
id = "pools"
version = 1
name = { zh = "公海", en = "Pools" }

[[roles]]
id = "sales"
name = { zh = "销售", en = "Sales" }
permissions = ["customers.read", "claims.create"]

[[roles]]
id = "service"
name = { zh = "客服", en = "Service" }
permissions = ["customers.read"]

[claims]
rule = "R11.4"
duplicates = "refuse"
max_held = 3

[ownership]
rule = "R11.4"
basis = "earliest_effective"

[claims.lifecycle]
rule = "R11.8"
follow_up_channels = ["visit", "event"]
then_within = "3 months"
grades = { A = "6 months" }
warn_before = "7 days"
on_miss = "release"
release_to = "public"

[[pools]]
id = "public"
name = { zh = "公海", en = "the public pool" }
rule = "R11.8"
members = ["sales"]
cooldown = "30 days"
max_claims_per_day = 2
"#;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn claim<'a>(in_pool: Option<&'a str>) -> PoolClaim<'a> {
        PoolClaim {
            pool: "public",
            customer_id: 4,
            customer_name: "孙女士",
            in_pool,
            released_from_holder_at: None,
            claimed_today: 0,
            held: 0,
        }
    }

    #[test]
    fn pool_claims_are_for_members_first_come_first_served_with_limits() {
        let p = Policy::parse(POLICY, "pools.toml").unwrap();
        let now = t("2026-11-03T02:00:00Z");
        let sales = StaffFacts {
            id: 1,
            name: "王芳".into(),
            roles: vec!["sales".into()],
        };
        let d = decide_pool_claim(&p, &sales, &claim(Some("public")), now).unwrap();
        assert_eq!(d.rule.as_str(), "R11.8");
        assert!(d.text.zh.contains("从公海领取孙女士"), "{}", d.text.zh);
        let service = StaffFacts {
            id: 2,
            name: "李强".into(),
            roles: vec!["service".into()],
        };
        let code = |s: &StaffFacts, c: &PoolClaim<'_>| decide_pool_claim(&p, s, c, now).unwrap_err().code;
        assert_eq!(code(&service, &claim(Some("public"))), "forbidden");
        assert_eq!(code(&sales, &claim(None)), "not_in_pool");
        let mut cooling = claim(Some("public"));
        cooling.released_from_holder_at = Some(t("2026-10-20T00:00:00Z"));
        assert_eq!(code(&sales, &cooling), "cooldown");
        cooling.released_from_holder_at = Some(t("2026-09-20T00:00:00Z"));
        assert!(decide_pool_claim(&p, &sales, &cooling, now).is_ok());
        let mut busy = claim(Some("public"));
        busy.claimed_today = 2;
        assert_eq!(code(&sales, &busy), "daily_limit");
        busy.claimed_today = 0;
        busy.held = 3;
        assert_eq!(code(&sales, &busy), "held_limit");
        assert_eq!(
            decide_pool_claim(
                &p,
                &sales,
                &PoolClaim {
                    pool: "vip",
                    ..claim(None)
                },
                now
            )
            .unwrap_err()
            .code,
            "no_such_pool"
        );
    }

    #[test]
    fn r11_8_unserved_customers_return_to_the_pool_by_grade_with_a_warning() {
        use crate::claim::{ClaimFacts, ClaimStatus};
        use crate::lifecycle::{Standing, standing};
        let p = Policy::parse(POLICY, "pools.toml").unwrap();
        let mut c: ClaimFacts = crate::claim::tests::pending(1, 1, "王芳", "2026-01-10T00:00:00Z");
        c.status = ClaimStatus::Valid;
        c.effective_at = Some(t("2026-01-10T00:00:00Z"));
        match standing(&p, &c, &[], t("2026-04-05T00:00:00Z")) {
            Standing::Due(d) => {
                assert_eq!(d.at, t("2026-04-10T00:00:00Z"));
                assert_eq!(d.warn_from, Some(t("2026-04-03T00:00:00Z")));
            }
            other => panic!("{other:?}"),
        }
        match standing(&p, &c, &[], t("2026-04-10T00:00:00Z")) {
            Standing::Lapsed(l) => {
                assert_eq!(l.status, ClaimStatus::Expired);
                assert_eq!(l.decision.facts["released_to"], "public");
                assert!(l.decision.text.zh.contains("客户退回公海"), "{}", l.decision.text.zh);
            }
            other => panic!("{other:?}"),
        }
        // An A customer is kept six months.
        c.customer_grade = Some("A".into());
        assert!(matches!(
            standing(&p, &c, &[], t("2026-04-10T00:00:00Z")),
            Standing::Due(_)
        ));
    }
}
