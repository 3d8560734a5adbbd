//! R11.6: conflicts between two divisions' staff over a customer at a joint event.
//!
//! The staff do not argue in front of the customer; afterwards the coordinator and the head of
//! each party's division settle the conflict together: it is settled when all of them have
//! signed the same outcome (to whom the customer goes, whether the parties argued in front of
//! the customer). Outcomes that differ, or the coordinator finding they cannot decide, escalate
//! it to the general manager, who then rules alone.

use serde::Serialize;
use serde_json::json;

use crate::Timestamp;
use crate::claim::StaffFacts;
use crate::decision::{Decision, Refusal};
use crate::policy::{Conflicts, Policy};
use crate::text::Text;

/// Where a conflict stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the coordinator's and the heads' sign-offs.
    Open,
    /// Waiting for an arbiter's ruling.
    Escalated,
    /// Settled by the coordinator and the heads in agreement.
    Settled,
    /// Ruled on by an arbiter.
    Decided,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Escalated => "escalated",
            Status::Settled => "settled",
            Status::Decided => "decided",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "open" => Some(Status::Open),
            "escalated" => Some(Status::Escalated),
            "settled" => Some(Status::Settled),
            "decided" => Some(Status::Decided),
            _ => None,
        }
    }

    pub fn label(self) -> Text {
        match self {
            Status::Open => Text::new("待协商", "Open"),
            Status::Escalated => Text::new("已上报总经理", "Escalated"),
            Status::Settled => Text::new("已协商解决", "Settled"),
            Status::Decided => Text::new("已裁决", "Decided"),
        }
    }

    /// Settled or decided: nothing more may be signed.
    pub fn is_closed(self) -> bool {
        matches!(self, Status::Settled | Status::Decided)
    }
}

/// One side of a conflict: a staff member and their unit (division).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyFacts {
    pub staff_id: i64,
    pub name: String,
    pub unit_id: Option<i64>,
    pub unit_name: String,
}

/// A place at the settlement table: the coordinator's, or the head's of one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Seat {
    Coordinator,
    Head(i64),
}

impl Seat {
    /// As stored: `coordinator` or `head:<unit id>`, unique per conflict.
    pub fn key(self) -> String {
        match self {
            Seat::Coordinator => "coordinator".into(),
            Seat::Head(unit) => format!("head:{unit}"),
        }
    }

    pub fn parse(s: &str) -> Option<Seat> {
        match s {
            "coordinator" => Some(Seat::Coordinator),
            _ => s.strip_prefix("head:")?.parse().ok().map(Seat::Head),
        }
    }
}

/// What a settler or an arbiter finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The staff id of the party the customer goes to.
    pub award_to: i64,
    /// Whether the parties argued in front of the customer.
    pub argued: bool,
    pub note: String,
}

impl Outcome {
    fn agrees(&self, other: &Outcome) -> bool {
        self.award_to == other.award_to && self.argued == other.argued
    }
}

/// A sign-off already given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOff {
    pub seat: Seat,
    pub staff_id: i64,
    pub name: String,
    pub outcome: Outcome,
}

/// A conflict as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictFacts {
    pub id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub event_id: Option<i64>,
    pub parties: [PartyFacts; 2],
    pub status: Status,
    pub signoffs: Vec<SignOff>,
}

impl ConflictFacts {
    /// The seats that must sign: the coordinator's, then the head's of each party's unit (once
    /// when both parties are in one unit).
    pub fn seats(&self) -> Vec<Seat> {
        let mut seats = vec![Seat::Coordinator];
        for p in &self.parties {
            if let Some(u) = p.unit_id
                && !seats.contains(&Seat::Head(u))
            {
                seats.push(Seat::Head(u));
            }
        }
        seats
    }

    pub fn party(&self, staff_id: i64) -> Option<&PartyFacts> {
        self.parties.iter().find(|p| p.staff_id == staff_id)
    }

    fn signed(&self, seat: Seat) -> Option<&SignOff> {
        self.signoffs.iter().find(|s| s.seat == seat)
    }
}

/// Someone acting on a conflict: a staff member and their unit.
#[derive(Debug, Clone)]
pub struct Actor {
    pub staff: StaffFacts,
    pub unit_id: Option<i64>,
}

fn not_configured() -> Refusal {
    Refusal {
        code: "no_conflict_rules",
        rule: None,
        text: Text::new(
            "本制度没有冲突处理的规定",
            "This policy has no rules for settling conflicts",
        ),
    }
}

/// The policy's conflict section, or the refusal to show when it has none.
pub fn rules(policy: &Policy) -> Result<&Conflicts, Refusal> {
    policy.conflicts.as_ref().ok_or_else(not_configured)
}

fn refuse(r: &Conflicts, code: &'static str, zh: String, en: String) -> Refusal {
    Refusal {
        code,
        rule: Some(r.rule.clone()),
        text: Text::new(zh, en),
    }
}

fn closed(r: &Conflicts, c: &ConflictFacts) -> Refusal {
    let label = c.status.label();
    refuse(
        r,
        "already_settled",
        format!("该冲突{}，不能再处理（{}）", label.zh, r.rule),
        format!(
            "This conflict is {}; nothing more can be done on it ({})",
            label.en.to_lowercase(),
            r.rule
        ),
    )
}

/// Whether a request to record a conflict may be taken: `by` holds an opener's role, the two
/// parties are different people, each in a unit.
pub fn decide_open(
    policy: &Policy,
    by: &StaffFacts,
    customer: (i64, &str),
    parties: &[PartyFacts; 2],
    event: Option<(i64, &str)>,
    now: Timestamp,
) -> Result<Decision, Refusal> {
    let r = rules(policy)?;
    if !Policy::holds_any(&by.roles, &r.openers) {
        let names = policy.roles_text(&r.openers);
        return Err(refuse(
            r,
            "forbidden",
            format!("只有{}可以记录冲突（{}）", names.zh, r.rule),
            format!("Only a {} may record a conflict ({})", names.en, r.rule),
        ));
    }
    let [a, b] = parties;
    if a.staff_id == b.staff_id {
        return Err(refuse(
            r,
            "same_party",
            format!("冲突须发生在两名不同的员工之间（{}）", r.rule),
            format!("A conflict is between two different staff members ({})", r.rule),
        ));
    }
    if let Some(p) = parties.iter().find(|p| p.unit_id.is_none()) {
        return Err(refuse(
            r,
            "party_without_unit",
            format!("{}不属于任何部门，没有部门负责人可以协商（{}）", p.name, r.rule),
            format!(
                "{} belongs to no division, so no head can settle it ({})",
                p.name, r.rule
            ),
        ));
    }
    let (customer_id, customer_name) = customer;
    let at = event.map(|(_, n)| n.to_string());
    let (zh_at, en_at) = match &at {
        Some(n) => (format!("在「{n}」上"), format!(" at \"{n}\"")),
        None => (String::new(), String::new()),
    };
    Ok(Decision {
        rule: r.rule.clone(),
        policy_version: policy.version,
        facts: json!({
            "customer_id": customer_id,
            "event_id": event.map(|(id, _)| id),
            "parties": parties.iter().map(|p| json!({ "staff_id": p.staff_id, "unit_id": p.unit_id })).collect::<Vec<_>>(),
            "opened_by": by.id,
            "opened_at": now.to_string(),
        }),
        text: Text::new(
            format!(
                "{}记录了{}（{}）与{}（{}）{zh_at}为客户{}发生的冲突：双方不得在客户面前争执，事后由协调助理与双方部门负责人协商处理（{}）",
                by.name, a.name, a.unit_name, b.name, b.unit_name, customer_name, r.rule
            ),
            format!(
                "{} recorded a conflict between {} ({}) and {} ({}){en_at} over customer {}: no arguing in front of the customer; the coordinator and both heads settle it afterwards ({})",
                by.name, a.name, a.unit_name, b.name, b.unit_name, customer_name, r.rule
            ),
        ),
    })
}

fn check_award(r: &Conflicts, c: &ConflictFacts, o: &Outcome) -> Result<(), Refusal> {
    if c.party(o.award_to).is_none() {
        return Err(refuse(
            r,
            "invalid_award",
            format!(
                "客户只能判给冲突的一方：{}或{}（{}）",
                c.parties[0].name, c.parties[1].name, r.rule
            ),
            format!(
                "The customer can only go to a party: {} or {} ({})",
                c.parties[0].name, c.parties[1].name, r.rule
            ),
        ));
    }
    Ok(())
}

/// The seat `by` signs in: the coordinator's if they hold a coordinator role and it is free,
/// else the head's of a party's unit they head.
fn seat_for(r: &Conflicts, c: &ConflictFacts, by: &Actor) -> Result<Seat, Refusal> {
    let coordinator = Policy::holds_any(&by.staff.roles, &r.coordinator_roles);
    let head = Policy::holds_any(&by.staff.roles, &r.head_roles);
    let mut eligible = Vec::new();
    if coordinator {
        eligible.push(Seat::Coordinator);
    }
    if head && let Some(u) = by.unit_id {
        eligible.extend(c.seats().into_iter().filter(|s| *s == Seat::Head(u)));
    }
    if eligible.is_empty() {
        return Err(refuse(
            r,
            "not_a_settler",
            format!(
                "只有协调助理和{}、{}所在部门的负责人可以签署处理意见（{}）",
                c.parties[0].name, c.parties[1].name, r.rule
            ),
            format!(
                "Only the coordinator and the heads of {}'s and {}'s divisions sign the settlement ({})",
                c.parties[0].name, c.parties[1].name, r.rule
            ),
        ));
    }
    eligible.into_iter().find(|s| c.signed(*s).is_none()).ok_or_else(|| {
        refuse(
            r,
            "seat_taken",
            format!("您所代表的一方已经签署过处理意见（{}）", r.rule),
            format!("The settler you stand for has already signed ({})", r.rule),
        )
    })
}

/// What a sign-off leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    /// More sign-offs are needed.
    Waiting,
    /// Everyone signed the same outcome: the conflict is settled with this decision.
    Settled(Decision),
    /// The sign-off differs from an earlier one: the conflict goes to an arbiter.
    Escalated(Decision),
}

/// The answer to a sign-off: the seat it fills, its own decision, and what follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Signed {
    pub seat: Seat,
    pub decision: Decision,
    pub after: After,
}

fn outcome_text(c: &ConflictFacts, o: &Outcome) -> Text {
    let to = c.party(o.award_to).map(|p| p.name.as_str()).unwrap_or("");
    let (zh, en) = if o.argued {
        (
            "，双方曾在客户面前争执",
            ", the parties argued in front of the customer",
        )
    } else {
        (
            "，双方未在客户面前争执",
            ", the parties did not argue in front of the customer",
        )
    };
    Text::new(
        format!("客户{}判归{to}{zh}", c.customer_name),
        format!("{} goes to {to}{en}", c.customer_name),
    )
}

fn fine_text(r: &Conflicts, c: &ConflictFacts, o: &Outcome) -> Text {
    match (&r.penalty, o.argued) {
        (Some(_), true) => Text::new(
            format!("；{}、{}各罚款", c.parties[0].name, c.parties[1].name),
            format!("; {} and {} are each fined", c.parties[0].name, c.parties[1].name),
        ),
        _ => Text::new("", ""),
    }
}

/// The decision that closes a conflict, whoever took it.
fn closing(
    policy: &Policy,
    r: &Conflicts,
    c: &ConflictFacts,
    o: &Outcome,
    by: Text,
    how: &str,
    now: Timestamp,
) -> Decision {
    let out = outcome_text(c, o);
    let fine = fine_text(r, c, o);
    let loser = c.parties.iter().find(|p| p.staff_id != o.award_to);
    Decision {
        rule: r.rule.clone(),
        policy_version: policy.version,
        facts: json!({
            "conflict_id": c.id,
            "customer_id": c.customer_id,
            "event_id": c.event_id,
            "how": how,
            "award_to": o.award_to,
            "loser": loser.map(|p| p.staff_id),
            "argued": o.argued,
            "penalty": r.penalty.as_ref().filter(|_| o.argued),
            "signoffs": c.signoffs.iter().map(|s| json!({
                "seat": s.seat.key(),
                "staff_id": s.staff_id,
                "award_to": s.outcome.award_to,
                "argued": s.outcome.argued,
            })).collect::<Vec<_>>(),
            "note": o.note,
            "at": now.to_string(),
        }),
        text: Text::new(
            format!("{}：{}{}（{}）", by.zh, out.zh, fine.zh, r.rule),
            format!("{}: {}{} ({})", by.en, out.en, fine.en, r.rule),
        ),
    }
}

/// The seat `by` would sign in on `c` now, or why they may not sign.
pub fn seat_of(policy: &Policy, c: &ConflictFacts, by: &Actor) -> Result<Seat, Refusal> {
    let r = rules(policy)?;
    if c.status.is_closed() {
        return Err(closed(r, c));
    }
    if c.status == Status::Escalated {
        let names = policy.roles_text(&r.arbiters);
        return Err(refuse(
            r,
            "already_escalated",
            format!("该冲突已上报，由{}裁决（{}）", names.zh, r.rule),
            format!("This conflict is escalated; a {} rules on it ({})", names.en, r.rule),
        ));
    }
    if c.signoffs.iter().any(|s| s.staff_id == by.staff.id) {
        return Err(refuse(
            r,
            "already_signed",
            format!("您已经签署过该冲突的处理意见（{}）", r.rule),
            format!("You have already signed this conflict's settlement ({})", r.rule),
        ));
    }
    seat_for(r, c, by)
}

/// R11.6: `by` signs `outcome` for the conflict `c`. Once the coordinator and the head of each
/// party's unit have signed the same outcome the conflict is settled; a differing outcome
/// escalates it to an arbiter.
pub fn decide_sign(
    policy: &Policy,
    c: &ConflictFacts,
    by: &Actor,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<Signed, Refusal> {
    let r = rules(policy)?;
    let seat = seat_of(policy, c, by)?;
    check_award(r, c, outcome)?;
    let mut after = c.clone();
    after.signoffs.push(SignOff {
        seat,
        staff_id: by.staff.id,
        name: by.staff.name.clone(),
        outcome: outcome.clone(),
    });
    let out = outcome_text(c, outcome);
    let decision = Decision {
        rule: r.rule.clone(),
        policy_version: policy.version,
        facts: json!({
            "conflict_id": c.id,
            "seat": seat.key(),
            "signed_by": by.staff.id,
            "award_to": outcome.award_to,
            "argued": outcome.argued,
            "note": outcome.note,
            "at": now.to_string(),
        }),
        text: Text::new(
            format!("{}签署处理意见：{}（{}）", by.staff.name, out.zh, r.rule),
            format!("{} signed: {} ({})", by.staff.name, out.en, r.rule),
        ),
    };
    let first = &after.signoffs[0].outcome;
    if let Some(differs) = after.signoffs.iter().find(|s| !s.outcome.agrees(first)) {
        let names = policy.roles_text(&r.arbiters);
        let escalation = Decision {
            rule: r.rule.clone(),
            policy_version: policy.version,
            facts: json!({
                "conflict_id": c.id,
                "reason": "outcomes_differ",
                "signoffs": after.signoffs.iter().map(|s| json!({
                    "seat": s.seat.key(),
                    "staff_id": s.staff_id,
                    "award_to": s.outcome.award_to,
                    "argued": s.outcome.argued,
                })).collect::<Vec<_>>(),
                "at": now.to_string(),
            }),
            text: Text::new(
                format!(
                    "{}与{}的处理意见不一致，协商未果，上报{}裁决（{}）",
                    after.signoffs[0].name, differs.name, names.zh, r.rule
                ),
                format!(
                    "{} and {} signed different outcomes: no agreement, so a {} rules ({})",
                    after.signoffs[0].name, differs.name, names.en, r.rule
                ),
            ),
        };
        return Ok(Signed {
            seat,
            decision,
            after: After::Escalated(escalation),
        });
    }
    let all_signed = after.seats().iter().all(|s| after.signed(*s).is_some());
    if !all_signed {
        return Ok(Signed {
            seat,
            decision,
            after: After::Waiting,
        });
    }
    let names: Vec<&str> = after.signoffs.iter().map(|s| s.name.as_str()).collect();
    let by = Text::new(
        format!("协调助理与双方部门负责人（{}）一致同意", names.join("、")),
        format!("The coordinator and both heads ({}) agreed", names.join(", ")),
    );
    let settled = closing(policy, r, &after, outcome, by, "settled", now);
    Ok(Signed {
        seat,
        decision,
        after: After::Settled(settled),
    })
}

/// R11.6: the coordinator cannot decide and escalates the conflict to an arbiter.
pub fn decide_escalate(
    policy: &Policy,
    c: &ConflictFacts,
    by: &Actor,
    reason: &str,
    now: Timestamp,
) -> Result<Decision, Refusal> {
    let r = rules(policy)?;
    if !Policy::holds_any(&by.staff.roles, &r.coordinator_roles) {
        let names = policy.roles_text(&r.coordinator_roles);
        return Err(refuse(
            r,
            "forbidden",
            format!("只有{}可以在无法判定时上报（{}）", names.zh, r.rule),
            format!(
                "Only a {} escalates a conflict they cannot decide ({})",
                names.en, r.rule
            ),
        ));
    }
    if c.status.is_closed() {
        return Err(closed(r, c));
    }
    if c.status == Status::Escalated {
        return Err(refuse(
            r,
            "already_escalated",
            format!("该冲突已经上报（{}）", r.rule),
            format!("This conflict is already escalated ({})", r.rule),
        ));
    }
    let names = policy.roles_text(&r.arbiters);
    Ok(Decision {
        rule: r.rule.clone(),
        policy_version: policy.version,
        facts: json!({
            "conflict_id": c.id,
            "reason": "coordinator_cannot_decide",
            "escalated_by": by.staff.id,
            "note": reason,
            "at": now.to_string(),
        }),
        text: Text::new(
            format!(
                "{}无法判定{}与{}的冲突，上报{}裁决：{reason}（{}）",
                by.staff.name, c.parties[0].name, c.parties[1].name, names.zh, r.rule
            ),
            format!(
                "{} cannot decide the conflict between {} and {} and escalates it to the {}: {reason} ({})",
                by.staff.name,
                c.parties[0].name,
                c.parties[1].name,
                names.en.to_lowercase(),
                r.rule
            ),
        ),
    })
}

/// R11.6: an arbiter rules alone on an escalated conflict.
pub fn decide_ruling(
    policy: &Policy,
    c: &ConflictFacts,
    by: &Actor,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<Decision, Refusal> {
    let r = rules(policy)?;
    if !Policy::holds_any(&by.staff.roles, &r.arbiters) {
        let names = policy.roles_text(&r.arbiters);
        return Err(refuse(
            r,
            "forbidden",
            format!("只有{}可以裁决上报的冲突（{}）", names.zh, r.rule),
            format!("Only a {} rules on an escalated conflict ({})", names.en, r.rule),
        ));
    }
    if c.status.is_closed() {
        return Err(closed(r, c));
    }
    if c.status != Status::Escalated {
        return Err(refuse(
            r,
            "not_escalated",
            format!("该冲突仍由协调助理与双方部门负责人协商，尚未上报（{}）", r.rule),
            format!(
                "This conflict is still with the coordinator and the heads; it has not been escalated ({})",
                r.rule
            ),
        ));
    }
    check_award(r, c, outcome)?;
    let names = policy.roles_text(&r.arbiters);
    let by = Text::new(
        format!("{}{}裁决", names.zh, by.staff.name),
        format!("{} {} ruled", names.en, by.staff.name),
    );
    Ok(closing(policy, r, c, outcome, by, "decided", now))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
[policy]
id = "conflicts"
version = 4
name = { zh = "冲突处理", en = "Conflicts" }

[[roles]]
id = "sales"
name = { zh = "销售员", en = "Sales" }

[[roles]]
id = "division_head"
name = { zh = "部门负责人", en = "Division head" }

[[roles]]
id = "coordinator"
name = { zh = "协调助理", en = "Coordinator" }

[[roles]]
id = "general_manager"
name = { zh = "总经理", en = "General manager" }

[claims]
rule = "R11.4"
duplicates = "allow"

[ownership]
rule = "R11.4"
basis = "earliest_effective"

[ledger]
managers = ["general_manager"]

[[ledger.codes]]
code = "argued"
rule = "R11.6"
kind = "penalty"
name = { zh = "在客户面前争执", en = "Argued in front of the customer" }
amount = 10000
manual = false

[conflicts]
rule = "R11.6"
openers = ["coordinator", "division_head"]
coordinator_roles = ["coordinator"]
head_roles = ["division_head"]
arbiters = ["general_manager"]
penalty = "argued"
"#;

    fn policy() -> Policy {
        Policy::parse(POLICY, "conflicts.toml").unwrap()
    }

    fn now() -> Timestamp {
        "2027-03-08T10:00:00Z".parse().unwrap()
    }

    fn actor(id: i64, name: &str, role: &str, unit: Option<i64>) -> Actor {
        Actor {
            staff: StaffFacts {
                id,
                name: name.into(),
                roles: vec![role.into()],
            },
            unit_id: unit,
        }
    }

    fn party(id: i64, name: &str, unit: i64) -> PartyFacts {
        PartyFacts {
            staff_id: id,
            name: name.into(),
            unit_id: Some(unit),
            unit_name: format!("部门{unit}"),
        }
    }

    fn conflict() -> ConflictFacts {
        ConflictFacts {
            id: 1,
            customer_id: 7,
            customer_name: "李阿姨".into(),
            event_id: None,
            parties: [party(11, "小王", 10), party(21, "小李", 20)],
            status: Status::Open,
            signoffs: Vec::new(),
        }
    }

    fn outcome(award_to: i64, argued: bool) -> Outcome {
        Outcome {
            award_to,
            argued,
            note: String::new(),
        }
    }

    /// Signs in order and folds each sign-off into the conflict, as the store would.
    fn sign_all(p: &Policy, c: &mut ConflictFacts, who: &[(&Actor, Outcome)]) -> After {
        let mut last = After::Waiting;
        for (a, o) in who {
            let s = decide_sign(p, c, a, o, now()).unwrap();
            c.signoffs.push(SignOff {
                seat: s.seat,
                staff_id: a.staff.id,
                name: a.staff.name.clone(),
                outcome: o.clone(),
            });
            match &s.after {
                After::Settled(_) => c.status = Status::Settled,
                After::Escalated(_) => c.status = Status::Escalated,
                After::Waiting => {}
            }
            last = s.after;
        }
        last
    }

    #[test]
    fn r11_6_the_coordinator_and_both_heads_settle_when_they_agree() {
        let p = policy();
        let coord = actor(1, "郑协调", "coordinator", None);
        let head1 = actor(2, "周经理", "division_head", Some(10));
        let head2 = actor(3, "吴经理", "division_head", Some(20));
        let mut c = conflict();
        let after = sign_all(&p, &mut c, &[(&coord, outcome(21, true)), (&head1, outcome(21, true))]);
        assert_eq!(after, After::Waiting, "the second head has not signed");
        let After::Settled(d) = sign_all(&p, &mut c, &[(&head2, outcome(21, true))]) else {
            panic!("all three agreed");
        };
        assert_eq!((d.rule.as_str(), d.policy_version), ("R11.6", 4));
        assert_eq!(
            (d.facts["award_to"].as_i64(), d.facts["loser"].as_i64()),
            (Some(21), Some(11))
        );
        assert_eq!(d.facts["penalty"], "argued");
        assert!(
            d.text.zh.contains("客户李阿姨判归小李") && d.text.zh.contains("各罚款"),
            "{}",
            d.text.zh
        );
        assert!(d.text.en.contains("goes to 小李"), "{}", d.text.en);
        // Settled: nothing more is signed or ruled.
        let gm = actor(4, "钱总", "general_manager", None);
        assert_eq!(
            decide_sign(&p, &c, &gm, &outcome(21, true), now()).unwrap_err().code,
            "already_settled"
        );
        assert_eq!(
            decide_ruling(&p, &c, &gm, &outcome(11, false), now()).unwrap_err().code,
            "already_settled"
        );
    }

    #[test]
    fn r11_6_one_head_signs_once_when_both_parties_share_a_unit() {
        let p = policy();
        let mut c = conflict();
        c.parties[1] = party(12, "小张", 10);
        assert_eq!(c.seats(), vec![Seat::Coordinator, Seat::Head(10)]);
        let coord = actor(1, "郑协调", "coordinator", None);
        let head1 = actor(2, "周经理", "division_head", Some(10));
        let after = sign_all(
            &p,
            &mut c,
            &[(&head1, outcome(11, false)), (&coord, outcome(11, false))],
        );
        let After::Settled(d) = after else {
            panic!("two seats, both signed")
        };
        assert_eq!(d.facts["penalty"], serde_json::Value::Null, "no fine without arguing");
        assert!(!d.text.zh.contains("罚款"), "{}", d.text.zh);
    }

    #[test]
    fn r11_6_differing_outcomes_escalate_and_then_only_an_arbiter_rules() {
        let p = policy();
        let coord = actor(1, "郑协调", "coordinator", None);
        let head1 = actor(2, "周经理", "division_head", Some(10));
        let head2 = actor(3, "吴经理", "division_head", Some(20));
        let gm = actor(4, "钱总", "general_manager", None);
        let mut c = conflict();
        assert_eq!(
            decide_ruling(&p, &c, &gm, &outcome(11, false), now()).unwrap_err().code,
            "not_escalated"
        );
        let after = sign_all(
            &p,
            &mut c,
            &[(&head1, outcome(11, false)), (&head2, outcome(21, false))],
        );
        let After::Escalated(d) = after else {
            panic!("the heads disagree")
        };
        assert!(d.text.zh.contains("上报总经理裁决"), "{}", d.text.zh);
        assert_eq!(
            decide_sign(&p, &c, &coord, &outcome(11, false), now())
                .unwrap_err()
                .code,
            "already_escalated"
        );
        let refused = decide_ruling(&p, &c, &coord, &outcome(11, false), now()).unwrap_err();
        assert_eq!((refused.code, refused.rule.unwrap().as_str()), ("forbidden", "R11.6"));
        assert_eq!(
            decide_ruling(&p, &c, &gm, &outcome(99, false), now()).unwrap_err().code,
            "invalid_award"
        );
        let d = decide_ruling(&p, &c, &gm, &outcome(11, true), now()).unwrap();
        assert_eq!(
            (d.facts["how"].as_str(), d.facts["award_to"].as_i64()),
            (Some("decided"), Some(11))
        );
        assert!(
            d.text.zh.starts_with("总经理钱总裁决：客户李阿姨判归小王"),
            "{}",
            d.text.zh
        );
    }

    #[test]
    fn r11_6_the_coordinator_escalates_what_they_cannot_decide() {
        let p = policy();
        let c = conflict();
        let head1 = actor(2, "周经理", "division_head", Some(10));
        assert_eq!(
            decide_escalate(&p, &c, &head1, "说法不一", now()).unwrap_err().code,
            "forbidden"
        );
        let coord = actor(1, "郑协调", "coordinator", None);
        let d = decide_escalate(&p, &c, &coord, "双方说法不一", now()).unwrap();
        assert!(
            d.text.zh.contains("郑协调无法判定") && d.text.zh.contains("双方说法不一"),
            "{}",
            d.text.zh
        );
        let mut escalated = c.clone();
        escalated.status = Status::Escalated;
        assert_eq!(
            decide_escalate(&p, &escalated, &coord, "再报", now()).unwrap_err().code,
            "already_escalated"
        );
    }

    #[test]
    fn r11_6_only_settlers_sign_once_each_with_an_award_to_a_party() {
        let p = policy();
        let mut c = conflict();
        let code = |r: Result<Signed, Refusal>| r.unwrap_err().code;
        let sales = actor(5, "小赵", "sales", Some(10));
        assert_eq!(
            code(decide_sign(&p, &c, &sales, &outcome(11, false), now())),
            "not_a_settler"
        );
        let other_head = actor(6, "孙经理", "division_head", Some(30));
        assert_eq!(
            code(decide_sign(&p, &c, &other_head, &outcome(11, false), now())),
            "not_a_settler"
        );
        let head1 = actor(2, "周经理", "division_head", Some(10));
        assert_eq!(
            code(decide_sign(&p, &c, &head1, &outcome(99, false), now())),
            "invalid_award"
        );
        sign_all(&p, &mut c, &[(&head1, outcome(11, false))]);
        assert_eq!(
            code(decide_sign(&p, &c, &head1, &outcome(11, false), now())),
            "already_signed"
        );
        let deputy = actor(7, "周副经理", "division_head", Some(10));
        assert_eq!(
            code(decide_sign(&p, &c, &deputy, &outcome(11, false), now())),
            "seat_taken"
        );
    }

    #[test]
    fn r11_6_opening_needs_an_opener_and_two_people_in_divisions() {
        let p = policy();
        let coord = actor(1, "郑协调", "coordinator", None).staff;
        let sales = actor(5, "小赵", "sales", Some(10)).staff;
        let parties = [party(11, "小王", 10), party(21, "小李", 20)];
        let d = decide_open(&p, &coord, (7, "李阿姨"), &parties, Some((3, "春季讲座")), now()).unwrap();
        assert!(
            d.text.zh.contains("在「春季讲座」上为客户李阿姨发生的冲突"),
            "{}",
            d.text.zh
        );
        let code = |r: Result<Decision, Refusal>| r.unwrap_err().code;
        assert_eq!(
            code(decide_open(&p, &sales, (7, "李阿姨"), &parties, None, now())),
            "forbidden"
        );
        let same = [party(11, "小王", 10), party(11, "小王", 10)];
        assert_eq!(
            code(decide_open(&p, &coord, (7, "李阿姨"), &same, None, now())),
            "same_party"
        );
        let mut loose = parties.clone();
        loose[1].unit_id = None;
        assert_eq!(
            code(decide_open(&p, &coord, (7, "李阿姨"), &loose, None, now())),
            "party_without_unit"
        );
    }

    #[test]
    fn r11_6_the_penalty_must_be_an_automatic_staff_fine() {
        let manual = POLICY.replace("manual = false", "manual = true");
        let errors = Policy::parse(&manual, "c.toml").unwrap_err();
        let e = &errors.0[0];
        assert!(e.message.contains("entered by hand"), "{e:?}");
        assert_eq!(
            e.line,
            manual.lines().position(|l| l.starts_with("penalty =")).unwrap() + 1
        );
        let unknown = POLICY.replace("penalty = \"argued\"", "penalty = \"nope\"");
        assert!(
            Policy::parse(&unknown, "c.toml").unwrap_err().0[0]
                .message
                .contains("`nope` is not defined")
        );
        let role = POLICY.replace("arbiters = [\"general_manager\"]", "arbiters = [\"boss\"]");
        let e = &Policy::parse(&role, "c.toml").unwrap_err().0[0];
        assert!(e.message.contains("role `boss`"), "{e:?}");
        // The column of the opening quote of the unknown role.
        assert_eq!(e.column, "arbiters = [".len() + 1);
    }

    #[test]
    fn r11_6_is_explained_in_both_languages() {
        let lines = crate::policy::explain(&policy());
        let section = lines.iter().position(|l| l.text.zh == "冲突处理").expect("a section");
        let mine: Vec<_> = lines[section + 1..]
            .iter()
            .filter(|l| l.rule.as_ref().is_some_and(|r| r.as_str() == "R11.6"))
            .collect();
        assert_eq!(mine.len(), 3, "{lines:?}");
        assert!(
            mine[0].text.zh.contains("事后由协调助理与双方部门的部门负责人共同协商"),
            "{}",
            mine[0].text.zh
        );
        assert!(
            mine[1].text.en.contains("the general manager rules alone"),
            "{}",
            mine[1].text.en
        );
        assert!(
            mine[2].text.zh.contains("每人按“在客户面前争执”记账 100.00 元"),
            "{}",
            mine[2].text.zh
        );
    }

    #[test]
    fn seats_round_trip_as_stored() {
        for s in [Seat::Coordinator, Seat::Head(42)] {
            assert_eq!(Seat::parse(&s.key()), Some(s));
        }
        assert_eq!(Seat::parse("head:x"), None);
        assert_eq!(Status::parse("escalated"), Some(Status::Escalated));
    }
}
