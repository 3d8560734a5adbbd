//! Rules that run on time: claim lists with their limits, cancelling (R5.6), reassigning
//! (R5.3), confirming follow-ups (R5.2), and the ledger (R5.5, R5.17, R6.1).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kehu_domain::lifecycle::Standing;
use kehu_domain::{Lang, Text};
use kehu_store::ledger::EntryRow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::*;
use super::{ApiJson, ApiQuery, Id};
use crate::auth::Caller;
use crate::error::Problem;
use crate::ledger::{StatementLine, Statements};
use crate::{ApiError, AppState, lifecycle};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_claims))
        .routes(routes!(cancel_claim))
        .routes(routes!(reassign_claim))
        .routes(routes!(confirm_activity))
        .routes(routes!(list_ledger, add_ledger_entry))
        .routes(routes!(get_ledger_entry))
        .routes(routes!(reverse_ledger_entry))
        .routes(routes!(ledger_statement))
        .routes(routes!(list_pools))
        .routes(routes!(pool_customers))
        .routes(routes!(claim_from_pool))
        .routes(routes!(redistribute))
        .routes(routes!(share_out))
        .routes(routes!(cadence))
}

fn t(ms: i64) -> String {
    kehu_store::ts(ms).to_string()
}

#[derive(Serialize, ToSchema)]
pub struct DueOut {
    /// The limit (RFC 3339).
    pub at: String,
    pub rule: String,
    /// What must happen by then, in the caller's language.
    pub what: String,
    /// Follow-ups counted so far.
    pub follow_ups: u32,
    /// A follow-up that counts once a leader confirms it (R5.2).
    pub awaiting_confirmation: Option<i64>,
    /// From when the holder is warned that the limit is near (the customer returns to the pool
    /// at the limit, R11.8).
    pub warn_from: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ClaimStanding {
    #[serde(flatten)]
    pub claim: ClaimOut,
    pub customer_name: String,
    /// Where a valid claim stands: its next limit.
    pub due: Option<DueOut>,
}

#[derive(Serialize, ToSchema)]
pub struct ClaimStandingList {
    pub items: Vec<ClaimStanding>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClaimQuery {
    /// Whose claims; default the caller. Others' need `claims.create_for_others`.
    #[param(value_type = Option<i64>)]
    pub staff_id: Option<String>,
    /// `void_unassigned`: void claims not yet reassigned, those the caller signed first for a
    /// leader (R5.3).
    pub view: Option<String>,
    /// 1 to 500; default 100.
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
}

pub(crate) fn due_out(s: Option<Standing>, lang: Lang) -> Option<DueOut> {
    match s? {
        Standing::Due(d) => Some(DueOut {
            at: d.at.to_string(),
            rule: d.rule.to_string(),
            what: d.what.get(lang).to_string(),
            follow_ups: d.follow_ups,
            awaiting_confirmation: d.awaiting_confirmation,
            warn_from: d.warn_from.map(|t| t.to_string()),
        }),
        _ => None,
    }
}

/// Claims with their limits: a staff member's own (default), or the void claims a leader may
/// reassign (`view=void_unassigned`).
#[utoipa::path(get, path = "/api/v1/claims", tag = "claims", params(ClaimQuery),
    responses((status = 200, body = ClaimStandingList), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn list_claims(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ClaimQuery>,
) -> Result<Json<ClaimStandingList>, ApiError> {
    let staff_id = int(q.staff_id.as_deref(), "staff_id")?;
    let limit = match q.limit.as_deref() {
        None => 100,
        raw => super::parse_limit(raw)?,
    };
    let rows = lifecycle::list_claims(&state, &caller, staff_id, q.view.as_deref(), limit).await?;
    Ok(Json(ClaimStandingList {
        items: rows
            .into_iter()
            .map(|(row, s)| ClaimStanding {
                customer_name: row.customer_name.clone(),
                claim: ClaimOut::from(&row),
                due: due_out(s, caller.lang),
            })
            .collect(),
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// The written reason (R5.6).
    pub reason: String,
}

/// Cancel a pending or valid claim with a written reason (R5.6). The claim is kept.
#[utoipa::path(post, path = "/api/v1/claims/{id}/cancel", tag = "claims", params(("id" = i64, Path)),
    request_body = CancelBody,
    responses((status = 200, body = ClaimOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn cancel_claim(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<CancelBody>,
) -> Result<Json<ClaimOut>, ApiError> {
    let row = lifecycle::cancel_claim(&state, &caller, id, &b.reason).await?;
    Ok(Json(ClaimOut::from(&row)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReassignBody {
    /// The staff member who takes the customer over.
    pub staff_id: i64,
}

/// Reassign a void claim to another staff member (R5.3): a new claim, valid at once, under the
/// same follow-up rules.
#[utoipa::path(post, path = "/api/v1/claims/{id}/reassign", tag = "claims", params(("id" = i64, Path)),
    request_body = ReassignBody,
    responses((status = 201, body = ClaimOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn reassign_claim(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<ReassignBody>,
) -> Result<(StatusCode, Json<ClaimOut>), ApiError> {
    let row = lifecycle::reassign_claim(&state, &caller, id, b.staff_id).await?;
    Ok((StatusCode::CREATED, Json(ClaimOut::from(&row))))
}

#[derive(Serialize, ToSchema)]
pub struct ConfirmedActivity {
    pub activity: ActivityOut,
    /// The holder's claim after the confirmation, with its new limit.
    pub claim: Option<ClaimOut>,
}

/// Confirm a follow-up (R5.2: the second follow-up is confirmed by the team leader; later than
/// 24 hours, the confirmation time counts).
#[utoipa::path(post, path = "/api/v1/activities/{id}/confirm", tag = "claims", params(("id" = i64, Path)),
    responses((status = 200, body = ConfirmedActivity), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn confirm_activity(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<ConfirmedActivity>, ApiError> {
    let (a, c) = lifecycle::confirm_follow_up(&state, &caller, id).await?;
    Ok(Json(ConfirmedActivity {
        activity: ActivityOut::from(&a),
        claim: c.as_ref().map(ClaimOut::from),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct LedgerEntryOut {
    pub id: i64,
    pub staff_id: Option<i64>,
    pub staff_name: Option<String>,
    pub customer_id: Option<i64>,
    /// `penalty`, `points` or `reward`.
    pub kind: String,
    /// The policy's code, e.g. `lateness`.
    pub code: String,
    /// The code's name in the caller's language.
    pub code_name: String,
    pub rule: String,
    /// Money in fen (minor units); negative in a reversal.
    pub amount: i64,
    pub points: i64,
    pub quantity: i64,
    /// `dismissal_review` when the entry asks a manager to act.
    pub flag: Option<String>,
    pub at: String,
    /// The month it counts in, `YYYY-MM` in the tenant's zone.
    pub period: String,
    pub decision: Option<DecisionOut>,
    /// The history event that records it.
    pub event_seq: i64,
    pub reverses: Option<i64>,
    pub reversed_by: Option<i64>,
    /// The entry this one refers to (R6.1).
    pub refers_to: Option<i64>,
    pub created_by: Option<i64>,
    pub note: String,
}

impl LedgerEntryOut {
    pub fn new(e: &EntryRow, policy: &kehu_domain::Policy, lang: Lang) -> LedgerEntryOut {
        LedgerEntryOut {
            id: e.id,
            staff_id: e.staff_id,
            staff_name: e.staff_name.clone(),
            customer_id: e.customer_id,
            kind: e.kind.clone(),
            code: e.code.clone(),
            code_name: policy
                .ledger
                .code(&e.code)
                .map(|c| c.name.get(lang).to_string())
                .unwrap_or_else(|| e.code.clone()),
            rule: e.rule.clone(),
            amount: e.amount,
            points: e.points,
            quantity: e.quantity,
            flag: e.flag.clone(),
            at: t(e.at),
            period: e.period.clone(),
            decision: e.decision().map(|d| DecisionOut::new(&d, lang)),
            event_seq: e.event_seq,
            reverses: e.reverses,
            reversed_by: e.reversed_by,
            refers_to: e.refers_to,
            created_by: e.created_by,
            note: e.note.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LedgerPage {
    pub items: Vec<LedgerEntryOut>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// Whose entries; default: everyone's for a reader of all ledgers, else the caller's.
    #[param(value_type = Option<i64>)]
    pub staff_id: Option<String>,
    /// A month, `YYYY-MM`.
    pub period: Option<String>,
    /// 1 to 500; default 50.
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

fn int(s: Option<&str>, field: &'static str) -> Result<Option<i64>, ApiError> {
    match s.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            ApiError::bad_request(
                "invalid_field",
                Text::new(format!("{field} 须为整数"), format!("{field} must be a whole number")),
            )
        }),
    }
}

/// Ledger entries, newest first (penalties, points, rewards), each with the decision that made it.
#[utoipa::path(get, path = "/api/v1/ledger", tag = "ledger", params(LedgerQuery),
    responses((status = 200, body = LedgerPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn list_ledger(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> Result<Json<LedgerPage>, ApiError> {
    let lang = caller.lang;
    let limit = super::parse_limit(q.limit.as_deref())?;
    let staff_id = int(q.staff_id.as_deref(), "staff_id")?;
    let cursor = int(q.cursor.as_deref(), "cursor")?;
    let rows = crate::ledger::list(&state, &caller, staff_id, q.period.as_deref(), cursor, limit + 1).await?;
    let policy = state.policy(caller.tenant_id).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<LedgerEntryOut> = rows
        .iter()
        .take(limit as usize)
        .map(|e| LedgerEntryOut::new(e, &policy, lang))
        .collect();
    let next_cursor = more.then(|| items.last().map(|e| e.id.to_string())).flatten();
    Ok(Json(LedgerPage { items, next_cursor }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLedgerEntryBody {
    /// The staff member the entry is for; or give `customer_id`.
    pub staff_id: Option<i64>,
    /// The customer the entry is for (R5.13: a referring customer's reward).
    pub customer_id: Option<i64>,
    /// A manual code of the policy's `[[ledger.codes]]`, e.g. `lateness` (R5.17).
    pub code: String,
    /// How many occurrences (default 1), each priced with the month's escalation.
    pub quantity: Option<u32>,
    pub note: Option<String>,
    /// The entry this one refers to, for codes priced from another entry (R6.1: a store
    /// manager who failed to supervise loses double the violation's points).
    pub refers_to: Option<i64>,
}

/// Enter a manual ledger entry (managers named by the policy): R5.11 shortfalls, R5.17 conduct
/// fines, R6.1 point deductions.
#[utoipa::path(post, path = "/api/v1/ledger", tag = "ledger", request_body = NewLedgerEntryBody,
    responses((status = 201, body = LedgerEntryOut), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn add_ledger_entry(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<NewLedgerEntryBody>,
) -> Result<(StatusCode, Json<LedgerEntryOut>), ApiError> {
    let party = match (b.staff_id, b.customer_id) {
        (Some(s), None) => crate::ledger::Party::Staff(s),
        (None, Some(c)) => crate::ledger::Party::Customer(c),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_party",
                Text::new(
                    "请给出 staff_id 或 customer_id 二者之一",
                    "Give either staff_id or customer_id",
                ),
            ));
        }
    };
    let row = crate::ledger::add_manual_referring(
        &state,
        &caller,
        party,
        &b.code,
        b.quantity.unwrap_or(1),
        b.note.as_deref().unwrap_or(""),
        b.refers_to,
    )
    .await?;
    let policy = state.policy(caller.tenant_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(LedgerEntryOut::new(&row, &policy, caller.lang)),
    ))
}

/// One ledger entry.
#[utoipa::path(get, path = "/api/v1/ledger/{id}", tag = "ledger", params(("id" = i64, Path)),
    responses((status = 200, body = LedgerEntryOut), (status = 404, body = Problem)))]
async fn get_ledger_entry(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<LedgerEntryOut>, ApiError> {
    let row = crate::ledger::get(&state, &caller, id).await?;
    let policy = state.policy(caller.tenant_id).await?;
    Ok(Json(LedgerEntryOut::new(&row, &policy, caller.lang)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseBody {
    pub reason: String,
}

/// Reverse an entry: a new entry of the opposite sign pointing at it. Entries are never edited.
#[utoipa::path(post, path = "/api/v1/ledger/{id}/reverse", tag = "ledger", params(("id" = i64, Path)),
    request_body = ReverseBody,
    responses((status = 201, body = LedgerEntryOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn reverse_ledger_entry(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    ApiJson(b): ApiJson<ReverseBody>,
) -> Result<(StatusCode, Json<LedgerEntryOut>), ApiError> {
    let row = crate::ledger::reverse(&state, &caller, id, &b.reason).await?;
    let policy = state.policy(caller.tenant_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(LedgerEntryOut::new(&row, &policy, caller.lang)),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct StatementOut {
    /// Staff or unit ID; none for staff without a unit.
    pub id: Option<i64>,
    pub name: String,
    pub unit_id: Option<i64>,
    pub entries: u32,
    /// Fines in fen, net of reversals.
    pub penalties: i64,
    /// Rewards in fen, net of reversals.
    pub rewards: i64,
    pub points: i64,
    pub flags: Vec<String>,
}

impl From<&StatementLine> for StatementOut {
    fn from(l: &StatementLine) -> StatementOut {
        StatementOut {
            id: l.id,
            name: l.name.clone(),
            unit_id: l.unit_id,
            entries: l.statement.entries,
            penalties: l.statement.penalties,
            rewards: l.statement.rewards,
            points: l.statement.points,
            flags: l.statement.flags.iter().map(|f| f.as_str().to_string()).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct StatementsOut {
    pub period: String,
    pub people: Vec<StatementOut>,
    pub units: Vec<StatementOut>,
    pub total: StatementOut,
}

impl From<&Statements> for StatementsOut {
    fn from(s: &Statements) -> StatementsOut {
        StatementsOut {
            period: s.period.clone(),
            people: s.people.iter().map(StatementOut::from).collect(),
            units: s.units.iter().map(StatementOut::from).collect(),
            total: StatementOut::from(&StatementLine {
                id: None,
                name: String::new(),
                unit_id: None,
                statement: s.total.clone(),
            }),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// A month, `YYYY-MM`; default the current month in the tenant's zone.
    pub period: Option<String>,
}

/// Monthly statements per person and unit. Readers of all ledgers see everyone; others their
/// own line.
#[utoipa::path(get, path = "/api/v1/ledger/statement", tag = "ledger", params(StatementQuery),
    responses((status = 200, body = StatementsOut), (status = 422, body = Problem)))]
async fn ledger_statement(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> Result<Json<StatementsOut>, ApiError> {
    let s = crate::ledger::statements(&state, &caller, q.period.as_deref()).await?;
    Ok(Json(StatementsOut::from(&s)))
}

#[derive(Serialize, ToSchema)]
pub struct PoolOut {
    pub id: String,
    /// In the caller's language.
    pub name: String,
    pub rule: String,
    /// Customers in the pool now.
    pub customers: i64,
    /// Days a former holder waits before reclaiming, as written in the policy.
    pub cooldown: Option<String>,
    pub max_claims_per_day: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct PoolList {
    pub items: Vec<PoolOut>,
}

/// The customer pools (公海) the caller is a member of.
#[utoipa::path(get, path = "/api/v1/pools", tag = "claims", responses((status = 200, body = PoolList)))]
async fn list_pools(State(state): State<AppState>, caller: Caller) -> Result<Json<PoolList>, ApiError> {
    let pools = lifecycle::pools(&state, &caller).await?;
    Ok(Json(PoolList {
        items: pools
            .into_iter()
            .map(|(p, n)| PoolOut {
                id: p.id.clone(),
                name: p.name.get(caller.lang).to_string(),
                rule: p.rule.to_string(),
                customers: n,
                cooldown: p.cooldown.map(|c| c.text().get(caller.lang).to_string()),
                max_claims_per_day: p.max_claims_per_day,
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct PooledCustomer {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub grade: Option<String>,
    pub source: Option<String>,
    /// When it entered the pool.
    pub pooled_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PooledPage {
    pub items: Vec<PooledCustomer>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PoolQuery {
    /// 1 to 500; default 50.
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// The customers in a pool, longest there first (members only).
#[utoipa::path(get, path = "/api/v1/pools/{id}/customers", tag = "claims", params(("id" = String, Path), PoolQuery),
    responses((status = 200, body = PooledPage), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn pool_customers(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path(pool): axum::extract::Path<String>,
    ApiQuery(q): ApiQuery<PoolQuery>,
) -> Result<Json<PooledPage>, ApiError> {
    let limit = super::parse_limit(q.limit.as_deref())?;
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.split_once('.')
                .and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?)))
                .ok_or_else(|| ApiError::bad_request("invalid_cursor", Text::new("cursor 无效", "Invalid cursor")))?,
        ),
    };
    let rows = lifecycle::pool_customers(&state, &caller, &pool, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next_cursor = more
        .then(|| rows.last().map(|r| format!("{}.{}", r.pooled_at.unwrap_or(0), r.id)))
        .flatten();
    Ok(Json(PooledPage {
        items: rows
            .iter()
            .map(|r| PooledCustomer {
                id: r.id,
                name: r.name.clone(),
                kind: r.kind.clone(),
                grade: r.grade.clone(),
                source: r.source.clone(),
                pooled_at: r.pooled_at.map(t),
            })
            .collect(),
        next_cursor,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolClaimBody {
    pub customer_id: i64,
}

/// Claim a customer from a pool: first come, first served; a former holder waits out the
/// cooldown, and the pool's daily limit and the policy's cap on customers held apply (R11.8).
#[utoipa::path(post, path = "/api/v1/pools/{id}/claims", tag = "claims", params(("id" = String, Path)),
    request_body = PoolClaimBody,
    responses((status = 201, body = ClaimOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn claim_from_pool(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path(pool): axum::extract::Path<String>,
    ApiJson(b): ApiJson<PoolClaimBody>,
) -> Result<(StatusCode, Json<ClaimOut>), ApiError> {
    let row = lifecycle::claim_from_pool(&state, &caller, &pool, b.customer_id).await?;
    Ok((StatusCode::CREATED, Json(ClaimOut::from(&row))))
}

#[derive(Serialize, ToSchema)]
pub struct MovedOut {
    pub customer_id: i64,
    /// Who got the customer; none when it was skipped.
    pub staff_id: Option<i64>,
    /// The new claim, unless the customer was skipped.
    pub claim: Option<ClaimOut>,
    /// `already_held` when someone already held the customer.
    pub skipped: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MovedList {
    pub items: Vec<MovedOut>,
}

fn moved(list: Vec<crate::assign::Moved>) -> MovedList {
    MovedList {
        items: list
            .into_iter()
            .map(|m| MovedOut {
                customer_id: m.customer_id,
                staff_id: m.staff_id,
                claim: m.claim.as_ref().map(ClaimOut::from),
                skipped: m.skipped.map(str::to_string),
            })
            .collect(),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedistributeBody {
    /// The staff member on long leave or leaving.
    pub from_staff_id: i64,
    /// Who takes the customers over.
    pub to_staff_ids: Vec<i64>,
    /// `random` or `even`; default: the policy's.
    pub method: Option<String>,
}

/// Redistribute a leaving person's customers (R7.8(12)): each standing claim moves to one of the
/// named staff, at random or evenly, each move a decision in the history.
#[utoipa::path(post, path = "/api/v1/claims/redistribute", tag = "claims", request_body = RedistributeBody,
    responses((status = 200, body = MovedList), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn redistribute(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<RedistributeBody>,
) -> Result<Json<MovedList>, ApiError> {
    let list =
        crate::assign::redistribute(&state, &caller, b.from_staff_id, &b.to_staff_ids, b.method.as_deref()).await?;
    Ok(Json(moved(list)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareOutBody {
    /// Customers nobody holds (an event's files, entered by the CRM centre).
    pub customer_ids: Vec<i64>,
    /// The staff who took part.
    pub staff_ids: Vec<i64>,
    /// `even` or `random`; default: the policy's.
    pub method: Option<String>,
}

/// Share customers out among named staff (R11.1: evenly among those who took part in the
/// event); customers someone already holds are skipped.
#[utoipa::path(post, path = "/api/v1/customers/share-out", tag = "claims", request_body = ShareOutBody,
    responses((status = 200, body = MovedList), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn share_out(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<ShareOutBody>,
) -> Result<Json<MovedList>, ApiError> {
    let list = crate::assign::share_out(&state, &caller, &b.customer_ids, &b.staff_ids, b.method.as_deref()).await?;
    Ok(Json(moved(list)))
}

#[derive(Serialize, ToSchema)]
pub struct CadenceLineOut {
    pub customer_id: i64,
    pub name: String,
    pub grade: Option<String>,
    pub tags: Vec<String>,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub unit_id: Option<i64>,
    /// For a visit some roles owe in person (R1.6: senior management), those roles.
    pub duty_roles: Vec<String>,
    /// The next visit is due by (RFC 3339).
    pub due: String,
    pub overdue: bool,
    pub decision: DecisionOut,
}

#[derive(Serialize, ToSchema)]
pub struct CadenceList {
    pub items: Vec<CadenceLineOut>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CadenceQuery {
    /// Whose customers (managers); default the caller's.
    #[param(value_type = Option<i64>)]
    pub staff_id: Option<String>,
    /// A unit's customers (managers).
    #[param(value_type = Option<i64>)]
    pub unit_id: Option<String>,
    /// `all` to list every due visit, not only the overdue ones; `everyone` (managers) for all
    /// staff.
    pub show: Option<String>,
}

/// Visits due and overdue under the visit cadence (R1.6, R1.7), per person or unit.
#[utoipa::path(get, path = "/api/v1/cadence", tag = "claims", params(CadenceQuery),
    responses((status = 200, body = CadenceList), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn cadence(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CadenceQuery>,
) -> Result<Json<CadenceList>, ApiError> {
    let lang = caller.lang;
    let staff_id = int(q.staff_id.as_deref(), "staff_id")?;
    let unit_id = int(q.unit_id.as_deref(), "unit_id")?;
    let show = q.show.as_deref().unwrap_or("");
    let everyone = show.split(',').any(|s| s == "everyone");
    let all = show.split(',').any(|s| s == "all");
    let staff_id = match (staff_id, unit_id, everyone) {
        (None, None, false) => Some(caller.id()),
        (s, _, _) => s,
    };
    let lines = crate::cadence::lines(&state, &caller, staff_id, unit_id, !all).await?;
    Ok(Json(CadenceList {
        items: lines
            .into_iter()
            .map(|l| CadenceLineOut {
                customer_id: l.customer_id,
                name: l.name,
                grade: l.grade,
                tags: l.tags,
                owner_id: l.owner_id,
                owner_name: l.owner_name,
                unit_id: l.unit_id,
                duty_roles: l.duty_roles,
                due: l.due.to_string(),
                overdue: l.overdue,
                decision: DecisionOut::new(&l.decision, lang),
            })
            .collect(),
    }))
}
