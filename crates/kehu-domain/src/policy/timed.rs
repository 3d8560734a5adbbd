//! The policy sections for rules that run on time: how long a claim stays valid (R5.2, R5.4,
//! R7.7), who may cancel or reassign it (R5.3, R5.6), and the ledger of penalties, points and
//! rewards (R5.5, R5.8, R5.17, R6.1).

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};
use toml::Spanned;

use super::{Channel, Checker, Role};
use crate::Timestamp;
use crate::decision::RuleId;
use crate::text::Text;

/// A length of time as the rulebook says it: "3 days", "24 hours", "1 week", "2 months".
/// Calendar units are counted in the tenant's time zone.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    span: jiff::Span,
}

impl PartialEq for Period {
    fn eq(&self, other: &Period) -> bool {
        self.span.fieldwise() == other.span.fieldwise()
    }
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        let span: jiff::Span = s.trim().parse().ok()?;
        if span.is_negative() || span.is_zero() {
            return None;
        }
        // A period must be whole: no fractions, and units from minutes up.
        if span.get_seconds() != 0 || span.get_milliseconds() != 0 || span.get_microseconds() != 0 {
            return None;
        }
        Some(Period { span })
    }

    pub fn span(&self) -> jiff::Span {
        self.span
    }

    /// `t` plus this period, calendar units counted in `tz`.
    pub fn after(&self, t: Timestamp, tz: &jiff::tz::TimeZone) -> Timestamp {
        t.to_zoned(tz.clone())
            .checked_add(self.span)
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX)
    }

    /// `t` minus this period, calendar units counted in `tz`.
    pub fn before(&self, t: Timestamp, tz: &jiff::tz::TimeZone) -> Timestamp {
        t.to_zoned(tz.clone())
            .checked_sub(self.span)
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MIN)
    }

    /// The period in words: `3 天` / `3 days`.
    pub fn text(&self) -> Text {
        let s = self.span;
        let parts: [(i64, &str, &str); 6] = [
            (i64::from(s.get_years()), "年", "year"),
            (i64::from(s.get_months()), "个月", "month"),
            (i64::from(s.get_weeks()), "周", "week"),
            (i64::from(s.get_days()), "天", "day"),
            (i64::from(s.get_hours()), "小时", "hour"),
            (s.get_minutes(), "分钟", "minute"),
        ];
        let mut zh = String::new();
        let mut en = Vec::new();
        for (n, z, e) in parts.into_iter().filter(|(n, _, _)| *n != 0) {
            zh.push_str(&format!(" {n} {z}"));
            en.push(format!("{n} {e}{}", if n == 1 { "" } else { "s" }));
        }
        Text::new(zh.trim().to_string(), en.join(" "))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text().en)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text().en)
    }
}

/// A cut-off in the tenant's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cutoff {
    /// The end of the local day the event happened on (R5.8 "the same day").
    EndOfDay,
}

impl Cutoff {
    /// The cut-off for something that happened at `t`.
    pub fn after(self, t: Timestamp, tz: &jiff::tz::TimeZone) -> Timestamp {
        match self {
            Cutoff::EndOfDay => t
                .to_zoned(tz.clone())
                .date()
                .tomorrow()
                .ok()
                .and_then(|d| d.to_zoned(tz.clone()).ok())
                .map(|z| z.timestamp())
                .unwrap_or(Timestamp::MAX),
        }
    }
}

/// A time of day in the tenant's zone, written "10:00".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub hour: i8,
    pub minute: i8,
}

impl LocalTime {
    pub fn parse(s: &str) -> Option<LocalTime> {
        let (h, m) = s.trim().split_once(':')?;
        let (hour, minute) = (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?);
        ((0..24).contains(&hour) && (0..60).contains(&minute) && m.len() == 2).then_some(LocalTime { hour, minute })
    }

    /// This time of day on the local day after the one `t` falls on.
    pub fn next_day_after(self, t: Timestamp, tz: &jiff::tz::TimeZone) -> Timestamp {
        t.to_zoned(tz.clone())
            .date()
            .tomorrow()
            .ok()
            .map(|d| d.at(self.hour, self.minute, 0, 0))
            .and_then(|dt| dt.to_zoned(tz.clone()).ok())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX)
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl Serialize for LocalTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// R3.1: a registration is submitted by a cut-off after the contact; late submission is allowed
/// until a time the next day; later is a recorded lateness (R3.12).
#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    pub rule: RuleId,
    pub by: Cutoff,
    pub late_until: Option<LocalTime>,
    /// The ledger code charged for a submission after `late_until`.
    pub penalty: Option<String>,
}

/// R5.8: a first message to a new customer from certain sources, by a cut-off.
#[derive(Debug, Clone, Serialize)]
pub struct FirstContact {
    pub rule: RuleId,
    /// The customer sources the rule applies to: ids of the policy's sources, or free text as
    /// staff write it when the policy lists none.
    pub sources: Vec<String>,
    pub channel: Channel,
    pub by: Cutoff,
    /// The ledger code charged to the receiver when it is missed.
    pub penalty: Option<String>,
    /// The message, with `{consultant}` for the receiver's name.
    pub message: Option<Text>,
}

/// What happens to a claim whose follow-up window closes unmet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnMiss {
    /// The card is void (R5.2); a leader may reassign it (R5.3).
    Void,
    /// The registration has run its course (R7.7).
    Expire,
    /// The claim expires and the customer returns to the pool `release_to` (公海, R11.8).
    Release,
}

/// R5.2: the n-th follow-up is confirmed by a leader; confirmed late, the confirmation counts.
#[derive(Debug, Clone, Serialize)]
pub struct FollowUpConfirmation {
    pub rule: RuleId,
    /// Which follow-up (1 = the first) needs the confirmation.
    pub number: u32,
    pub roles: Vec<String>,
    pub within: Period,
}

/// R5.4: a run of follow-ups on one channel that makes the claim void.
#[derive(Debug, Clone, Serialize)]
pub struct InvalidRun {
    pub rule: RuleId,
    pub channel: Channel,
    pub consecutive: u32,
}

/// How a valid claim stays valid.
#[derive(Debug, Clone, Serialize)]
pub struct Lifecycle {
    pub rule: RuleId,
    /// Activities by the holder on these channels are follow-ups.
    pub follow_up_channels: Vec<Channel>,
    /// The first follow-up is due this long after the claim takes effect.
    pub first_within: Option<Period>,
    /// Each follow-up keeps the claim valid this long.
    pub then_within: Option<Period>,
    /// However it is followed up, the claim ends this long after taking effect.
    pub valid_for: Option<Period>,
    pub on_miss: OnMiss,
    pub confirm_follow_up: Option<FollowUpConfirmation>,
    pub invalid_runs: Vec<InvalidRun>,
    /// R5.5: the ledger code charged to a holder whose missed follow-up let another card in.
    pub duplicate_penalty: Option<String>,
    /// With `on_miss = "release"`: the pool the customer returns to.
    pub release_to: Option<String>,
    /// The holder is warned this long before the limit (shown with the claim).
    pub warn_before: Option<Period>,
    /// Per customer grade: the follow-up window for that grade, instead of `first_within` and
    /// `then_within` (A customers may be kept longer than C ones).
    pub grades: Vec<(String, Period)>,
}

/// R1.6, R1.7: how often customers are visited.
#[derive(Debug, Clone, Serialize)]
pub struct Cadence {
    pub rule: RuleId,
    /// Activities on these channels are visits.
    pub channels: Vec<Channel>,
    /// Per grade: a visit at least this often.
    pub grades: Vec<(String, Period)>,
    /// Tags that set their own period (out of town, a pending project).
    pub tags: Vec<CadenceTag>,
    /// Roles that owe their own visits to some customers (senior management).
    pub duties: Vec<CadenceDuty>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CadenceTag {
    pub tag: String,
    pub rule: RuleId,
    pub every: Period,
}

#[derive(Debug, Clone, Serialize)]
pub struct CadenceDuty {
    pub rule: RuleId,
    pub roles: Vec<String>,
    pub grades: Vec<String>,
    pub tags: Vec<String>,
    pub every: Period,
}

/// A customer pool (公海): customers nobody holds, claimed first come, first served.
#[derive(Debug, Clone, Serialize)]
pub struct Pool {
    pub id: String,
    pub name: Text,
    pub rule: RuleId,
    /// Roles that see the pool and may claim from it.
    pub members: Vec<String>,
    /// A former holder may reclaim a customer only this long after it was released.
    pub cooldown: Option<Period>,
    /// How many customers one member may claim from the pool per local day.
    pub max_claims_per_day: Option<u32>,
}

/// Who shares customers out among staff, and how (R7.8(12), R11.1).
#[derive(Debug, Clone, Serialize)]
pub struct ShareRule {
    pub rule: RuleId,
    pub roles: Vec<String>,
    /// The method used when the request names none.
    pub method: crate::assign::Method,
}

/// Who may act on a claim: cancel it (R5.6) or reassign a void one (R5.3).
#[derive(Debug, Clone, Serialize)]
pub struct ClaimAction {
    pub rule: RuleId,
    pub roles: Vec<String>,
    /// Reassigning: only the leader who signed the card (or an admin) may.
    pub signer_only: bool,
    /// Cancelling: the written reason must be at least this many characters.
    pub reason_min_chars: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// Money the staff member pays (a fine).
    Penalty,
    /// Performance points, added or deducted.
    Points,
    /// Money the staff member or customer receives.
    Reward,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Penalty => "penalty",
            LedgerKind::Points => "points",
            LedgerKind::Reward => "reward",
        }
    }

    pub fn label(self) -> Text {
        match self {
            LedgerKind::Penalty => Text::new("罚款", "Penalty"),
            LedgerKind::Points => Text::new("积分", "Points"),
            LedgerKind::Reward => Text::new("奖励", "Reward"),
        }
    }
}

/// A mark on an entry that asks a manager to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// R5.11, R5.17: the person is up for dismissal review (劝退).
    DismissalReview,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::DismissalReview => "dismissal_review",
        }
    }

    pub fn label(self) -> Text {
        match self {
            Flag::DismissalReview => Text::new("需劝退审查", "Dismissal review"),
        }
    }
}

/// From the `from`-th occurrence of a code in a month on, the entry costs this instead.
#[derive(Debug, Clone, Serialize)]
pub struct Escalation {
    pub from: u32,
    pub amount: Option<i64>,
    pub points: Option<i64>,
    pub flag: Option<Flag>,
}

/// One kind of ledger entry, with its rule and its price.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerCode {
    pub code: String,
    pub rule: RuleId,
    pub kind: LedgerKind,
    pub name: Text,
    /// Money in minor units (fen) per occurrence.
    pub amount: i64,
    /// Points per occurrence; negative for a deduction.
    pub points: i64,
    /// Whether a manager may enter it by hand; automatic codes are charged by rules only.
    pub manual: bool,
    pub escalation: Vec<Escalation>,
    /// R6.1: the entry refers to another entry and costs this many times its points and
    /// amount (a store manager who failed to supervise loses double).
    pub times_referred: Option<i64>,
    /// Roles that may enter this code, when narrower than the ledger's managers.
    pub entered_by: Option<Vec<String>>,
    /// Whom entries of this code are for.
    pub party: Party,
}

/// Whom a ledger code's entries are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// A staff member (fines, points, staff rewards).
    #[default]
    Staff,
    /// A customer (R5.13: the referring customer's reward).
    Customer,
}

#[derive(Debug, Clone, Serialize)]
pub struct LedgerPolicy {
    pub currency: String,
    /// Roles that may add manual entries and reverse entries.
    pub managers: Vec<String>,
    pub codes: Vec<LedgerCode>,
}

impl LedgerPolicy {
    pub fn code(&self, code: &str) -> Option<&LedgerCode> {
        self.codes.iter().find(|c| c.code == code)
    }
}

// ---- raw forms ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLifecycle {
    rule: Spanned<String>,
    follow_up_channels: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    first_within: Option<Spanned<String>>,
    #[serde(default)]
    then_within: Option<Spanned<String>>,
    #[serde(default)]
    valid_for: Option<Spanned<String>>,
    on_miss: OnMiss,
    #[serde(default)]
    confirm_follow_up: Option<RawFollowUpConfirmation>,
    #[serde(default)]
    invalid_runs: Vec<RawInvalidRun>,
    #[serde(default)]
    duplicate_penalty: Option<Spanned<String>>,
    #[serde(default)]
    release_to: Option<Spanned<String>>,
    #[serde(default)]
    warn_before: Option<Spanned<String>>,
    #[serde(default)]
    grades: Option<Spanned<std::collections::BTreeMap<String, Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCadence {
    rule: Spanned<String>,
    channels: Vec<Spanned<String>>,
    #[serde(default)]
    grades: std::collections::BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    tags: Vec<RawCadenceTag>,
    #[serde(default)]
    duties: Vec<RawCadenceDuty>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCadenceTag {
    tag: String,
    rule: Spanned<String>,
    every: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCadenceDuty {
    rule: Spanned<String>,
    roles: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    grades: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    every: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool {
    id: Spanned<String>,
    name: Text,
    rule: Spanned<String>,
    members: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    cooldown: Option<Spanned<String>>,
    #[serde(default)]
    max_claims_per_day: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFollowUpConfirmation {
    rule: Spanned<String>,
    number: Spanned<i64>,
    roles: Spanned<Vec<Spanned<String>>>,
    within: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInvalidRun {
    rule: Spanned<String>,
    channel: Spanned<String>,
    consecutive: Spanned<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawShareRule {
    rule: Spanned<String>,
    roles: Spanned<Vec<Spanned<String>>>,
    method: crate::assign::Method,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSubmission {
    rule: Spanned<String>,
    by: Cutoff,
    #[serde(default)]
    late_until: Option<Spanned<String>>,
    #[serde(default)]
    penalty: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFirstContact {
    rule: Spanned<String>,
    sources: Spanned<Vec<Spanned<String>>>,
    channel: Spanned<String>,
    by: Cutoff,
    #[serde(default)]
    penalty: Option<Spanned<String>>,
    #[serde(default)]
    message: Option<Text>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClaimAction {
    rule: Spanned<String>,
    roles: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    signer_only: bool,
    #[serde(default)]
    reason_min_chars: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLedger {
    #[serde(default)]
    currency: Option<String>,
    managers: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    codes: Vec<RawLedgerCode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLedgerCode {
    code: Spanned<String>,
    rule: Spanned<String>,
    kind: LedgerKind,
    name: Text,
    #[serde(default)]
    amount: Option<Spanned<i64>>,
    #[serde(default)]
    points: Option<Spanned<i64>>,
    #[serde(default = "yes")]
    manual: bool,
    #[serde(default)]
    escalation: Vec<RawEscalation>,
    #[serde(default)]
    times_referred: Option<Spanned<i64>>,
    #[serde(default)]
    entered_by: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    party: Party,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalation {
    from: Spanned<i64>,
    #[serde(default)]
    amount: Option<i64>,
    #[serde(default)]
    points: Option<i64>,
    #[serde(default)]
    flag: Option<Flag>,
}

const PERIOD_HINT: &str = "write a whole length such as \"3 days\", \"24 hours\", \"1 week\" or \"2 months\"";

impl Checker<'_> {
    pub(super) fn period(&mut self, raw: &Spanned<String>) -> Option<Period> {
        let p = Period::parse(raw.get_ref());
        if p.is_none() {
            self.error(
                raw.span(),
                format!("`{}` is not a length of time", raw.get_ref()),
                PERIOD_HINT,
            );
        }
        p
    }

    pub(super) fn role_list(&mut self, raw: &Spanned<Vec<Spanned<String>>>, roles: &[Role], what: &str) -> Vec<String> {
        if raw.get_ref().is_empty() {
            self.error(
                raw.span(),
                format!("{what} needs at least one role"),
                "for example roles = [\"team_leader\"]",
            );
        }
        let mut out = Vec::new();
        for r in raw.get_ref() {
            if roles.iter().any(|x| &x.id == r.get_ref()) {
                out.push(r.get_ref().clone());
            } else {
                let known: Vec<_> = roles.iter().map(|x| x.id.as_str()).collect();
                self.error(
                    r.span(),
                    format!("role `{}` is not defined in [[roles]]", r.get_ref()),
                    format!("defined roles: {}", known.join(", ")),
                );
            }
        }
        out
    }

    fn channel(&mut self, raw: &Spanned<String>, allowed: &[Channel]) -> Option<Channel> {
        match Channel::parse(raw.get_ref()) {
            Some(c) if allowed.contains(&c) => Some(c),
            _ => {
                let known: Vec<_> = allowed.iter().map(|c| c.as_str()).collect();
                self.error(
                    raw.span(),
                    format!("`{}` is not one of the channels in [activities]", raw.get_ref()),
                    format!("channels are: {}", known.join(", ")),
                );
                None
            }
        }
    }

    pub(super) fn cadence(&mut self, raw: RawCadence, roles: &[Role], channels: &[Channel]) -> Cadence {
        let rule = self.rule(&raw.rule);
        let chans = raw.channels.iter().filter_map(|c| self.channel(c, channels)).collect();
        let mut grades = Vec::new();
        for (g, p) in &raw.grades {
            if let Some(p) = self.period(p) {
                grades.push((g.clone(), p));
            }
        }
        let tags = raw
            .tags
            .iter()
            .filter_map(|t| {
                Some(CadenceTag {
                    tag: t.tag.clone(),
                    rule: self.rule(&t.rule),
                    every: self.period(&t.every)?,
                })
            })
            .collect();
        let duties = raw
            .duties
            .iter()
            .filter_map(|d| {
                Some(CadenceDuty {
                    rule: self.rule(&d.rule),
                    roles: self.role_list(&d.roles, roles, "cadence duty"),
                    grades: d.grades.clone(),
                    tags: d.tags.clone(),
                    every: self.period(&d.every)?,
                })
            })
            .collect();
        Cadence {
            rule,
            channels: chans,
            grades,
            tags,
            duties,
        }
    }

    pub(super) fn pools(&mut self, raw: Vec<RawPool>, roles: &[Role]) -> Vec<Pool> {
        let mut out: Vec<Pool> = Vec::new();
        for p in raw {
            let id = p.id.get_ref().clone();
            if id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                self.error(
                    p.id.span(),
                    format!("pool id `{id}` must be lowercase letters, digits and underscores"),
                    "for example id = \"public\"",
                );
            }
            if out.iter().any(|x| x.id == id) {
                self.error(
                    p.id.span(),
                    format!("pool `{id}` is defined twice"),
                    "keep one definition per pool",
                );
                continue;
            }
            let max_claims_per_day = p.max_claims_per_day.as_ref().map(|m| {
                let v = *m.get_ref();
                if !(1..=10_000).contains(&v) {
                    self.error(
                        m.span(),
                        format!("max_claims_per_day = {v} must be from 1 up"),
                        "leave it out for no daily limit",
                    );
                }
                u32::try_from(v).unwrap_or(1)
            });
            out.push(Pool {
                id,
                name: p.name,
                rule: self.rule(&p.rule),
                members: self.role_list(&p.members, roles, "pool members"),
                cooldown: p.cooldown.as_ref().and_then(|c| self.period(c)),
                max_claims_per_day,
            });
        }
        out
    }

    pub(super) fn lifecycle(
        &mut self,
        raw: RawLifecycle,
        roles: &[Role],
        channels: &[Channel],
        codes: &[LedgerCode],
        pools: &[Pool],
    ) -> Lifecycle {
        let rule = self.rule(&raw.rule);
        let follow_up_channels: Vec<Channel> = raw
            .follow_up_channels
            .get_ref()
            .iter()
            .filter_map(|c| self.channel(c, channels))
            .collect();
        if raw.follow_up_channels.get_ref().is_empty() {
            self.error(
                raw.follow_up_channels.span(),
                "follow_up_channels needs at least one channel",
                "for example follow_up_channels = [\"call\", \"visit\"]",
            );
        }
        let first_within = raw.first_within.as_ref().and_then(|p| self.period(p));
        let then_within = raw.then_within.as_ref().and_then(|p| self.period(p));
        let valid_for = raw.valid_for.as_ref().and_then(|p| self.period(p));
        let release_to = raw.release_to.as_ref().map(|r| {
            if !pools.iter().any(|p| &p.id == r.get_ref()) {
                let known: Vec<_> = pools.iter().map(|p| p.id.as_str()).collect();
                self.error(
                    r.span(),
                    format!("pool `{}` is not defined in [[pools]]", r.get_ref()),
                    if known.is_empty() {
                        "add a [[pools]] section with this id".to_string()
                    } else {
                        format!("defined pools: {}", known.join(", "))
                    },
                );
            }
            r.get_ref().clone()
        });
        if (raw.on_miss == OnMiss::Release) != release_to.is_some() {
            self.error(
                raw.rule.span(),
                "on_miss = \"release\" and release_to go together",
                "release_to names the pool the customer returns to when the claim lapses",
            );
        }
        let warn_before = raw.warn_before.as_ref().and_then(|p| self.period(p));
        let mut grades = Vec::new();
        if let Some(g) = &raw.grades {
            for (grade, p) in g.get_ref() {
                if let Some(p) = self.period(p) {
                    grades.push((grade.clone(), p));
                }
            }
        }
        if raw.first_within.is_none() && raw.then_within.is_none() && raw.valid_for.is_none() {
            self.error(
                raw.rule.span(),
                "[claims.lifecycle] sets no limit",
                "set first_within, then_within or valid_for, or remove the section",
            );
        }
        let confirm_follow_up = raw.confirm_follow_up.map(|c| {
            let number = *c.number.get_ref();
            if !(1..=100).contains(&number) {
                self.error(
                    c.number.span(),
                    format!("follow-up number {number} must be from 1 to 100"),
                    "1 is the first follow-up, 2 the second",
                );
            }
            FollowUpConfirmation {
                rule: self.rule(&c.rule),
                number: u32::try_from(number).unwrap_or(1),
                roles: self.role_list(&c.roles, roles, "confirm_follow_up"),
                within: self.period(&c.within).unwrap_or(Period {
                    span: jiff::Span::new().hours(24),
                }),
            }
        });
        let invalid_runs = raw
            .invalid_runs
            .iter()
            .filter_map(|r| {
                let n = *r.consecutive.get_ref();
                if !(2..=100).contains(&n) {
                    self.error(
                        r.consecutive.span(),
                        format!("consecutive = {n} must be from 2 to 100"),
                        "R5.4 counts three SMS-only follow-ups: consecutive = 3",
                    );
                }
                let rule = self.rule(&r.rule);
                let channel = self.channel(&r.channel, channels)?;
                Some(InvalidRun {
                    rule,
                    channel,
                    consecutive: u32::try_from(n).unwrap_or(3),
                })
            })
            .collect();
        let duplicate_penalty = raw.duplicate_penalty.as_ref().map(|c| {
            self.code_ref(c, codes);
            c.get_ref().clone()
        });
        Lifecycle {
            rule,
            follow_up_channels,
            first_within,
            then_within,
            valid_for,
            on_miss: raw.on_miss,
            confirm_follow_up,
            invalid_runs,
            duplicate_penalty,
            release_to,
            warn_before,
            grades,
        }
    }

    /// A code a rule charges by itself (`by` names it): defined in `[[ledger.codes]]` and not
    /// entered by hand, so a manager cannot charge the same thing a second time.
    pub(super) fn automatic_code(&mut self, raw: &Spanned<String>, codes: &[LedgerCode], by: &str) -> String {
        match codes.iter().find(|c| &c.code == raw.get_ref()) {
            None => self.code_ref(raw, codes),
            Some(c) if c.manual => self.error(
                raw.span(),
                format!("ledger code `{}` is entered by hand (manual)", c.code),
                format!("add manual = false to the code `{}`: {by} charges it by itself", c.code),
            ),
            Some(_) => {}
        }
        raw.get_ref().clone()
    }

    pub(super) fn code_ref(&mut self, raw: &Spanned<String>, codes: &[LedgerCode]) {
        if !codes.iter().any(|c| &c.code == raw.get_ref()) {
            let known: Vec<_> = codes.iter().map(|c| c.code.as_str()).collect();
            self.error(
                raw.span(),
                format!("ledger code `{}` is not defined in [[ledger.codes]]", raw.get_ref()),
                if known.is_empty() {
                    "add a [ledger] section with this code".to_string()
                } else {
                    format!("defined codes: {}", known.join(", "))
                },
            );
        }
    }

    pub(super) fn share_rule(&mut self, raw: RawShareRule, roles: &[Role], what: &str) -> ShareRule {
        ShareRule {
            rule: self.rule(&raw.rule),
            roles: self.role_list(&raw.roles, roles, what),
            method: raw.method,
        }
    }

    pub(super) fn submission(&mut self, raw: RawSubmission, codes: &[LedgerCode]) -> Submission {
        let late_until = raw.late_until.as_ref().and_then(|t| {
            let v = LocalTime::parse(t.get_ref());
            if v.is_none() {
                self.error(
                    t.span(),
                    format!("`{}` is not a time of day", t.get_ref()),
                    "write hours and minutes, e.g. \"10:00\"",
                );
            }
            v
        });
        if let Some(p) = &raw.penalty {
            self.code_ref(p, codes);
        }
        Submission {
            rule: self.rule(&raw.rule),
            by: raw.by,
            late_until,
            penalty: raw.penalty.map(|p| p.into_inner()),
        }
    }

    pub(super) fn first_contact(
        &mut self,
        raw: RawFirstContact,
        channels: &[Channel],
        codes: &[LedgerCode],
        sources: &[super::Source],
    ) -> Option<FirstContact> {
        let listed = self.source_refs(&raw.sources, sources, "first_contact");
        if let Some(p) = &raw.penalty {
            self.code_ref(p, codes);
        }
        Some(FirstContact {
            rule: self.rule(&raw.rule),
            sources: listed,
            channel: self.channel(&raw.channel, channels)?,
            by: raw.by,
            penalty: raw.penalty.map(|p| p.into_inner()),
            message: raw.message,
        })
    }

    pub(super) fn claim_action(&mut self, raw: RawClaimAction, roles: &[Role], what: &str) -> ClaimAction {
        let reason_min_chars = match &raw.reason_min_chars {
            None => 0,
            Some(n) => {
                let v = *n.get_ref();
                if !(0..=500).contains(&v) {
                    self.error(
                        n.span(),
                        format!("reason_min_chars = {v} must be from 0 to 500"),
                        "R5.6 asks for a detailed reason: 5 to 20 characters is usual",
                    );
                }
                u32::try_from(v).unwrap_or(0)
            }
        };
        ClaimAction {
            rule: self.rule(&raw.rule),
            roles: self.role_list(&raw.roles, roles, what),
            signer_only: raw.signer_only,
            reason_min_chars,
        }
    }

    pub(super) fn ledger(&mut self, raw: RawLedger, roles: &[Role]) -> LedgerPolicy {
        let managers = self.role_list(&raw.managers, roles, "[ledger] managers");
        let mut codes: Vec<LedgerCode> = Vec::new();
        for c in raw.codes {
            let code = c.code.get_ref().clone();
            if code.is_empty()
                || !code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                self.error(
                    c.code.span(),
                    format!("ledger code `{code}` must be lowercase letters, digits and underscores"),
                    "for example code = \"lateness\"",
                );
            }
            if codes.iter().any(|x| x.code == code) {
                self.error(
                    c.code.span(),
                    format!("ledger code `{code}` is defined twice"),
                    "keep one definition per code",
                );
                continue;
            }
            let amount = c.amount.as_ref().map(|a| *a.get_ref()).unwrap_or(0);
            let points = c.points.as_ref().map(|p| *p.get_ref()).unwrap_or(0);
            if let Some(a) = &c.amount
                && *a.get_ref() < 0
            {
                self.error(
                    a.span(),
                    "amount must not be negative",
                    "amounts are in fen (1 yuan = 100); the kind says whether it is paid or received",
                );
            }
            let times_referred = c.times_referred.as_ref().map(|t| {
                let v = *t.get_ref();
                if !(1..=10).contains(&v) {
                    self.error(
                        t.span(),
                        format!("times_referred = {v} must be from 1 to 10"),
                        "R6.1: a store manager loses double: times_referred = 2",
                    );
                }
                v
            });
            let entered_by = c.entered_by.as_ref().map(|r| self.role_list(r, roles, "entered_by"));
            match c.kind {
                _ if times_referred.is_some() => {}
                LedgerKind::Points if points == 0 => self.error(
                    c.code.span(),
                    format!("points code `{code}` sets no points"),
                    "add points = -3 for a deduction or points = 100 for an award",
                ),
                LedgerKind::Penalty | LedgerKind::Reward if amount == 0 && points == 0 => self.error(
                    c.code.span(),
                    format!("code `{code}` sets neither amount nor points"),
                    "add amount = 2000 (fen, that is 20 yuan)",
                ),
                _ => {}
            }
            let mut escalation: Vec<Escalation> = Vec::new();
            for e in &c.escalation {
                let from = *e.from.get_ref();
                if !(2..=1000).contains(&from) || escalation.last().is_some_and(|l| i64::from(l.from) >= from) {
                    self.error(
                        e.from.span(),
                        format!("escalation from = {from} must be 2 or more and rise step by step"),
                        "from = 2 means the second time in a month",
                    );
                }
                escalation.push(Escalation {
                    from: u32::try_from(from).unwrap_or(2),
                    amount: e.amount,
                    points: e.points,
                    flag: e.flag,
                });
            }
            codes.push(LedgerCode {
                code,
                rule: self.rule(&c.rule),
                kind: c.kind,
                name: c.name,
                amount,
                points,
                manual: c.manual,
                escalation,
                times_referred,
                entered_by,
                party: c.party,
            });
        }
        LedgerPolicy {
            currency: raw.currency.unwrap_or_else(|| "CNY".into()),
            managers,
            codes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_read_as_written() {
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let t: Timestamp = "2026-11-03T15:00:00Z".parse().unwrap(); // 23:00 in Shanghai
        let ten = LocalTime::parse("10:00").unwrap();
        assert_eq!(ten.next_day_after(t, &tz).to_string(), "2026-11-04T02:00:00Z");
        for bad in ["10", "24:00", "9:5", "10:60", "ten"] {
            assert!(LocalTime::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn periods_read_as_the_rulebook_writes_them() {
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let t: Timestamp = "2026-01-31T02:00:00Z".parse().unwrap();
        let p = Period::parse("3 days").unwrap();
        assert_eq!(p.after(t, &tz).to_string(), "2026-02-03T02:00:00Z");
        assert_eq!(p.text().zh, "3 天");
        assert_eq!(Period::parse("1 week").unwrap().text().en, "1 week");
        // Calendar months in the tenant's zone: 31 January + 1 month is the end of February.
        assert_eq!(
            Period::parse("1 month").unwrap().after(t, &tz).to_string(),
            "2026-02-28T02:00:00Z"
        );
        assert_eq!(Period::parse("24 hours").unwrap().text().en, "24 hours");
        for bad in ["", "3", "soon", "-3 days", "0 days", "1.5 days", "30 seconds"] {
            assert!(Period::parse(bad).is_none(), "{bad}");
        }
    }
}
