//! Ledgers of penalties, points and rewards (R5.5, R5.8, R5.11, R5.17, R6.1, R11.2, R11.9).
//!
//! Entries are append-only: a mistake is undone by a reversal entry that points at it, never by
//! an edit. Each entry carries the Decision that made it. The price of an entry comes from its
//! code in the policy, escalating with how often the code was charged to the person that month.

use serde::Serialize;
use serde_json::json;

use crate::Timestamp;
use crate::claim::StaffFacts;
use crate::decision::{Decision, Refusal, RuleId};
use crate::policy::{Flag, LedgerCode, LedgerKind, Policy};
use crate::text::Text;

/// An entry as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFacts {
    pub id: i64,
    pub staff_id: Option<i64>,
    pub code: String,
    pub kind: LedgerKind,
    pub amount: i64,
    pub points: i64,
    pub flag: Option<Flag>,
    pub at: Timestamp,
    /// The entry this one reverses.
    pub reverses: Option<i64>,
    /// Whether a later entry reverses this one.
    pub reversed: bool,
}

/// A priced entry the store appends.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    pub code: String,
    pub rule: RuleId,
    pub kind: LedgerKind,
    pub amount: i64,
    pub points: i64,
    pub flag: Option<Flag>,
    /// The month it counts in, `YYYY-MM` in the tenant's zone.
    pub period: String,
    pub decision: Decision,
}

/// The month `t` falls in, in the tenant's zone: `2026-11`.
pub fn month(policy: &Policy, t: Timestamp) -> String {
    t.to_zoned(policy.tz.clone()).strftime("%Y-%m").to_string()
}

/// Whether `s` is a month as [`month`] writes it.
pub fn is_month(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
        && matches!(s[5..].parse::<u8>(), Ok(1..=12))
}

/// The price of the `nth` occurrence of `code` in a month (1 = the first).
pub fn price(code: &LedgerCode, nth: u32) -> (i64, i64, Option<Flag>) {
    let (mut amount, mut points, mut flag) = (code.amount, code.points, None);
    for step in code.escalation.iter().filter(|s| s.from <= nth) {
        amount = step.amount.unwrap_or(amount);
        points = step.points.unwrap_or(points);
        flag = step.flag.or(flag);
    }
    (amount, points, flag)
}

/// Money in fen as yuan: `20.00`.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", fen.abs() / 100, fen.abs() % 100)
}

fn effect(kind: LedgerKind, amount: i64, points: i64) -> Text {
    let mut zh = Vec::new();
    let mut en = Vec::new();
    if amount != 0 {
        match kind {
            LedgerKind::Penalty => {
                zh.push(format!("罚款 {} 元", yuan(amount)));
                en.push(format!("fine {} yuan", yuan(amount)));
            }
            _ => {
                zh.push(format!("奖励 {} 元", yuan(amount)));
                en.push(format!("reward {} yuan", yuan(amount)));
            }
        }
    }
    if points < 0 {
        zh.push(format!("扣 {} 分", -points));
        en.push(format!("{} points deducted", -points));
    } else if points > 0 {
        zh.push(format!("加 {points} 分"));
        en.push(format!("{points} points awarded"));
    }
    Text::new(zh.join("，"), en.join(", "))
}

/// Prices an automatic entry that a rule's `decision` calls for; `nth` is this occurrence's
/// number in the month. `None` when the policy does not define `code`.
pub fn automatic(policy: &Policy, code: &str, nth: u32, at: Timestamp, decision: Decision) -> Option<Charge> {
    let c = policy.ledger.code(code)?;
    let (amount, points, flag) = price(c, nth);
    Some(Charge {
        code: c.code.clone(),
        rule: c.rule.clone(),
        kind: c.kind,
        amount,
        points,
        flag,
        period: month(policy, at),
        decision,
    })
}

fn refuse(code: &'static str, rule: Option<&RuleId>, zh: String, en: String) -> Refusal {
    Refusal {
        code,
        rule: rule.cloned(),
        text: Text::new(zh, en),
    }
}

/// Whether `by` keeps the ledger (may enter and reverse entries).
pub fn check_manager(policy: &Policy, by: &StaffFacts) -> Result<(), Refusal> {
    manager_check(policy, by, &policy.ledger.managers)
}

fn manager_check(policy: &Policy, by: &StaffFacts, roles: &[String]) -> Result<(), Refusal> {
    if Policy::holds_any(&by.roles, roles) {
        return Ok(());
    }
    let names = policy.roles_text(roles);
    Err(refuse(
        "forbidden",
        None,
        if roles.is_empty() {
            "只有管理员可以记账".into()
        } else {
            format!("只有{}可以记账", names.zh)
        },
        if roles.is_empty() {
            "Only an administrator may add ledger entries".into()
        } else {
            format!("Only a {} may add ledger entries", names.en)
        },
    ))
}

/// A manual entry as a manager asks for it.
#[derive(Debug, Clone)]
pub struct ManualEntry<'a> {
    pub code: &'a str,
    pub by: &'a StaffFacts,
    pub who: &'a StaffFacts,
    /// How many occurrences of the code `who` already has that month.
    pub before: u32,
    pub quantity: u32,
    pub at: Timestamp,
    pub note: &'a str,
    /// The entry this one refers to (R6.1: the violation a store manager failed to supervise).
    pub refers_to: Option<&'a EntryFacts>,
    /// `who` is a customer (R5.13: the referring customer's reward), not a staff member.
    pub for_customer: bool,
}

/// A manager enters `quantity` occurrences of a code against a staff member (R5.11, R5.17,
/// R6.1), priced with the month's escalation.
pub fn decide_manual(policy: &Policy, m: &ManualEntry<'_>) -> Result<Charge, Refusal> {
    let (code, by, who, before, quantity, at, note) = (m.code, m.by, m.who, m.before, m.quantity, m.at, m.note);
    manager_check(policy, by, &policy.ledger.managers)?;
    let Some(c) = policy.ledger.code(code) else {
        let known: Vec<&str> = policy
            .ledger
            .codes
            .iter()
            .filter(|c| c.manual)
            .map(|c| c.code.as_str())
            .collect();
        return Err(refuse(
            "unknown_code",
            None,
            format!("制度中没有代码“{code}”；可用代码：{}", known.join("、")),
            format!("The policy has no code `{code}`; codes: {}", known.join(", ")),
        ));
    };
    if !c.manual {
        return Err(refuse(
            "automatic_code",
            Some(&c.rule),
            format!("“{}”由规则自动记账，不能手工录入（{}）", c.name.zh, c.rule),
            format!(
                "`{}` is charged by its rule and cannot be entered by hand ({})",
                c.code, c.rule
            ),
        ));
    }
    let party = if m.for_customer {
        crate::policy::Party::Customer
    } else {
        crate::policy::Party::Staff
    };
    if c.party != party {
        return Err(refuse(
            "wrong_party",
            Some(&c.rule),
            match c.party {
                crate::policy::Party::Customer => format!("“{}”记在客户名下，请选择客户", c.name.zh),
                crate::policy::Party::Staff => format!("“{}”记在员工名下，请选择员工", c.name.zh),
            },
            match c.party {
                crate::policy::Party::Customer => format!("`{}` is entered for a customer, not a staff member", c.code),
                crate::policy::Party::Staff => format!("`{}` is entered for a staff member, not a customer", c.code),
            },
        ));
    }
    if let Some(roles) = &c.entered_by {
        manager_check(policy, by, roles)?;
    }
    let referred = match (c.times_referred, m.refers_to) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(refuse(
                "refers_to_required",
                Some(&c.rule),
                format!("“{}”须指明所涉及的违规记录（{}）", c.name.zh, c.rule),
                format!("`{}` must name the entry it refers to ({})", c.code, c.rule),
            ));
        }
        (Some(times), Some(e)) if e.reverses.is_none() && !e.reversed && e.staff_id != Some(who.id) => Some((times, e)),
        (Some(_), Some(_)) => {
            return Err(refuse(
                "bad_reference",
                Some(&c.rule),
                "所涉及的记录须是他人的、未冲销的违规记录".into(),
                "The entry referred to must be someone else's entry that stands (not a reversal, not reversed)".into(),
            ));
        }
    };
    if referred.is_some() && quantity != 1 {
        return Err(refuse(
            "bad_quantity",
            Some(&c.rule),
            "引用其他记录的条目一次只记一次".into(),
            "An entry that refers to another is entered once".into(),
        ));
    }
    if !(1..=100).contains(&quantity) {
        return Err(refuse(
            "bad_quantity",
            Some(&c.rule),
            "次数须在 1 到 100 之间".into(),
            "The count must be from 1 to 100".into(),
        ));
    }
    let (mut amount, mut points, mut flag) = (0, 0, None);
    for k in before + 1..=before + quantity {
        let (a, p, f) = match referred {
            Some((times, e)) => (e.amount * times, e.points * times, None),
            None => price(c, k),
        };
        amount += a;
        points += p;
        flag = f.or(flag);
    }
    let refers = match referred {
        Some((times, e)) => Text::new(
            format!("（第 {} 号记录的 {times} 倍）", e.id),
            format!(" ({times} times entry {})", e.id),
        ),
        None => Text::new("", ""),
    };
    let nth = before + quantity;
    let t = policy.local_time(at);
    let e = effect(c.kind, amount, points);
    let (flag_zh, flag_en) = match flag {
        Some(f) => (
            format!("；{}", f.label().zh),
            format!("; {}", f.label().en.to_lowercase()),
        ),
        None => (String::new(), String::new()),
    };
    let note = note.trim();
    let times = if quantity == 1 {
        (String::new(), String::new())
    } else {
        (format!(" {quantity} 次"), format!(" ×{quantity}"))
    };
    Ok(Charge {
        code: c.code.clone(),
        rule: c.rule.clone(),
        kind: c.kind,
        amount,
        points,
        flag,
        period: month(policy, at),
        decision: Decision {
            key: "ledger.entered".into(),
            rule: c.rule.clone(),
            policy_version: policy.version,
            facts: json!({
                "code": c.code,
                (if m.for_customer { "customer_id" } else { "staff_id" }): who.id,
                "entered_by": by.id,
                "at": at.to_string(),
                "quantity": quantity,
                "occurrence_in_month": nth,
                "amount": amount,
                "points": points,
                "flag": flag.map(Flag::as_str),
                "note": note,
                "refers_to": referred.map(|(_, e)| e.id),
            }),
            text: Text::new(
                format!(
                    "{}于 {t} 记{}“{}”{}（本月第 {nth} 次）：{}{}{flag_zh}（{}）",
                    by.name, who.name, c.name.zh, times.0, e.zh, refers.zh, c.rule
                ),
                format!(
                    "{} entered \"{}\"{} for {} at {t} (number {nth} this month): {}{}{flag_en} ({})",
                    by.name, c.name.en, times.1, who.name, e.en, refers.en, c.rule
                ),
            ),
        },
    })
}

/// A manager reverses an entry with a reason: a new entry of the opposite sign.
pub fn decide_reversal(
    policy: &Policy,
    entry: &EntryFacts,
    by: &StaffFacts,
    reason: &str,
    now: Timestamp,
) -> Result<Charge, Refusal> {
    manager_check(policy, by, &policy.ledger.managers)?;
    if entry.reverses.is_some() {
        return Err(refuse(
            "not_reversible",
            None,
            "冲销记录不能再冲销".into(),
            "A reversal cannot itself be reversed".into(),
        ));
    }
    if entry.reversed {
        return Err(refuse(
            "already_reversed",
            None,
            "该记录已冲销".into(),
            "This entry has already been reversed".into(),
        ));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(refuse(
            "reason_required",
            None,
            "冲销必须写明原因".into(),
            "A reversal needs a written reason".into(),
        ));
    }
    let rule = policy
        .ledger
        .code(&entry.code)
        .map(|c| c.rule.clone())
        .unwrap_or_else(|| RuleId::parse("R0.0").expect("well-formed"));
    let e = effect(entry.kind, entry.amount, entry.points);
    let t = policy.local_time(now);
    Ok(Charge {
        code: entry.code.clone(),
        rule: rule.clone(),
        kind: entry.kind,
        amount: -entry.amount,
        points: -entry.points,
        flag: None,
        period: month(policy, now),
        decision: Decision {
            key: "ledger.reversed".into(),
            rule,
            policy_version: policy.version,
            facts: json!({
                "reverses": entry.id,
                "reversed_by": by.id,
                "at": now.to_string(),
                "reason": reason,
                "amount": -entry.amount,
                "points": -entry.points,
            }),
            text: Text::new(
                format!(
                    "{}于 {t} 冲销第 {} 号记录（{}），原因：{reason}",
                    by.name, entry.id, e.zh
                ),
                format!(
                    "{} reversed entry {} ({}) at {t}. Reason: {reason}",
                    by.name, entry.id, e.en
                ),
            ),
        },
    })
}

/// One person's (or unit's) totals for a month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub entries: u32,
    /// Fines, in fen, net of reversals.
    pub penalties: i64,
    /// Rewards, in fen, net of reversals.
    pub rewards: i64,
    /// Points, net.
    pub points: i64,
    /// Flags raised by entries that stand (not reversed).
    pub flags: Vec<Flag>,
}

/// Sums entries into a statement.
pub fn statement(entries: &[EntryFacts]) -> Statement {
    let mut s = Statement::default();
    for e in entries {
        s.entries += 1;
        match e.kind {
            LedgerKind::Penalty => s.penalties += e.amount,
            LedgerKind::Reward => s.rewards += e.amount,
            LedgerKind::Points => {}
        }
        s.points += e.points;
        if let Some(f) = e.flag
            && !e.reversed
            && !s.flags.contains(&f)
        {
            s.flags.push(f);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::tests::sample;
    use proptest::prelude::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[allow(clippy::too_many_arguments)]
    fn manual(
        p: &Policy,
        code: &str,
        by: &StaffFacts,
        who: &StaffFacts,
        before: u32,
        quantity: u32,
        at: Timestamp,
        note: &str,
    ) -> Result<Charge, Refusal> {
        decide_manual(
            p,
            &ManualEntry {
                code,
                by,
                who,
                before,
                quantity,
                at,
                note,
                refers_to: None,
                for_customer: false,
            },
        )
    }

    fn staff(id: i64, name: &str, role: &str) -> StaffFacts {
        StaffFacts {
            id,
            name: name.into(),
            roles: vec![role.into()],
        }
    }

    #[test]
    fn r5_17_lateness_costs_20_then_40_and_the_third_flags_dismissal_review() {
        let p = sample();
        let (lead, who) = (staff(2, "赵组长", "team_leader"), staff(1, "王芳", "consultant"));
        let at = t("2026-11-03T01:00:00Z");
        let first = manual(&p, "lateness", &lead, &who, 0, 1, at, "8:40 到").unwrap();
        assert_eq!((first.amount, first.flag), (2000, None));
        assert_eq!(first.period, "2026-11");
        assert!(
            first.decision.text.zh.contains("罚款 20.00 元"),
            "{}",
            first.decision.text.zh
        );
        let second = manual(&p, "lateness", &lead, &who, 1, 1, at, "").unwrap();
        assert_eq!(second.amount, 4000);
        let third = manual(&p, "lateness", &lead, &who, 2, 1, at, "").unwrap();
        assert_eq!((third.amount, third.flag), (4000, Some(Flag::DismissalReview)));
        assert!(third.decision.text.zh.contains("需劝退审查"));
        // Two at once are priced one by one.
        let two = manual(&p, "lateness", &lead, &who, 0, 2, at, "").unwrap();
        assert_eq!(two.amount, 6000);
    }

    #[test]
    fn manual_entries_need_a_manager_and_a_manual_code() {
        let p = sample();
        let (lead, who) = (staff(2, "赵组长", "team_leader"), staff(1, "王芳", "consultant"));
        let at = t("2026-11-03T01:00:00Z");
        assert_eq!(
            manual(&p, "lateness", &who, &who, 0, 1, at, "").unwrap_err().code,
            "forbidden"
        );
        assert_eq!(
            manual(&p, "duplicate_card", &lead, &who, 0, 1, at, "")
                .unwrap_err()
                .code,
            "automatic_code"
        );
        assert_eq!(
            manual(&p, "nap", &lead, &who, 0, 1, at, "").unwrap_err().code,
            "unknown_code"
        );
        let absence = manual(&p, "absence", &lead, &who, 0, 1, at, "").unwrap();
        assert_eq!(
            (absence.kind, absence.points, absence.amount),
            (LedgerKind::Points, -10, 0)
        );
        assert!(absence.decision.text.zh.contains("扣 10 分"));
    }

    #[test]
    fn r6_1_a_store_manager_who_failed_to_supervise_loses_double() {
        let p = sample();
        let (lead, manager) = (staff(2, "赵组长", "team_leader"), staff(5, "钱店长", "consultant"));
        let at = t("2026-11-03T01:00:00Z");
        let absence = EntryFacts {
            id: 8,
            staff_id: Some(1),
            code: "absence".into(),
            kind: LedgerKind::Points,
            amount: 0,
            points: -10,
            flag: None,
            at,
            reverses: None,
            reversed: false,
        };
        let entry = |refers_to| ManualEntry {
            code: "supervision_failure",
            by: &lead,
            who: &manager,
            before: 0,
            quantity: 1,
            at,
            note: "",
            refers_to,
            for_customer: false,
        };
        let e = decide_manual(&p, &entry(None)).unwrap_err();
        assert_eq!((e.code, e.rule.unwrap().as_str()), ("refers_to_required", "R6.1"));
        let c = decide_manual(&p, &entry(Some(&absence))).unwrap();
        assert_eq!((c.points, c.kind), (-20, LedgerKind::Points));
        assert!(
            c.decision.text.zh.contains("第 8 号记录的 2 倍"),
            "{}",
            c.decision.text.zh
        );
        let mut reversed = absence.clone();
        reversed.reversed = true;
        assert_eq!(
            decide_manual(&p, &entry(Some(&reversed))).unwrap_err().code,
            "bad_reference"
        );
    }

    #[test]
    fn a_reversal_is_a_new_entry_of_the_opposite_sign_once() {
        let p = sample();
        let lead = staff(2, "赵组长", "team_leader");
        let mut e = EntryFacts {
            id: 4,
            staff_id: Some(1),
            code: "lateness".into(),
            kind: LedgerKind::Penalty,
            amount: 2000,
            points: 0,
            flag: None,
            at: t("2026-11-03T01:00:00Z"),
            reverses: None,
            reversed: false,
        };
        assert_eq!(
            decide_reversal(&p, &e, &lead, "", t("2026-11-04T00:00:00Z"))
                .unwrap_err()
                .code,
            "reason_required"
        );
        let r = decide_reversal(&p, &e, &lead, "打卡机故障", t("2026-11-04T00:00:00Z")).unwrap();
        assert_eq!(r.amount, -2000);
        e.reversed = true;
        assert_eq!(
            decide_reversal(&p, &e, &lead, "again", t("2026-11-04T00:00:00Z"))
                .unwrap_err()
                .code,
            "already_reversed"
        );
    }

    #[test]
    fn months_are_read_in_the_tenant_zone() {
        let p = sample();
        // 2026-11-30 17:00 UTC is 1 December 01:00 in Shanghai.
        assert_eq!(month(&p, t("2026-11-30T17:00:00Z")), "2026-12");
        assert!(is_month("2026-12") && !is_month("2026-13") && !is_month("2026-1") && !is_month("abcd-ef"));
        assert_eq!(yuan(-2050), "-20.50");
    }

    fn entry() -> impl Strategy<Value = EntryFacts> {
        (0..3u8, -100_000i64..100_000, -50i64..50, any::<bool>(), any::<bool>()).prop_map(
            |(k, amount, points, flag, reversed)| EntryFacts {
                id: 1,
                staff_id: Some(1),
                code: "x".into(),
                kind: [LedgerKind::Penalty, LedgerKind::Points, LedgerKind::Reward][k as usize],
                amount,
                points,
                flag: flag.then_some(Flag::DismissalReview),
                at: Timestamp::UNIX_EPOCH,
                reverses: None,
                reversed,
            },
        )
    }

    proptest! {
        /// A statement equals the sum of its entries, whatever they are.
        #[test]
        fn a_statement_is_the_sum_of_its_entries(entries in proptest::collection::vec(entry(), 0..40)) {
            let s = statement(&entries);
            prop_assert_eq!(s.entries as usize, entries.len());
            let sum = |k: LedgerKind| entries.iter().filter(|e| e.kind == k).map(|e| e.amount).sum::<i64>();
            prop_assert_eq!(s.penalties, sum(LedgerKind::Penalty));
            prop_assert_eq!(s.rewards, sum(LedgerKind::Reward));
            prop_assert_eq!(s.points, entries.iter().map(|e| e.points).sum::<i64>());
            prop_assert_eq!(s.flags.is_empty(), !entries.iter().any(|e| e.flag.is_some() && !e.reversed));
        }
    }
}
