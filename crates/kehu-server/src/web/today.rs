//! The Today page, everyone's home: what waits for me across everything ([`crate::inbox`]),
//! overdue first, with its due time in words and a link to the page where it is done.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use kehu_domain::{Lang, Timestamp};
use serde::Deserialize;

use super::claims::{Left, time_left};
use super::{Chrome, OrPage, PageCaller, PageResult, render};
use crate::AppState;
use crate::inbox::{self, Inbox, Item, Kind};

/// Things shown at most; more are counted as "more".
const LIMIT: usize = 200;

/// The menu's count: up to this many, then "99+".
pub const MENU_LIMIT: usize = 99;

pub struct Line {
    pub kind: &'static str,
    pub kind_name: String,
    pub title: String,
    pub detail: String,
    pub href: String,
    pub customer: Option<(i64, String)>,
    pub due: Option<Left>,
    pub overdue: bool,
    pub rule: Option<String>,
    pub since: String,
}

impl Line {
    fn new(i: &Item, policy: &kehu_domain::Policy, now: Timestamp, lang: Lang) -> Line {
        Line {
            kind: i.kind.as_str(),
            kind_name: i.kind.name().get(lang).to_string(),
            title: i.title.get(lang).to_string(),
            detail: i.detail.get(lang).to_string(),
            href: i.href.clone(),
            customer: i.customer_id.zip(i.customer_name.clone()),
            due: i.due_at.map(|d| time_left(now, d, lang)),
            overdue: i.overdue,
            rule: i.rule.clone(),
            since: policy.local_time(i.since),
        }
    }
}

/// A filter chip: the kind, its name, how many, whether it is the one shown.
pub struct Chip {
    pub kind: &'static str,
    pub name: String,
    pub count: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "today.html")]
pub struct TodayPage {
    pub c: Chrome,
    pub today: String,
    pub lines: Vec<Line>,
    pub chips: Vec<Chip>,
    /// The kind shown, or empty for everything.
    pub kind: String,
    pub total: String,
    pub overdue: usize,
    pub more: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TodayQuery {
    pub kind: String,
}

fn count(n: usize, more: bool) -> String {
    if more { format!("{n}+") } else { n.to_string() }
}

/// The menu's count of what waits: `None` when nothing does.
pub fn menu_count(i: &Inbox) -> Option<String> {
    match i.items.len() {
        0 => None,
        n if i.more || n > MENU_LIMIT => Some(format!("{MENU_LIMIT}+")),
        n => Some(n.to_string()),
    }
}

/// "2026年12月2日 星期三" / "Wednesday, 2 December 2026".
fn day(z: &jiff::Zoned, lang: Lang) -> String {
    match lang {
        Lang::Zh => {
            const DAYS: [&str; 7] = ["一", "二", "三", "四", "五", "六", "日"];
            let d = DAYS[usize::from(z.weekday().to_monday_zero_offset() as u8)];
            format!("{}年{}月{}日 星期{d}", z.year(), z.month(), z.day())
        }
        Lang::En => z.strftime("%A, %-d %B %Y").to_string(),
    }
}

pub async fn page(State(state): State<AppState>, mut pc: PageCaller, Query(q): Query<TodayQuery>) -> PageResult {
    pc.c.nav = "today";
    let lang = pc.c.lang;
    let policy = state.policy(pc.caller.tenant_id).await.or_page(&pc.c)?;
    let now = state.now();
    let all = inbox::of(&state, &pc.caller, None, LIMIT).await.or_page(&pc.c)?;
    let only = Kind::parse(&q.kind);
    let shown = match only {
        Some(k) if all.more => inbox::of(&state, &pc.caller, Some(k), LIMIT).await.or_page(&pc.c)?,
        Some(k) => Inbox {
            items: all.items.iter().filter(|i| i.kind == k).cloned().collect(),
            more: false,
        },
        None => all.clone(),
    };
    let chips = Kind::ALL
        .into_iter()
        .filter_map(|k| {
            let n = all.count(k);
            (n > 0 || only == Some(k)).then(|| Chip {
                kind: k.as_str(),
                name: k.name().get(lang).to_string(),
                count: count(n, all.more),
                active: only == Some(k),
            })
        })
        .collect();
    // The menu's count, from the same list (the chrome left it to this page).
    if let Some(u) = pc.c.user.as_mut() {
        u.waiting = menu_count(&Inbox {
            items: all.items.iter().take(MENU_LIMIT).cloned().collect(),
            more: all.more || all.items.len() > MENU_LIMIT,
        });
        u.waiting_overdue = all.overdue() > 0;
    }
    let page = TodayPage {
        today: day(&now.to_zoned(policy.tz.clone()), lang),
        lines: shown.items.iter().map(|i| Line::new(i, &policy, now, lang)).collect(),
        chips,
        kind: only.map(|k| k.as_str().to_string()).unwrap_or_default(),
        total: count(all.items.len(), all.more),
        overdue: all.overdue(),
        more: shown.more,
        c: pc.c,
    };
    Ok(render(StatusCode::OK, &page))
}
