//! The policy file: a company's rulebook as settings (TOML), validated with file, line and column.
//!
//! The file is read into a raw form that keeps source spans, then checked into [`Policy`], the
//! only form the rest of Kehu sees. New sections (timers, pools, ledgers) are added beside the
//! ones here; unknown keys are errors so a typo never passes silently.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::decision::RuleId;
use crate::text::Text;

mod events;
mod explain;
pub mod limits;
mod retired;
mod sales;
mod timed;
pub mod visibility;
mod workflows;
pub use events::{Attendance, JointEvents};
pub use explain::{Line, explain, explain_plain};
pub use limits::Limits;
pub use retired::RetiredSection;
pub use sales::{AtEvents, ReferralPoints, Referred, SalesPolicy, SpecialCases};
pub use timed::{
    Cadence, CadenceDuty, CadenceTag, ClaimAction, Cutoff, Escalation, FirstContact, Flag, FollowUpConfirmation,
    InvalidRun, LedgerCode, LedgerKind, LedgerPolicy, Lifecycle, LocalTime, OnMiss, Party, Period, Pool, ShareRule,
    Submission,
};
pub use visibility::{RecordKind, Scope, Sees};

/// One problem in a policy file, pointing at the place to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// All problems found in one file, in source order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

/// What a role may do. Roles are named by the policy; permissions are Kehu's fixed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "customers.read")]
    CustomersRead,
    #[serde(rename = "customers.create")]
    CustomersCreate,
    /// Change a customer's grade and tags.
    #[serde(rename = "customers.update")]
    CustomersUpdate,
    #[serde(rename = "claims.create")]
    ClaimsCreate,
    /// Register a claim in another staff member's name.
    #[serde(rename = "claims.create_for_others")]
    ClaimsCreateForOthers,
    #[serde(rename = "activities.create")]
    ActivitiesCreate,
    #[serde(rename = "history.read")]
    HistoryRead,
    #[serde(rename = "staff.manage")]
    StaffManage,
    #[serde(rename = "units.manage")]
    UnitsManage,
    #[serde(rename = "policy.read")]
    PolicyRead,
    /// Read every staff member's ledger (everyone reads their own).
    #[serde(rename = "ledger.read")]
    LedgerRead,
}

impl Permission {
    pub const ALL: [Permission; 11] = [
        Permission::CustomersRead,
        Permission::CustomersCreate,
        Permission::CustomersUpdate,
        Permission::ClaimsCreate,
        Permission::ClaimsCreateForOthers,
        Permission::ActivitiesCreate,
        Permission::HistoryRead,
        Permission::StaffManage,
        Permission::UnitsManage,
        Permission::PolicyRead,
        Permission::LedgerRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::CustomersRead => "customers.read",
            Permission::CustomersCreate => "customers.create",
            Permission::CustomersUpdate => "customers.update",
            Permission::ClaimsCreate => "claims.create",
            Permission::ClaimsCreateForOthers => "claims.create_for_others",
            Permission::ActivitiesCreate => "activities.create",
            Permission::HistoryRead => "history.read",
            Permission::StaffManage => "staff.manage",
            Permission::UnitsManage => "units.manage",
            Permission::PolicyRead => "policy.read",
            Permission::LedgerRead => "ledger.read",
        }
    }

    /// What the permission lets one do, in words, for a refusal a person reads.
    pub fn label(self) -> Text {
        let (zh, en) = match self {
            Permission::CustomersRead => ("查看客户", "read customers"),
            Permission::CustomersCreate => ("登记客户", "register customers"),
            Permission::CustomersUpdate => ("修改客户的等级和标记", "change customers' grades and tags"),
            Permission::ClaimsCreate => ("登记归属", "register claims"),
            Permission::ClaimsCreateForOthers => ("替他人登记", "register claims for others"),
            Permission::ActivitiesCreate => ("记录跟进", "record follow-ups"),
            Permission::HistoryRead => ("查看变更历史", "read the history"),
            Permission::StaffManage => ("管理员工", "manage staff"),
            Permission::UnitsManage => ("管理单位", "manage units"),
            Permission::PolicyRead => ("查看制度", "read the policy"),
            Permission::LedgerRead => ("查看所有人的台账", "read everyone's ledger"),
        };
        Text::new(zh, en)
    }

    fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The kinds of follow-up Kehu records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Call,
    Visit,
    Sms,
    Meeting,
    WalkIn,
    Event,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Call,
        Channel::Visit,
        Channel::Sms,
        Channel::Meeting,
        Channel::WalkIn,
        Channel::Event,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Call => "call",
            Channel::Visit => "visit",
            Channel::Sms => "sms",
            Channel::Meeting => "meeting",
            Channel::WalkIn => "walk_in",
            Channel::Event => "event",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn label(self) -> Text {
        match self {
            Channel::Call => Text::new("电话", "Call"),
            Channel::Visit => Text::new("拜访", "Visit"),
            Channel::Sms => Text::new("短信", "SMS"),
            Channel::Meeting => Text::new("会面", "Meeting"),
            Channel::WalkIn => Text::new("到店", "Walk-in"),
            Channel::Event => Text::new("活动", "Event"),
        }
    }
}

/// The built-in role that may do everything within its tenant.
pub const ADMIN_ROLE: &str = "admin";

#[derive(Debug, Clone, Serialize)]
pub struct Role {
    pub id: String,
    pub name: Text,
    pub permissions: Vec<Permission>,
    /// Roles someone holding this one may grant besides their own (with `staff.manage`).
    pub grants: Vec<String>,
    /// What someone holding this role may see, per record kind.
    pub sees: Sees,
}

/// Whether a second staff member may register a customer someone already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateClaims {
    /// Several claims may stand; ownership decides between them (R3.3, R5.5, R7.7).
    Allow,
    /// A customer with a pending or valid claim refuses further claims.
    Refuse,
}

/// When a confirmed claim takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectiveAt {
    /// At the confirmation (R5.1: signed later, it takes effect at the signature time).
    AtConfirmation,
    /// Back-dated to the registration once confirmed.
    AtRegistration,
}

#[derive(Debug, Clone, Serialize)]
pub struct Confirmation {
    pub rule: RuleId,
    pub roles: Vec<String>,
    pub effective: EffectiveAt,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClaimPolicy {
    /// The rule a registration is made under.
    pub rule: RuleId,
    pub duplicates: DuplicateClaims,
    /// `None`: a claim is valid as soon as it is registered.
    pub confirmation: Option<Confirmation>,
    /// `None`: a valid claim stays valid until it is cancelled.
    pub lifecycle: Option<Lifecycle>,
    /// R5.6: who may cancel a claim, with a written reason.
    pub cancel: Option<ClaimAction>,
    /// R5.3: who may hand a void claim to another staff member.
    pub reassign: Option<ClaimAction>,
    /// R3.1: by when a contact must be registered, and what a late registration costs (R3.12).
    pub submission: Option<Submission>,
    /// How many standing claims one person may hold.
    pub max_held: Option<u32>,
    /// R7.8(12): a manager redistributes a leaving person's customers.
    pub redistribute: Option<ShareRule>,
    /// R11.4: once one division's claim (invitation) on a customer is confirmed, other divisions
    /// may not claim the customer.
    pub one_division: Option<OneDivision>,
}

/// R11.4: the first confirmed invitation wins and other divisions may not invite the customer:
/// registering or confirming a claim of another division than the one holding a valid claim is
/// refused. A division is the unit a claim counts for (its joint event's division, else the
/// holder's unit); claims of staff without a unit neither hold nor are held off. An invitation
/// to a joint event that is overdue for filing and not filed does not hold (R11.3: the customer
/// goes to the division that invites and confirms meanwhile).
#[derive(Debug, Clone, Serialize)]
pub struct OneDivision {
    pub rule: RuleId,
}

/// How ownership is derived from claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnershipBasis {
    /// The valid claim that took effect first wins.
    EarliestEffective,
    /// R3.3: the valid claim whose registration form names the earliest time wins (when the
    /// staff member met and registered the customer), provided the form was handed in by the
    /// R3.1 cut-off or its grace; a form handed in later counts from its submission.
    EarliestRegisteredOnForm,
}

#[derive(Debug, Clone, Serialize)]
pub struct OwnershipPolicy {
    pub rule: RuleId,
    pub basis: OwnershipBasis,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerPolicy {
    /// Country calling code assumed for phone numbers written without one.
    pub default_country_code: String,
    /// Where customers come from (R3.2, R5.8, R11): a customer's `source` is one of these ids.
    /// Empty: the source is free text, as staff write it.
    pub sources: Vec<Source>,
    /// R5.8: the first message a new customer from certain sources gets, and by when.
    pub first_contact: Option<FirstContact>,
    /// R11.1: unclaimed customers (an event's files) are shared out among named staff.
    pub share_out: Option<ShareRule>,
}

/// A customer source the policy defines: its id (what is stored), its name, and other
/// spellings staff have written it as (customers registered before the list, or typed names).
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub id: String,
    pub name: Text,
    pub aliases: Vec<String>,
}

impl Source {
    fn answers_to(&self, s: &str) -> bool {
        let s = s.trim();
        self.id == s
            || self.name.zh == s
            || self.name.en.eq_ignore_ascii_case(s)
            || self.aliases.iter().any(|a| a.trim().eq_ignore_ascii_case(s))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ActivityPolicy {
    pub channels: Vec<Channel>,
    /// Kinds of service an activity may be recorded as (R11.7: before, during, after sale,
    /// regular care); empty when the rulebook has none.
    pub kinds: Vec<ServiceKind>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceKind {
    pub id: String,
    pub rule: RuleId,
    pub name: Text,
}

/// A checked policy: the only form the rest of Kehu uses.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub id: String,
    pub rulebook: Option<String>,
    pub version: u32,
    pub name: Text,
    pub time_zone: String,
    #[serde(skip)]
    pub tz: jiff::tz::TimeZone,
    /// Separation of duties (on unless the file turns it off): nobody confirms their own claim
    /// or their own follow-up; whoever must confirm it is someone else.
    pub separation_of_duties: bool,
    pub customers: CustomerPolicy,
    pub roles: Vec<Role>,
    pub claims: ClaimPolicy,
    pub ownership: OwnershipPolicy,
    pub activities: ActivityPolicy,
    pub ledger: LedgerPolicy,
    /// Customer pools (公海), if the rulebook has any.
    pub pools: Vec<Pool>,
    /// R1.6, R1.7: how often customers are visited.
    pub cadence: Option<Cadence>,
    /// R11.3: filing cut-offs of joint events.
    pub events: Option<JointEvents>,
    /// R5.7, R11.5: who a sale counts for.
    pub sales: Option<SalesPolicy>,
    /// The ranges amounts and dates staff enter may take.
    pub limits: Limits,
    /// Staged processes run as cases by the case engine (`[[workflows]]`).
    pub workflows: Vec<crate::workflow::Workflow>,
    /// Sections of an earlier Kehu this file still has, read as the workflows they are now
    /// (`[complaints]`, `[conflicts]`).
    pub retired: Vec<RetiredSection>,
}

impl Policy {
    /// Parses and checks a policy file. `file` names it in error messages.
    pub fn parse(source: &str, file: &str) -> Result<Policy, PolicyErrors> {
        let Some(up) = retired::upgrade(source) else {
            return Self::parse_exact(source, file);
        };
        // A problem in a workflow read from a retired section is the section's.
        let mut policy = Self::parse_exact(&up.source, file).map_err(|PolicyErrors(errors)| {
            PolicyErrors(
                errors
                    .into_iter()
                    .map(|mut e| {
                        if e.line >= up.appended_from {
                            let at = up.starts.iter().rposition(|start| *start <= e.line).unwrap_or(0);
                            if let Some(r) = up.read.get(at) {
                                e.message =
                                    format!("[{}], read as workflow `{}`: {}", r.section, r.workflow, e.message);
                                (e.line, e.column) = (r.line, 1);
                            }
                        }
                        e
                    })
                    .collect(),
            )
        })?;
        policy.retired = up.read;
        Ok(policy)
    }

    /// Parses and checks a policy file as it is written.
    fn parse_exact(source: &str, file: &str) -> Result<Policy, PolicyErrors> {
        let raw: RawPolicy = toml::from_str(source).map_err(|e| {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            let message = e.message().trim().to_string();
            let hint = toml_hint(&message);
            PolicyErrors(vec![error_at(source, file, at, message, hint)])
        })?;
        Checker {
            source,
            file,
            errors: Vec::new(),
            links: Vec::new(),
        }
        .check(raw)
    }

    /// The workflow with this id.
    pub fn workflow(&self, id: &str) -> Option<&crate::workflow::Workflow> {
        self.workflows.iter().find(|w| w.id == id)
    }

    /// The role with this ID; `admin` is always defined.
    pub fn role(&self, id: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// Whether someone holding `roles` has `permission`.
    pub fn allows(&self, roles: &[String], permission: Permission) -> bool {
        roles
            .iter()
            .any(|r| r == ADMIN_ROLE || self.role(r).is_some_and(|role| role.permissions.contains(&permission)))
    }

    /// Whether someone holding `granter` may give a staff member `role`: an admin may grant any
    /// role; anyone else only roles they hold themselves or that one of their roles lists under
    /// `grants`. (`staff.manage` is checked separately.)
    pub fn may_grant(&self, granter: &[String], role: &str) -> bool {
        granter.iter().any(|g| {
            g == ADMIN_ROLE
                || (g == role && role != ADMIN_ROLE)
                || self.role(g).is_some_and(|r| r.grants.iter().any(|x| x == role))
        })
    }

    /// The roles `granter` may grant, in the policy's order.
    pub fn grantable(&self, granter: &[String]) -> Vec<&Role> {
        self.roles.iter().filter(|r| self.may_grant(granter, &r.id)).collect()
    }

    /// Whether someone holding `roles` may confirm claims.
    pub fn may_confirm(&self, roles: &[String]) -> bool {
        roles
            .iter()
            .any(|r| r == ADMIN_ROLE || self.claims.confirmation.as_ref().is_some_and(|c| c.roles.contains(r)))
    }

    /// Whether someone holding `roles` holds one of `listed` (or is an admin).
    pub fn holds_any(roles: &[String], listed: &[String]) -> bool {
        roles.iter().any(|r| r == ADMIN_ROLE || listed.contains(r))
    }

    /// Whether someone holding `roles` may add and reverse ledger entries.
    pub fn may_manage_ledger(&self, roles: &[String]) -> bool {
        Policy::holds_any(roles, &self.ledger.managers)
    }

    pub fn pool(&self, id: &str) -> Option<&Pool> {
        self.pools.iter().find(|p| p.id == id)
    }

    /// Several roles by name, as a refusal lists them: `销售组长或销售经理` / `Team leader or Sales manager`.
    pub fn roles_text(&self, ids: &[String]) -> Text {
        let names: Vec<Text> = ids.iter().map(|r| self.role_name(r)).collect();
        Text::new(
            names.iter().map(|n| n.zh.as_str()).collect::<Vec<_>>().join("或"),
            names.iter().map(|n| n.en.as_str()).collect::<Vec<_>>().join(" or "),
        )
    }

    /// The display name of a role, or its ID when the policy does not know it.
    /// A role's name (or the relation `opener` of a workflow action, in words).
    pub fn role_name(&self, id: &str) -> Text {
        match self.role(id) {
            Some(r) => r.name.clone(),
            None if id == crate::workflow::OPENER => Text::new("案件开启人", "whoever opened the case"),
            None => Text::new(id, id),
        }
    }

    /// The source `s` names: by its id, its name in either language or an alias. `None` for
    /// anything else, and always without a list of sources.
    pub fn source(&self, s: &str) -> Option<&Source> {
        self.customers.sources.iter().find(|x| x.answers_to(s))
    }

    /// Whether a customer's `source` is one of `listed` (source ids, or free text when the
    /// policy defines no sources).
    pub fn source_in(&self, source: Option<&str>, listed: &[String]) -> bool {
        let Some(s) = source.map(str::trim).filter(|s| !s.is_empty()) else {
            return false;
        };
        if self.customers.sources.is_empty() {
            return listed.iter().any(|x| x.trim().eq_ignore_ascii_case(s));
        }
        self.source(s).is_some_and(|src| listed.contains(&src.id))
    }

    /// A source as people read it: its name, or the text itself when the policy does not know it.
    pub fn source_name(&self, s: &str) -> Text {
        self.source(s)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| Text::new(s, s))
    }

    /// Formats a time in the tenant's zone, minutes precision: `2026-11-03 09:12`.
    pub fn local_time(&self, t: jiff::Timestamp) -> String {
        t.to_zoned(self.tz.clone()).strftime("%Y-%m-%d %H:%M").to_string()
    }
}

fn toml_hint(message: &str) -> Option<String> {
    if message.starts_with("unknown field") {
        Some("remove the key or fix its spelling; the keys this section accepts are listed above".into())
    } else if message.starts_with("missing field") {
        Some("add the key to this section; docs/policy.md lists every key of every section".into())
    } else if message.contains("unknown variant") {
        Some("use one of the values listed above".into())
    } else if message.contains("invalid type") {
        Some("check the value's type: text in quotes, numbers without, lists in [ ]".into())
    } else {
        Some("this is TOML syntax: a key = value per line, text in quotes, [section] headers (docs/policy.md shows every section)".into())
    }
}

fn error_at(source: &str, file: &str, at: usize, message: String, hint: Option<String>) -> PolicyError {
    let at = at.min(source.len());
    let before = &source[..source.floor_char_boundary(at)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    PolicyError {
        file: file.to_string(),
        line,
        column,
        message,
        hint,
    }
}

// ---- the raw file, as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    policy: RawHeader,
    #[serde(default)]
    customers: Option<RawCustomers>,
    #[serde(default)]
    roles: Vec<RawRole>,
    claims: RawClaims,
    ownership: RawOwnership,
    #[serde(default)]
    activities: Option<RawActivities>,
    #[serde(default)]
    ledger: Option<timed::RawLedger>,
    #[serde(default)]
    pools: Vec<timed::RawPool>,
    #[serde(default)]
    cadence: Option<timed::RawCadence>,
    #[serde(default)]
    events: Option<events::RawJointEvents>,
    #[serde(default)]
    sales: Option<sales::RawSales>,
    /// The section R11.9 had before it ran on the case engine, when `retired::upgrade` could
    /// not read it as its workflow: refused with the way to write it now.
    #[serde(default)]
    complaints: Option<Spanned<toml::Table>>,
    /// The section R11.6 had before it ran on the case engine, when `retired::upgrade` could
    /// not read it as its workflow: refused with the way to write it now.
    #[serde(default)]
    conflicts: Option<Spanned<toml::Table>>,
    #[serde(default)]
    limits: Option<limits::RawLimits>,
    #[serde(default)]
    workflows: Vec<workflows::RawWorkflow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    id: Spanned<String>,
    #[serde(default)]
    rulebook: Option<String>,
    version: Spanned<i64>,
    name: Text,
    #[serde(default)]
    time_zone: Option<Spanned<String>>,
    #[serde(default)]
    separation_of_duties: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustomers {
    #[serde(default)]
    default_country_code: Option<Spanned<String>>,
    #[serde(default)]
    first_contact: Option<timed::RawFirstContact>,
    #[serde(default)]
    share_out: Option<timed::RawShareRule>,
    #[serde(default)]
    sources: Vec<RawSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    id: Spanned<String>,
    name: Spanned<Text>,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    id: Spanned<String>,
    name: Text,
    #[serde(default)]
    permissions: Vec<Spanned<String>>,
    #[serde(default)]
    grants: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    sees: Option<visibility::RawSees>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClaims {
    rule: Spanned<String>,
    duplicates: DuplicateClaims,
    #[serde(default)]
    confirmation: Option<RawConfirmation>,
    #[serde(default)]
    lifecycle: Option<timed::RawLifecycle>,
    #[serde(default)]
    cancel: Option<timed::RawClaimAction>,
    #[serde(default)]
    reassign: Option<timed::RawClaimAction>,
    #[serde(default)]
    submission: Option<timed::RawSubmission>,
    #[serde(default)]
    max_held: Option<Spanned<i64>>,
    #[serde(default)]
    redistribute: Option<timed::RawShareRule>,
    #[serde(default)]
    one_division: Option<RawOneDivision>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOneDivision {
    rule: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfirmation {
    rule: Spanned<String>,
    roles: Spanned<Vec<Spanned<String>>>,
    effective: EffectiveAt,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwnership {
    rule: Spanned<String>,
    basis: Spanned<OwnershipBasis>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawActivities {
    channels: Vec<Spanned<String>>,
    #[serde(default)]
    kinds: Vec<RawServiceKind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServiceKind {
    id: Spanned<String>,
    rule: Spanned<String>,
    name: Text,
}

struct Checker<'a> {
    source: &'a str,
    file: &'a str,
    errors: Vec<PolicyError>,
    /// The `open` effects met so far, checked once every workflow is read.
    links: Vec<workflows::Link>,
}

impl Checker<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>, hint: impl Into<String>) {
        self.errors.push(error_at(
            self.source,
            self.file,
            span.start,
            message.into(),
            Some(hint.into()),
        ));
    }

    fn rule(&mut self, raw: &Spanned<String>) -> RuleId {
        match RuleId::parse(raw.get_ref()) {
            Ok(r) => r,
            Err(e) => {
                self.error(
                    raw.span(),
                    e.to_string(),
                    "rule IDs are those of docs/rulebooks.md, e.g. \"R5.1\"",
                );
                RuleId::parse("R0.0").expect("placeholder rule ID is well-formed")
            }
        }
    }

    /// The customer sources: ids as other ids are, names in both languages, and no spelling
    /// that two sources answer to.
    fn sources(&mut self, raw: Vec<RawSource>) -> Vec<Source> {
        let mut out: Vec<Source> = Vec::new();
        for r in raw {
            let id = r.id.get_ref().trim().to_string();
            if id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                self.error(
                    r.id.span(),
                    format!("source id `{id}` must be lowercase letters, digits and underscores"),
                    "for example id = \"walk_in\"",
                );
            }
            let name = r.name.get_ref().clone();
            if name.zh.trim().is_empty() || name.en.trim().is_empty() {
                self.error(
                    r.name.span(),
                    format!("source `{id}` needs a name in Chinese and in English"),
                    "for example name = { zh = \"来访\", en = \"Walk-in\" }",
                );
            }
            let src = Source {
                id: id.clone(),
                name,
                aliases: r.aliases.iter().map(|a| a.get_ref().trim().to_string()).collect(),
            };
            let spellings = std::iter::once((src.id.clone(), r.id.span()))
                .chain([src.name.zh.clone(), src.name.en.clone()].map(|n| (n, r.name.span())))
                .chain(r.aliases.iter().map(|a| (a.get_ref().trim().to_string(), a.span())));
            let mut clash = false;
            for (spelling, span) in spellings.filter(|(s, _)| !s.is_empty()) {
                if let Some(other) = out.iter().find(|o| o.answers_to(&spelling)) {
                    self.error(
                        span,
                        format!("`{spelling}` already names the source `{}`", other.id),
                        "each id, name and alias names one source; remove it from one of them",
                    );
                    clash = true;
                }
            }
            if !clash {
                out.push(src);
            }
        }
        out
    }

    /// Source references (`sources = [...]` of a rule): ids of `[[customers.sources]]` when the
    /// policy lists its sources, else free text.
    pub(super) fn source_refs(
        &mut self,
        raw: &Spanned<Vec<Spanned<String>>>,
        sources: &[Source],
        what: &str,
    ) -> Vec<String> {
        if raw.get_ref().iter().all(|s| s.get_ref().trim().is_empty()) {
            self.error(
                raw.span(),
                format!("{what} needs at least one source"),
                if sources.is_empty() {
                    "for example sources = [\"来电\", \"来访\"]".to_string()
                } else {
                    format!("for example sources = [\"{}\"]", sources[0].id)
                },
            );
        }
        let mut out = Vec::new();
        for s in raw.get_ref() {
            let v = s.get_ref().trim().to_string();
            if sources.is_empty() || sources.iter().any(|x| x.id == v) {
                out.push(v);
            } else {
                let known: Vec<&str> = sources.iter().map(|x| x.id.as_str()).collect();
                let hint = match sources.iter().find(|x| x.answers_to(&v)) {
                    Some(x) => format!("write the source's id: \"{}\"", x.id),
                    None => format!("sources defined in [[customers.sources]]: {}", known.join(", ")),
                };
                self.error(
                    s.span(),
                    format!("source `{v}` is not defined in [[customers.sources]]"),
                    hint,
                );
            }
        }
        out
    }

    fn check(mut self, raw: RawPolicy) -> Result<Policy, PolicyErrors> {
        let h = raw.policy;
        let id = h.id.get_ref().trim().to_string();
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            self.error(
                h.id.span(),
                format!("policy id `{id}` must be lowercase letters, digits and dashes"),
                "for example id = \"car-dealership\"",
            );
        }
        let version = *h.version.get_ref();
        if !(1..=i64::from(u32::MAX)).contains(&version) {
            self.error(
                h.version.span(),
                format!("version {version} must be a whole number from 1 up"),
                "raise the version by one each time the policy changes",
            );
        }
        let (time_zone, tz) = match &h.time_zone {
            None => (
                "Asia/Shanghai".to_string(),
                jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::UTC),
            ),
            Some(z) => match jiff::tz::TimeZone::get(z.get_ref()) {
                Ok(tz) => (z.get_ref().clone(), tz),
                Err(_) => {
                    self.error(
                        z.span(),
                        format!("`{}` is not a time zone", z.get_ref()),
                        "use an IANA zone name such as \"Asia/Shanghai\"",
                    );
                    (z.get_ref().clone(), jiff::tz::TimeZone::UTC)
                }
            },
        };
        let (raw_cc, raw_first_contact, raw_share_out, raw_sources) = match raw.customers {
            Some(c) => (c.default_country_code, c.first_contact, c.share_out, c.sources),
            None => (None, None, None, Vec::new()),
        };
        let sources = self.sources(raw_sources);
        let default_country_code = match raw_cc {
            None => "86".to_string(),
            Some(cc) => {
                let v = cc.get_ref().trim_start_matches('+').to_string();
                if v.is_empty() || v.len() > 3 || !v.bytes().all(|b| b.is_ascii_digit()) || v.starts_with('0') {
                    self.error(
                        cc.span(),
                        format!("`{}` is not a country calling code", cc.get_ref()),
                        "write the digits only, e.g. \"86\" for China",
                    );
                }
                v
            }
        };

        let mut roles: Vec<Role> = vec![Role {
            id: ADMIN_ROLE.to_string(),
            name: Text::new("管理员", "Administrator"),
            permissions: Permission::ALL.to_vec(),
            grants: Vec::new(),
            sees: Sees::undeclared(true),
        }];
        let mut raw_grants = Vec::new();
        for r in raw.roles {
            let rid = r.id.get_ref().clone();
            if rid == ADMIN_ROLE {
                self.error(
                    r.id.span(),
                    "the role `admin` is built in and may not be redefined",
                    "choose another ID; admin may always do everything in its tenant",
                );
                continue;
            }
            if rid.is_empty()
                || !rid
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                self.error(
                    r.id.span(),
                    format!("role id `{rid}` must be lowercase letters, digits and underscores"),
                    "for example id = \"team_leader\"",
                );
            }
            if roles.iter().any(|x| x.id == rid) {
                self.error(
                    r.id.span(),
                    format!("role `{rid}` is defined twice"),
                    "keep one definition per role",
                );
                continue;
            }
            let mut permissions = Vec::new();
            for p in &r.permissions {
                match Permission::parse(p.get_ref()) {
                    Some(p) if !permissions.contains(&p) => permissions.push(p),
                    Some(_) => {}
                    None => {
                        let known: Vec<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
                        self.error(
                            p.span(),
                            format!("unknown permission `{}`", p.get_ref()),
                            format!("permissions are: {}", known.join(", ")),
                        );
                    }
                }
            }
            if let Some(g) = r.grants {
                raw_grants.push((roles.len(), g));
            }
            // Undeclared scopes depend on the ledger's managers, known further down.
            let sees = match r.sees {
                Some(raw) => self.sees(raw),
                None => Sees::undeclared(false),
            };
            roles.push(Role {
                id: rid,
                name: r.name,
                permissions,
                grants: Vec::new(),
                sees,
            });
        }
        // Grants may name roles defined later in the file, so they are checked once all are known.
        for (i, g) in raw_grants {
            let list = self.role_list(&g, &roles, "grants");
            if list.iter().any(|r| r == ADMIN_ROLE) {
                self.error(
                    g.span(),
                    "no role may grant `admin`",
                    "only an admin grants the admin role; remove it from `grants`",
                );
            }
            roles[i].grants = list.into_iter().filter(|r| r != ADMIN_ROLE).collect();
        }

        let claim_rule = self.rule(&raw.claims.rule);
        let confirmation = raw.claims.confirmation.map(|c| Confirmation {
            rule: self.rule(&c.rule),
            roles: self.role_list(&c.roles, &roles, "[claims.confirmation]"),
            effective: c.effective,
        });
        let ownership_rule = self.rule(&raw.ownership.rule);

        let mut kinds: Vec<ServiceKind> = Vec::new();
        for k in raw.activities.iter().flat_map(|a| a.kinds.iter()) {
            let id = k.id.get_ref().clone();
            if id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                self.error(
                    k.id.span(),
                    format!("service kind `{id}` must be lowercase letters, digits and underscores"),
                    "for example id = \"after_sale\"",
                );
            }
            if kinds.iter().any(|x| x.id == id) {
                self.error(
                    k.id.span(),
                    format!("service kind `{id}` is defined twice"),
                    "keep one definition per kind",
                );
                continue;
            }
            kinds.push(ServiceKind {
                rule: self.rule(&k.rule),
                id,
                name: k.name.clone(),
            });
        }
        let channels = match raw.activities {
            None => Channel::ALL.to_vec(),
            Some(a) => {
                let mut out = Vec::new();
                for c in &a.channels {
                    match Channel::parse(c.get_ref()) {
                        Some(ch) if !out.contains(&ch) => out.push(ch),
                        Some(_) => {}
                        None => {
                            let known: Vec<_> = Channel::ALL.iter().map(|c| c.as_str()).collect();
                            self.error(
                                c.span(),
                                format!("unknown channel `{}`", c.get_ref()),
                                format!("channels are: {}", known.join(", ")),
                            );
                        }
                    }
                }
                out
            }
        };

        let ledger = match raw.ledger {
            Some(l) => self.ledger(l, &roles),
            None => LedgerPolicy {
                currency: "CNY".into(),
                managers: Vec::new(),
                codes: Vec::new(),
            },
        };
        for role in roles.iter_mut().filter(|r| !r.sees.declared && r.id != ADMIN_ROLE) {
            role.sees = Sees::undeclared(Policy::ledger_whole(&role.permissions, &role.id, &ledger.managers));
        }
        let pools = self.pools(raw.pools, &roles);
        let cadence = raw.cadence.map(|c| self.cadence(c, &roles, &channels));
        let events = raw.events.map(|e| self.joint_events(e, &roles, &ledger.codes));
        let sales = raw.sales.map(|s| self.sales(s, &roles, &ledger.codes, &sources));
        if let Some(old) = &raw.complaints {
            self.error(
                old.span(),
                "[complaints] is no longer a section of its own, and this one has keys it never had (or several reassign_roles): it cannot be read as workflow `complaint`",
                "declare [[workflows]] id = \"complaint\" as presets/event-customers.toml does (docs/policy.md, \"Complaints as a workflow\")",
            );
        }
        if let Some(old) = &raw.conflicts {
            self.error(
                old.span(),
                "[conflicts] is no longer a section of its own, and this one has keys it never had (or several coordinator_roles): it cannot be read as workflow `conflict`",
                "declare [[workflows]] id = \"conflict\" as presets/event-customers.toml does (docs/policy.md, \"Conflicts as a workflow\")",
            );
        }
        let limits = raw.limits.map(|l| self.limits(l)).unwrap_or_default();
        let workflows = self.workflows(raw.workflows, &roles, &ledger.codes, limits.max_amount);
        let lifecycle = raw
            .claims
            .lifecycle
            .map(|l| self.lifecycle(l, &roles, &channels, &ledger.codes, &pools));
        let max_held = raw.claims.max_held.as_ref().map(|m| {
            let v = *m.get_ref();
            if !(1..=1_000_000).contains(&v) {
                self.error(
                    m.span(),
                    format!("max_held = {v} must be from 1 up"),
                    "leave it out for no limit",
                );
            }
            u32::try_from(v).unwrap_or(1)
        });
        let redistribute = raw
            .claims
            .redistribute
            .map(|r| self.share_rule(r, &roles, "[claims.redistribute]"));
        let share_out = raw_share_out.map(|r| self.share_rule(r, &roles, "[customers.share_out]"));
        let submission = raw.claims.submission.map(|sub| self.submission(sub, &ledger.codes));
        let basis = *raw.ownership.basis.get_ref();
        if basis == OwnershipBasis::EarliestRegisteredOnForm && submission.is_none() {
            self.error(
                raw.ownership.basis.span(),
                "basis = \"earliest_registered_on_form\" needs a [claims.submission] cut-off",
                "R3.3 reads the time on forms handed in on time (R3.1): add [claims.submission] with `by` (and `late_until`)",
            );
        }
        let first_contact = raw_first_contact.and_then(|f| self.first_contact(f, &channels, &ledger.codes, &sources));
        let one_division = raw.claims.one_division.map(|o| OneDivision {
            rule: self.rule(&o.rule),
        });
        let cancel = raw
            .claims
            .cancel
            .map(|c| self.claim_action(c, &roles, "[claims.cancel]"));
        let reassign = raw
            .claims
            .reassign
            .map(|c| self.claim_action(c, &roles, "[claims.reassign]"));

        if !self.errors.is_empty() {
            self.errors.sort_by_key(|e| (e.line, e.column));
            return Err(PolicyErrors(self.errors));
        }
        Ok(Policy {
            id,
            rulebook: h.rulebook,
            version: u32::try_from(version).unwrap_or(1),
            name: h.name,
            time_zone,
            tz,
            separation_of_duties: h.separation_of_duties.unwrap_or(true),
            customers: CustomerPolicy {
                default_country_code,
                sources,
                first_contact,
                share_out,
            },
            roles,
            claims: ClaimPolicy {
                rule: claim_rule,
                duplicates: raw.claims.duplicates,
                confirmation,
                lifecycle,
                cancel,
                reassign,
                submission,
                max_held,
                redistribute,
                one_division,
            },
            ownership: OwnershipPolicy {
                rule: ownership_rule,
                basis,
            },
            activities: ActivityPolicy { channels, kinds },
            ledger,
            pools,
            cadence,
            events,
            sales,
            limits,
            workflows,
            retired: Vec::new(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = r#"
[policy]
id = "sample"
version = 3
name = { zh = "示例", en = "Sample" }

[[roles]]
id = "consultant"
name = { zh = "销售顾问", en = "Consultant" }
permissions = ["customers.read", "customers.create", "claims.create", "activities.create"]

[[roles]]
id = "team_leader"
name = { zh = "销售组长", en = "Team leader" }
permissions = ["customers.read", "claims.create", "claims.create_for_others", "history.read"]

[claims]
rule = "R5.1"
duplicates = "allow"

[claims.confirmation]
rule = "R5.1"
roles = ["team_leader"]
effective = "at_confirmation"

[ownership]
rule = "R5.5"
basis = "earliest_effective"

[customers.first_contact]
rule = "R5.8"
sources = ["来电", "到店"]
channel = "sms"
by = "end_of_day"
penalty = "no_first_sms"
message = { zh = "您好，我是示范汽车销售顾问{consultant}", en = "Hello, this is {consultant} of the demo dealership" }

[claims.lifecycle]
rule = "R5.2"
follow_up_channels = ["call", "visit", "sms", "meeting", "walk_in"]
first_within = "3 days"
then_within = "1 week"
on_miss = "void"
duplicate_penalty = "duplicate_card"

[claims.lifecycle.confirm_follow_up]
rule = "R5.2"
number = 2
roles = ["team_leader"]
within = "24 hours"

[[claims.lifecycle.invalid_runs]]
rule = "R5.4"
channel = "sms"
consecutive = 3

[claims.cancel]
rule = "R5.6"
roles = ["team_leader"]
reason_min_chars = 4

[claims.reassign]
rule = "R5.3"
roles = ["team_leader"]
signer_only = true

[ledger]
managers = ["team_leader"]

[[ledger.codes]]
code = "duplicate_card"
rule = "R5.5"
kind = "penalty"
name = { zh = "未及时回访造成重卡", en = "Duplicate card after a missed follow-up" }
amount = 2000
manual = false

[[ledger.codes]]
code = "no_first_sms"
rule = "R5.8"
kind = "penalty"
name = { zh = "未当天首次短信回访", en = "No first SMS the same day" }
amount = 2000
manual = false

[[ledger.codes]]
code = "lateness"
rule = "R5.17"
kind = "penalty"
name = { zh = "迟到", en = "Lateness" }
amount = 2000
escalation = [{ from = 2, amount = 4000 }, { from = 3, flag = "dismissal_review" }]

[[ledger.codes]]
code = "absence"
rule = "R6.1"
kind = "points"
name = { zh = "缺岗", en = "Absence" }
points = -10

[[ledger.codes]]
code = "supervision_failure"
rule = "R6.1"
kind = "points"
name = { zh = "店长监督不善", en = "Store manager failed to supervise" }
times_referred = 2
entered_by = ["team_leader"]
"#;

    pub(crate) fn sample() -> Policy {
        Policy::parse(SAMPLE, "sample.toml").unwrap()
    }

    /// The event-customers preset without its workflows, with the sections an earlier Kehu
    /// wrote instead (as tenants keep them in their stored versions).
    fn with_retired_sections(conflicts_openers: &str) -> String {
        let src = include_str!("../../../presets/event-customers.toml");
        let mut out = String::new();
        let mut skipping = false;
        for l in src.lines() {
            let t = l.trim_start();
            if t.starts_with('[') {
                skipping = t.starts_with("[[workflows") || t.starts_with("[workflows");
            }
            if !skipping {
                out.push_str(l);
                out.push('\n');
            }
        }
        out.push_str(&format!(
            "\n[complaints]\nrule = \"R11.9\"\nroles = [\"division_head\", \"general_manager\"]\nstaff_code = \"complaint\"\n\
             to_boss_code = \"complaint_to_boss\"\nmanager_roles = [\"division_head\"]\nresolve_within = \"3 days\"\n\
             unresolved_code = \"complaint_unresolved\"\nreassign_roles = [\"sales\"]\n\n[conflicts]\nrule = \"R11.6\"\n\
             openers = {conflicts_openers}\ncoordinator_roles = [\"coordinator\"]\nhead_roles = [\"division_head\"]\n\
             arbiters = [\"general_manager\"]\npenalty = \"conflict_argued\"\n"
        ));
        out
    }

    #[test]
    fn r11_6_r11_9_a_stored_policy_with_the_retired_sections_runs_them_as_the_presets_workflows() {
        let now = Policy::parse(include_str!("../../../presets/event-customers.toml"), "e.toml").unwrap();
        let old_src = with_retired_sections("[\"coordinator\", \"division_head\"]");
        // The record kinds the retired sections had in `sees` still parse.
        let old_src = old_src.replacen(
            "sees = { default = \"unit\", customers = \"all\" }",
            "sees = { default = \"unit\", customers = \"all\", complaints = \"unit\", conflicts = \"unit\" }",
            1,
        );
        assert!(old_src.contains("conflicts = \"unit\""));
        let old = Policy::parse(&old_src, "e.toml").unwrap();
        assert!(now.retired.is_empty());
        let read: Vec<(&str, &str)> = old
            .retired
            .iter()
            .map(|r| (r.section.as_str(), r.workflow.as_str()))
            .collect();
        assert_eq!(read, vec![("complaints", "complaint"), ("conflicts", "conflict")]);
        let line_of = |needle: &str| old_src.lines().position(|l| l == needle).unwrap() + 1;
        assert_eq!(old.retired[1].line, line_of("[conflicts]"));
        assert!(old.retired[1].advice().contains("[[workflows]] id = \"conflict\""));
        // The same workflows as the preset's: states, actions, who takes them, timers, charges.
        for id in ["complaint", "conflict"] {
            let (a, b) = (old.workflow(id).unwrap(), now.workflow(id).unwrap());
            let states = |w: &crate::workflow::Workflow| w.states.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
            let actions = |w: &crate::workflow::Workflow| {
                w.actions
                    .iter()
                    .map(|x| (x.id.clone(), x.by.clone(), x.to.clone(), x.effects.len()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                (a.rule.as_str(), states(a), actions(a)),
                (b.rule.as_str(), states(b), actions(b)),
                "{id}"
            );
            assert_eq!(a.timers.len(), b.timers.len(), "{id}");
            assert_eq!(a.on_open.len(), b.on_open.len(), "{id}");
        }
        // A problem in a section read as a workflow is reported at the section's header.
        let bad = with_retired_sections("[\"coordinator\", \"boss\"]");
        let errs = Policy::parse(&bad, "e.toml").unwrap_err().0;
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].line, line_of("[conflicts]"), "{errs:?}");
        assert!(
            errs[0].message.starts_with("[conflicts], read as workflow `conflict`:")
                && errs[0].message.contains("boss"),
            "{errs:?}"
        );
        // A section with keys it never had is refused at its place.
        let odd = old_src.replace(
            "penalty = \"conflict_argued\"",
            "penalty = \"conflict_argued\"\nfine = 1",
        );
        let errs = Policy::parse(&odd, "e.toml").unwrap_err().0;
        assert_eq!((errs.len(), errs[0].line), (1, line_of("[conflicts]")), "{errs:?}");
        assert!(
            errs[0].message.contains("cannot be read as workflow `conflict`"),
            "{errs:?}"
        );
    }

    #[test]
    fn a_complete_file_parses_with_defaults() {
        let p = sample();
        assert_eq!(p.version, 3);
        assert_eq!(p.time_zone, "Asia/Shanghai");
        assert_eq!(p.customers.default_country_code, "86");
        assert_eq!(p.activities.channels.len(), 6);
        assert!(p.allows(&["consultant".into()], Permission::ClaimsCreate));
        assert!(!p.allows(&["consultant".into()], Permission::StaffManage));
        assert!(p.allows(&["admin".into()], Permission::StaffManage));
        assert!(p.may_confirm(&["team_leader".into()]));
        assert!(!p.may_confirm(&["consultant".into()]));
    }

    #[test]
    fn syntax_errors_point_at_line_and_column() {
        let src = SAMPLE.replace("version = 3", "version = = 3");
        let errs = Policy::parse(&src, "p.toml").unwrap_err();
        assert_eq!(errs.0.len(), 1);
        let e = &errs.0[0];
        assert_eq!((e.file.as_str(), e.line), ("p.toml", 4));
        assert!(e.column > 1);
        assert!(e.hint.is_some());
    }

    #[test]
    fn unknown_keys_are_refused_at_their_place() {
        let src = SAMPLE.replace("basis = ", "bassis = ");
        let e = &Policy::parse(&src, "p.toml").unwrap_err().0[0];
        assert!(e.message.contains("bassis"), "{e}");
        assert_eq!(e.line, 28);
    }

    #[test]
    fn semantic_errors_are_all_reported_with_hints() {
        let src = SAMPLE
            .replacen(r#"roles = ["team_leader"]"#, r#"roles = ["team_lead"]"#, 1)
            .replacen(r#""history.read""#, r#""history.reed""#, 1)
            .replacen(r#"rule = "R5.5""#, r#"rule = "5.5""#, 1);
        let errs = Policy::parse(&src, "p.toml").unwrap_err().0;
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].message.contains("history.reed"));
        assert_eq!(errs[0].line, 15);
        assert!(errs[1].message.contains("team_lead"));
        assert!(errs[1].hint.as_deref().unwrap().contains("team_leader"));
        assert!(errs[2].message.contains("5.5"));
        assert_eq!(errs[2].column, 8);
    }

    #[test]
    fn bad_time_zone_and_reserved_role_are_refused() {
        let src = SAMPLE.replace("version = 3\n", "version = 3\ntime_zone = \"Mars/Olympus\"\n");
        let e = &Policy::parse(&src, "p.toml").unwrap_err().0[0];
        assert!(e.message.contains("Mars/Olympus"));
        let src = SAMPLE.replace(r#"id = "consultant""#, r#"id = "admin""#);
        let errs = Policy::parse(&src, "p.toml").unwrap_err().0;
        assert!(errs.iter().any(|e| e.message.contains("built in")));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let src = SAMPLE.replace(
            r#"name = { zh = "示例", en = "Sample" }"#,
            r#"name = { zh = "示例", en = "Sample", fr = 1 }"#,
        );
        let e = &Policy::parse(&src, "p.toml").unwrap_err().0[0];
        assert_eq!(e.line, 5);
        assert_eq!(e.column, 36, "{e}");
    }

    #[test]
    fn r5_8_customer_sources_are_a_list_the_rules_refer_to_by_id() {
        let src = include_str!("../../../presets/car-dealership.toml");
        let p = Policy::parse(src, "car.toml").unwrap();
        let walk_in = p.source("来访").unwrap();
        assert_eq!((walk_in.id.as_str(), walk_in.name.en.as_str()), ("walk_in", "Walk-in"));
        // By id, name in either language or alias; nothing else.
        for s in ["walk_in", "来访", "walk-in", " 到店 "] {
            assert_eq!(p.source(s).map(|x| x.id.as_str()), Some("walk_in"), "{s}");
        }
        assert!(p.source("电视广告").is_none());
        let fc = p.customers.first_contact.as_ref().unwrap();
        assert_eq!(fc.sources, ["inbound_call", "walk_in"]);
        // A customer stored before the list, as staff wrote it, still counts.
        assert!(p.source_in(Some("到店"), &fc.sources) && p.source_in(Some("walk_in"), &fc.sources));
        assert!(!p.source_in(Some("roadshow"), &fc.sources) && !p.source_in(None, &fc.sources));
        assert_eq!(p.source_name("walk_in").zh, "来访");
        assert_eq!(p.source_name("电视广告").zh, "电视广告");
        // A rule naming a source the list lacks is an error at its place, with the ids as a hint;
        // a name instead of an id says which id to write.
        let line_of = |s: &str, needle: &str| s.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let bad = src.replacen(
            "sources = [\"inbound_call\", \"walk_in\"]",
            "sources = [\"inbound_call\", \"visit\"]",
            1,
        );
        let e = &Policy::parse(&bad, "car.toml").unwrap_err().0[0];
        assert!(
            e.message
                .contains("source `visit` is not defined in [[customers.sources]]"),
            "{e}"
        );
        assert_eq!((e.line, e.column), (line_of(&bad, "\"visit\"]"), 28));
        assert!(e.hint.as_deref().unwrap().contains("walk_in, friend_referral"), "{e}");
        let bad = src.replacen(
            "sources = [\"friend_referral\", \"customer_referral\"]",
            "sources = [\"朋友介绍\"]",
            1,
        );
        let e = &Policy::parse(&bad, "car.toml").unwrap_err().0[0];
        assert!(e.hint.as_deref().unwrap().contains("\"friend_referral\""), "{e}");
        // Ids are ids; no spelling names two sources.
        let bad = src.replacen("id = \"online\"", "id = \"Online\"", 1);
        assert!(
            Policy::parse(&bad, "car.toml").unwrap_err().0[0]
                .message
                .contains("source id `Online`")
        );
        let bad = src.replacen("aliases = [\"车展\"]", "aliases = [\"车展\", \"到店\"]", 1);
        let e = &Policy::parse(&bad, "car.toml").unwrap_err().0[0];
        assert!(e.message.contains("`到店` already names the source `walk_in`"), "{e}");
        // Without a list, sources are free text, as before.
        assert!(sample().customers.sources.is_empty());
        assert!(sample().source_in(Some("到店"), &sample().customers.first_contact.unwrap().sources));
    }

    #[test]
    fn timed_sections_are_checked_at_their_place() {
        let src = SAMPLE
            .replacen("first_within = \"3 days\"", "first_within = \"three days\"", 1)
            .replacen(
                "duplicate_penalty = \"duplicate_card\"",
                "duplicate_penalty = \"dupe\"",
                1,
            )
            .replacen("channel = \"sms\"\nconsecutive", "channel = \"fax\"\nconsecutive", 1)
            .replacen("{ from = 3, flag", "{ from = 1, flag", 1);
        let errs = Policy::parse(&src, "p.toml").unwrap_err().0;
        let messages: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(errs.len(), 4, "{messages:?}");
        let line = src.lines().position(|l| l.contains("three days")).unwrap() + 1;
        assert!(
            messages[0].contains("three days") && errs[0].line == line,
            "{:?}",
            errs[0]
        );
        assert!(errs[0].hint.as_deref().unwrap().contains("24 hours"));
        assert!(messages[1].contains("dupe"));
        assert!(errs[1].hint.as_deref().unwrap().contains("duplicate_card"));
        assert!(messages[2].contains("fax"));
        assert!(messages[3].contains("from = 1"));
        let p = sample();
        let lc = p.claims.lifecycle.as_ref().unwrap();
        assert_eq!(lc.first_within.unwrap().text().en, "3 days");
        assert_eq!(lc.confirm_follow_up.as_ref().unwrap().number, 2);
        assert_eq!(p.ledger.code("lateness").unwrap().escalation.len(), 2);
        assert!(p.may_manage_ledger(&["team_leader".into()]) && !p.may_manage_ledger(&["consultant".into()]));
    }
}
