//! Visit cadence (R1.6, R1.7): each grade of customer is visited at least every so often;
//! tags change the period (out-of-town partners: at least once a half year; a pending
//! cooperation project: more often), and some roles owe their own visits (senior management:
//! every A and selected B customer once a year). A customer past its date is overdue.

use serde_json::json;

use crate::Timestamp;
use crate::decision::{Decision, RuleId};
use crate::policy::{Period, Policy};
use crate::text::Text;

/// A customer as the cadence rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visited {
    pub customer_id: i64,
    pub name: String,
    pub grade: Option<String>,
    pub tags: Vec<String>,
    /// Since when the customer is counted (registration); a first visit is due one period on.
    pub since: Timestamp,
    /// The last visit on a cadence channel, by anyone.
    pub last_visit: Option<Timestamp>,
}

/// When the next visit is due and why.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitDue {
    pub due: Timestamp,
    pub overdue: bool,
    pub decision: Decision,
}

/// The period that applies to `c`, and the rule that sets it.
fn period_for(policy: &Policy, c: &Visited) -> Option<(Period, RuleId, String)> {
    let cad = policy.cadence.as_ref()?;
    let grade = c.grade.as_deref().map(str::trim).filter(|g| !g.is_empty());
    let mut best: Option<(Period, RuleId, String)> = grade.and_then(|g| {
        cad.grades
            .iter()
            .find(|(x, _)| x.eq_ignore_ascii_case(g))
            .map(|(_, p)| (*p, cad.rule.clone(), format!("grade:{g}")))
    });
    // A tag replaces the grade's period: the source relaxes it for out-of-town partners
    // ("对于外埠的合作伙伴，可适当放宽走访频次，每半年应至少走访1次") and raises it for a pending
    // project (R1.7). Of several tags, the most frequent wins.
    for t in &cad.tags {
        if c.tags.iter().any(|x| x == &t.tag) {
            // A tag sets the period for its customers; of several, the most frequent wins.
            let shorter = best.as_ref().is_none_or(|(p, _, why)| {
                !why.starts_with("tag:") || t.every.after(c.since, &policy.tz) < p.after(c.since, &policy.tz)
            });
            if shorter {
                best = Some((t.every, t.rule.clone(), format!("tag:{}", t.tag)));
            }
        }
    }
    best
}

/// When `c` must next be visited under the grade and tag rules; `None` when no rule applies.
pub fn visit_due(policy: &Policy, c: &Visited, now: Timestamp) -> Option<VisitDue> {
    let (period, rule, why) = period_for(policy, c)?;
    let from = c.last_visit.unwrap_or(c.since);
    let due = period.after(from, &policy.tz);
    let overdue = due < now;
    let p = period.text();
    let (d, f) = (policy.local_time(due), policy.local_time(from));
    let (basis_zh, basis_en) = match why.split_once(':') {
        Some(("tag", t)) => (format!("标记“{t}”"), format!("tag `{t}`")),
        Some((_, g)) => (format!("{g} 类"), format!("grade {g}")),
        None => (why.clone(), why.clone()),
    };
    let last = match c.last_visit {
        Some(_) => (format!("上次拜访 {f}"), format!("last visit {f}")),
        None => (
            format!("登记于 {f}，尚未拜访"),
            format!("registered {f}, not yet visited"),
        ),
    };
    let text = if overdue {
        Text::new(
            format!(
                "{}（{basis_zh}）须每 {}至少拜访一次，{}，应于 {d} 前拜访，已逾期（{rule}）",
                c.name, p.zh, last.0
            ),
            format!(
                "{} ({basis_en}) must be visited at least every {}; {}, due by {d}: overdue ({rule})",
                c.name, p.en, last.1
            ),
        )
    } else {
        Text::new(
            format!(
                "{}（{basis_zh}）须每 {}至少拜访一次，{}，下次应于 {d} 前拜访（{rule}）",
                c.name, p.zh, last.0
            ),
            format!(
                "{} ({basis_en}) must be visited at least every {}; {}, next due by {d} ({rule})",
                c.name, p.en, last.1
            ),
        )
    };
    Some(VisitDue {
        due,
        overdue,
        decision: Decision {
            key: "cadence.visit_due".into(),
            rule: rule.clone(),
            policy_version: policy.version,
            facts: json!({
                "customer_id": c.customer_id,
                "grade": c.grade,
                "tags": c.tags,
                "basis": why,
                "period": p.en,
                "last_visit": c.last_visit.map(|t| t.to_string()),
                "since": c.since.to_string(),
                "due": due.to_string(),
                "overdue": overdue,
            }),
            text,
        },
    })
}

/// A duty of some roles to visit certain customers themselves (R1.6: senior management visits
/// every A and selected B customer once a year): `last_by_role` is the last visit by anyone
/// holding one of the duty's roles. One answer per duty that covers the customer.
pub fn duties_due(
    policy: &Policy,
    c: &Visited,
    last_by_role: &dyn Fn(&[String]) -> Option<Timestamp>,
    now: Timestamp,
) -> Vec<(Vec<String>, VisitDue)> {
    let Some(cad) = &policy.cadence else {
        return Vec::new();
    };
    let grade = c.grade.as_deref().map(str::trim).unwrap_or("");
    cad.duties
        .iter()
        .filter(|d| d.grades.iter().any(|g| g.eq_ignore_ascii_case(grade)) || d.tags.iter().any(|t| c.tags.contains(t)))
        .map(|d| {
            let last = last_by_role(&d.roles);
            let from = last.unwrap_or(c.since);
            let due = d.every.after(from, &policy.tz);
            let overdue = due < now;
            let who = policy.roles_text(&d.roles);
            let (who_zh, who_en) = (who.zh, who.en);
            let (p, dd) = (d.every.text(), policy.local_time(due));
            let state = if overdue {
                ("已逾期", "overdue")
            } else {
                ("未逾期", "not yet due")
            };
            let decision = Decision {
                key: "cadence.duty_due".into(),
                rule: d.rule.clone(),
                policy_version: policy.version,
                facts: json!({
                    "customer_id": c.customer_id,
                    "roles": d.roles,
                    "period": p.en,
                    "last_visit": last.map(|t| t.to_string()),
                    "due": due.to_string(),
                    "overdue": overdue,
                }),
                text: Text::new(
                    format!(
                        "{who_zh}须每 {}亲自拜访{}一次，应于 {dd} 前拜访，{}（{}）",
                        p.zh, c.name, state.0, d.rule
                    ),
                    format!(
                        "A {who_en} must visit {} in person every {}, due by {dd}: {} ({})",
                        c.name, p.en, state.1, d.rule
                    ),
                ),
            };
            (d.roles.clone(), VisitDue { due, overdue, decision })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
[policy]
id = "partners"
version = 1
name = { zh = "合作伙伴", en = "Partners" }

[[roles]]
id = "unit_staff"
name = { zh = "归口单位", en = "Responsible unit" }
permissions = ["customers.read", "activities.create"]

[[roles]]
id = "senior_manager"
name = { zh = "高层领导", en = "Senior manager" }
permissions = ["customers.read", "activities.create"]

[claims]
rule = "R1.6"
duplicates = "refuse"

[ownership]
rule = "R1.6"
basis = "earliest_effective"

[cadence]
rule = "R1.6"
channels = ["visit"]
grades = { A = "1 month", B = "2 months", C = "3 months", D = "6 months" }

[[cadence.tags]]
tag = "out_of_town"
rule = "R1.6"
every = "6 months"

[[cadence.tags]]
tag = "pending_project"
rule = "R1.7"
every = "2 weeks"

[[cadence.duties]]
rule = "R1.6"
roles = ["senior_manager"]
grades = ["A"]
tags = ["selected"]
every = "1 year"
"#;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn partner(grade: &str, tags: &[&str], last: Option<&str>) -> Visited {
        Visited {
            customer_id: 1,
            name: "华信".into(),
            grade: Some(grade.into()),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            since: t("2026-01-01T00:00:00Z"),
            last_visit: last.map(t),
        }
    }

    #[test]
    fn r1_6_each_grade_has_its_visit_period_and_tags_change_it() {
        let p = Policy::parse(POLICY, "partners.toml").unwrap();
        let now = t("2026-03-15T00:00:00Z");
        let a = visit_due(&p, &partner("A", &[], Some("2026-03-01T00:00:00Z")), now).unwrap();
        assert_eq!((a.due, a.overdue), (t("2026-04-01T00:00:00Z"), false));
        let c = visit_due(&p, &partner("C", &[], None), t("2026-04-02T00:00:00Z")).unwrap();
        assert!(c.overdue, "{}", c.decision.text.zh);
        assert!(c.decision.text.zh.contains("尚未拜访") && c.decision.text.zh.contains("已逾期"));
        // Out of town: at least once a half year, whatever the grade.
        let far = visit_due(&p, &partner("A", &["out_of_town"], Some("2026-01-10T00:00:00Z")), now).unwrap();
        assert_eq!((far.due, far.overdue), (t("2026-07-10T00:00:00Z"), false));
        assert_eq!(far.decision.facts["basis"], "tag:out_of_town");
        // R1.7: a pending project raises the frequency.
        let busy = visit_due(
            &p,
            &partner("D", &["pending_project"], Some("2026-03-01T00:00:00Z")),
            now,
        )
        .unwrap();
        assert_eq!(
            (busy.due, busy.overdue, busy.decision.rule.as_str()),
            (t("2026-03-15T00:00:00Z"), false, "R1.7")
        );
        assert!(visit_due(&p, &partner("", &[], None), now).is_none());
        let explained: Vec<String> = crate::policy::explain(&p).into_iter().map(|l| l.text.zh).collect();
        assert!(
            explained.iter().any(|l| l == "A 类客户至少每 1 个月拜访一次"),
            "{explained:?}"
        );
        assert!(
            explained
                .iter()
                .any(|l| l.contains("高层领导每 1 年亲自拜访A 类及标记为“selected”的客户一次")),
            "{explained:?}"
        );
    }

    #[test]
    fn r1_6_senior_management_visits_a_and_selected_b_once_a_year() {
        let p = Policy::parse(POLICY, "partners.toml").unwrap();
        let now = t("2027-02-01T00:00:00Z");
        let never = |_: &[String]| None;
        let a = duties_due(&p, &partner("A", &[], None), &never, now);
        assert_eq!(a.len(), 1);
        assert!(a[0].1.overdue && a[0].0 == ["senior_manager"]);
        assert!(
            a[0].1.decision.text.zh.contains("高层领导须每 1 年亲自拜访华信一次"),
            "{}",
            a[0].1.decision.text.zh
        );
        assert!(duties_due(&p, &partner("B", &[], None), &never, now).is_empty());
        let visited = |_: &[String]| Some(t("2026-06-01T00:00:00Z"));
        let b = duties_due(&p, &partner("B", &["selected"], None), &visited, now);
        assert!(!b[0].1.overdue);
    }
}
