//! The claim pages: a staff member's customer cards with their follow-up limits (R5.2), and the
//! void cards a leader may hand to another consultant (R5.3).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use kehu_domain::lifecycle::Standing;
use kehu_domain::policy::OnMiss;
use kehu_domain::{Lang, Permission, Policy, Text, Timestamp};
use kehu_store::claims::ClaimRow;
use kehu_store::ts;
use serde::Deserialize;

use super::customers::{ErrorBox, parse_id};
use super::{Chrome, OrPage, PageCaller, PageResult, csrf_ok, csrf_refused, render, see_other};
use crate::auth::Caller;
use crate::{ApiError, AppState, lifecycle};

const LIMIT: i64 = 200;

/// How a limit is shown: the time left in words and how urgent it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Left {
    pub words: String,
    /// `ok`, `warn` (under 24 hours) or `overdue`.
    pub level: &'static str,
}

/// "剩 2 天 5 小时" / "2 days 5 hours left"; under a day in hours and minutes; past the limit
/// "已逾期 3 小时" / "3 hours overdue".
pub fn time_left(now: Timestamp, at: Timestamp, lang: Lang) -> Left {
    let ms = at.as_millisecond() - now.as_millisecond();
    let overdue = ms < 0;
    let mins = ms.unsigned_abs() / 60_000;
    let (d, h, m) = (mins / 1440, mins % 1440 / 60, mins % 60);
    let plural = |n: u64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    let (zh, en) = if d > 0 {
        let zh = if h > 0 {
            format!("{d} 天 {h} 小时")
        } else {
            format!("{d} 天")
        };
        let en = if h > 0 {
            format!("{} {}", plural(d, "day"), plural(h, "hour"))
        } else {
            plural(d, "day")
        };
        (zh, en)
    } else if h > 0 && m > 0 {
        (
            format!("{h} 小时 {m} 分钟"),
            format!("{} {}", plural(h, "hour"), plural(m, "minute")),
        )
    } else if h > 0 {
        (format!("{h} 小时"), plural(h, "hour"))
    } else {
        (format!("{m} 分钟"), plural(m, "minute"))
    };
    let words = match (lang, overdue) {
        (Lang::Zh, false) => format!("剩 {zh}"),
        (Lang::Zh, true) => format!("已逾期 {zh}"),
        (Lang::En, false) => format!("{en} left"),
        (Lang::En, true) => format!("{en} overdue"),
    };
    let level = if overdue {
        "overdue"
    } else if ms < 24 * 3_600_000 {
        "warn"
    } else {
        "ok"
    };
    Left { words, level }
}

/// "first follow-up" as a label: "First follow-up" (Chinese is unchanged).
fn sentence_case(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A claim's next limit, ready to show.
pub struct DueView {
    pub at: String,
    pub what: String,
    pub rule: String,
    pub left: Left,
    pub awaiting_confirmation: Option<i64>,
    /// Once the policy's warning time has come: what happens at the limit ("即将退回公共客户池").
    pub warning: Option<String>,
}

/// What the holder is told once `warn_from` has passed: what happens at the limit.
fn warning_text(policy: &Policy, lang: Lang) -> String {
    let lc = policy.claims.lifecycle.as_ref();
    let text = match lc.map(|l| l.on_miss) {
        Some(OnMiss::Release) => {
            let pool = lc
                .and_then(|l| l.release_to.as_deref())
                .and_then(|p| policy.pool(p))
                .map(|p| p.name.clone())
                .unwrap_or_else(|| Text::new("公海", "the pool"));
            Text::new(
                format!("即将退回{}", pool.zh),
                format!("Returns to the pool soon: {}", pool.en),
            )
        }
        Some(OnMiss::Void) => Text::new("即将作废", "Becomes void soon"),
        Some(OnMiss::Expire) | None => Text::new("即将到期", "Expires soon"),
    };
    text.get(lang).to_string()
}

impl DueView {
    pub fn of(standing: Option<&Standing>, policy: &Policy, now: Timestamp, lang: Lang) -> Option<DueView> {
        match standing? {
            Standing::Due(d) => {
                let warned = d.warn_from.is_some_and(|w| now >= w) && now < d.at;
                let mut left = time_left(now, d.at, lang);
                if warned && left.level == "ok" {
                    left.level = "warn";
                }
                Some(DueView {
                    at: policy.local_time(d.at),
                    what: sentence_case(d.what.get(lang)),
                    rule: d.rule.to_string(),
                    left,
                    awaiting_confirmation: d.awaiting_confirmation,
                    warning: warned.then(|| warning_text(policy, lang)),
                })
            }
            _ => None,
        }
    }
}

struct CardView {
    id: i64,
    customer_id: i64,
    customer_name: String,
    holder: String,
    holder_id: i64,
    status: &'static str,
    status_label: String,
    registered: String,
    due: Option<DueView>,
    ended: Option<String>,
    ended_rule: Option<String>,
    end_reason: Option<String>,
    reassigned_from: Option<i64>,
}

impl CardView {
    fn new(row: &ClaimRow, standing: Option<&Standing>, policy: &Policy, now: Timestamp, lang: Lang) -> CardView {
        let status = row.status();
        CardView {
            id: row.id,
            customer_id: row.customer_id,
            customer_name: row.customer_name.clone(),
            holder: row.staff_name.clone(),
            holder_id: row.staff_id,
            status: status.as_str(),
            status_label: status.label().get(lang).to_string(),
            registered: policy.local_time(ts(row.registered_at)),
            due: DueView::of(standing, policy, now, lang),
            ended: row.ended_at.map(|t| policy.local_time(ts(t))),
            ended_rule: row.ended_rule.clone(),
            end_reason: row.end_reason.clone().filter(|r| !r.is_empty()),
            reassigned_from: row.reassigned_from,
        }
    }
}

/// Standing cards first, the nearest limit on top; then ended ones, the latest first.
fn split(mut cards: Vec<(ClaimRow, CardView)>) -> (Vec<CardView>, Vec<CardView>) {
    cards.sort_by_key(|(row, _)| {
        (
            !row.status().is_active(),
            row.valid_until.unwrap_or(i64::MAX),
            -row.ended_at.unwrap_or(0),
            -row.id,
        )
    });
    let (standing, ended): (Vec<_>, Vec<_>) = cards.into_iter().partition(|(row, _)| row.status().is_active());
    (
        standing.into_iter().map(|(_, v)| v).collect(),
        ended.into_iter().map(|(_, v)| v).collect(),
    )
}

// ---- My cards --------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MineQuery {
    staff_id: String,
}

#[derive(Template)]
#[template(path = "claims.html")]
struct MinePage {
    c: Chrome,
    /// Whose cards: the caller's own, or the chosen staff member's.
    whose: Option<String>,
    /// Staff to choose from, for roles that may register claims for others.
    staff: Vec<(i64, String)>,
    staff_id: i64,
    standing: Vec<CardView>,
    ended: Vec<CardView>,
    /// The policy's follow-up rules in a few sentences, with their rule IDs.
    rules: Vec<(String, String)>,
    /// The rule a card waiting for a signature is under (R5.1).
    pending_rule: String,
    /// What a pending claim waits for, with the policy's confirming roles (R5.1, R11.4).
    pending_text: String,
}

/// "待销售组长或销售经理确认后生效": what a pending claim waits for, in the policy's role names.
pub(super) fn awaiting_confirmation(policy: &kehu_domain::Policy, lang: kehu_domain::Lang) -> String {
    match &policy.claims.confirmation {
        Some(c) => {
            let who = policy.roles_text(&c.roles);
            kehu_domain::Text::new(
                format!("待{}确认后生效", who.zh),
                format!("Takes effect once confirmed ({})", who.en),
            )
        }
        None => kehu_domain::Text::new("待确认", "Awaiting confirmation"),
    }
    .get(lang)
    .to_string()
}

/// "待销售组长确认": a follow-up that counts once confirmed (R5.2), in the policy's role names.
pub(super) fn awaiting_follow_up(policy: &kehu_domain::Policy, lang: kehu_domain::Lang) -> String {
    match policy
        .claims
        .lifecycle
        .as_ref()
        .and_then(|lc| lc.confirm_follow_up.as_ref())
    {
        Some(c) => {
            let who = policy.roles_text(&c.roles);
            kehu_domain::Text::new(
                format!("待{}确认", who.zh),
                format!("Awaiting confirmation ({})", who.en),
            )
        }
        None => kehu_domain::Text::new("待确认", "Awaiting confirmation"),
    }
    .get(lang)
    .to_string()
}

/// The lifecycle part of the policy explanation: what keeps a card valid, and what happens on
/// a miss, as the policy says it.
fn lifecycle_rules(policy: &kehu_domain::Policy, lang: kehu_domain::Lang) -> Vec<(String, String)> {
    let Some(lc) = &policy.claims.lifecycle else {
        return Vec::new();
    };
    let mut rules = vec![lc.rule.clone()];
    rules.extend(lc.confirm_follow_up.iter().map(|c| c.rule.clone()));
    rules.extend(lc.invalid_runs.iter().map(|r| r.rule.clone()));
    kehu_domain::policy::explain_plain(policy)
        .into_iter()
        .filter(|l| l.depth == 1 && l.rule.as_ref().is_some_and(|r| rules.contains(r)))
        .map(|l| {
            (
                l.rule.map(|r| r.to_string()).unwrap_or_default(),
                l.text.get(lang).to_string(),
            )
        })
        .collect()
}

/// GET /claims?staff_id=
pub async fn mine(State(state): State<AppState>, mut pc: PageCaller, Query(q): Query<MineQuery>) -> PageResult {
    pc.c.nav = "claims";
    let lang = pc.c.lang;
    let policy = state.policy(pc.caller.tenant_id).await.or_page(&pc.c)?;
    let chosen = q.staff_id.trim().parse::<i64>().ok().filter(|id| *id != pc.caller.id());
    let rows = lifecycle::list_claims(&state, &pc.caller, chosen, None, LIMIT)
        .await
        .or_page(&pc.c)?;
    let staff = if pc.caller.may(&policy, Permission::ClaimsCreateForOthers) {
        kehu_store::staff::list(&state.db, pc.caller.tenant_id)
            .await
            .or_page(&pc.c)?
            .into_iter()
            .filter(|s| s.active)
            .map(|s| (s.id, s.display_name))
            .collect()
    } else {
        Vec::new()
    };
    let now = state.now();
    let cards = rows
        .into_iter()
        .map(|(row, s)| {
            let v = CardView::new(&row, s.as_ref(), &policy, now, lang);
            (row, v)
        })
        .collect();
    let (standing, ended) = split(cards);
    let whose = chosen.and_then(|id| staff.iter().find(|(s, _)| *s == id).map(|(_, n)| n.clone()));
    let page = MinePage {
        rules: lifecycle_rules(&policy, lang),
        pending_rule: policy
            .claims
            .confirmation
            .as_ref()
            .map(|c| c.rule.to_string())
            .unwrap_or_else(|| policy.claims.rule.to_string()),
        pending_text: awaiting_confirmation(&policy, lang),
        staff_id: chosen.unwrap_or(pc.caller.id()),
        whose,
        staff,
        standing,
        ended,
        c: pc.c,
    };
    Ok(render(StatusCode::OK, &page))
}

// ---- Void cards (R5.3) -----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "claims_void.html")]
struct VoidPage {
    c: Chrome,
    cards: Vec<CardView>,
    /// Who may take a card over: active staff who may hold claims.
    staff: Vec<(i64, String)>,
    flash: Option<&'static str>,
    error: Option<ErrorBox>,
    rule: String,
    /// Who may hand a void claim on, from the policy (R5.3).
    intro: String,
}

/// Who may hand a void claim to someone else, as the policy says (R5.3).
fn reassign_intro(policy: &kehu_domain::Policy, lang: kehu_domain::Lang) -> String {
    let Some(a) = &policy.claims.reassign else {
        return String::new();
    };
    let who = policy.roles_text(&a.roles);
    let (only_zh, only_en) = if a.signer_only {
        ("（仅限确认该登记的人）", " (only the one who confirmed it)")
    } else {
        ("", "")
    };
    format!(
        "{} {}",
        kehu_domain::Text::new(
            format!("作废的登记可由{}转交给他人{only_zh}。", who.zh),
            format!("A void claim may be handed on by {}{only_en}.", who.en),
        )
        .get(lang),
        crate::i18n::tr("void.then", lang)
    )
}

async fn load_void(state: &AppState, caller: &Caller, c: Chrome) -> Result<VoidPage, ApiError> {
    let lang = c.lang;
    let policy = state.policy(caller.tenant_id).await?;
    let rows = lifecycle::list_claims(state, caller, None, Some("void_unassigned"), LIMIT).await?;
    let now = state.now();
    let staff = kehu_store::staff::list(&state.db, caller.tenant_id)
        .await?
        .into_iter()
        .filter(|s| s.active && policy.allows(&s.role_list(), Permission::ClaimsCreate))
        .map(|s| (s.id, s.display_name))
        .collect();
    Ok(VoidPage {
        cards: rows
            .iter()
            .map(|(row, s)| CardView::new(row, s.as_ref(), &policy, now, lang))
            .collect(),
        staff,
        flash: None,
        error: None,
        rule: policy
            .claims
            .reassign
            .as_ref()
            .map(|a| a.rule.to_string())
            .unwrap_or_default(),
        intro: reassign_intro(&policy, lang),
        c,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

/// GET /claims/void
pub async fn void(State(state): State<AppState>, mut pc: PageCaller, Query(q): Query<DoneQuery>) -> PageResult {
    pc.c.nav = "void";
    let mut page = load_void(&state, &pc.caller, pc.c.clone()).await.or_page(&pc.c)?;
    if q.done == "reassign" {
        page.flash = Some("flash.reassign");
    }
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReassignForm {
    staff_id: String,
    csrf: String,
}

/// POST /claims/{id}/reassign: the void card goes to another consultant (R5.3).
pub async fn reassign(
    State(state): State<AppState>,
    mut pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<ReassignForm>,
) -> PageResult {
    pc.c.nav = "void";
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    // An unparsable choice is no staff member: the use case refuses it in the page's language.
    let to = f.staff_id.trim().parse::<i64>().unwrap_or(0);
    match lifecycle::reassign_claim(&state, &pc.caller, id, to).await {
        Ok(_) => Ok(see_other("/claims/void?done=reassign")),
        Err(e) => {
            let mut page = load_void(&state, &pc.caller, pc.c.clone()).await.or_page(&pc.c)?;
            page.error = Some(ErrorBox::new(&e, pc.c.lang));
            Ok(render(crate::error::status_of(e.kind), &page))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn time_left_reads_in_days_hours_and_minutes() {
        let now = t("2026-03-01T00:00:00Z");
        let l = time_left(now, t("2026-03-03T05:10:00Z"), Lang::Zh);
        assert_eq!(
            l,
            Left {
                words: "剩 2 天 5 小时".into(),
                level: "ok"
            }
        );
        assert_eq!(
            time_left(now, t("2026-03-03T05:10:00Z"), Lang::En).words,
            "2 days 5 hours left"
        );
        assert_eq!(time_left(now, t("2026-03-02T00:00:00Z"), Lang::En).words, "1 day left");
        let soon = time_left(now, t("2026-03-01T23:59:00Z"), Lang::Zh);
        assert_eq!((soon.words.as_str(), soon.level), ("剩 23 小时 59 分钟", "warn"));
        let late = time_left(now, t("2026-02-28T21:00:00Z"), Lang::En);
        assert_eq!((late.words.as_str(), late.level), ("3 hours overdue", "overdue"));
        assert_eq!(
            time_left(now, t("2026-02-28T21:00:00Z"), Lang::Zh).words,
            "已逾期 3 小时"
        );
        assert_eq!(
            time_left(now, t("2026-03-01T00:01:00Z"), Lang::En).words,
            "1 minute left"
        );
    }
}
