//! The policy section for joint events of several divisions (R11.3): each division files the
//! invitations it confirmed by a daily cut-off, earlier on the event day, the first division a
//! day ahead of the next; a late filing fines the division head and can lose the customer. Who
//! checks invited customers in at the event (R11.2).

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{Checker, LedgerCode, LocalTime, Period, Role};
use crate::decision::RuleId;

/// R11.3: the filing cut-offs of a joint event.
#[derive(Debug, Clone, Serialize)]
pub struct JointEvents {
    pub rule: RuleId,
    /// Who schedules a joint event and names its divisions.
    pub organisers: Vec<String>,
    /// Who files a division's confirmed invitations: the division's head, fined when late.
    pub filers: Vec<String>,
    /// How long before the event the filing duty runs ("the week before").
    pub window: Period,
    /// Invitations confirmed at or after this time count as the next day's; each day's are
    /// filed by it.
    pub daily_cutoff: LocalTime,
    /// The cut-off on the event day for an afternoon event.
    pub afternoon_cutoff: LocalTime,
    /// The cut-off on the event day for an evening event.
    pub evening_cutoff: LocalTime,
    /// How much earlier each division closes its invitations than the one after it.
    pub lead: Option<Period>,
    /// The ledger code charged to the head of a division that filed late.
    pub late_penalty: Option<String>,
    /// R11.2: who checks invited customers in at the event, and the rule the check-in is
    /// recorded under.
    pub attendance: Attendance,
}

/// R11.2: attendance at a joint event ("带一个新顾客参加会议"): an invited customer is checked in
/// at the door, once per event; the referral points for a new customer are charged on it.
#[derive(Debug, Clone, Serialize)]
pub struct Attendance {
    pub rule: RuleId,
    /// Who checks customers in. Without `[events.attendance]`: the organisers.
    pub roles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJointEvents {
    rule: Spanned<String>,
    organisers: Spanned<Vec<Spanned<String>>>,
    filers: Spanned<Vec<Spanned<String>>>,
    window: Spanned<String>,
    daily_cutoff: Spanned<String>,
    afternoon_cutoff: Spanned<String>,
    evening_cutoff: Spanned<String>,
    #[serde(default)]
    lead: Option<Spanned<String>>,
    #[serde(default)]
    late_penalty: Option<Spanned<String>>,
    #[serde(default)]
    attendance: Option<RawAttendance>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttendance {
    rule: Spanned<String>,
    roles: Spanned<Vec<Spanned<String>>>,
}

impl Checker<'_> {
    fn local_time(&mut self, raw: &Spanned<String>) -> LocalTime {
        LocalTime::parse(raw.get_ref()).unwrap_or_else(|| {
            self.error(
                raw.span(),
                format!("`{}` is not a time of day", raw.get_ref()),
                "write hours and minutes, e.g. \"18:00\"",
            );
            LocalTime { hour: 0, minute: 0 }
        })
    }

    pub(super) fn joint_events(&mut self, raw: RawJointEvents, roles: &[Role], codes: &[LedgerCode]) -> JointEvents {
        if let Some(p) = &raw.late_penalty {
            self.code_ref(p, codes);
        }
        let day = Period::parse("1 day").expect("a day is a period");
        let rule = self.rule(&raw.rule);
        let organisers = self.role_list(&raw.organisers, roles, "[events] organisers");
        let attendance = match &raw.attendance {
            Some(a) => Attendance {
                rule: self.rule(&a.rule),
                roles: self.role_list(&a.roles, roles, "[events.attendance] roles"),
            },
            None => Attendance {
                rule: rule.clone(),
                roles: organisers.clone(),
            },
        };
        JointEvents {
            attendance,
            rule,
            organisers,
            filers: self.role_list(&raw.filers, roles, "[events] filers"),
            window: self.period(&raw.window).unwrap_or(day),
            daily_cutoff: self.local_time(&raw.daily_cutoff),
            afternoon_cutoff: self.local_time(&raw.afternoon_cutoff),
            evening_cutoff: self.local_time(&raw.evening_cutoff),
            lead: raw.lead.as_ref().and_then(|p| self.period(p)),
            late_penalty: raw.late_penalty.map(|p| p.into_inner()),
        }
    }
}
