//! The pools page (公海, R11.8): customers nobody served return to a pool, where the pool's
//! members claim them first come, first served. Refusals (someone was first, the former
//! holder's cooldown, the daily limit, the cap on customers held) come back on the page.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use kehu_domain::policy::Pool;
use kehu_domain::{Lang, Permission, Text};
use kehu_store::ts;
use serde::Deserialize;

use super::customers::{ErrorBox, detail_with_error};
use super::{Chrome, OrPage, PageCaller, PageResult, csrf_ok, csrf_refused, render, see_other, urlencode};
use crate::auth::Caller;
use crate::{ApiError, AppState, lifecycle};

const PAGE_SIZE: i64 = 50;

struct PooledRow {
    id: i64,
    name: String,
    grade: Option<String>,
    source: Option<String>,
    since: String,
}

struct PoolView {
    id: String,
    name: String,
    rule: String,
    /// "3 位客户" / "3 customers".
    count: String,
    /// The cooldown and the daily limit in words.
    terms: Vec<String>,
    claim_url: String,
    rows: Vec<PooledRow>,
    next_url: Option<String>,
    first_url: Option<String>,
}

#[derive(Template)]
#[template(path = "pools.html")]
struct PoolsPage {
    c: Chrome,
    pools: Vec<PoolView>,
    may_claim: bool,
    error: Option<ErrorBox>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PoolsQuery {
    /// The pool `cursor` pages through; the others show their first page.
    pool: String,
    /// The API's cursor: `pooled_at.id` of the last customer shown.
    cursor: String,
}

fn parse_cursor(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.trim().split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn count_words(n: i64, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("{n} 位客户"),
        Lang::En if n == 1 => "1 customer".to_string(),
        Lang::En => format!("{n} customers"),
    }
}

/// The pool's terms in words: the former holder's cooldown and the daily limit.
pub(super) fn terms(p: &Pool, lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(cool) = p.cooldown {
        let t = cool.text();
        out.push(
            Text::new(
                format!("原持有人 {}后才能再次领取", t.zh),
                format!("A former holder may claim again after {}", t.en),
            )
            .get(lang)
            .to_string(),
        );
    }
    if let Some(max) = p.max_claims_per_day {
        out.push(
            Text::new(
                format!("每人每天最多领取 {max} 位"),
                format!("Each member claims at most {max} a day"),
            )
            .get(lang)
            .to_string(),
        );
    }
    out
}

async fn load(state: &AppState, caller: &Caller, c: Chrome, q: &PoolsQuery) -> Result<PoolsPage, ApiError> {
    let lang = c.lang;
    let policy = state.policy(caller.tenant_id).await?;
    let pools = lifecycle::pools(state, caller).await?;
    if pools.is_empty() {
        return Err(if policy.pools.is_empty() {
            ApiError::not_found(Text::new("本制度没有客户池", "This policy has no customer pools"))
        } else {
            ApiError::forbidden(Text::new(
                "只有客户池的成员可以查看客户池",
                "Only members of a pool see it",
            ))
        });
    }
    let mut views = Vec::with_capacity(pools.len());
    for (p, n) in pools {
        let here = q.pool == p.id;
        let after = if here { parse_cursor(&q.cursor) } else { None };
        let mut rows = lifecycle::pool_customers(state, caller, &p.id, after, PAGE_SIZE + 1).await?;
        let more = rows.len() as i64 > PAGE_SIZE;
        rows.truncate(PAGE_SIZE as usize);
        let base = format!("/pools?pool={}", urlencode(&p.id));
        let next_url = more
            .then(|| rows.last())
            .flatten()
            .map(|r| format!("{base}&cursor={}.{}#pool-{}", r.pooled_at.unwrap_or(0), r.id, p.id));
        views.push(PoolView {
            name: p.name.get(lang).to_string(),
            rule: p.rule.to_string(),
            count: count_words(n, lang),
            terms: terms(&p, lang),
            claim_url: format!("/pools/{}/claims", urlencode(&p.id)),
            rows: rows
                .into_iter()
                .map(|r| PooledRow {
                    id: r.id,
                    name: r.name,
                    grade: r.grade.filter(|g| !g.is_empty()),
                    source: r
                        .source
                        .filter(|s| !s.is_empty())
                        .map(|s| policy.source_name(&s).get(lang).to_string()),
                    since: r.pooled_at.map(|t| policy.local_time(ts(t))).unwrap_or_default(),
                })
                .collect(),
            next_url,
            first_url: after.map(|_| format!("/pools#pool-{}", p.id)),
            id: p.id,
        });
    }
    Ok(PoolsPage {
        pools: views,
        may_claim: caller.may(&policy, Permission::ClaimsCreate),
        error: None,
        c,
    })
}

/// GET /pools?pool=&cursor=
pub async fn list(State(state): State<AppState>, mut pc: PageCaller, Query(q): Query<PoolsQuery>) -> PageResult {
    pc.c.nav = "pools";
    let page = load(&state, &pc.caller, pc.c.clone(), &q).await.or_page(&pc.c)?;
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PoolClaimForm {
    customer_id: String,
    /// `customer` when the form is on the customer page: a refusal is shown there.
    from: String,
    csrf: String,
}

/// POST /pools/{pool}/claims: claims a customer from the pool, first come first served.
pub async fn claim(
    State(state): State<AppState>,
    mut pc: PageCaller,
    Path(pool): Path<String>,
    Form(f): Form<PoolClaimForm>,
) -> PageResult {
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    // An unparsable ID is no customer: the use case refuses it in the page's language.
    let id = f.customer_id.trim().parse::<i64>().unwrap_or(0);
    match lifecycle::claim_from_pool(&state, &pc.caller, &pool, id).await {
        Ok(_) => Ok(see_other(&format!("/customers/{id}?done=pool_claim#claims"))),
        Err(e) if f.from == "customer" && id > 0 => Ok(detail_with_error(&state, &pc, id, &e, None).await),
        Err(e) => {
            pc.c.nav = "pools";
            let mut page = load(&state, &pc.caller, pc.c.clone(), &PoolsQuery::default())
                .await
                .or_page(&pc.c)?;
            page.error = Some(ErrorBox::new(&e, pc.c.lang));
            Ok(render(crate::error::status_of(e.kind), &page))
        }
    }
}
