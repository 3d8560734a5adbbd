//! R11.3: joint events of several divisions sharing one customer pool.
//!
//! In the week before a joint event each division files the invitations it confirmed by the
//! daily cut-off (18:00; later confirmations count as the next day's), on the event day by 10:00
//! for an afternoon event or 16:00 for an evening one. The first division closes its invitations
//! a day ahead of the next. A late filing fines the division's head, and a customer another
//! division confirmed while the filing was late goes to that division.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Timestamp;
use crate::claim::StaffFacts;
use crate::decision::{Decision, Refusal};
use crate::policy::{JointEvents, LocalTime, Policy};
use crate::text::Text;

/// When a joint event is held; it sets the event-day cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Session {
    Afternoon,
    Evening,
}

impl Session {
    pub fn as_str(self) -> &'static str {
        match self {
            Session::Afternoon => "afternoon",
            Session::Evening => "evening",
        }
    }

    pub fn parse(s: &str) -> Option<Session> {
        match s {
            "afternoon" => Some(Session::Afternoon),
            "evening" => Some(Session::Evening),
            _ => None,
        }
    }

    pub fn label(self) -> Text {
        match self {
            Session::Afternoon => Text::new("下午场", "Afternoon"),
            Session::Evening => Text::new("晚场", "Evening"),
        }
    }
}

/// A division taking part in a joint event: a unit, in the order the organiser named them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Division {
    pub unit_id: i64,
    pub name: String,
}

/// A joint event as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFacts {
    pub id: i64,
    pub name: String,
    pub starts_at: Timestamp,
    pub session: Session,
    /// The first division closes its invitations `lead` ahead of the second, and so on.
    pub divisions: Vec<Division>,
}

/// One confirmed invitation to a joint event: a claim naming the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub claim_id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub staff_id: i64,
    pub staff_name: String,
    /// The inviter's division.
    pub unit_id: i64,
    pub confirmed_at: Timestamp,
    pub due_at: Timestamp,
    pub filed_at: Option<Timestamp>,
}

fn not_configured() -> Refusal {
    Refusal {
        code: "no_joint_events",
        rule: None,
        text: Text::new("本制度没有联合会议的规定", "This policy has no rules for joint events"),
    }
}

/// The policy's joint-event section, or the refusal to show when it has none.
pub fn rules(policy: &Policy) -> Result<&JointEvents, Refusal> {
    policy.events.as_ref().ok_or_else(not_configured)
}

fn refuse(r: &JointEvents, code: &'static str, zh: String, en: String) -> Refusal {
    Refusal {
        code,
        rule: Some(r.rule.clone()),
        text: Text::new(zh, en),
    }
}

fn at_local(policy: &Policy, date: jiff::civil::Date, time: LocalTime) -> Timestamp {
    date.at(time.hour, time.minute, 0, 0)
        .to_zoned(policy.tz.clone())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MAX)
}

fn event_day_cutoff(r: &JointEvents, session: Session) -> LocalTime {
    match session {
        Session::Afternoon => r.afternoon_cutoff,
        Session::Evening => r.evening_cutoff,
    }
}

/// When the division at `pos` closes its invitations: the event-day cut-off, moved `lead`
/// earlier for each division after it.
pub fn closes_at(policy: &Policy, r: &JointEvents, ev: &EventFacts, pos: usize) -> Timestamp {
    let day = ev.starts_at.to_zoned(policy.tz.clone()).date();
    let mut at = at_local(policy, day, event_day_cutoff(r, ev.session));
    if let Some(lead) = r.lead {
        for _ in pos + 1..ev.divisions.len() {
            at = lead.before(at, &policy.tz);
        }
    }
    at
}

/// The position of `unit_id` among the event's divisions, or the refusal for a unit that is not
/// one of them.
pub fn division_of(policy: &Policy, ev: &EventFacts, unit_id: Option<i64>) -> Result<usize, Refusal> {
    let r = rules(policy)?;
    unit_id
        .and_then(|u| ev.divisions.iter().position(|d| d.unit_id == u))
        .ok_or_else(|| {
            let names: Vec<&str> = ev.divisions.iter().map(|d| d.name.as_str()).collect();
            refuse(
                r,
                "not_a_division",
                format!(
                    "「{}」由{}联合举办，只有这些部门的员工可以邀约和报送（{}）",
                    ev.name,
                    names.join("、"),
                    r.rule
                ),
                format!(
                    "\"{}\" is held by {}; only their staff invite and file for it ({})",
                    ev.name,
                    names.join(", "),
                    r.rule
                ),
            )
        })
}

/// When an invitation the division at `pos` confirmed at `confirmed_at` must be filed: that
/// day's cut-off (the next day's from the cut-off on), the first day of the window for earlier
/// confirmations, never later than the division's close. Refused once the division has closed.
pub fn filing_due(policy: &Policy, ev: &EventFacts, pos: usize, confirmed_at: Timestamp) -> Result<Timestamp, Refusal> {
    let r = rules(policy)?;
    let close = closes_at(policy, r, ev, pos);
    if confirmed_at >= close {
        let division = ev.divisions.get(pos).map(|d| d.name.as_str()).unwrap_or("");
        let at = policy.local_time(close);
        return Err(refuse(
            r,
            "invitations_closed",
            format!(
                "{division}对「{}」的邀约已于 {at} 截止，不能再确认新的邀约（{}）",
                ev.name, r.rule
            ),
            format!(
                "{division}'s invitations to \"{}\" closed at {at}; no more can be confirmed ({})",
                ev.name, r.rule
            ),
        ));
    }
    let local = confirmed_at.to_zoned(policy.tz.clone());
    let cut = r.daily_cutoff;
    let mut day = local.date();
    if (local.hour(), local.minute()) >= (cut.hour, cut.minute) {
        day = day.tomorrow().unwrap_or(day);
    }
    let first = r
        .window
        .before(ev.starts_at, &policy.tz)
        .to_zoned(policy.tz.clone())
        .date();
    if day < first {
        day = first;
    }
    Ok(at_local(policy, day, cut).min(close))
}

/// What an organiser schedules.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub name: &'a str,
    pub starts_at: Timestamp,
    pub session: Session,
    pub divisions: &'a [Division],
}

/// Decides whether `by` may schedule `ev` at `now`.
pub fn decide_new_event(
    policy: &Policy,
    by: &StaffFacts,
    ev: &NewEvent<'_>,
    now: Timestamp,
) -> Result<Decision, Refusal> {
    let r = rules(policy)?;
    if !Policy::holds_any(&by.roles, &r.organisers) {
        let names = policy.roles_text(&r.organisers);
        return Err(Refusal {
            code: "forbidden",
            rule: Some(r.rule.clone()),
            text: Text::new(
                format!("只有{}可以安排联合会议（{}）", names.zh, r.rule),
                format!("Only a {} may schedule a joint event ({})", names.en, r.rule),
            ),
        });
    }
    let mut units: Vec<i64> = ev.divisions.iter().map(|d| d.unit_id).collect();
    units.sort_unstable();
    units.dedup();
    if units.len() < 2 || units.len() != ev.divisions.len() {
        return Err(refuse(
            r,
            "divisions_required",
            format!("联合会议至少由两个不同的部门举办（{}）", r.rule),
            format!("A joint event needs at least two different divisions ({})", r.rule),
        ));
    }
    if ev.starts_at <= now {
        return Err(refuse(
            r,
            "event_in_past",
            "会议时间必须在将来".into(),
            "The event must start in the future".into(),
        ));
    }
    let cut = event_day_cutoff(r, ev.session);
    let start = ev.starts_at.to_zoned(policy.tz.clone());
    if (start.hour(), start.minute()) <= (cut.hour, cut.minute) {
        let label = ev.session.label();
        return Err(refuse(
            r,
            "session_mismatch",
            format!("{}会议须在当天 {cut} 报送截止之后开始（{}）", label.zh, r.rule),
            format!(
                "An {} event must start after its {cut} filing cut-off ({})",
                label.en.to_lowercase(),
                r.rule
            ),
        ));
    }
    let facts = EventFacts {
        id: 0,
        name: ev.name.to_string(),
        starts_at: ev.starts_at,
        session: ev.session,
        divisions: ev.divisions.to_vec(),
    };
    let closes: Vec<_> = (0..ev.divisions.len())
        .map(|pos| {
            json!({
                "unit_id": ev.divisions[pos].unit_id,
                "name": ev.divisions[pos].name,
                "closes_at": closes_at(policy, r, &facts, pos).to_string(),
            })
        })
        .collect();
    let names: Vec<&str> = ev.divisions.iter().map(|d| d.name.as_str()).collect();
    let at = policy.local_time(ev.starts_at);
    let first = r.window.before(ev.starts_at, &policy.tz);
    Ok(Decision {
        key: "event.created".into(),
        rule: r.rule.clone(),
        policy_version: policy.version,
        facts: json!({
            "name": ev.name,
            "starts_at": ev.starts_at.to_string(),
            "session": ev.session,
            "divisions": closes,
            "window_from": first.to_string(),
            "scheduled_by": by.id,
        }),
        text: Text::new(
            format!(
                "{}安排{}于 {at} 联合举办「{}」：开会前{}内，各部门每天 {} 前报送当天确认的邀约，会议当天截止 {}（{}）",
                by.name,
                names.join("、"),
                ev.name,
                r.window.text().zh,
                r.daily_cutoff,
                event_day_cutoff(r, ev.session),
                r.rule
            ),
            format!(
                "{} scheduled \"{}\" by {} at {at}: in the {} before, each division files the day's confirmed invitations by {}, on the event day by {} ({})",
                by.name,
                ev.name,
                names.join(", "),
                r.window.text().en,
                r.daily_cutoff,
                event_day_cutoff(r, ev.session),
                r.rule
            ),
        ),
    })
}

/// Decides a filing by `by` for their division at `pos`: every confirmed invitation of the
/// division not yet filed. The decision says which were on time and which late.
pub fn decide_filing(
    policy: &Policy,
    by: &StaffFacts,
    ev: &EventFacts,
    pos: usize,
    unfiled: &[Invitation],
    now: Timestamp,
) -> Result<Decision, Refusal> {
    let r = rules(policy)?;
    if !Policy::holds_any(&by.roles, &r.filers) {
        let names = policy.roles_text(&r.filers);
        return Err(Refusal {
            code: "forbidden",
            rule: Some(r.rule.clone()),
            text: Text::new(
                format!("只有{}可以报送邀约名单（{}）", names.zh, r.rule),
                format!("Only a {} may file invitations ({})", names.en, r.rule),
            ),
        });
    }
    let division = &ev.divisions[pos];
    if unfiled.is_empty() {
        return Err(refuse(
            r,
            "nothing_to_file",
            format!("{}没有待报送的已确认邀约", division.name),
            format!("{} has no confirmed invitations waiting to be filed", division.name),
        ));
    }
    let late: Vec<&Invitation> = unfiled.iter().filter(|i| i.due_at < now).collect();
    let (zh_late, en_late) = if late.is_empty() {
        ("，均按时".to_string(), ", all on time".to_string())
    } else {
        let names: Vec<&str> = late.iter().map(|i| i.customer_name.as_str()).collect();
        (
            format!("，其中{}已过截止时间（迟报）", names.join("、")),
            format!(", late for {}", names.join(", ")),
        )
    };
    Ok(Decision {
        key: "event.filed".into(),
        rule: r.rule.clone(),
        policy_version: policy.version,
        facts: json!({
            "event_id": ev.id,
            "unit_id": division.unit_id,
            "filed_by": by.id,
            "filed_at": now.to_string(),
            "invitations": unfiled.iter().map(|i| json!({
                "claim_id": i.claim_id,
                "customer_id": i.customer_id,
                "due_at": i.due_at.to_string(),
                "late": i.due_at < now,
            })).collect::<Vec<_>>(),
        }),
        text: Text::new(
            format!(
                "{}为{}报送「{}」的 {} 个已确认邀约{zh_late}（{}）",
                by.name,
                division.name,
                ev.name,
                unfiled.len(),
                r.rule
            ),
            format!(
                "{} filed {} confirmed invitation(s) of {} for \"{}\"{en_late} ({})",
                by.name,
                unfiled.len(),
                division.name,
                ev.name,
                r.rule
            ),
        ),
    })
}

/// The cut-off `due` has passed with `unfiled` invitations of the division at `pos` not filed:
/// the decision recorded on each, and the ledger code to charge each of `heads` (once per head,
/// division and day).
pub fn decide_late(
    policy: &Policy,
    ev: &EventFacts,
    pos: usize,
    due: Timestamp,
    unfiled: &[Invitation],
    heads: &[StaffFacts],
) -> Option<(Option<String>, Decision)> {
    let r = policy.events.as_ref()?;
    let division = &ev.divisions[pos];
    let names: Vec<&str> = unfiled.iter().map(|i| i.customer_name.as_str()).collect();
    let head_names: Vec<&str> = heads.iter().map(|h| h.name.as_str()).collect();
    let at = policy.local_time(due);
    let code = r.late_penalty.clone().filter(|_| !heads.is_empty());
    let (fine_zh, fine_en) = match (&code, head_names.is_empty()) {
        (Some(_), _) => (
            format!("，罚部门负责人{}", head_names.join("、")),
            format!(": head {} is fined", head_names.join(", ")),
        ),
        (None, true) => (
            "，该部门没有负责人可罚".to_string(),
            ": the division has no head to fine".to_string(),
        ),
        (None, false) => (String::new(), String::new()),
    };
    Some((
        code,
        Decision {
            key: "event.late".into(),
            rule: r.rule.clone(),
            policy_version: policy.version,
            facts: json!({
                "event_id": ev.id,
                "unit_id": division.unit_id,
                "heads": heads.iter().map(|h| h.id).collect::<Vec<_>>(),
                "due_at": due.to_string(),
                "unfiled": unfiled.iter().map(|i| i.claim_id).collect::<Vec<_>>(),
            }),
            text: Text::new(
                format!(
                    "{}未在 {at} 前报送「{}」的已确认邀约（{}）{fine_zh}；期间其他部门邀约并确认的客户判归其他部门（{}）",
                    division.name,
                    ev.name,
                    names.join("、"),
                    r.rule
                ),
                format!(
                    "{} did not file its confirmed invitations to \"{}\" ({}) by {at}{fine_en}; a customer another division invites and confirms meanwhile goes to them ({})",
                    division.name,
                    ev.name,
                    names.join(", "),
                    r.rule
                ),
            ),
        },
    ))
}

/// Whether `held` (late, unfiled when `other` was confirmed) loses its customer to `other`, an
/// invitation of another division: the decision that ends `held`.
pub fn decide_lost(policy: &Policy, ev: &EventFacts, held: &Invitation, other: &Invitation) -> Option<Decision> {
    let r = policy.events.as_ref()?;
    if held.unit_id == other.unit_id || held.customer_id != other.customer_id {
        return None;
    }
    let late_when_confirmed = held.due_at < other.confirmed_at && held.filed_at.is_none_or(|f| f > other.confirmed_at);
    if !late_when_confirmed {
        return None;
    }
    let name = |u: i64| {
        ev.divisions
            .iter()
            .find(|d| d.unit_id == u)
            .map(|d| d.name.clone())
            .unwrap_or_default()
    };
    let (mine, theirs) = (name(held.unit_id), name(other.unit_id));
    let due = policy.local_time(held.due_at);
    Some(Decision {
        key: "event.lost".into(),
        rule: r.rule.clone(),
        policy_version: policy.version,
        facts: json!({
            "event_id": ev.id,
            "customer_id": held.customer_id,
            "lost_claim_id": held.claim_id,
            "winning_claim_id": other.claim_id,
            "due_at": held.due_at.to_string(),
            "filed_at": held.filed_at.map(|t| t.to_string()),
            "other_confirmed_at": other.confirmed_at.to_string(),
        }),
        text: Text::new(
            format!(
                "{}对{}的邀约应于 {due} 前报送而未报送，期间{}的{}邀约并确认，客户判归{}（{}）",
                mine, held.customer_name, theirs, other.staff_name, theirs, r.rule
            ),
            format!(
                "{mine} had to file its invitation of {} by {due} and had not when {} of {theirs} invited and confirmed them: the customer goes to {theirs} ({})",
                held.customer_name, other.staff_name, r.rule
            ),
        ),
    })
}

/// R11.2: what a check-in needs to know about the customer at the door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival<'a> {
    pub customer_id: i64,
    pub customer_name: &'a str,
    /// The customer's valid invitation to this event, if any.
    pub invitation: Option<&'a Invitation>,
    /// When the customer was already checked in at this event.
    pub checked_in_at: Option<Timestamp>,
}

/// R11.2: decides the check-in of a customer at a joint event by `by` at `now`: only the roles
/// the policy names, only an invited customer (the invitation that stands, R11.3, R11.4), not
/// before the event's day, and once per customer and event.
pub fn decide_check_in(
    policy: &Policy,
    by: &StaffFacts,
    ev: &EventFacts,
    a: &Arrival<'_>,
    now: Timestamp,
) -> Result<Decision, Refusal> {
    let r = rules(policy)?;
    let att = &r.attendance;
    let refuse = |code, zh: String, en: String| Refusal {
        code,
        rule: Some(att.rule.clone()),
        text: Text::new(zh, en),
    };
    if !Policy::holds_any(&by.roles, &att.roles) {
        let names = policy.roles_text(&att.roles);
        return Err(refuse(
            "forbidden",
            format!("只有{}可以为到会顾客签到（{}）", names.zh, att.rule),
            format!("Only a {} may check customers in at an event ({})", names.en, att.rule),
        ));
    }
    let day = ev.starts_at.to_zoned(policy.tz.clone()).date();
    if now.to_zoned(policy.tz.clone()).date() < day {
        let at = policy.local_time(ev.starts_at);
        return Err(refuse(
            "event_not_started",
            format!("「{}」于 {at} 举行，会议当天才能签到（{}）", ev.name, att.rule),
            format!(
                "\"{}\" is held at {at}; customers are checked in on the day ({})",
                ev.name, att.rule
            ),
        ));
    }
    if let Some(t) = a.checked_in_at {
        let at = policy.local_time(t);
        return Err(refuse(
            "already_checked_in",
            format!("{}已于 {at} 在「{}」签到", a.customer_name, ev.name),
            format!("{} was checked in at \"{}\" at {at}", a.customer_name, ev.name),
        ));
    }
    let Some(inv) = a.invitation else {
        return Err(refuse(
            "not_invited",
            format!(
                "{}没有「{}」的有效邀约，不能签到（{}）",
                a.customer_name, ev.name, att.rule
            ),
            format!(
                "{} holds no standing invitation to \"{}\" ({})",
                a.customer_name, ev.name, att.rule
            ),
        ));
    };
    let division = ev
        .divisions
        .iter()
        .find(|d| d.unit_id == inv.unit_id)
        .map(|d| d.name.as_str())
        .unwrap_or("");
    let at = policy.local_time(now);
    Ok(Decision {
        key: "event.checked_in".into(),
        rule: att.rule.clone(),
        policy_version: policy.version,
        facts: json!({
            "event_id": ev.id,
            "customer_id": a.customer_id,
            "claim_id": inv.claim_id,
            "invited_by": inv.staff_id,
            "unit_id": inv.unit_id,
            "checked_in_by": by.id,
            "checked_in_at": now.to_string(),
        }),
        text: Text::new(
            format!(
                "{}于 {at} 为{}签到「{}」：{}{}邀约到会（{}）",
                by.name, a.customer_name, ev.name, division, inv.staff_name, att.rule
            ),
            format!(
                "{} checked {} in at \"{}\" at {at}: invited by {} of {} ({})",
                by.name, a.customer_name, ev.name, inv.staff_name, division, att.rule
            ),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
[policy]
id = "events"
version = 1
name = { zh = "联合会议", en = "Joint events" }
time_zone = "Asia/Shanghai"

[[roles]]
id = "sales"
name = { zh = "销售员", en = "Sales" }
permissions = ["claims.create"]

[[roles]]
id = "head"
name = { zh = "部门负责人", en = "Division head" }
permissions = ["claims.create"]

[claims]
rule = "R11.4"
duplicates = "allow"

[ownership]
rule = "R11.4"
basis = "earliest_effective"

[ledger]
managers = ["head"]

[[ledger.codes]]
code = "filing_late"
rule = "R11.3"
kind = "penalty"
name = { zh = "迟报", en = "Late filing" }
amount = 1000
manual = false

[events]
rule = "R11.3"
organisers = ["head"]
filers = ["head"]
window = "7 days"
daily_cutoff = "18:00"
afternoon_cutoff = "10:00"
evening_cutoff = "16:00"
lead = "1 day"
late_penalty = "filing_late"
"#;

    fn policy() -> Policy {
        Policy::parse(POLICY, "events.toml").unwrap()
    }

    /// Local Shanghai time as a timestamp.
    fn at(s: &str) -> Timestamp {
        let dt: jiff::civil::DateTime = s.parse().unwrap();
        dt.to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
            .unwrap()
            .timestamp()
    }

    fn event(session: Session, start: &str) -> EventFacts {
        EventFacts {
            id: 1,
            name: "健康讲座".into(),
            starts_at: at(start),
            session,
            divisions: vec![
                Division {
                    unit_id: 10,
                    name: "第一事业部".into(),
                },
                Division {
                    unit_id: 20,
                    name: "第二事业部".into(),
                },
            ],
        }
    }

    fn head() -> StaffFacts {
        StaffFacts {
            id: 5,
            name: "周经理".into(),
            roles: vec!["head".into()],
        }
    }

    #[test]
    fn r11_3_daily_cutoff_moves_evening_confirmations_to_the_next_day() {
        let p = policy();
        let ev = event(Session::Afternoon, "2026-12-10T14:00");
        // Division 2 (last): confirmed 17:59 → due 18:00 the same day; 18:00 → next day.
        assert_eq!(
            filing_due(&p, &ev, 1, at("2026-12-05T17:59")),
            Ok(at("2026-12-05T18:00"))
        );
        assert_eq!(
            filing_due(&p, &ev, 1, at("2026-12-05T18:00")),
            Ok(at("2026-12-06T18:00"))
        );
        // Before the week before the event: due on its first day.
        assert_eq!(
            filing_due(&p, &ev, 1, at("2026-11-20T09:00")),
            Ok(at("2026-12-03T18:00"))
        );
    }

    #[test]
    fn r11_3_event_day_cutoff_and_the_first_division_a_day_ahead() {
        let p = policy();
        let ev = event(Session::Afternoon, "2026-12-10T14:00");
        // Division 2 closes at 10:00 on the event day; an invitation the evening before is due then.
        assert_eq!(
            filing_due(&p, &ev, 1, at("2026-12-09T19:00")),
            Ok(at("2026-12-10T10:00"))
        );
        assert_eq!(
            filing_due(&p, &ev, 1, at("2026-12-10T10:00")).unwrap_err().code,
            "invitations_closed"
        );
        // Division 1 closes a day earlier, at 10:00 the day before.
        assert_eq!(
            closes_at(&p, p.events.as_ref().unwrap(), &ev, 0),
            at("2026-12-09T10:00")
        );
        assert_eq!(
            filing_due(&p, &ev, 0, at("2026-12-08T19:00")),
            Ok(at("2026-12-09T10:00"))
        );
        let refused = filing_due(&p, &ev, 0, at("2026-12-09T11:00")).unwrap_err();
        assert_eq!(
            (refused.code, refused.rule.unwrap().as_str()),
            ("invitations_closed", "R11.3")
        );
        // An evening event closes at 16:00.
        let ev = event(Session::Evening, "2026-12-10T19:00");
        assert_eq!(
            filing_due(&p, &ev, 1, at("2026-12-10T15:00")),
            Ok(at("2026-12-10T16:00"))
        );
    }

    #[test]
    fn r11_3_scheduling_checks_divisions_time_and_session() {
        let p = policy();
        let ev = event(Session::Afternoon, "2026-12-10T14:00");
        let new = |divisions: &'static [Division], start: &str, session| NewEvent {
            name: "健康讲座",
            starts_at: at(start),
            session,
            divisions,
        };
        let divisions = Box::leak(ev.divisions.clone().into_boxed_slice());
        let now = at("2026-12-01T09:00");
        let d = decide_new_event(
            &p,
            &head(),
            &new(divisions, "2026-12-10T14:00", Session::Afternoon),
            now,
        )
        .unwrap();
        assert_eq!(d.rule.as_str(), "R11.3");
        assert!(d.text.zh.contains("18:00"), "{}", d.text.zh);
        let one = Box::leak(vec![divisions[0].clone()].into_boxed_slice());
        let code = |r: Result<Decision, Refusal>| r.unwrap_err().code;
        assert_eq!(
            code(decide_new_event(
                &p,
                &head(),
                &new(one, "2026-12-10T14:00", Session::Afternoon),
                now
            )),
            "divisions_required"
        );
        assert_eq!(
            code(decide_new_event(
                &p,
                &head(),
                &new(divisions, "2026-11-30T14:00", Session::Afternoon),
                now
            )),
            "event_in_past"
        );
        assert_eq!(
            code(decide_new_event(
                &p,
                &head(),
                &new(divisions, "2026-12-10T09:30", Session::Afternoon),
                now
            )),
            "session_mismatch"
        );
        let sales = StaffFacts {
            roles: vec!["sales".into()],
            ..head()
        };
        assert_eq!(
            code(decide_new_event(
                &p,
                &sales,
                &new(divisions, "2026-12-10T14:00", Session::Afternoon),
                now
            )),
            "forbidden"
        );
    }

    fn invitation(claim_id: i64, unit_id: i64, confirmed: &str, due: &str, filed: Option<&str>) -> Invitation {
        Invitation {
            claim_id,
            customer_id: 7,
            customer_name: "李阿姨".into(),
            staff_id: claim_id,
            staff_name: format!("员工{claim_id}"),
            unit_id,
            confirmed_at: at(confirmed),
            due_at: at(due),
            filed_at: filed.map(at),
        }
    }

    #[test]
    fn r11_3_a_late_filing_loses_the_customer_to_the_other_division() {
        let p = policy();
        let ev = event(Session::Afternoon, "2026-12-10T14:00");
        let held = invitation(1, 10, "2026-12-05T09:00", "2026-12-05T18:00", None);
        // Division 2 confirms the same customer the next morning: division 1 was late.
        let other = invitation(2, 20, "2026-12-06T09:00", "2026-12-06T18:00", None);
        let d = decide_lost(&p, &ev, &held, &other).unwrap();
        assert_eq!(d.facts["winning_claim_id"], 2);
        assert!(d.text.zh.contains("判归第二事业部"), "{}", d.text.zh);
        // Filed on time: kept.
        let filed = invitation(1, 10, "2026-12-05T09:00", "2026-12-05T18:00", Some("2026-12-05T17:00"));
        assert!(decide_lost(&p, &ev, &filed, &other).is_none());
        // Filed late, but before the other division confirmed: kept.
        let late_filed = invitation(1, 10, "2026-12-05T09:00", "2026-12-05T18:00", Some("2026-12-06T08:00"));
        assert!(decide_lost(&p, &ev, &late_filed, &other).is_none());
        // The other confirmed before the cut-off passed: kept.
        let early = invitation(2, 20, "2026-12-05T12:00", "2026-12-05T18:00", None);
        assert!(decide_lost(&p, &ev, &held, &early).is_none());
        // The same division never takes its own customer.
        let same = invitation(3, 10, "2026-12-06T09:00", "2026-12-06T18:00", None);
        assert!(decide_lost(&p, &ev, &held, &same).is_none());
    }

    #[test]
    fn r11_2_an_invited_customer_is_checked_in_once_on_the_event_day_by_the_roles_named() {
        let p = Policy::parse(
            &POLICY.replace(
                "late_penalty = \"filing_late\"\n",
                "late_penalty = \"filing_late\"\n\n[events.attendance]\nrule = \"R11.2\"\nroles = [\"head\"]\n",
            ),
            "events.toml",
        )
        .unwrap();
        let ev = event(Session::Afternoon, "2026-12-10T14:00");
        let inv = invitation(1, 10, "2026-12-05T09:00", "2026-12-05T18:00", Some("2026-12-05T17:00"));
        let arrival = Arrival {
            customer_id: 7,
            customer_name: "李阿姨",
            invitation: Some(&inv),
            checked_in_at: None,
        };
        let d = decide_check_in(&p, &head(), &ev, &arrival, at("2026-12-10T13:40")).unwrap();
        assert_eq!((d.rule.as_str(), d.facts["claim_id"].as_i64()), ("R11.2", Some(1)));
        assert!(
            d.text.zh.contains("为李阿姨签到「健康讲座」：第一事业部员工1邀约到会"),
            "{}",
            d.text.zh
        );
        let code = |r: Result<Decision, Refusal>| r.unwrap_err().code;
        assert_eq!(
            code(decide_check_in(&p, &head(), &ev, &arrival, at("2026-12-09T20:00"))),
            "event_not_started"
        );
        let sales = StaffFacts {
            roles: vec!["sales".into()],
            ..head()
        };
        let e = decide_check_in(&p, &sales, &ev, &arrival, at("2026-12-10T13:40")).unwrap_err();
        assert_eq!((e.code, e.rule.unwrap().as_str()), ("forbidden", "R11.2"));
        let twice = Arrival {
            checked_in_at: Some(at("2026-12-10T13:40")),
            ..arrival.clone()
        };
        assert_eq!(
            code(decide_check_in(&p, &head(), &ev, &twice, at("2026-12-10T13:50"))),
            "already_checked_in"
        );
        let uninvited = Arrival {
            invitation: None,
            ..arrival
        };
        assert_eq!(
            code(decide_check_in(&p, &head(), &ev, &uninvited, at("2026-12-10T13:40"))),
            "not_invited"
        );
        // Without [events.attendance] the organisers check in, under the events' rule.
        let d = decide_check_in(
            &policy(),
            &head(),
            &ev,
            &Arrival {
                invitation: Some(&inv),
                ..uninvited
            },
            at("2026-12-10T15:00"),
        )
        .unwrap();
        assert_eq!(d.rule.as_str(), "R11.3");
    }

    #[test]
    fn r11_3_late_filing_fines_the_head_and_filing_says_what_was_late() {
        let p = policy();
        let ev = event(Session::Afternoon, "2026-12-10T14:00");
        let held = invitation(1, 10, "2026-12-05T09:00", "2026-12-05T18:00", None);
        let (code, d) = decide_late(&p, &ev, 0, held.due_at, std::slice::from_ref(&held), &[head()]).unwrap();
        assert_eq!((code.as_deref(), d.rule.as_str()), (Some("filing_late"), "R11.3"));
        assert!(d.text.zh.contains("罚部门负责人周经理"), "{}", d.text.zh);
        // Nobody to fine: the lateness is still recorded.
        let (code, d) = decide_late(&p, &ev, 0, held.due_at, std::slice::from_ref(&held), &[]).unwrap();
        assert_eq!(code, None);
        assert!(d.text.en.contains("no head to fine"), "{}", d.text.en);
        let filing = decide_filing(&p, &head(), &ev, 0, &[held], at("2026-12-06T08:00")).unwrap();
        assert_eq!(filing.facts["invitations"][0]["late"], true);
        assert!(filing.text.en.contains("late for 李阿姨"), "{}", filing.text.en);
        assert_eq!(
            decide_filing(&p, &head(), &ev, 0, &[], at("2026-12-06T08:00"))
                .unwrap_err()
                .code,
            "nothing_to_file"
        );
    }
}
