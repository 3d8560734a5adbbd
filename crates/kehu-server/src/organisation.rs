//! Setting up a company: its units (the tree) and its staff (add, roles, unit, deactivate,
//! reset a password). The API and the admin page call these, so both keep the same rules:
//! `units.manage` / `staff.manage`, and a role may grant only roles it holds itself or that the
//! policy lists under its `grants`; nobody manages a staff member holding a role they could not
//! grant, nor takes their own roles or access away.

use kehu_domain::org::Org;
use kehu_domain::{Permission, Policy, Text};
use kehu_store::staff::{StaffChange, StaffRow};
use kehu_store::units::UnitRow;

use crate::auth::{self, Caller};
use crate::service::has_control;
use crate::{AppState, Failure};

fn invalid(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Failure {
    Failure::invalid(code, Text::new(zh, en))
}

fn unit_name(name: &str) -> Result<String, Failure> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || has_control(name) {
        return Err(invalid(
            "invalid_name",
            "请填写单位名称（最多 100 个字符）",
            "A unit name is required (at most 100 characters)",
        ));
    }
    Ok(name.to_string())
}

fn missing_parent() -> impl Fn(kehu_store::StoreError) -> Failure {
    move |e| match e {
        kehu_store::StoreError::NotFound => {
            invalid("invalid_parent", "上级单位不存在", "The parent unit does not exist")
        }
        e => e.into(),
    }
}

/// The tenant's units as the rules read them.
pub async fn org(state: &AppState, tenant_id: i64) -> Result<(Org, Vec<UnitRow>), Failure> {
    let units = kehu_store::units::list(&state.db, tenant_id).await?;
    Ok((Org::new(units.iter().map(|u| (u.id, u.parent_id))), units))
}

/// Adds a unit (company, branch, department, team) under `parent_id`.
pub async fn create_unit(
    state: &AppState,
    caller: &Caller,
    name: &str,
    parent_id: Option<i64>,
) -> Result<UnitRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::UnitsManage)?;
    let name = unit_name(name)?;
    kehu_store::units::create(
        &state.db,
        caller.tenant_id,
        Some(caller.id()),
        &name,
        parent_id,
        state.now(),
    )
    .await
    .map_err(missing_parent())
}

/// Renames a unit or moves it (`parent_id: Some(None)` to the top); a move below itself is
/// refused.
pub async fn update_unit(
    state: &AppState,
    caller: &Caller,
    id: i64,
    name: Option<&str>,
    parent_id: Option<Option<i64>>,
) -> Result<UnitRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::UnitsManage)?;
    let name = name.map(unit_name).transpose()?;
    let (org, _) = org(state, caller.tenant_id).await?;
    if !org.contains(id) {
        return Err(Failure::not_found(Text::new("找不到该单位", "No such unit")));
    }
    if let Some(parent) = parent_id
        && org.would_cycle(id, parent)
    {
        return Err(invalid(
            "unit_cycle",
            "不能把单位移到它自己或它的下级单位之下",
            "A unit cannot move under itself or a unit below it",
        ));
    }
    kehu_store::units::update(
        &state.db,
        caller.tenant_id,
        Some(caller.id()),
        id,
        name.as_deref(),
        parent_id,
        state.now(),
    )
    .await
    .map_err(missing_parent())
}

/// What an admin enters for a new staff member.
#[derive(Debug, Clone)]
pub struct NewStaffInput {
    pub username: String,
    pub password: String,
    pub display_name: String,
    pub unit_id: Option<i64>,
    pub roles: Vec<String>,
}

fn display_name(name: &str) -> Result<String, Failure> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || has_control(name) {
        return Err(invalid(
            "invalid_name",
            "请填写姓名（最多 100 个字符）",
            "A display name is required (at most 100 characters)",
        ));
    }
    Ok(name.to_string())
}

/// Checks a list of roles: defined by the policy, at least one, and each one the caller may
/// grant. Answers them without repeats.
fn roles_to_grant(policy: &Policy, caller: &Caller, roles: &[String]) -> Result<Vec<String>, Failure> {
    if roles.is_empty() {
        return Err(invalid(
            "invalid_roles",
            "至少需要一个角色",
            "At least one role is required",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for r in roles {
        let r = r.trim();
        if policy.role(r).is_none() {
            let known: Vec<&str> = policy.roles.iter().map(|r| r.id.as_str()).collect();
            return Err(invalid(
                "invalid_roles",
                format!("角色“{r}”未在制度中定义；可用角色：{}", known.join("、")),
                format!("Role `{r}` is not defined by the policy; roles: {}", known.join(", ")),
            ));
        }
        if !policy.may_grant(&caller.roles, r) {
            return Err(cannot_grant(policy, caller, r));
        }
        if !out.iter().any(|x| x == r) {
            out.push(r.to_string());
        }
    }
    Ok(out)
}

fn cannot_grant(policy: &Policy, caller: &Caller, role: &str) -> Failure {
    let name = policy.role_name(role);
    let may: Vec<String> = policy.grantable(&caller.roles).iter().map(|r| r.id.clone()).collect();
    let may = policy.roles_text(&may);
    Failure::forbidden(Text::new(
        format!(
            "你不能授予“{}”角色：只能授予自己担任的角色或制度列在你角色之下的角色（{}）",
            name.zh,
            if may.zh.is_empty() { "无".to_string() } else { may.zh }
        ),
        format!(
            "You may not grant the role `{}`: only roles you hold or that the policy lists under yours ({})",
            name.en,
            if may.en.is_empty() { "none".to_string() } else { may.en }
        ),
    ))
}

/// Adds a staff member with roles the caller may grant.
pub async fn create_staff(state: &AppState, caller: &Caller, input: NewStaffInput) -> Result<StaffRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::StaffManage)?;
    let username = input.username.trim();
    if username.is_empty()
        || username.len() > 64
        || !username
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
    {
        return Err(invalid(
            "invalid_username",
            "用户名须为 1 到 64 个字母、数字、下划线、点或短横线",
            "The username must be 1 to 64 letters, digits, `_`, `.` or `-`",
        ));
    }
    let display = display_name(&input.display_name)?;
    auth::check_password(&input.password).map_err(|t| Failure::invalid("weak_password", t))?;
    let roles = roles_to_grant(&policy, caller, &input.roles)?;
    let hash = auth::hash_password(&input.password)?;
    kehu_store::staff::create(
        &state.db,
        caller.tenant_id,
        Some(caller.id()),
        kehu_store::staff::NewStaff {
            username,
            display_name: &display,
            password_hash: &hash,
            unit_id: input.unit_id,
            roles: &roles,
        },
        state.now(),
    )
    .await
    .map_err(|e| match e {
        kehu_store::StoreError::Conflict { .. } => Failure::conflict(
            "duplicate_username",
            Text::new(
                format!("用户名“{username}”已被使用"),
                format!("The username `{username}` is taken"),
            ),
        ),
        kehu_store::StoreError::NotFound => invalid("invalid_unit", "单位不存在", "The unit does not exist"),
        e => e.into(),
    })
}

/// The staff member `id`, when the caller may manage them: with `staff.manage`, and only
/// someone all of whose roles the caller could grant (so a sales manager cannot deactivate
/// the general manager, and nobody but an admin touches an admin).
async fn managed(state: &AppState, policy: &Policy, caller: &Caller, id: i64) -> Result<StaffRow, Failure> {
    caller.require(policy, Permission::StaffManage)?;
    let target = kehu_store::staff::get(&state.db, caller.tenant_id, id)
        .await
        .map_err(|e| match e {
            kehu_store::StoreError::NotFound => Failure::not_found(Text::new("找不到该员工", "No such staff member")),
            e => e.into(),
        })?;
    if let Some(r) = target.role_list().iter().find(|r| !policy.may_grant(&caller.roles, r)) {
        let name = policy.role_name(r);
        return Err(Failure::forbidden(Text::new(
            format!(
                "{}担任“{}”，这是你不能授予的角色，你不能管理其账号",
                target.display_name, name.zh
            ),
            format!(
                "{} holds the role `{}`, which you may not grant, so you cannot manage their account",
                target.display_name, name.en
            ),
        )));
    }
    Ok(target)
}

/// What a change of a staff member asks for; `None` leaves a field.
#[derive(Debug, Clone, Default)]
pub struct StaffEdit {
    pub display_name: Option<String>,
    pub unit_id: Option<Option<i64>>,
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// Changes a staff member's name, unit, roles or whether they may log in. Deactivating ends
/// their sessions and tokens at once.
pub async fn update_staff(state: &AppState, caller: &Caller, id: i64, edit: StaffEdit) -> Result<StaffRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let target = managed(state, &policy, caller, id).await?;
    let roles = edit
        .roles
        .as_deref()
        .map(|r| roles_to_grant(&policy, caller, r))
        .transpose()?;
    // Nobody widens or takes away their own access: roles, unit (it sets a `unit` scope) and
    // whether they may log in are changed by someone else.
    if id == caller.id()
        && (edit.active == Some(false)
            || roles.as_ref().is_some_and(|r| *r != target.role_list())
            || edit.unit_id.is_some_and(|u| u != target.unit_id))
    {
        return Err(Failure::forbidden(Text::new(
            "不能停用自己，也不能更改自己的角色或部门：请另一位管理者操作",
            "You cannot deactivate yourself or change your own roles or unit: ask another manager",
        )));
    }
    let display_name = edit.display_name.as_deref().map(display_name).transpose()?;
    kehu_store::staff::update(
        &state.db,
        caller.tenant_id,
        Some(caller.id()),
        id,
        StaffChange {
            display_name,
            unit_id: edit.unit_id,
            roles,
            active: edit.active,
        },
        state.now(),
    )
    .await
    .map_err(|e| match e {
        kehu_store::StoreError::NotFound => invalid("invalid_unit", "单位不存在", "The unit does not exist"),
        e => e.into(),
    })
}

/// Sets a new password for a staff member (who then logs in with it); their sessions end.
pub async fn reset_password(state: &AppState, caller: &Caller, id: i64, password: &str) -> Result<(), Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    managed(state, &policy, caller, id).await?;
    // Setting a password without knowing the old one is for someone else's account.
    if id == caller.id() {
        return Err(Failure::forbidden(Text::new(
            "不能在这里重置自己的密码：请另一位管理者操作",
            "You cannot reset your own password here: ask another manager",
        )));
    }
    auth::check_password(password).map_err(|t| Failure::invalid("weak_password", t))?;
    let hash = auth::hash_password(password)?;
    kehu_store::staff::set_password(&state.db, caller.tenant_id, Some(caller.id()), id, &hash, state.now()).await?;
    Ok(())
}
