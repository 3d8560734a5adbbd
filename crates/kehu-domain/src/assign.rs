//! Sharing customers out among staff: a manager redistributes a leaving person's customers at
//! random or evenly (R7.8(12)); files collected at events are shared out evenly among the staff
//! who took part (R11.1). The plan is pure: a random share takes its seed as an argument, and
//! the seed goes into each decision, so the same request always gives the same plan.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Timestamp;
use crate::claim::StaffFacts;
use crate::decision::{Decision, Refusal};
use crate::policy::{Policy, ShareRule};
use crate::text::Text;

/// How customers are spread over the staff named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// In turn, so counts differ by at most one.
    Even,
    /// Each to a staff member drawn at random.
    Random,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Even => "even",
            Method::Random => "random",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "even" => Some(Method::Even),
            "random" => Some(Method::Random),
            _ => None,
        }
    }
}

/// Which of `targets` gets each of `items`, in the items' order.
pub fn plan(items: &[i64], targets: &[i64], method: Method, seed: u64) -> Vec<(i64, i64)> {
    if targets.is_empty() {
        return Vec::new();
    }
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let k = match method {
                Method::Even => i % targets.len(),
                Method::Random => (next() % targets.len() as u64) as usize,
            };
            (*item, targets[k])
        })
        .collect()
}

/// Whether `by` may share customers out under `rule` to `targets`.
pub fn check<'a>(
    policy: &Policy,
    rule: Option<&'a ShareRule>,
    by: &StaffFacts,
    targets: usize,
) -> Result<&'a ShareRule, Refusal> {
    let Some(rule) = rule else {
        return Err(Refusal {
            code: "forbidden",
            rule: None,
            text: Text::new(
                "本制度没有分配客户的规定",
                "This policy has no rule for sharing customers out",
            ),
        });
    };
    if !Policy::holds_any(&by.roles, &rule.roles) {
        let names = policy.roles_text(&rule.roles);
        return Err(Refusal {
            code: "forbidden",
            rule: Some(rule.rule.clone()),
            text: Text::new(
                format!("只有{}可以分配客户（{}）", names.zh, rule.rule),
                format!("Only a {} may share customers out ({})", names.en, rule.rule),
            ),
        });
    }
    if targets == 0 {
        return Err(Refusal {
            code: "no_targets",
            rule: Some(rule.rule.clone()),
            text: Text::new(
                "请至少指定一名接收客户的员工",
                "Name at least one staff member to receive the customers",
            ),
        });
    }
    Ok(rule)
}

/// One customer given to `to`: from a leaving holder (`from`, R7.8(12)) or, unheld, from an
/// event's files (R11.1).
#[allow(clippy::too_many_arguments)]
pub fn decide(
    policy: &Policy,
    rule: &ShareRule,
    by: &StaffFacts,
    from: Option<&StaffFacts>,
    customer: (i64, &str),
    to: &StaffFacts,
    method: Method,
    seed: u64,
    now: Timestamp,
) -> Decision {
    let at = policy.local_time(now);
    let (how_zh, how_en) = match method {
        Method::Even => ("平均", "evenly"),
        Method::Random => ("随机", "at random"),
    };
    let (cid, name) = customer;
    let r = &rule.rule;
    let text = match from {
        Some(f) => Text::new(
            format!(
                "{}于 {at} 将{}的客户{name}{how_zh}分配给{}（{r}）",
                by.name, f.name, to.name
            ),
            format!(
                "{} gave {}'s customer {name} to {} ({how_en}) at {at} ({r})",
                by.name, f.name, to.name
            ),
        ),
        None => Text::new(
            format!("{}于 {at} 将客户{name}{how_zh}分配给{}（{r}）", by.name, to.name),
            format!(
                "{} shared customer {name} out to {} ({how_en}) at {at} ({r})",
                by.name, to.name
            ),
        ),
    };
    Decision {
        key: "assign.assigned".into(),
        rule: r.clone(),
        policy_version: policy.version,
        facts: json!({
            "customer_id": cid,
            "from_staff_id": from.map(|f| f.id),
            "to_staff_id": to.id,
            "by": by.id,
            "method": method.as_str(),
            "seed": seed.to_string(),
            "at": now.to_string(),
        }),
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every item goes to exactly one named target; an even share differs by at most one.
        #[test]
        fn every_customer_goes_to_one_named_person(
            items in proptest::collection::vec(any::<i64>(), 0..200),
            targets in proptest::collection::btree_set(1i64..50, 1..8),
            seed in any::<u64>(),
        ) {
            let targets: Vec<i64> = targets.into_iter().collect();
            for method in [Method::Even, Method::Random] {
                let p = plan(&items, &targets, method, seed);
                prop_assert_eq!(p.len(), items.len());
                prop_assert!(p.iter().zip(&items).all(|((i, t), item)| i == item && targets.contains(t)));
                prop_assert_eq!(&p, &plan(&items, &targets, method, seed));
            }
            let even = plan(&items, &targets, Method::Even, seed);
            let counts: Vec<usize> = targets.iter().map(|t| even.iter().filter(|(_, x)| x == t).count()).collect();
            prop_assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1);
        }
    }
}
