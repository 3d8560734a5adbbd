//! The visits page (R1.6, R1.7): the customers due or overdue for a visit under the policy's
//! visit cadence, for the caller or, for managers, a person, a unit or everyone.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use kehu_domain::{Lang, Permission};
use serde::Deserialize;

use super::claims::{Left, time_left};
use super::{Chrome, OrPage, PageCaller, PageResult, render};
use crate::AppState;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct VisitsQuery {
    staff_id: String,
    unit_id: String,
    /// `all`, `everyone` or both, comma separated (as the API's `show`).
    show: String,
    /// The managers' picker: `me`, `staff:ID`, `unit:ID` or `everyone`.
    who: String,
}

/// Whose visits the page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Me,
    Staff(i64),
    Unit(i64),
    Everyone,
}

impl Scope {
    fn of(q: &VisitsQuery, me: i64) -> Scope {
        let num = |s: &str| s.trim().parse::<i64>().ok();
        if let Some(w) = Some(q.who.trim()).filter(|w| !w.is_empty()) {
            return match w.split_once(':') {
                Some(("staff", id)) => num(id).map_or(Scope::Me, Scope::Staff),
                Some(("unit", id)) => num(id).map_or(Scope::Me, Scope::Unit),
                _ if w == "everyone" => Scope::Everyone,
                _ => Scope::Me,
            };
        }
        match (num(&q.staff_id), num(&q.unit_id)) {
            (Some(id), _) if id == me => Scope::Me,
            (Some(id), _) => Scope::Staff(id),
            (None, Some(u)) => Scope::Unit(u),
            (None, None) if q.show.split(',').any(|s| s.trim() == "everyone") => Scope::Everyone,
            (None, None) => Scope::Me,
        }
    }

    /// The query naming the scope, for the toggle's links.
    fn query(self) -> String {
        match self {
            Scope::Me => String::new(),
            Scope::Staff(id) => format!("staff_id={id}"),
            Scope::Unit(id) => format!("unit_id={id}"),
            Scope::Everyone => "show=everyone".into(),
        }
    }

    /// The picker's value.
    fn value(self) -> String {
        match self {
            Scope::Me => "me".into(),
            Scope::Staff(id) => format!("staff:{id}"),
            Scope::Unit(id) => format!("unit:{id}"),
            Scope::Everyone => "everyone".into(),
        }
    }
}

struct LineView {
    customer_id: i64,
    name: String,
    grade: Option<String>,
    tags: Vec<String>,
    /// The responsible person, or the roles that owe the visit.
    who: String,
    duty: bool,
    due: String,
    left: Left,
    overdue: bool,
    rule: String,
    decision: String,
}

#[derive(Template)]
#[template(path = "visits.html")]
struct VisitsPage {
    c: Chrome,
    title: String,
    lines: Vec<LineView>,
    all: bool,
    overdue_url: String,
    all_url: String,
    /// The managers' picker: (value, label) groups; empty for others.
    people: Vec<(String, String)>,
    units: Vec<(String, String)>,
    selected: String,
    rule: String,
}

/// GET /visits?show=all|everyone&staff_id=&unit_id=&who=
pub async fn list(State(state): State<AppState>, mut pc: PageCaller, Query(q): Query<VisitsQuery>) -> PageResult {
    pc.c.nav = "visits";
    let lang = pc.c.lang;
    let me = pc.caller.id();
    let policy = state.policy(pc.caller.tenant_id).await.or_page(&pc.c)?;
    let all = q.show.split(',').any(|s| s.trim() == "all");
    let scope = Scope::of(&q, me);
    let (staff_id, unit_id) = match scope {
        Scope::Me => (Some(me), None),
        Scope::Staff(id) => (Some(id), None),
        Scope::Unit(u) => (None, Some(u)),
        Scope::Everyone => (None, None),
    };
    // Everyone: a non-manager asking for all staff is refused, as the API refuses a unit.
    let manager =
        pc.caller.may(&policy, Permission::ClaimsCreateForOthers) || pc.caller.may(&policy, Permission::StaffManage);
    if scope == Scope::Everyone && !manager {
        let e = crate::ApiError::forbidden(kehu_domain::Text::new(
            "只有管理人员可以查看全部人员的拜访计划",
            "Only managers see everyone's visits",
        ));
        return Err(super::error_page(&pc.c, &e).into());
    }
    let mut lines = crate::cadence::lines(&state, &pc.caller, staff_id, unit_id, !all)
        .await
        .or_page(&pc.c)?;
    lines.sort_by_key(|l| (!l.overdue, l.due, l.customer_id));
    let now = state.now();
    let sep = match lang {
        Lang::Zh => "、",
        Lang::En => ", ",
    };
    let views = lines
        .into_iter()
        .map(|l| {
            let duty = !l.duty_roles.is_empty();
            let who = if duty {
                l.duty_roles
                    .iter()
                    .map(|r| {
                        policy
                            .role(r)
                            .map(|x| x.name.get(lang).to_string())
                            .unwrap_or_else(|| r.clone())
                    })
                    .collect::<Vec<_>>()
                    .join(sep)
            } else {
                l.owner_name.clone().unwrap_or_default()
            };
            LineView {
                customer_id: l.customer_id,
                name: l.name,
                grade: l.grade,
                tags: l.tags,
                who,
                duty,
                due: policy.local_time(l.due),
                left: time_left(now, l.due, lang),
                overdue: l.overdue,
                rule: l.decision.rule.to_string(),
                decision: l.decision.text.get(lang).to_string(),
            }
        })
        .collect();
    let people_rows = if manager {
        kehu_store::staff::list(&state.db, pc.caller.tenant_id)
            .await
            .or_page(&pc.c)?
    } else {
        Vec::new()
    };
    let unit_rows = if manager {
        kehu_store::units::list(&state.db, pc.caller.tenant_id)
            .await
            .or_page(&pc.c)?
    } else {
        Vec::new()
    };
    let title = match scope {
        Scope::Me => pc.c.t("visits.title").to_string(),
        Scope::Staff(id) => match people_rows.iter().find(|p| p.id == id) {
            Some(p) => format!("{}{}", p.display_name, pc.c.t("visits.of")),
            None => pc.c.t("visits.title").to_string(),
        },
        Scope::Unit(u) => match unit_rows.iter().find(|x| x.id == u) {
            Some(x) => format!("{}{}", x.name, pc.c.t("visits.of")),
            None => pc.c.t("visits.title").to_string(),
        },
        Scope::Everyone => pc.c.t("visits.everyone_title").to_string(),
    };
    let people = people_rows
        .into_iter()
        .filter(|p| p.active && p.id != me)
        .map(|p| (format!("staff:{}", p.id), p.display_name))
        .collect();
    let units = unit_rows
        .into_iter()
        .map(|u| (format!("unit:{}", u.id), u.name))
        .collect();
    let base = scope.query();
    let overdue_url = if base.is_empty() {
        "/visits".to_string()
    } else {
        format!("/visits?{base}")
    };
    let all_url = match scope {
        Scope::Everyone => "/visits?show=everyone,all".to_string(),
        Scope::Me => "/visits?show=all".to_string(),
        _ => format!("/visits?{base}&show=all"),
    };
    let page = VisitsPage {
        title,
        lines: views,
        all,
        overdue_url,
        all_url,
        people,
        units,
        selected: scope.value(),
        rule: policy.cadence.as_ref().map(|c| c.rule.to_string()).unwrap_or_default(),
        c: pc.c,
    };
    Ok(render(StatusCode::OK, &page))
}
