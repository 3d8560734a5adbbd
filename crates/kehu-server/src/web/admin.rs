//! The organisation page (组织与员工): where a new company sets itself up. The unit tree
//! (add, rename, move) and the staff (add with roles and an initial password, change name, unit
//! and roles, deactivate and reactivate, reset a password). Every form calls the use cases in
//! `crate::organisation`, as the API does, so the page keeps the same rules (`units.manage`,
//! `staff.manage`, grant only what `Policy::may_grant` allows, never one's own roles or access)
//! and offers only what the caller may do: the role choices are the grantable roles, and staff
//! the caller cannot manage show no controls.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use kehu_domain::{Lang, Permission, Policy, Text};
use serde::Deserialize;

use super::customers::{ErrorBox, parse_id};
use super::{Chrome, OrPage, PageCaller, PageResult, csrf_ok, csrf_refused, render, see_other};
use crate::auth::Caller;
use crate::organisation::{self, NewStaffInput, StaffEdit};
use crate::{ApiError, AppState, Failure};

/// Deeper units are drawn at this indent; the tree stays readable on a phone.
const MAX_DEPTH: usize = 6;

struct UnitItem {
    id: i64,
    name: String,
    /// The indent step (0 to `MAX_DEPTH`), a class in the stylesheet.
    depth: usize,
    /// "3 人" / "3 staff": the active staff placed directly in the unit.
    staff: String,
    /// Where the unit may move: every unit not below it (value, indented label, selected).
    moves: Vec<(String, String, bool)>,
    /// Whether it sits at the top of the tree.
    top: bool,
}

struct StaffItem {
    id: i64,
    name: String,
    username: String,
    unit_id: Option<i64>,
    unit: Option<String>,
    role_ids: Vec<String>,
    /// Role names in the page's language, in the policy's order.
    roles: Vec<String>,
    active: bool,
    /// Whether the caller may manage this account (and so sees its controls).
    manage: bool,
    /// The caller's own account: no role choices and no deactivation.
    is_self: bool,
}

impl StaffItem {
    fn holds(&self, role: &str) -> bool {
        self.role_ids.iter().any(|r| r == role)
    }

    fn in_unit(&self, unit: &i64) -> bool {
        self.unit_id == Some(*unit)
    }
}

/// What the add forms held when a post was refused, so nothing typed is lost (but the password).
#[derive(Default)]
struct AddForms {
    unit_name: String,
    unit_parent: String,
    username: String,
    display_name: String,
    unit_id: String,
    roles: Vec<String>,
}

impl AddForms {
    fn picked_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

#[derive(Template)]
#[template(path = "admin_org.html")]
struct OrgPage {
    c: Chrome,
    may_units: bool,
    may_staff: bool,
    units: Vec<UnitItem>,
    /// Every unit for the staff forms' unit choice: (id, indented name).
    unit_choices: Vec<(i64, String)>,
    staff: Vec<StaffItem>,
    /// The roles the caller may grant: (id, name).
    grantable: Vec<(String, String)>,
    f: AddForms,
    /// The edit form to show open again after a refusal: `unit-3`, `staff-7` or empty.
    open: String,
    flash: Option<&'static str>,
    error: Option<ErrorBox>,
}

impl OrgPage {
    fn is_open(&self, what: &str, id: impl std::fmt::Display) -> bool {
        self.open == format!("{what}-{id}")
    }

    fn picked_unit(&self, id: impl std::fmt::Display) -> bool {
        self.f.unit_id == id.to_string()
    }

    fn picked_parent(&self, id: impl std::fmt::Display) -> bool {
        self.f.unit_parent == id.to_string()
    }
}

fn staff_count(n: usize, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("{n} 人"),
        Lang::En => format!("{n} staff"),
    }
}

fn indented(name: &str, depth: usize) -> String {
    format!("{}{name}", "\u{3000}".repeat(depth.min(MAX_DEPTH)))
}

fn may_open(policy: &Policy, caller: &Caller) -> (bool, bool) {
    (
        caller.may(policy, Permission::UnitsManage),
        caller.may(policy, Permission::StaffManage),
    )
}

async fn load(state: &AppState, caller: &Caller, c: Chrome) -> Result<OrgPage, ApiError> {
    let lang = c.lang;
    let policy = state.policy(caller.tenant_id).await?;
    let (may_units, may_staff) = may_open(&policy, caller);
    if !may_units && !may_staff {
        return Err(ApiError::forbidden(Text::new(
            "只有可以管理单位或员工的角色可以打开此页",
            "Only roles that manage units or staff may open this page",
        )));
    }
    let (org, rows) = organisation::org(state, caller.tenant_id).await?;
    let staff_rows = kehu_store::staff::list(&state.db, caller.tenant_id).await?;
    let names: HashMap<i64, &str> = rows.iter().map(|u| (u.id, u.name.as_str())).collect();
    let parents: HashMap<i64, Option<i64>> = rows.iter().map(|u| (u.id, u.parent_id)).collect();
    let outline = org.outline();
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for s in staff_rows.iter().filter(|s| s.active) {
        if let Some(u) = s.unit_id {
            *counts.entry(u).or_default() += 1;
        }
    }
    let unit_choices: Vec<(i64, String)> = outline
        .iter()
        .map(|(id, depth)| (*id, indented(names.get(id).copied().unwrap_or_default(), *depth)))
        .collect();
    let units = outline
        .iter()
        .map(|(id, depth)| {
            let parent = parents.get(id).copied().flatten();
            let below = org.subtree(*id);
            UnitItem {
                id: *id,
                name: names.get(id).copied().unwrap_or_default().to_string(),
                depth: (*depth).min(MAX_DEPTH),
                staff: staff_count(counts.get(id).copied().unwrap_or(0), lang),
                moves: unit_choices
                    .iter()
                    .filter(|(u, _)| !below.contains(u))
                    .map(|(u, label)| (u.to_string(), label.clone(), parent == Some(*u)))
                    .collect(),
                top: parent.is_none(),
            }
        })
        .collect();
    // The company's own roles first; the built-in admin, rarely given, last.
    let mut grantable: Vec<(String, String)> = policy
        .grantable(&caller.roles)
        .iter()
        .map(|r| (r.id.clone(), r.name.get(lang).to_string()))
        .collect();
    grantable.sort_by_key(|(id, _)| id == kehu_domain::policy::ADMIN_ROLE);
    let staff = staff_rows
        .iter()
        .map(|s| {
            let role_ids = s.role_list();
            StaffItem {
                id: s.id,
                name: s.display_name.clone(),
                username: s.username.clone(),
                unit_id: s.unit_id,
                unit: s.unit_id.and_then(|u| names.get(&u)).map(|n| n.to_string()),
                roles: role_ids
                    .iter()
                    .map(|r| policy.role_name(r).get(lang).to_string())
                    .collect(),
                manage: may_staff && role_ids.iter().all(|r| policy.may_grant(&caller.roles, r)),
                is_self: s.id == caller.id(),
                active: s.active,
                role_ids,
            }
        })
        .collect();
    Ok(OrgPage {
        may_units,
        may_staff,
        units,
        unit_choices,
        staff,
        grantable,
        f: AddForms::default(),
        open: String::new(),
        flash: None,
        error: None,
        c,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OrgQuery {
    done: String,
}

/// GET /admin
pub async fn page(State(state): State<AppState>, mut pc: PageCaller, Query(q): Query<OrgQuery>) -> PageResult {
    pc.c.nav = "org";
    let mut page = load(&state, &pc.caller, pc.c.clone()).await.or_page(&pc.c)?;
    page.flash = match q.done.as_str() {
        "unit_added" => Some("org.flash_unit_added"),
        "unit_saved" => Some("org.flash_unit_saved"),
        "staff_added" => Some("org.flash_staff_added"),
        "staff_saved" => Some("org.flash_staff_saved"),
        "deactivated" => Some("org.flash_deactivated"),
        "reactivated" => Some("org.flash_reactivated"),
        "password" => Some("org.flash_password"),
        _ => None,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The page again with the refusal's reason, the add forms as they were posted and the edit
/// form that was refused open.
async fn refused(state: &AppState, mut pc: PageCaller, e: &Failure, f: AddForms, open: String) -> PageResult {
    pc.c.nav = "org";
    let mut page = load(state, &pc.caller, pc.c.clone()).await.or_page(&pc.c)?;
    page.error = Some(ErrorBox::new(e, pc.c.lang));
    page.f = f;
    page.open = open;
    Ok(render(crate::error::status_of(e.kind), &page))
}

/// A posted form's fields in order; role checkboxes repeat their name.
struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// A unit chosen in a form: empty is none; anything unparsable is no unit the tree has, so
/// the use case refuses it in the page's language.
fn unit_choice(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    (!raw.is_empty()).then(|| raw.parse().unwrap_or(0))
}

/// POST /admin/units: adds a unit under a parent (or at the top).
pub async fn add_unit(
    State(state): State<AppState>,
    pc: PageCaller,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(f);
    if !csrf_ok(&pc.caller, f.get("csrf")) {
        return Err(csrf_refused(&pc.c).into());
    }
    let parent = unit_choice(f.get("parent_id"));
    match organisation::create_unit(&state, &pc.caller, f.get("name"), parent).await {
        Ok(u) => Ok(see_other(&format!("/admin?done=unit_added#unit-{}", u.id))),
        Err(e) => {
            let forms = AddForms {
                unit_name: f.get("name").to_string(),
                unit_parent: f.get("parent_id").to_string(),
                ..AddForms::default()
            };
            refused(&state, pc, &e, forms, String::new()).await
        }
    }
}

/// POST /admin/units/{id}: renames a unit and puts it under the chosen parent.
pub async fn edit_unit(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(f);
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, f.get("csrf")) {
        return Err(csrf_refused(&pc.c).into());
    }
    let parent = unit_choice(f.get("parent_id"));
    match organisation::update_unit(&state, &pc.caller, id, Some(f.get("name")), Some(parent)).await {
        Ok(_) => Ok(see_other(&format!("/admin?done=unit_saved#unit-{id}"))),
        Err(e) => refused(&state, pc, &e, AddForms::default(), format!("unit-{id}")).await,
    }
}

/// POST /admin/staff: adds a staff member with the checked roles and an initial password.
pub async fn add_staff(
    State(state): State<AppState>,
    pc: PageCaller,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(f);
    if !csrf_ok(&pc.caller, f.get("csrf")) {
        return Err(csrf_refused(&pc.c).into());
    }
    let input = NewStaffInput {
        username: f.get("username").to_string(),
        password: f.get("password").to_string(),
        display_name: f.get("display_name").to_string(),
        unit_id: unit_choice(f.get("unit_id")),
        roles: f.all("roles"),
    };
    match organisation::create_staff(&state, &pc.caller, input).await {
        Ok(s) => Ok(see_other(&format!("/admin?done=staff_added#staff-{}", s.id))),
        Err(e) => {
            let forms = AddForms {
                username: f.get("username").to_string(),
                display_name: f.get("display_name").to_string(),
                unit_id: f.get("unit_id").to_string(),
                roles: f.all("roles"),
                ..AddForms::default()
            };
            refused(&state, pc, &e, forms, String::new()).await
        }
    }
}

/// POST /admin/staff/{id}: changes the name, the unit and (when the form offered them, which it
/// does not for one's own account) the roles.
pub async fn edit_staff(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(f);
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, f.get("csrf")) {
        return Err(csrf_refused(&pc.c).into());
    }
    let edit = StaffEdit {
        display_name: Some(f.get("display_name").to_string()),
        unit_id: Some(unit_choice(f.get("unit_id"))),
        // Unchecking every box sends no `roles` at all; the marker says the list was there.
        roles: (f.get("roles_shown") == "1").then(|| f.all("roles")),
        active: None,
    };
    match organisation::update_staff(&state, &pc.caller, id, edit).await {
        Ok(_) => Ok(see_other(&format!("/admin?done=staff_saved#staff-{id}"))),
        Err(e) => refused(&state, pc, &e, AddForms::default(), format!("staff-{id}")).await,
    }
}

/// POST /admin/staff/{id}/active: `active=0` deactivates (their sessions and tokens end at
/// once), `active=1` lets them log in again.
pub async fn set_active(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(f);
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, f.get("csrf")) {
        return Err(csrf_refused(&pc.c).into());
    }
    let active = f.get("active") == "1";
    let edit = StaffEdit {
        active: Some(active),
        ..StaffEdit::default()
    };
    match organisation::update_staff(&state, &pc.caller, id, edit).await {
        Ok(_) => Ok(see_other(&format!(
            "/admin?done={}#staff-{id}",
            if active { "reactivated" } else { "deactivated" }
        ))),
        Err(e) => refused(&state, pc, &e, AddForms::default(), format!("staff-{id}")).await,
    }
}

/// POST /admin/staff/{id}/password: sets a new password; their sessions end.
pub async fn reset_password(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = Fields(f);
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, f.get("csrf")) {
        return Err(csrf_refused(&pc.c).into());
    }
    match organisation::reset_password(&state, &pc.caller, id, f.get("password")).await {
        Ok(()) => Ok(see_other(&format!("/admin?done=password#staff-{id}"))),
        Err(e) => refused(&state, pc, &e, AddForms::default(), format!("staff-{id}")).await,
    }
}
