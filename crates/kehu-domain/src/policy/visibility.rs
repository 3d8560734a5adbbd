//! Who may see what: each role's scope per record kind, declared under the role as `sees`.
//!
//! ```toml
//! [[roles]]
//! id = "consultant"
//! # ...
//! # The customers they hold or registered, and customers nobody owns; their own records.
//! sees = { default = "own", unowned_customers = true }
//! ```
//!
//! A scope is `own` (records the staff member holds or made), `unit` (records of their unit and
//! the units below it) or `all`. A role that says nothing sees `all`, except the ledger, which it
//! sees whole only with `ledger.read` or as a ledger manager, else its own entries. Someone
//! holding several roles sees the widest of their scopes; `admin` sees everything.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{ADMIN_ROLE, Checker, Permission, Policy};

/// How far a role sees into one kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Records the staff member holds or made.
    Own,
    /// Records of the staff member's unit and the units below it.
    Unit,
    All,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Own => "own",
            Scope::Unit => "unit",
            Scope::All => "all",
        }
    }

    fn parse(s: &str) -> Option<Scope> {
        [Scope::Own, Scope::Unit, Scope::All]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// The kinds of record a scope is set for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Customers,
    Claims,
    Activities,
    Ledger,
    History,
    Sales,
    Events,
    /// Cases of the workflows (`[[workflows]]`).
    Cases,
}

impl RecordKind {
    pub const ALL: [RecordKind; 8] = [
        RecordKind::Customers,
        RecordKind::Claims,
        RecordKind::Activities,
        RecordKind::Ledger,
        RecordKind::History,
        RecordKind::Sales,
        RecordKind::Events,
        RecordKind::Cases,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Customers => "customers",
            RecordKind::Claims => "claims",
            RecordKind::Activities => "activities",
            RecordKind::Ledger => "ledger",
            RecordKind::History => "history",
            RecordKind::Sales => "sales",
            RecordKind::Events => "events",
            RecordKind::Cases => "cases",
        }
    }

    fn index(self) -> usize {
        RecordKind::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }
}

/// A role's scopes, one per record kind, and whether it sees customers nobody owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sees {
    scopes: [Scope; RecordKind::ALL.len()],
    /// Customers without an owner are visible whatever the customers scope (so they can be
    /// found and claimed).
    pub unowned_customers: bool,
    /// Whether the file said anything (else the defaults of the role's permissions apply).
    pub declared: bool,
}

impl Sees {
    /// What a role that declares nothing sees: everything, the ledger only with `ledger.read`.
    pub fn undeclared(ledger_whole: bool) -> Sees {
        let mut scopes = [Scope::All; RecordKind::ALL.len()];
        if !ledger_whole {
            scopes[RecordKind::Ledger.index()] = Scope::Own;
        }
        Sees {
            scopes,
            unowned_customers: true,
            declared: false,
        }
    }

    pub fn scope(&self, kind: RecordKind) -> Scope {
        self.scopes[kind.index()]
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSees {
    #[serde(default)]
    default: Option<Spanned<String>>,
    #[serde(default)]
    unowned_customers: Option<bool>,
    #[serde(default)]
    customers: Option<Spanned<String>>,
    #[serde(default)]
    claims: Option<Spanned<String>>,
    #[serde(default)]
    activities: Option<Spanned<String>>,
    #[serde(default)]
    ledger: Option<Spanned<String>>,
    #[serde(default)]
    history: Option<Spanned<String>>,
    #[serde(default)]
    sales: Option<Spanned<String>>,
    #[serde(default)]
    events: Option<Spanned<String>>,
    #[serde(default)]
    cases: Option<Spanned<String>>,
    /// Kinds of records an earlier Kehu had (R11.9 complaints, R11.6 conflicts): they are
    /// cases now, seen as `cases` says; a stored policy that still names them keeps parsing.
    #[serde(default, rename = "complaints")]
    _complaints: Option<toml::Value>,
    #[serde(default, rename = "conflicts")]
    _conflicts: Option<toml::Value>,
}

impl Checker<'_> {
    fn scope(&mut self, raw: &Spanned<String>) -> Option<Scope> {
        let s = Scope::parse(raw.get_ref());
        if s.is_none() {
            self.error(
                raw.span(),
                format!("`{}` is not a scope", raw.get_ref()),
                "a scope is \"own\" (records they hold or made), \"unit\" (their unit and those below) or \"all\"",
            );
        }
        s
    }

    pub(super) fn sees(&mut self, raw: RawSees) -> Sees {
        let default = raw.default.as_ref().and_then(|d| self.scope(d)).unwrap_or(Scope::All);
        let mut scopes = [default; RecordKind::ALL.len()];
        let listed = [
            (RecordKind::Customers, &raw.customers),
            (RecordKind::Claims, &raw.claims),
            (RecordKind::Activities, &raw.activities),
            (RecordKind::Ledger, &raw.ledger),
            (RecordKind::History, &raw.history),
            (RecordKind::Sales, &raw.sales),
            (RecordKind::Events, &raw.events),
            (RecordKind::Cases, &raw.cases),
        ];
        for (kind, v) in listed {
            if let Some(s) = v.as_ref().and_then(|v| self.scope(v)) {
                scopes[kind.index()] = s;
            }
        }
        Sees {
            scopes,
            unowned_customers: raw.unowned_customers.unwrap_or(false),
            declared: true,
        }
    }
}

impl Policy {
    /// How far someone holding `roles` sees into `kind`: the widest scope of their roles.
    pub fn scope(&self, roles: &[String], kind: RecordKind) -> Scope {
        roles
            .iter()
            .map(|r| {
                if r == ADMIN_ROLE {
                    return Scope::All;
                }
                self.role(r).map_or(Scope::Own, |role| role.sees.scope(kind))
            })
            .max()
            .unwrap_or(Scope::Own)
    }

    /// Whether someone holding `roles` sees customers nobody owns.
    pub fn sees_unowned(&self, roles: &[String]) -> bool {
        roles
            .iter()
            .any(|r| r == ADMIN_ROLE || self.role(r).is_some_and(|role| role.sees.unowned_customers))
    }

    /// The defaults of a role that declares no `sees`: the ledger whole with `ledger.read` or as
    /// a ledger manager.
    pub(super) fn ledger_whole(permissions: &[Permission], id: &str, managers: &[String]) -> bool {
        permissions.contains(&Permission::LedgerRead) || managers.iter().any(|m| m == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_sees_what_its_file_says_and_the_widest_of_several() {
        let src = crate::policy::tests::SAMPLE.replace(
            "permissions = [\"customers.read\", \"customers.create\", \"claims.create\", \"activities.create\"]",
            "permissions = [\"customers.read\", \"customers.create\", \"claims.create\", \"activities.create\"]\nsees = { default = \"own\", unowned_customers = true, events = \"unit\" }",
        );
        let p = Policy::parse(&src, "p.toml").unwrap();
        let c = ["consultant".to_string()];
        assert_eq!(p.scope(&c, RecordKind::Customers), Scope::Own);
        assert_eq!(p.scope(&c, RecordKind::Events), Scope::Unit);
        assert!(p.sees_unowned(&c));
        // The leader declares nothing: all of everything, its own ledger only (no ledger.read,
        // but it manages the ledger in the sample).
        let l = ["team_leader".to_string()];
        assert_eq!(p.scope(&l, RecordKind::Customers), Scope::All);
        assert_eq!(p.scope(&l, RecordKind::Ledger), Scope::All);
        let both = ["consultant".to_string(), "team_leader".to_string()];
        assert_eq!(p.scope(&both, RecordKind::Claims), Scope::All);
        assert_eq!(p.scope(&["admin".to_string()], RecordKind::Ledger), Scope::All);
    }

    #[test]
    fn a_bad_scope_is_refused_at_its_place() {
        let src = crate::policy::tests::SAMPLE.replace(
            "permissions = [\"customers.read\", \"customers.create\", \"claims.create\", \"activities.create\"]",
            "permissions = [\"customers.read\", \"customers.create\", \"claims.create\", \"activities.create\"]\nsees = { customers = \"mine\" }",
        );
        let errs = Policy::parse(&src, "p.toml").unwrap_err().0;
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].message.contains("`mine` is not a scope"));
        assert_eq!(errs[0].line, 11);
    }
}
