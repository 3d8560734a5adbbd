//! R11.9: complaints. A complaint found fines the staff member concerned; a complaint to the boss
//! fines them and their unit's manager instead; a complaint still open when the policy's limit
//! comes fines both again and hands the customer to someone in another unit.
//!
//! Everything here is pure: the store loads the complaint, the staff and the units, these
//! functions say what happens, and the store applies it with the decisions in the history.

use serde_json::json;

use crate::Timestamp;
use crate::claim::StaffFacts;
use crate::decision::{Decision, Refusal};
use crate::ledger::yuan;
use crate::policy::{Complaints, Policy};
use crate::text::Text;

/// A complaint as a recorder reports it, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComplaint<'a> {
    pub customer_id: i64,
    pub customer_name: &'a str,
    /// The staff member concerned (by default the customer's holder).
    pub staff: &'a StaffFacts,
    /// The customer complained to the boss (姜总).
    pub to_boss: bool,
    pub found_at: Timestamp,
}

/// A stored complaint as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintFacts {
    pub id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub staff: StaffFacts,
    pub to_boss: bool,
    pub found_at: Timestamp,
    pub due_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    /// When the limit passed with the complaint still open (the fines and the handover are done).
    pub escalated_at: Option<Timestamp>,
}

/// A staff member as a manager or a possible receiver of the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Colleague {
    pub staff: StaffFacts,
    pub unit_id: Option<i64>,
    pub active: bool,
    /// How many customers they hold now (standing claims).
    pub held: u32,
}

/// A unit of the organisation tree: its id and its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitLink {
    pub id: i64,
    pub parent_id: Option<i64>,
}

/// An automatic ledger entry R11.9 calls for.
#[derive(Debug, Clone, PartialEq)]
pub struct Fine {
    pub staff_id: i64,
    /// Charged as the unit's manager (not as the staff member concerned).
    pub as_manager: bool,
    pub code: String,
    /// What the entry is about, one per complaint, person and code: `complaint:7:staff:3`.
    pub subject: String,
    pub decision: Decision,
}

/// What the rule says when the limit comes with the complaint still open.
#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved {
    pub fines: Vec<Fine>,
    /// Who takes the customer over: `None` when the staff member no longer holds the customer
    /// or nobody in another unit may receive it.
    pub receiver: Option<i64>,
    /// The handover (or why there is none), for the complaint and the claims' history.
    pub decision: Decision,
}

fn refuse(code: &'static str, c: Option<&Complaints>, zh: String, en: String) -> Refusal {
    Refusal {
        code,
        rule: c.map(|c| c.rule.clone()),
        text: Text::new(zh, en),
    }
}

/// The policy's complaint rules, if `by` may record complaints and mark them resolved.
pub fn check_recorder<'a>(policy: &'a Policy, by: &StaffFacts) -> Result<&'a Complaints, Refusal> {
    let Some(c) = policy.complaints.as_ref() else {
        return Err(refuse(
            "no_complaint_rules",
            None,
            "本制度没有投诉处理的规定".into(),
            "This policy has no complaint rules".into(),
        ));
    };
    if !Policy::holds_any(&by.roles, &c.roles) {
        let names = policy.roles_text(&c.roles);
        return Err(refuse(
            "forbidden",
            Some(c),
            format!("只有{}可以登记和处理投诉（{}）", names.zh, c.rule),
            format!("Only a {} may record and resolve complaints ({})", names.en, c.rule),
        ));
    }
    Ok(c)
}

/// Whether `by` may record complaints and mark them resolved (for showing the forms).
pub fn may_record(policy: &Policy, by: &StaffFacts) -> bool {
    check_recorder(policy, by).is_ok()
}

/// Recording a complaint found: when it must be resolved by, and the decision that says so.
pub fn decide_found(policy: &Policy, by: &StaffFacts, n: &NewComplaint<'_>) -> Result<(Timestamp, Decision), Refusal> {
    let c = check_recorder(policy, by)?;
    let due = c.resolve_within.after(n.found_at, &policy.tz);
    let (at, by_t, within) = (
        policy.local_time(n.found_at),
        policy.local_time(due),
        c.resolve_within.text(),
    );
    let (boss_zh, boss_en) = if n.to_boss {
        ("投诉至老板", "complained to the boss about")
    } else {
        ("投诉", "complained about")
    };
    Ok((
        due,
        Decision {
            rule: c.rule.clone(),
            policy_version: policy.version,
            facts: json!({
                "customer_id": n.customer_id,
                "staff_id": n.staff.id,
                "to_boss": n.to_boss,
                "found_by": by.id,
                "found_at": n.found_at.to_string(),
                "resolve_within": c.resolve_within.text().en,
                "due_at": due.to_string(),
            }),
            text: Text::new(
                format!(
                    "{}于 {at} 查实客户{}{boss_zh}{}；须在 {}内（{by_t} 前）解决（{}）",
                    by.name, n.customer_name, n.staff.name, within.zh, c.rule
                ),
                format!(
                    "{} found at {at} that customer {} {boss_en} {}; it must be resolved within {} (by {by_t}) ({})",
                    by.name, n.customer_name, n.staff.name, within.en, c.rule
                ),
            ),
        },
    ))
}

/// The managers of `staff`'s unit: active staff holding one of the policy's manager roles in
/// the staff member's unit, or, when it has none, in the nearest unit above it that has one.
/// The staff member is never their own manager.
pub fn managers_of(policy: &Policy, staff: &Colleague, units: &[UnitLink], people: &[Colleague]) -> Vec<StaffFacts> {
    let Some(c) = policy.complaints.as_ref() else {
        return Vec::new();
    };
    let mut unit = staff.unit_id;
    // A parent chain longer than the number of units is a cycle: stop there.
    for _ in 0..=units.len() {
        let Some(u) = unit else { break };
        let mut found: Vec<StaffFacts> = people
            .iter()
            .filter(|p| {
                p.active
                    && p.unit_id == Some(u)
                    && p.staff.id != staff.staff.id
                    && p.staff.roles.iter().any(|r| c.manager_roles.contains(r))
            })
            .map(|p| p.staff.clone())
            .collect();
        if !found.is_empty() {
            found.sort_by_key(|s| s.id);
            return found;
        }
        unit = units.iter().find(|x| x.id == u).and_then(|x| x.parent_id);
    }
    Vec::new()
}

fn subject(complaint: i64, as_manager: bool, staff: i64) -> String {
    format!(
        "complaint:{complaint}:{}:{staff}",
        if as_manager { "manager" } else { "staff" }
    )
}

fn names(people: &[StaffFacts]) -> (String, String) {
    let list: Vec<&str> = people.iter().map(|p| p.name.as_str()).collect();
    (list.join("、"), list.join(", "))
}

/// The fines for a complaint just recorded: the staff member concerned (`staff_code`), or, when
/// the customer complained to the boss, the staff member and each of `managers` (`to_boss_code`).
pub fn decide_fines(policy: &Policy, c: &ComplaintFacts, managers: &[StaffFacts]) -> Vec<Fine> {
    let Some(rules) = policy.complaints.as_ref() else {
        return Vec::new();
    };
    let code_id = if c.to_boss {
        &rules.to_boss_code
    } else {
        &rules.staff_code
    };
    let Some(code) = policy.ledger.code(code_id) else {
        return Vec::new();
    };
    let fine = yuan(code.amount);
    let at = policy.local_time(c.found_at);
    let (mz, me) = names(managers);
    let mut who: Vec<(&StaffFacts, bool)> = vec![(&c.staff, false)];
    if c.to_boss {
        who.extend(managers.iter().map(|m| (m, true)));
    }
    who.into_iter()
        .map(|(p, as_manager)| {
            let text = match (c.to_boss, as_manager) {
                (false, _) => Text::new(
                    format!(
                        "客户{}的投诉于 {at} 查实，涉及{}：罚款 {fine} 元（{}）",
                        c.customer_name, p.name, rules.rule
                    ),
                    format!(
                        "Customer {}'s complaint about {} was found at {at}: fine {fine} yuan ({})",
                        c.customer_name, p.name, rules.rule
                    ),
                ),
                (true, false) => Text::new(
                    format!(
                        "客户{}投诉至老板，涉及{}（{at} 查实）：本人罚款 {fine} 元{}（{}）",
                        c.customer_name,
                        p.name,
                        if managers.is_empty() {
                            "；所在部门没有负责人可一并处罚".to_string()
                        } else {
                            format!("，部门负责人{mz}同罚")
                        },
                        rules.rule
                    ),
                    format!(
                        "Customer {} complained to the boss about {} (found at {at}): fine {fine} yuan{} ({})",
                        c.customer_name,
                        p.name,
                        if managers.is_empty() {
                            "; the unit has no manager to fine with them".to_string()
                        } else {
                            format!(", and the same for the unit's manager {me}")
                        },
                        rules.rule
                    ),
                ),
                (true, true) => Text::new(
                    format!(
                        "客户{}投诉至老板，涉及{}（{at} 查实）：{}作为部门负责人罚款 {fine} 元（{}）",
                        c.customer_name, c.staff.name, p.name, rules.rule
                    ),
                    format!(
                        "Customer {} complained to the boss about {} (found at {at}): {} is fined {fine} yuan as the unit's manager ({})",
                        c.customer_name, c.staff.name, p.name, rules.rule
                    ),
                ),
            };
            Fine {
                staff_id: p.id,
                as_manager,
                code: code.code.clone(),
                subject: subject(c.id, as_manager, p.id),
                decision: Decision {
                    rule: rules.rule.clone(),
                    policy_version: policy.version,
                    facts: json!({
                        "complaint_id": c.id,
                        "customer_id": c.customer_id,
                        "staff_id": c.staff.id,
                        "to_boss": c.to_boss,
                        "charged": p.id,
                        "as_manager": as_manager,
                        "managers": managers.iter().map(|m| m.id).collect::<Vec<_>>(),
                        "found_at": c.found_at.to_string(),
                        "code": code.code,
                        "amount": code.amount,
                    }),
                    text,
                },
            }
        })
        .collect()
}

/// Who may take the customer over: active, holding one of `reassign_roles`, in a unit other than
/// the staff member's, under the policy's cap on customers held; of those, the one holding the
/// fewest customers, the lowest id on a tie.
pub fn pick_receiver<'a>(policy: &Policy, staff: &Colleague, people: &'a [Colleague]) -> Option<&'a Colleague> {
    let c = policy.complaints.as_ref()?;
    people
        .iter()
        .filter(|p| {
            p.active
                && p.staff.id != staff.staff.id
                && p.unit_id.is_some()
                && p.unit_id != staff.unit_id
                && p.staff.roles.iter().any(|r| c.reassign_roles.contains(r))
                && policy.claims.max_held.is_none_or(|m| p.held < m)
        })
        .min_by_key(|p| (p.held, p.staff.id))
}

/// The limit has come. `None` when the complaint was resolved or already handled; otherwise the
/// fines for the staff member and each of `managers`, and the handover: to `pick_receiver`'s
/// choice when the staff member still holds the customer (`holds`).
pub fn decide_unresolved(
    policy: &Policy,
    c: &ComplaintFacts,
    staff: &Colleague,
    holds: bool,
    managers: &[StaffFacts],
    people: &[Colleague],
    now: Timestamp,
) -> Option<Unresolved> {
    let rules = policy.complaints.as_ref()?;
    if c.resolved_at.is_some() || c.escalated_at.is_some() || now < c.due_at {
        return None;
    }
    let due = policy.local_time(c.due_at);
    let within = rules.resolve_within.text();
    let r = &rules.rule;
    let fines = match policy.ledger.code(&rules.unresolved_code) {
        None => Vec::new(),
        Some(code) => {
            let fine = yuan(code.amount);
            std::iter::once((&c.staff, false))
                .chain(managers.iter().map(|m| (m, true)))
                .map(|(p, as_manager)| {
                    let (zh_role, en_role) = if as_manager {
                        ("作为部门负责人", " as the unit's manager")
                    } else {
                        ("", "")
                    };
                    Fine {
                        staff_id: p.id,
                        as_manager,
                        code: code.code.clone(),
                        subject: subject(c.id, as_manager, p.id),
                        decision: Decision {
                            rule: r.clone(),
                            policy_version: policy.version,
                            facts: json!({
                                "complaint_id": c.id,
                                "customer_id": c.customer_id,
                                "staff_id": c.staff.id,
                                "charged": p.id,
                                "as_manager": as_manager,
                                "managers": managers.iter().map(|m| m.id).collect::<Vec<_>>(),
                                "resolve_within": within.en,
                                "due_at": c.due_at.to_string(),
                                "code": code.code,
                                "amount": code.amount,
                            }),
                            text: Text::new(
                                format!(
                                    "客户{}的投诉（涉及{}）未在 {}内（{due} 前）解决：{}{zh_role}罚款 {fine} 元（{r}）",
                                    c.customer_name, c.staff.name, within.zh, p.name
                                ),
                                format!(
                                    "Customer {}'s complaint about {} was not resolved within {} (by {due}): {} is fined {fine} yuan{en_role} ({r})",
                                    c.customer_name, c.staff.name, within.en, p.name
                                ),
                            ),
                        },
                    }
                })
                .collect()
        }
    };
    let receiver = if holds {
        pick_receiver(policy, staff, people)
    } else {
        None
    };
    let roles = policy.roles_text(&rules.reassign_roles);
    let considered: Vec<serde_json::Value> = people
        .iter()
        .filter(|p| p.staff.id != staff.staff.id && p.staff.roles.iter().any(|r| rules.reassign_roles.contains(r)))
        .map(|p| json!({ "staff_id": p.staff.id, "unit_id": p.unit_id, "held": p.held, "active": p.active }))
        .collect();
    let head = (
        format!(
            "客户{}的投诉（涉及{}）未在 {}内（{due} 前）解决",
            c.customer_name, c.staff.name, within.zh
        ),
        format!(
            "Customer {}'s complaint about {} was not resolved within {} (by {due})",
            c.customer_name, c.staff.name, within.en
        ),
    );
    let text = match (holds, receiver) {
        (false, _) => Text::new(
            format!("{}；{}已不再持有该客户，无需转交（{r}）", head.0, c.staff.name),
            format!(
                "{}; {} no longer holds the customer, so there is nothing to hand over ({r})",
                head.1, c.staff.name
            ),
        ),
        (true, Some(to)) => Text::new(
            format!(
                "{}：客户由{}转交其他部门的{}跟进（其他部门可接收的{}中持有客户最少，{} 个；同数取编号最小）（{r}）",
                head.0, c.staff.name, to.staff.name, roles.zh, to.held
            ),
            format!(
                "{}: the customer goes from {} to {} of another unit (of the {} in other units, the one holding the fewest customers, {}; the lowest id on a tie) ({r})",
                head.1, c.staff.name, to.staff.name, roles.en, to.held
            ),
        ),
        (true, None) => Text::new(
            format!(
                "{}；其他部门没有可接收客户的{}，客户仍由{}跟进（{r}）",
                head.0, roles.zh, c.staff.name
            ),
            format!(
                "{}; no {} in another unit may receive the customer, so {} keeps it ({r})",
                head.1, roles.en, c.staff.name
            ),
        ),
    };
    Some(Unresolved {
        fines,
        receiver: receiver.map(|p| p.staff.id),
        decision: Decision {
            rule: r.clone(),
            policy_version: policy.version,
            facts: json!({
                "complaint_id": c.id,
                "customer_id": c.customer_id,
                "staff_id": c.staff.id,
                "staff_unit_id": staff.unit_id,
                "holds_customer": holds,
                "due_at": c.due_at.to_string(),
                "at": now.to_string(),
                "reassign_roles": rules.reassign_roles,
                "candidates": considered,
                "receiver_id": receiver.map(|p| p.staff.id),
            }),
            text,
        },
    })
}

/// Marking a complaint resolved, with the written resolution.
pub fn decide_resolution(
    policy: &Policy,
    c: &ComplaintFacts,
    by: &StaffFacts,
    resolution: &str,
    now: Timestamp,
) -> Result<Decision, Refusal> {
    let rules = check_recorder(policy, by)?;
    if c.resolved_at.is_some() {
        return Err(refuse(
            "already_resolved",
            Some(rules),
            "该投诉已经解决".into(),
            "This complaint is already resolved".into(),
        ));
    }
    let resolution = resolution.trim();
    if resolution.is_empty() {
        return Err(refuse(
            "resolution_required",
            Some(rules),
            "请写明投诉如何解决".into(),
            "Write how the complaint was resolved".into(),
        ));
    }
    let (at, due) = (policy.local_time(now), policy.local_time(c.due_at));
    let late = now > c.due_at;
    let r = &rules.rule;
    Ok(Decision {
        rule: r.clone(),
        policy_version: policy.version,
        facts: json!({
            "complaint_id": c.id,
            "customer_id": c.customer_id,
            "staff_id": c.staff.id,
            "resolved_by": by.id,
            "at": now.to_string(),
            "due_at": c.due_at.to_string(),
            "in_time": !late,
            "resolution": resolution,
        }),
        text: Text::new(
            format!(
                "{}于 {at} 将客户{}的投诉标记为已解决（期限 {due}，{}）：{resolution}（{r}）",
                by.name,
                c.customer_name,
                if late { "已逾期" } else { "按时" }
            ),
            format!(
                "{} marked customer {}'s complaint resolved at {at} (limit {due}, {}): {resolution} ({r})",
                by.name,
                c.customer_name,
                if late { "late" } else { "in time" }
            ),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENTS: &str = include_str!("../../../presets/event-customers.toml");

    fn policy() -> Policy {
        Policy::parse(EVENTS, "event-customers.toml").unwrap()
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn person(id: i64, name: &str, role: &str) -> StaffFacts {
        StaffFacts {
            id,
            name: name.into(),
            roles: vec![role.into()],
        }
    }

    fn colleague(id: i64, name: &str, role: &str, unit: i64, held: u32) -> Colleague {
        Colleague {
            staff: person(id, name, role),
            unit_id: Some(unit),
            active: true,
            held,
        }
    }

    /// Division 1 (unit 2) and division 2 (unit 3) under the company (unit 1).
    fn units() -> Vec<UnitLink> {
        vec![
            UnitLink { id: 1, parent_id: None },
            UnitLink {
                id: 2,
                parent_id: Some(1),
            },
            UnitLink {
                id: 3,
                parent_id: Some(1),
            },
        ]
    }

    fn people() -> Vec<Colleague> {
        vec![
            colleague(10, "小王", "sales", 2, 5),
            colleague(11, "钱主任", "division_head", 2, 0),
            colleague(20, "小李", "sales", 3, 3),
            colleague(21, "小赵", "sales", 3, 1),
            colleague(22, "小周", "sales", 3, 1),
            colleague(30, "孙总", "general_manager", 1, 0),
        ]
    }

    fn complaint(to_boss: bool) -> ComplaintFacts {
        ComplaintFacts {
            id: 7,
            customer_id: 3,
            customer_name: "孙阿姨".into(),
            staff: person(10, "小王", "sales"),
            to_boss,
            found_at: t("2026-11-03T02:00:00Z"),
            due_at: t("2026-11-06T02:00:00Z"),
            resolved_at: None,
            escalated_at: None,
        }
    }

    #[test]
    fn r11_9_only_the_policys_roles_record_complaints_and_the_limit_is_three_days() {
        let p = policy();
        let head = person(11, "钱主任", "division_head");
        let wang = person(10, "小王", "sales");
        let n = NewComplaint {
            customer_id: 3,
            customer_name: "孙阿姨",
            staff: &wang,
            to_boss: true,
            found_at: t("2026-11-03T02:00:00Z"),
        };
        let e = decide_found(&p, &wang, &n).unwrap_err();
        assert_eq!(
            (e.code, e.rule.as_ref().map(|r| r.as_str())),
            ("forbidden", Some("R11.9"))
        );
        let (due, d) = decide_found(&p, &head, &n).unwrap();
        assert_eq!(due, t("2026-11-06T02:00:00Z"));
        assert_eq!(d.rule.as_str(), "R11.9");
        assert!(
            d.text.zh.contains("投诉至老板小王") && d.text.zh.contains("2026-11-06 10:00"),
            "{}",
            d.text.zh
        );
        let mut bare = p.clone();
        bare.complaints = None;
        assert_eq!(decide_found(&bare, &head, &n).unwrap_err().code, "no_complaint_rules");
    }

    #[test]
    fn r11_9_a_complaint_fines_the_staff_member_and_to_the_boss_the_manager_too() {
        let p = policy();
        let ps = people();
        let managers = managers_of(&p, &ps[0], &units(), &ps);
        assert_eq!(managers.iter().map(|m| m.id).collect::<Vec<_>>(), vec![11]);
        let plain = decide_fines(&p, &complaint(false), &managers);
        assert_eq!(plain.len(), 1);
        assert_eq!(
            (plain[0].staff_id, plain[0].code.as_str(), plain[0].subject.as_str()),
            (10, "complaint", "complaint:7:staff:10")
        );
        assert!(
            plain[0].decision.text.zh.contains("罚款 100.00 元"),
            "{}",
            plain[0].decision.text.zh
        );
        let boss = decide_fines(&p, &complaint(true), &managers);
        let got: Vec<_> = boss
            .iter()
            .map(|f| (f.staff_id, f.as_manager, f.code.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![(10, false, "complaint_to_boss"), (11, true, "complaint_to_boss")]
        );
        assert_ne!(boss[0].subject, boss[1].subject);
        assert!(
            boss[1].decision.text.en.contains("as the unit's manager"),
            "{}",
            boss[1].decision.text.en
        );
    }

    #[test]
    fn r11_9_a_unit_without_a_manager_looks_to_the_unit_above() {
        let p = policy();
        let mut ps = people();
        ps.retain(|x| x.staff.id != 11);
        ps.push(colleague(12, "郑经理", "division_head", 1, 0));
        assert_eq!(
            managers_of(&p, &ps[0], &units(), &ps)
                .iter()
                .map(|m| m.id)
                .collect::<Vec<_>>(),
            vec![12]
        );
        // Nobody is their own manager, and a staff member without a unit has none.
        let head = colleague(11, "钱主任", "division_head", 2, 0);
        assert!(managers_of(&p, &head, &units(), std::slice::from_ref(&head)).is_empty());
        let loose = Colleague {
            unit_id: None,
            ..ps[0].clone()
        };
        assert!(managers_of(&p, &loose, &units(), &ps).is_empty());
    }

    #[test]
    fn r11_9_unresolved_at_the_limit_fines_500_each_and_hands_the_customer_to_another_unit() {
        let p = policy();
        let ps = people();
        let managers = managers_of(&p, &ps[0], &units(), &ps);
        let c = complaint(false);
        // Before the limit, nothing.
        assert!(decide_unresolved(&p, &c, &ps[0], true, &managers, &ps, t("2026-11-06T01:59:00Z")).is_none());
        let u = decide_unresolved(&p, &c, &ps[0], true, &managers, &ps, c.due_at).unwrap();
        let got: Vec<_> = u.fines.iter().map(|f| (f.staff_id, f.code.as_str())).collect();
        assert_eq!(got, vec![(10, "complaint_unresolved"), (11, "complaint_unresolved")]);
        assert!(u.fines[0].decision.text.zh.contains("罚款 500.00 元"));
        // Of division 2's sales, Zhao and Zhou hold one customer each: the lower id, Zhao.
        assert_eq!(u.receiver, Some(21));
        assert!(
            u.decision.text.zh.contains("转交其他部门的小赵"),
            "{}",
            u.decision.text.zh
        );
        assert_eq!(u.decision.facts["receiver_id"], 21);
        // The decision lists whom it chose among: division 2's three sales people.
        assert_eq!(u.decision.facts["candidates"].as_array().unwrap().len(), 3);
        // Resolved, or already handled: nothing more.
        let mut done = c.clone();
        done.resolved_at = Some(t("2026-11-04T00:00:00Z"));
        assert!(decide_unresolved(&p, &done, &ps[0], true, &managers, &ps, c.due_at).is_none());
        let mut fired = c.clone();
        fired.escalated_at = Some(c.due_at);
        assert!(decide_unresolved(&p, &fired, &ps[0], true, &managers, &ps, c.due_at).is_none());
    }

    #[test]
    fn r11_9_without_a_receiver_in_another_unit_the_customer_stays() {
        let p = policy();
        let mut ps = people();
        for x in ps.iter_mut().filter(|x| x.unit_id == Some(3)) {
            x.active = false;
        }
        let c = complaint(true);
        let u = decide_unresolved(&p, &c, &ps[0], true, &[], &ps, c.due_at).unwrap();
        assert_eq!((u.receiver, u.fines.len()), (None, 1));
        assert!(
            u.decision.text.en.contains("so 小王 keeps it"),
            "{}",
            u.decision.text.en
        );
        // A customer the staff member no longer holds is not handed over.
        let u = decide_unresolved(&p, &c, &ps[0], false, &[], &people(), c.due_at).unwrap();
        assert_eq!(u.receiver, None);
        assert!(u.decision.text.zh.contains("已不再持有该客户"));
    }

    #[test]
    fn r11_9_resolving_needs_the_role_a_resolution_and_an_open_complaint() {
        let p = policy();
        let c = complaint(false);
        let head = person(11, "钱主任", "division_head");
        let now = t("2026-11-04T02:00:00Z");
        assert_eq!(
            decide_resolution(&p, &c, &person(10, "小王", "sales"), "道歉", now)
                .unwrap_err()
                .code,
            "forbidden"
        );
        assert_eq!(
            decide_resolution(&p, &c, &head, "  ", now).unwrap_err().code,
            "resolution_required"
        );
        let d = decide_resolution(&p, &c, &head, "上门道歉并退款", now).unwrap();
        assert_eq!(d.facts["in_time"], true);
        assert!(
            d.text.zh.contains("按时") && d.text.zh.contains("上门道歉并退款"),
            "{}",
            d.text.zh
        );
        let mut done = c;
        done.resolved_at = Some(now);
        assert_eq!(
            decide_resolution(&p, &done, &head, "again", now).unwrap_err().code,
            "already_resolved"
        );
    }
}
