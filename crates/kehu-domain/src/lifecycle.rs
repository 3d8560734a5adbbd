//! How a valid claim stays valid and when it lapses (R5.2, R5.4, R7.7), and what may be done
//! with it afterwards: cancelling with a written reason (R5.6), reassigning a void card (R5.3)
//! and the fine for a duplicate that a missed follow-up let in (R5.5).
//!
//! [`standing`] is the one place that decides whether a claim still stands: the scheduler asks it
//! when a deadline falls due, and recording a follow-up asks it for the next deadline. It looks
//! only at the claim and its follow-ups, so asking twice gives the same answer.

use serde_json::json;

use crate::Timestamp;
use crate::claim::{ClaimFacts, ClaimStatus, StaffFacts};
use crate::decision::{Decision, Refusal, RuleId};
use crate::policy::{Channel, Lifecycle, OnMiss, Policy};
use crate::text::Text;

/// An activity by staff on the claim's customer, as the lifecycle sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    pub id: i64,
    pub staff_id: i64,
    pub channel: Channel,
    pub at: Timestamp,
    pub confirmed_at: Option<Timestamp>,
}

/// Where a claim stands at a moment.
#[derive(Debug, Clone, PartialEq)]
pub enum Standing {
    /// No limit applies: the policy sets none, or the claim is not valid.
    Open,
    /// Valid until `Due::at` unless followed up.
    Due(Due),
    /// The claim lapsed; the store applies this.
    Lapsed(Lapse),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub at: Timestamp,
    pub rule: RuleId,
    /// What must happen by then, in a few words.
    pub what: Text,
    /// Follow-ups counted so far.
    pub follow_ups: u32,
    /// A follow-up that counts only once a leader confirms it (R5.2).
    pub awaiting_confirmation: Option<i64>,
    /// From when the holder is warned that the limit is near.
    pub warn_from: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lapse {
    /// When the claim lapsed: the limit that passed, not when the lapse was noticed.
    pub at: Timestamp,
    pub status: ClaimStatus,
    pub decision: Decision,
}

#[derive(Debug, Clone, Copy)]
enum Limit {
    First,
    Next { since: Timestamp },
    ValidFor,
}

/// The follow-ups that count for `claim`: by its holder, on a follow-up channel, from the time
/// it took effect, in time order.
fn counted<'a>(lc: &Lifecycle, claim: &ClaimFacts, follow_ups: &'a [FollowUp]) -> Vec<&'a FollowUp> {
    let Some(eff) = claim.effective_at else {
        return Vec::new();
    };
    let mut out: Vec<&FollowUp> = follow_ups
        .iter()
        .filter(|f| f.staff_id == claim.staff_id && f.at >= eff && lc.follow_up_channels.contains(&f.channel))
        .collect();
    out.sort_by_key(|f| (f.at, f.id));
    out
}

/// Decides where `claim` stands at `now`, given every follow-up on its customer.
pub fn standing(policy: &Policy, claim: &ClaimFacts, follow_ups: &[FollowUp], now: Timestamp) -> Standing {
    let Some(lc) = &policy.claims.lifecycle else {
        return Standing::Open;
    };
    let (ClaimStatus::Valid, Some(eff)) = (claim.status, claim.effective_at) else {
        return Standing::Open;
    };
    let tz = &policy.tz;
    let hard = lc.valid_for.map(|p| p.after(eff, tz));
    // A grade of its own replaces both windows.
    let graded = claim
        .customer_grade
        .as_deref()
        .and_then(|g| lc.grades.iter().find(|(x, _)| x.eq_ignore_ascii_case(g.trim())))
        .map(|(_, p)| *p);
    let (first_within, then_within) = match graded {
        Some(p) => (Some(p), Some(p)),
        None => (lc.first_within, lc.then_within),
    };
    let mut window = match (first_within, then_within) {
        (Some(p), _) => Some((p.after(eff, tz), Limit::First)),
        (None, Some(p)) => Some((p.after(eff, tz), Limit::Next { since: eff })),
        (None, None) => None,
    };
    let limit = |window: Option<(Timestamp, Limit)>| -> Option<(Timestamp, Limit)> {
        match (window, hard) {
            (Some(w), Some(h)) if h < w.0 => Some((h, Limit::ValidFor)),
            (Some(w), _) => Some(w),
            (None, Some(h)) => Some((h, Limit::ValidFor)),
            (None, None) => None,
        }
    };
    let mut n: u32 = 0;
    let mut gate: Option<Timestamp> = None;
    let mut awaiting = None;
    // While the n-th follow-up waits for its confirmation, nothing is decided before the
    // confirmation's own time runs out (R5.2: confirmed in time, it counts from the follow-up).
    let mut grace: Option<Timestamp> = None;
    let mut runs = vec![0u32; lc.invalid_runs.len()];
    let mut last: Option<Timestamp> = None;
    let list = counted(lc, claim, follow_ups);
    // The follow-ups from the one still waiting for its confirmation on: they do not move the
    // limit, but what the holder did still counts towards a run (R5.4).
    let mut unconfirmed: &[&FollowUp] = &[];
    for (i, f) in list.iter().copied().enumerate() {
        let number = n + 1;
        let mut counts_at = gate.map_or(f.at, |g| f.at.max(g));
        if let Some(conf) = lc.confirm_follow_up.as_ref().filter(|c| c.number == number) {
            let Some(c) = f.confirmed_at else {
                awaiting = Some(f.id);
                if limit(window).is_none_or(|(at, why)| counts_at <= at && !matches!(why, Limit::ValidFor)) {
                    grace = Some(conf.within.after(f.at, tz));
                }
                unconfirmed = &list[i..];
                break;
            };
            if c > conf.within.after(f.at, tz) {
                counts_at = counts_at.max(c);
            }
            gate = Some(counts_at);
        }
        if let Some((at, why)) = limit(window)
            && counts_at > at
        {
            return lapse(policy, lc, claim, at, why, n, last, (first_within, then_within));
        }
        n = number;
        last = Some(counts_at);
        for (i, run) in lc.invalid_runs.iter().enumerate() {
            runs[i] = if f.channel == run.channel { runs[i] + 1 } else { 0 };
            if runs[i] >= run.consecutive {
                return invalid_run(policy, claim, run.rule.clone(), run.channel, run.consecutive, counts_at);
            }
        }
        window = then_within.map(|p| (p.after(counts_at, tz), Limit::Next { since: counts_at }));
    }
    // R5.4 is about what the holder did, confirmed or not: a run that ends among the follow-ups
    // after an unconfirmed one voids the claim, unless the limit ran out before it ended.
    let decide_at = limit(window).map(|(at, _)| grace.map_or(at, |g| g.max(at)));
    for f in unconfirmed {
        let counts_at = gate.map_or(f.at, |g| f.at.max(g));
        if decide_at.is_some_and(|d| d < counts_at) {
            break;
        }
        for (i, run) in lc.invalid_runs.iter().enumerate() {
            runs[i] = if f.channel == run.channel { runs[i] + 1 } else { 0 };
            if runs[i] >= run.consecutive {
                return invalid_run(policy, claim, run.rule.clone(), run.channel, run.consecutive, counts_at);
            }
        }
    }
    match limit(window).map(|(at, why)| (at, why, grace.map_or(at, |g| g.max(at)))) {
        None => Standing::Open,
        Some((at, why, decide)) if decide <= now => {
            lapse(policy, lc, claim, at, why, n, last, (first_within, then_within))
        }
        Some((_, why, at)) => {
            let what = match (why, awaiting) {
                (_, Some(_)) => {
                    let roles: Vec<String> = lc.confirm_follow_up.iter().flat_map(|c| c.roles.clone()).collect();
                    let who = policy.roles_text(&roles);
                    Text::new(
                        format!("第 {} 次跟进待{}确认", n + 1, who.zh),
                        format!(
                            "follow-up {} waits for a {} to confirm it",
                            n + 1,
                            who.en.to_lowercase()
                        ),
                    )
                }
                (Limit::First, None) => Text::new("首次跟进", "first follow-up"),
                (Limit::Next { .. }, None) => Text::new("下次跟进", "next follow-up"),
                (Limit::ValidFor, None) => Text::new("登记有效期届满", "registration runs out"),
            };
            Standing::Due(Due {
                at,
                rule: lc.rule.clone(),
                what,
                follow_ups: n,
                awaiting_confirmation: awaiting,
                warn_from: lc.warn_before.map(|w| {
                    // `at` minus the period, calendar units in the tenant's zone.
                    at.to_zoned(tz.clone())
                        .checked_sub(w.span())
                        .map(|z| z.timestamp())
                        .unwrap_or(at)
                }),
            })
        }
    }
}

fn outcome(policy: &Policy, lc: &Lifecycle) -> (ClaimStatus, Text) {
    match lc.on_miss {
        OnMiss::Void => (ClaimStatus::Void, Text::new("作废", "became void")),
        OnMiss::Expire => (ClaimStatus::Expired, Text::new("过期", "expired")),
        OnMiss::Release => {
            let pool = lc
                .release_to
                .as_deref()
                .and_then(|p| policy.pool(p))
                .map(|p| p.name.clone())
                .unwrap_or_else(|| Text::new("公海", "the pool"));
            (
                ClaimStatus::Expired,
                Text::new(
                    format!("到期，客户退回{}", pool.zh),
                    format!("expired and the customer returned to {}", pool.en),
                ),
            )
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn lapse(
    policy: &Policy,
    lc: &Lifecycle,
    claim: &ClaimFacts,
    at: Timestamp,
    why: Limit,
    follow_ups: u32,
    last: Option<Timestamp>,
    (first_within, then_within): (Option<crate::policy::Period>, Option<crate::policy::Period>),
) -> Standing {
    let (status, verb) = outcome(policy, lc);
    let eff = claim.effective_at.unwrap_or(claim.registered_at);
    let (e, a) = (policy.local_time(eff), policy.local_time(at));
    let holder = &claim.staff_name;
    let rule = &lc.rule;
    let (reason, text) = match why {
        Limit::First => {
            let p = first_within.map(|p| p.text()).unwrap_or_default();
            (
                "no_first_follow_up",
                Text::new(
                    format!(
                        "{holder}的登记于 {a} {}：生效（{e}）后 {}内没有首次跟进（{rule}）",
                        verb.zh, p.zh
                    ),
                    format!(
                        "{holder}'s claim {} at {a}: no first follow-up within {} of taking effect at {e} ({rule})",
                        verb.en, p.en
                    ),
                ),
            )
        }
        Limit::Next { since } => {
            let p = then_within.map(|p| p.text()).unwrap_or_default();
            let s = policy.local_time(since);
            (
                "no_follow_up",
                Text::new(
                    format!(
                        "{holder}的登记于 {a} {}：上次跟进（{s}）后 {}内没有再跟进（{rule}）",
                        verb.zh, p.zh
                    ),
                    format!(
                        "{holder}'s claim {} at {a}: no follow-up within {} of the last one at {s} ({rule})",
                        verb.en, p.en
                    ),
                ),
            )
        }
        Limit::ValidFor => {
            let p = lc.valid_for.map(|p| p.text()).unwrap_or_default();
            (
                "valid_for_ended",
                Text::new(
                    format!(
                        "{holder}的登记于 {a} {}：自生效（{e}）起已满 {}（{rule}）",
                        verb.zh, p.zh
                    ),
                    format!(
                        "{holder}'s claim {} at {a}: {} have passed since it took effect at {e} ({rule})",
                        verb.en, p.en
                    ),
                ),
            )
        }
    };
    Standing::Lapsed(Lapse {
        at,
        status,
        decision: Decision {
            key: "claim.lapsed".into(),
            rule: rule.clone(),
            policy_version: policy.version,
            facts: json!({
                "claim_id": claim.id,
                "staff_id": claim.staff_id,
                "effective_at": eff.to_string(),
                "follow_ups": follow_ups,
                "last_follow_up_at": last.map(|t| t.to_string()),
                "limit": at.to_string(),
                "reason": reason,
                "status": status.as_str(),
                "grade": claim.customer_grade,
                "released_to": (lc.on_miss == OnMiss::Release).then_some(lc.release_to.as_deref()).flatten(),
            }),
            text,
        },
    })
}

fn invalid_run(
    policy: &Policy,
    claim: &ClaimFacts,
    rule: RuleId,
    channel: Channel,
    consecutive: u32,
    at: Timestamp,
) -> Standing {
    let holder = &claim.staff_name;
    let (a, ch) = (policy.local_time(at), channel.label());
    Standing::Lapsed(Lapse {
        at,
        status: ClaimStatus::Void,
        decision: Decision {
            key: "claim.void_run".into(),
            rule: rule.clone(),
            policy_version: policy.version,
            facts: json!({
                "claim_id": claim.id,
                "staff_id": claim.staff_id,
                "channel": channel.as_str(),
                "consecutive": consecutive,
                "at": at.to_string(),
                "reason": "invalid_run",
                "status": "void",
            }),
            text: Text::new(
                format!(
                    "{holder}连续 {consecutive} 次跟进都是{}，不算有效跟进，登记于 {a} 作废（{rule}）",
                    ch.zh
                ),
                format!(
                    "{holder}'s last {consecutive} follow-ups were all {}, which do not count as follow-ups: the claim became void at {a} ({rule})",
                    ch.en
                ),
            ),
        },
    })
}

/// R5.2: a leader confirms the n-th follow-up. Returns the decision, which says from when it
/// counts; refuses anything but the follow-up the policy names, by the roles it names.
pub fn decide_follow_up_confirmation(
    policy: &Policy,
    claim: &ClaimFacts,
    follow_ups: &[FollowUp],
    activity_id: i64,
    confirmer: &StaffFacts,
    now: Timestamp,
) -> Result<Decision, Refusal> {
    let conf = policy
        .claims
        .lifecycle
        .as_ref()
        .and_then(|lc| lc.confirm_follow_up.as_ref().map(|c| (lc, c)));
    let Some((lc, conf)) = conf else {
        return Err(Refusal {
            code: "confirmation_not_required",
            rule: None,
            text: Text::new(
                "本制度下跟进无需确认",
                "Follow-ups need no confirmation under this policy",
            ),
        });
    };
    let list = counted(lc, claim, follow_ups);
    let position = list.iter().position(|f| f.id == activity_id);
    let Some(f) = position.and_then(|i| (i + 1 == conf.number as usize).then(|| list[i])) else {
        return Err(Refusal {
            code: "not_confirmable",
            rule: Some(conf.rule.clone()),
            text: Text::new(
                format!("只有该登记的第 {} 次跟进需要确认（{}）", conf.number, conf.rule),
                format!(
                    "Only follow-up number {} of this claim is confirmed ({})",
                    conf.number, conf.rule
                ),
            ),
        });
    };
    if f.confirmed_at.is_some() {
        return Err(Refusal {
            code: "already_confirmed",
            rule: Some(conf.rule.clone()),
            text: Text::new("该跟进已确认", "This follow-up is already confirmed"),
        });
    }
    if claim.status != ClaimStatus::Valid {
        return Err(claim.status.refusal(
            "claim_not_valid",
            &conf.rule,
            "不能再确认跟进",
            "its follow-ups can no longer be confirmed",
        ));
    }
    if !Policy::holds_any(&confirmer.roles, &conf.roles) {
        let names = policy.roles_text(&conf.roles);
        return Err(Refusal {
            code: "forbidden",
            rule: Some(conf.rule.clone()),
            text: Text::new(
                format!("只有{}可以确认跟进（{}）", names.zh, conf.rule),
                format!("Only a {} may confirm a follow-up ({})", names.en, conf.rule),
            ),
        });
    }
    // Separation of duties: the holder does not confirm their own follow-up.
    if policy.separation_of_duties && confirmer.id == claim.staff_id {
        let names = policy.roles_text(&conf.roles);
        return Err(Refusal {
            code: "own_claim",
            rule: Some(conf.rule.clone()),
            text: Text::new(
                format!(
                    "不能确认自己的跟进：须由另一位{}确认（{}，职责分离）",
                    names.zh, conf.rule
                ),
                format!(
                    "You cannot confirm your own follow-up: another {} must ({}, separation of duties)",
                    names.en, conf.rule
                ),
            ),
        });
    }
    let in_time = now <= conf.within.after(f.at, &policy.tz);
    let counts_from = if in_time { f.at } else { now };
    let (at, c, w) = (policy.local_time(f.at), policy.local_time(now), conf.within.text());
    let text = if in_time {
        Text::new(
            format!(
                "{}于 {c} 确认{}第 {} 次跟进（{at}），在 {} 内确认，按跟进时间计（{}）",
                confirmer.name, claim.staff_name, conf.number, w.zh, conf.rule
            ),
            format!(
                "{} confirmed {}'s follow-up {} ({at}) at {c}, within {}: it counts from the follow-up ({})",
                confirmer.name, claim.staff_name, conf.number, w.en, conf.rule
            ),
        )
    } else {
        Text::new(
            format!(
                "{}于 {c} 确认{}第 {} 次跟进（{at}），超过 {}，按确认时间计（{}）",
                confirmer.name, claim.staff_name, conf.number, w.zh, conf.rule
            ),
            format!(
                "{} confirmed {}'s follow-up {} ({at}) at {c}, later than {}: it counts from the confirmation ({})",
                confirmer.name, claim.staff_name, conf.number, w.en, conf.rule
            ),
        )
    };
    Ok(Decision {
        key: "follow_up.confirmed".into(),
        rule: conf.rule.clone(),
        policy_version: policy.version,
        facts: json!({
            "claim_id": claim.id,
            "activity_id": f.id,
            "follow_up_at": f.at.to_string(),
            "confirmed_at": now.to_string(),
            "confirmed_by": confirmer.id,
            "in_time": in_time,
            "counts_from": counts_from.to_string(),
        }),
        text,
    })
}

fn not_allowed(policy: &Policy, rule: &RuleId, roles: &[String], verb: Text) -> Refusal {
    let names = policy.roles_text(roles);
    Refusal {
        code: "forbidden",
        rule: Some(rule.clone()),
        text: Text::new(
            format!("只有{}可以{}（{rule}）", names.zh, verb.zh),
            format!("Only a {} may {} ({rule})", names.en, verb.en),
        ),
    }
}

/// R5.6: cancelling a claim needs a written reason and a role the policy names. The claim is
/// kept with its reason; nothing is deleted.
pub fn decide_cancel(
    policy: &Policy,
    claim: &ClaimFacts,
    by: &StaffFacts,
    reason: &str,
    now: Timestamp,
) -> Result<Decision, Refusal> {
    let Some(action) = &policy.claims.cancel else {
        return Err(Refusal {
            code: "forbidden",
            rule: None,
            text: Text::new("本制度不允许撤销登记", "This policy does not allow cancelling claims"),
        });
    };
    if !Policy::holds_any(&by.roles, &action.roles) {
        return Err(not_allowed(
            policy,
            &action.rule,
            &action.roles,
            Text::new("撤销登记", "cancel a claim"),
        ));
    }
    if !claim.status.is_active() {
        return Err(claim.status.refusal(
            "claim_not_active",
            &action.rule,
            "不能撤销",
            "only pending or valid claims can be cancelled",
        ));
    }
    let reason = reason.trim();
    if (reason.chars().count() as u32) < action.reason_min_chars.max(1) {
        return Err(Refusal {
            code: "reason_required",
            rule: Some(action.rule.clone()),
            text: Text::new(
                format!(
                    "撤销登记必须写明详细原因（至少 {} 个字）（{}）",
                    action.reason_min_chars.max(1),
                    action.rule
                ),
                format!(
                    "Cancelling a claim needs a written reason of at least {} characters ({})",
                    action.reason_min_chars.max(1),
                    action.rule
                ),
            ),
        });
    }
    let at = policy.local_time(now);
    Ok(Decision {
        key: "claim.cancelled".into(),
        rule: action.rule.clone(),
        policy_version: policy.version,
        facts: json!({
            "claim_id": claim.id,
            "staff_id": claim.staff_id,
            "cancelled_by": by.id,
            "cancelled_at": now.to_string(),
            "reason": reason,
            "previous_status": claim.status.as_str(),
        }),
        text: Text::new(
            format!(
                "{}于 {at} 撤销{}的登记，原因：{reason}。登记保留备查（{}）",
                by.name, claim.staff_name, action.rule
            ),
            format!(
                "{} cancelled {}'s claim at {at}. Reason: {reason}. The claim is kept on file ({})",
                by.name, claim.staff_name, action.rule
            ),
        ),
    })
}

/// R5.3: the leader who signed a void card hands the customer to another consultant; the new
/// claim takes effect at once and the same follow-up rules apply to it.
pub fn decide_reassign(
    policy: &Policy,
    claim: &ClaimFacts,
    existing: &[ClaimFacts],
    by: &StaffFacts,
    to: &StaffFacts,
    now: Timestamp,
) -> Result<Decision, Refusal> {
    let Some(action) = &policy.claims.reassign else {
        return Err(Refusal {
            code: "forbidden",
            rule: None,
            text: Text::new("本制度没有转交登记的规定", "This policy does not reassign claims"),
        });
    };
    let is_admin = by.roles.iter().any(|r| r == crate::policy::ADMIN_ROLE);
    if !Policy::holds_any(&by.roles, &action.roles) {
        return Err(not_allowed(
            policy,
            &action.rule,
            &action.roles,
            Text::new("转交作废的登记", "reassign a void claim"),
        ));
    }
    if action.signer_only && !is_admin && claim.confirmed_by_id != Some(by.id) {
        return Err(Refusal {
            code: "not_the_signer",
            rule: Some(action.rule.clone()),
            text: Text::new(
                format!(
                    "只有签字确认该登记的{}可以转交（{}）",
                    claim.confirmed_by_name.as_deref().unwrap_or("人"),
                    action.rule
                ),
                format!(
                    "Only {} who signed this claim may reassign it ({})",
                    claim.confirmed_by_name.as_deref().unwrap_or("the one"),
                    action.rule
                ),
            ),
        });
    }
    if claim.status != ClaimStatus::Void {
        return Err(claim.status.refusal(
            "claim_not_void",
            &action.rule,
            "只有作废的登记可以转交",
            "only a void claim can be reassigned",
        ));
    }
    if existing.iter().any(|c| c.reassigned_from == Some(claim.id)) {
        return Err(Refusal {
            code: "already_reassigned",
            rule: Some(action.rule.clone()),
            text: Text::new("该登记已经转交过", "This claim has already been reassigned"),
        });
    }
    if to.id == claim.staff_id {
        return Err(Refusal {
            code: "same_holder",
            rule: Some(action.rule.clone()),
            text: Text::new("不能转交给原持有人", "A claim cannot be reassigned to its own holder"),
        });
    }
    if existing.iter().any(|c| c.staff_id == to.id && c.status.is_active()) {
        return Err(Refusal {
            code: "already_claimed",
            rule: Some(action.rule.clone()),
            text: Text::new(
                format!("{}已登记该客户", to.name),
                format!("{} already holds a claim on this customer", to.name),
            ),
        });
    }
    let at = policy.local_time(now);
    Ok(Decision {
        key: "claim.reassigned".into(),
        rule: action.rule.clone(),
        policy_version: policy.version,
        facts: json!({
            "void_claim_id": claim.id,
            "from_staff_id": claim.staff_id,
            "to_staff_id": to.id,
            "reassigned_by": by.id,
            "effective_at": now.to_string(),
        }),
        text: Text::new(
            format!(
                "{}于 {at} 将{}作废的登记转交给{}，自转交时起生效，跟进规则同样适用（{}）",
                by.name, claim.staff_name, to.name, action.rule
            ),
            format!(
                "{} reassigned {}'s void claim to {} at {at}; it takes effect now and the same follow-up rules apply ({})",
                by.name, claim.staff_name, to.name, action.rule
            ),
        ),
    })
}

/// R5.5: a claim that lapsed for a missed follow-up, after which another staff member registered
/// the same customer, costs the lapsed holder the policy's duplicate fine (once per card: the
/// store charges a card's fine once).
/// Returns the ledger code and the decision, or `None` when no fine applies.
pub fn decide_duplicate_penalty(
    policy: &Policy,
    lapsed: &ClaimFacts,
    other: &ClaimFacts,
) -> Option<(String, Decision)> {
    let lc = policy.claims.lifecycle.as_ref()?;
    let code_name = lc.duplicate_penalty.as_ref()?;
    let code = policy.ledger.code(code_name)?;
    let missed = lapsed.status == ClaimStatus::Void
        && lapsed
            .ended_rule
            .as_ref()
            .is_some_and(|r| *r == lc.rule || lc.invalid_runs.iter().any(|i| i.rule == *r));
    // Caused by the miss: the other card was registered after this one lapsed.
    let after = lapsed.ended_at.is_some_and(|end| other.registered_at >= end);
    if !missed || !after || other.staff_id == lapsed.staff_id || other.reassigned_from == Some(lapsed.id) {
        return None;
    }
    let yuan = |fen: i64| format!("{}.{:02}", fen / 100, fen % 100);
    Some((
        code.code.clone(),
        Decision {
            key: "claim.duplicate_penalty".into(),
            rule: code.rule.clone(),
            policy_version: policy.version,
            facts: json!({
                "lapsed_claim_id": lapsed.id,
                "lapsed_staff_id": lapsed.staff_id,
                "lapsed_at": lapsed.ended_at.map(|t| t.to_string()),
                "duplicate_claim_id": other.id,
                "duplicate_staff_id": other.staff_id,
                "code": code.code,
                "amount": code.amount,
            }),
            text: Text::new(
                // The penalty by the policy's name for it (the car dealership's 重卡).
                format!(
                    "{}未及时跟进，登记作废，客户又由{}登记：{}，罚款 {} 元（{}）",
                    lapsed.staff_name,
                    other.staff_name,
                    code.name.zh,
                    yuan(code.amount),
                    code.rule
                ),
                format!(
                    "{} missed a follow-up and the claim became void; {} registered the same customer: {}, fine {} yuan ({})",
                    lapsed.staff_name,
                    other.staff_name,
                    code.name.en.to_lowercase(),
                    yuan(code.amount),
                    code.rule
                ),
            ),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::tests::sample;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// A card signed at 2026-11-02 09:00 Shanghai (01:00 UTC).
    fn card() -> ClaimFacts {
        let mut c = crate::claim::tests::pending(7, 1, "王芳", "2026-11-02T00:30:00Z");
        c.status = ClaimStatus::Valid;
        c.effective_at = Some(t("2026-11-02T01:00:00Z"));
        c.confirmed_by_id = Some(2);
        c.confirmed_by_name = Some("赵组长".into());
        c
    }

    fn fu(id: i64, channel: Channel, at: &str) -> FollowUp {
        FollowUp {
            id,
            staff_id: 1,
            channel,
            at: t(at),
            confirmed_at: None,
        }
    }

    fn leader() -> StaffFacts {
        StaffFacts {
            id: 2,
            name: "赵组长".into(),
            roles: vec!["team_leader".into()],
        }
    }

    fn due_at(s: Standing) -> Timestamp {
        match s {
            Standing::Due(d) => d.at,
            other => panic!("expected due, got {other:?}"),
        }
    }

    fn lapsed(s: Standing) -> Lapse {
        match s {
            Standing::Lapsed(l) => l,
            other => panic!("expected a lapse, got {other:?}"),
        }
    }

    #[test]
    fn r5_2_first_follow_up_within_3_days_else_void() {
        let p = sample();
        let c = card();
        assert_eq!(
            due_at(standing(&p, &c, &[], t("2026-11-03T00:00:00Z"))),
            t("2026-11-05T01:00:00Z")
        );
        let l = lapsed(standing(&p, &c, &[], t("2026-11-05T01:00:00Z")));
        assert_eq!(l.status, ClaimStatus::Void);
        assert_eq!(l.at, t("2026-11-05T01:00:00Z"));
        assert_eq!(l.decision.rule.as_str(), "R5.2");
        assert!(
            l.decision.text.zh.contains("3 天内没有首次跟进"),
            "{}",
            l.decision.text.zh
        );
        // Another consultant's call does not keep Wang Fang's card alive.
        let mut other = fu(1, Channel::Call, "2026-11-03T02:00:00Z");
        other.staff_id = 9;
        assert!(matches!(
            standing(&p, &c, &[other], t("2026-11-06T00:00:00Z")),
            Standing::Lapsed(_)
        ));
    }

    #[test]
    fn r5_2_second_follow_up_waits_for_the_leader_then_each_keeps_it_a_week() {
        let p = sample();
        let c = card();
        let mut f = vec![
            fu(1, Channel::Call, "2026-11-03T02:00:00Z"),
            fu(2, Channel::Visit, "2026-11-08T02:00:00Z"),
        ];
        // The second follow-up is not counted until confirmed: the week from the first runs.
        match standing(&p, &c, &f, t("2026-11-08T03:00:00Z")) {
            Standing::Due(d) => {
                assert_eq!(d.at, t("2026-11-10T02:00:00Z"));
                assert_eq!(d.awaiting_confirmation, Some(2));
                assert!(d.what.zh.contains("待销售组长确认"), "{}", d.what.zh);
            }
            other => panic!("{other:?}"),
        }
        // Confirmed within 24 hours: the follow-up time counts.
        let d = decide_follow_up_confirmation(&p, &c, &f, 2, &leader(), t("2026-11-09T01:00:00Z")).unwrap();
        assert!(d.text.zh.contains("按跟进时间计"), "{}", d.text.zh);
        f[1].confirmed_at = Some(t("2026-11-09T01:00:00Z"));
        assert_eq!(
            due_at(standing(&p, &c, &f, t("2026-11-09T02:00:00Z"))),
            t("2026-11-15T02:00:00Z")
        );
        // Confirmed after 24 hours: the confirmation time counts.
        f[1].confirmed_at = Some(t("2026-11-09T06:00:00Z"));
        assert_eq!(
            due_at(standing(&p, &c, &f, t("2026-11-09T07:00:00Z"))),
            t("2026-11-16T06:00:00Z")
        );
        let late = decide_follow_up_confirmation(
            &p,
            &c,
            &[f[0].clone(), fu(2, Channel::Visit, "2026-11-08T02:00:00Z")],
            2,
            &leader(),
            t("2026-11-09T06:00:00Z"),
        )
        .unwrap();
        assert!(late.text.zh.contains("按确认时间计"), "{}", late.text.zh);
        // Each later follow-up keeps the card a week; missing one voids it.
        f.push(fu(3, Channel::Call, "2026-11-15T00:00:00Z"));
        assert_eq!(
            due_at(standing(&p, &c, &f, t("2026-11-15T01:00:00Z"))),
            t("2026-11-22T00:00:00Z")
        );
        let l = lapsed(standing(&p, &c, &f, t("2026-11-23T00:00:00Z")));
        assert_eq!(l.at, t("2026-11-22T00:00:00Z"));
        assert!(
            l.decision.text.zh.contains("1 周内没有再跟进"),
            "{}",
            l.decision.text.zh
        );
    }

    #[test]
    fn r5_2_a_second_follow_up_just_before_the_limit_keeps_the_card_while_the_leader_may_confirm() {
        let p = sample();
        let c = card();
        // First follow-up on 3 November: the week runs to 10 November 02:00.
        let mut f = vec![
            fu(1, Channel::Call, "2026-11-03T02:00:00Z"),
            fu(2, Channel::Visit, "2026-11-10T00:00:00Z"),
        ];
        // Past the week, but the leader still has until 11 November 00:00 to confirm.
        assert_eq!(
            due_at(standing(&p, &c, &f, t("2026-11-10T05:00:00Z"))),
            t("2026-11-11T00:00:00Z")
        );
        // Confirmed in time: it counts from the follow-up, a week on.
        f[1].confirmed_at = Some(t("2026-11-10T12:00:00Z"));
        assert_eq!(
            due_at(standing(&p, &c, &f, t("2026-11-10T13:00:00Z"))),
            t("2026-11-17T00:00:00Z")
        );
        // Never confirmed: void, at the end of the week it missed.
        f[1].confirmed_at = None;
        let l = lapsed(standing(&p, &c, &f, t("2026-11-11T00:00:00Z")));
        assert_eq!(l.at, t("2026-11-10T02:00:00Z"));
    }

    #[test]
    fn a_grade_of_its_own_sets_every_window() {
        let src = crate::policy::tests::SAMPLE.replace(
            "on_miss = \"void\"\nduplicate_penalty",
            "on_miss = \"void\"\ngrades = { A = \"2 weeks\" }\nduplicate_penalty",
        );
        let p = Policy::parse(&src, "graded.toml").unwrap();
        let mut c = card();
        c.customer_grade = Some("A".into());
        let f = [fu(1, Channel::Call, "2026-11-03T02:00:00Z")];
        // After the first follow-up the A window (2 weeks) runs, not the default week.
        assert_eq!(
            due_at(standing(&p, &c, &f, t("2026-11-04T00:00:00Z"))),
            t("2026-11-17T02:00:00Z")
        );
        let l = lapsed(standing(&p, &c, &f, t("2026-11-18T00:00:00Z")));
        assert!(
            l.decision.text.zh.contains("2 周内没有再跟进"),
            "{}",
            l.decision.text.zh
        );
    }

    #[test]
    fn r5_2_a_follow_up_after_the_limit_does_not_revive_the_card() {
        let p = sample();
        let f = [fu(1, Channel::Call, "2026-11-06T00:00:00Z")];
        let l = lapsed(standing(&p, &card(), &f, t("2026-11-06T00:00:01Z")));
        assert_eq!(l.at, t("2026-11-05T01:00:00Z"));
    }

    #[test]
    fn r5_2_only_the_named_follow_up_and_the_named_roles_confirm() {
        let p = sample();
        let f = [
            fu(1, Channel::Call, "2026-11-03T02:00:00Z"),
            fu(2, Channel::Visit, "2026-11-04T02:00:00Z"),
        ];
        let now = t("2026-11-04T03:00:00Z");
        let e = decide_follow_up_confirmation(&p, &card(), &f, 1, &leader(), now).unwrap_err();
        assert_eq!(e.code, "not_confirmable");
        let consultant = StaffFacts {
            id: 3,
            name: "李强".into(),
            roles: vec!["consultant".into()],
        };
        let e = decide_follow_up_confirmation(&p, &card(), &f, 2, &consultant, now).unwrap_err();
        assert_eq!(e.code, "forbidden");
    }

    #[test]
    fn r5_4_three_sms_in_a_row_void_the_card() {
        let p = sample();
        let mut f = vec![
            fu(1, Channel::Sms, "2026-11-03T02:00:00Z"),
            fu(2, Channel::Sms, "2026-11-04T02:00:00Z"),
        ];
        f[1].confirmed_at = Some(t("2026-11-04T03:00:00Z"));
        assert!(matches!(
            standing(&p, &card(), &f, t("2026-11-05T00:00:00Z")),
            Standing::Due(_)
        ));
        f.push(fu(3, Channel::Sms, "2026-11-05T02:00:00Z"));
        let l = lapsed(standing(&p, &card(), &f, t("2026-11-05T03:00:00Z")));
        assert_eq!(l.decision.rule.as_str(), "R5.4");
        assert_eq!(l.status, ClaimStatus::Void);
        assert_eq!(l.at, t("2026-11-05T02:00:00Z"));
        // A call in between breaks the run.
        f.insert(2, fu(4, Channel::Call, "2026-11-04T12:00:00Z"));
        assert!(matches!(
            standing(&p, &card(), &f, t("2026-11-05T03:00:00Z")),
            Standing::Due(_)
        ));
    }

    #[test]
    fn r5_4_three_sms_in_a_row_void_the_card_whatever_the_second_ones_confirmation() {
        let p = sample();
        // The second follow-up (the one the leader confirms, R5.2) is never confirmed.
        let f = vec![
            fu(1, Channel::Sms, "2026-11-03T02:00:00Z"),
            fu(2, Channel::Sms, "2026-11-04T02:00:00Z"),
            fu(3, Channel::Sms, "2026-11-04T06:00:00Z"),
        ];
        let l = lapsed(standing(&p, &card(), &f, t("2026-11-04T07:00:00Z")));
        assert_eq!((l.decision.rule.as_str(), l.status), ("R5.4", ClaimStatus::Void));
        assert_eq!(l.at, t("2026-11-04T06:00:00Z"));
        assert_eq!(l.decision.facts["reason"], "invalid_run");
        // Confirmed late, the same: the run is what the holder did.
        let mut late = f.clone();
        late[1].confirmed_at = Some(t("2026-11-06T00:00:00Z"));
        let l = lapsed(standing(&p, &card(), &late, t("2026-11-06T01:00:00Z")));
        assert_eq!((l.decision.rule.as_str(), l.at), ("R5.4", t("2026-11-06T00:00:00Z")));
        // Another consultant's SMS is not the holder's and breaks nothing; a call by the
        // holder after the unconfirmed second one breaks the run.
        let mut other = fu(4, Channel::Sms, "2026-11-04T04:00:00Z");
        other.staff_id = 9;
        let mut call = f.clone();
        call.insert(2, fu(5, Channel::Call, "2026-11-04T05:00:00Z"));
        call.push(other);
        match standing(&p, &card(), &call, t("2026-11-04T07:00:00Z")) {
            Standing::Due(d) => assert_eq!(d.awaiting_confirmation, Some(2)),
            other => panic!("{other:?}"),
        }
        // Three SMS after the unconfirmed second one (a call before them) void it too.
        call.extend([
            fu(6, Channel::Sms, "2026-11-05T02:00:00Z"),
            fu(7, Channel::Sms, "2026-11-05T03:00:00Z"),
        ]);
        let l = lapsed(standing(&p, &card(), &call, t("2026-11-05T04:00:00Z")));
        assert_eq!((l.decision.rule.as_str(), l.at), ("R5.4", t("2026-11-05T03:00:00Z")));
        // A run that ends after the card already lapsed does not re-decide it: the week from
        // the first follow-up and the leader's 24 hours ran out first (R5.2).
        let slow = vec![
            fu(1, Channel::Sms, "2026-11-03T02:00:00Z"),
            fu(2, Channel::Sms, "2026-11-04T02:00:00Z"),
            fu(3, Channel::Sms, "2026-11-12T02:00:00Z"),
        ];
        let l = lapsed(standing(&p, &card(), &slow, t("2026-11-12T03:00:00Z")));
        assert_eq!((l.decision.rule.as_str(), l.at), ("R5.2", t("2026-11-10T02:00:00Z")));
    }

    #[test]
    fn r7_7_a_registration_runs_out_whatever_the_follow_ups() {
        let src = crate::policy::tests::SAMPLE
            .replace(
                "first_within = \"3 days\"\nthen_within = \"1 week\"",
                "valid_for = \"2 months\"",
            )
            .replace("on_miss = \"void\"", "on_miss = \"expire\"")
            .replace("rule = \"R5.2\"\nfollow_up", "rule = \"R7.7\"\nfollow_up");
        let p = Policy::parse(&src, "r7.toml").unwrap();
        let f = [fu(1, Channel::Visit, "2026-12-20T00:00:00Z")];
        assert_eq!(
            due_at(standing(&p, &card(), &f, t("2026-12-21T00:00:00Z"))),
            t("2027-01-02T01:00:00Z")
        );
        let l = lapsed(standing(&p, &card(), &f, t("2027-01-02T01:00:00Z")));
        assert_eq!(l.status, ClaimStatus::Expired);
        assert_eq!(l.decision.rule.as_str(), "R7.7");
        assert!(l.decision.text.zh.contains("已满 2 个月"), "{}", l.decision.text.zh);
    }

    #[test]
    fn standing_ignores_claims_that_do_not_stand_and_is_order_free() {
        let p = sample();
        let mut c = card();
        c.status = ClaimStatus::Pending;
        assert_eq!(standing(&p, &c, &[], t("2027-01-01T00:00:00Z")), Standing::Open);
        let mut f = vec![
            fu(2, Channel::Call, "2026-11-04T02:00:00Z"),
            fu(1, Channel::Call, "2026-11-03T02:00:00Z"),
        ];
        let a = standing(&p, &card(), &f, t("2026-11-05T00:00:00Z"));
        f.reverse();
        assert_eq!(a, standing(&p, &card(), &f, t("2026-11-05T00:00:00Z")));
    }

    #[test]
    fn r5_6_cancelling_needs_a_reason_and_a_leader() {
        let p = sample();
        let now = t("2026-11-03T00:00:00Z");
        let e = decide_cancel(&p, &card(), &leader(), "  ", now).unwrap_err();
        assert_eq!((e.code, e.rule.unwrap().as_str()), ("reason_required", "R5.6"));
        let consultant = StaffFacts {
            id: 1,
            name: "王芳".into(),
            roles: vec!["consultant".into()],
        };
        assert_eq!(
            decide_cancel(&p, &card(), &consultant, "客户已购车", now)
                .unwrap_err()
                .code,
            "forbidden"
        );
        let d = decide_cancel(&p, &card(), &leader(), "客户已在外地购车", now).unwrap();
        assert!(d.text.zh.contains("原因：客户已在外地购车"));
        assert!(d.text.zh.contains("保留备查"));
    }

    #[test]
    fn r5_3_only_the_signing_leader_reassigns_a_void_card() {
        let p = sample();
        let now = t("2026-11-06T00:00:00Z");
        let mut void = card();
        void.status = ClaimStatus::Void;
        let to = StaffFacts {
            id: 5,
            name: "刘洋".into(),
            roles: vec!["consultant".into()],
        };
        let d = decide_reassign(&p, &void, &[void.clone()], &leader(), &to, now).unwrap();
        assert_eq!(d.rule.as_str(), "R5.3");
        let other_leader = StaffFacts {
            id: 4,
            name: "钱组长".into(),
            roles: vec!["team_leader".into()],
        };
        assert_eq!(
            decide_reassign(&p, &void, &[], &other_leader, &to, now)
                .unwrap_err()
                .code,
            "not_the_signer"
        );
        assert_eq!(
            decide_reassign(&p, &card(), &[], &leader(), &to, now).unwrap_err().code,
            "claim_not_void"
        );
        let mut done = crate::claim::tests::pending(8, 5, "刘洋", "2026-11-06T00:00:00Z");
        done.reassigned_from = Some(void.id);
        assert_eq!(
            decide_reassign(&p, &void, &[void.clone(), done], &leader(), &to, now)
                .unwrap_err()
                .code,
            "already_reassigned"
        );
    }

    #[test]
    fn r5_5_a_duplicate_after_a_missed_follow_up_is_fined_once() {
        let p = sample();
        let mut void = card();
        void.status = ClaimStatus::Void;
        void.ended_rule = Some(RuleId::parse("R5.2").unwrap());
        void.ended_at = Some(t("2026-11-05T01:00:00Z"));
        let other = crate::claim::tests::pending(8, 5, "刘洋", "2026-11-06T00:00:00Z");
        // A card registered while Wang Fang's still stood was not caused by her miss.
        let earlier = crate::claim::tests::pending(9, 6, "陈静", "2026-11-04T00:00:00Z");
        assert!(decide_duplicate_penalty(&p, &void, &earlier).is_none());
        let (code, d) = decide_duplicate_penalty(&p, &void, &other).unwrap();
        assert_eq!((code.as_str(), d.rule.as_str()), ("duplicate_card", "R5.5"));
        assert!(d.text.zh.contains("罚款 20.00 元"), "{}", d.text.zh);
        // Cancelled, or handed on by the leader: no fine.
        let mut cancelled = void.clone();
        cancelled.status = ClaimStatus::Cancelled;
        cancelled.ended_rule = Some(RuleId::parse("R5.6").unwrap());
        assert!(decide_duplicate_penalty(&p, &cancelled, &other).is_none());
        let mut handed = other.clone();
        handed.reassigned_from = Some(void.id);
        assert!(decide_duplicate_penalty(&p, &void, &handed).is_none());
    }

    use proptest::prelude::*;

    fn follow_ups() -> impl Strategy<Value = Vec<FollowUp>> {
        proptest::collection::vec(
            (0i64..40 * 24, 0usize..3, proptest::option::of(0i64..60), any::<bool>()),
            0..12,
        )
        .prop_map(|raw| {
            raw.into_iter()
                .enumerate()
                .map(|(i, (hours, ch, confirm_after, other))| {
                    let at = t("2026-11-02T01:00:00Z") + jiff::SignedDuration::from_hours(hours);
                    FollowUp {
                        id: i as i64 + 1,
                        staff_id: if other { 9 } else { 1 },
                        channel: [Channel::Call, Channel::Sms, Channel::Visit][ch],
                        at,
                        confirmed_at: confirm_after.map(|h| at + jiff::SignedDuration::from_hours(h)),
                    }
                })
                .collect()
        })
    }

    proptest! {
        /// Replaying the same follow-ups gives the same decision: the lapse the scheduler meets
        /// while the follow-ups arrive one by one is the lapse an evaluation of all of them at
        /// the end finds, and the answer does not depend on the order they are listed in.
        #[test]
        fn replaying_the_same_follow_ups_gives_the_same_decision(mut fus in follow_ups()) {
            let p = sample();
            let c = card();
            let end = t("2027-01-01T00:00:00Z");
            let last = standing(&p, &c, &fus, end);
            fus.reverse();
            prop_assert_eq!(&last, &standing(&p, &c, &fus, end));
            fus.sort_by_key(|f| f.at);
            // One by one, as requests would record them; a lapse found on the way is final.
            let mut seen = Vec::new();
            let mut first_lapse = None;
            for f in &fus {
                seen.push(f.clone());
                if let Standing::Lapsed(l) = standing(&p, &c, &seen, f.at) {
                    first_lapse = Some(l);
                    break;
                }
            }
            match (first_lapse, &last) {
                (Some(l), Standing::Lapsed(end_lapse)) => {
                    prop_assert_eq!(l.at, end_lapse.at);
                    prop_assert_eq!(l.decision.rule, end_lapse.decision.rule.clone());
                }
                (Some(l), other) => prop_assert!(false, "lapsed on the way at {} but not at the end: {:?}", l.at, other),
                // Never lapsed while follow-ups arrived: by the end the last window has run out.
                (None, Standing::Lapsed(_)) => {}
                (None, other) => prop_assert!(false, "a card left alone for weeks still stands: {:?}", other),
            }
        }
    }
}
