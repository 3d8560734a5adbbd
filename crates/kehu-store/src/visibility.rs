//! Who may see which records, as the filter every read for a user goes through. The server
//! computes a [`View`] from the caller's scopes (the policy's `sees`, decided in kehu-domain);
//! each read function of a record kind takes it and adds the kind's clause here, so lists,
//! search, detail pages, history, ledger, statements and exports all see the same records.
//! A record outside the view is simply not found.
//!
//! Clauses inline only integers (ids the server computed), so they need no bound parameters
//! and compose with any query's own placeholders.

/// Whose records of one kind a reader sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    All,
    /// Records of these staff members (the reader alone, or the staff of their unit and the
    /// units below), and of these units.
    Of {
        staff: Vec<i64>,
        units: Vec<i64>,
    },
}

impl Reach {
    pub fn is_all(&self) -> bool {
        matches!(self, Reach::All)
    }

    /// Whether a record made by or held by `staff_id` is within reach.
    pub fn has_staff(&self, staff_id: Option<i64>) -> bool {
        match self {
            Reach::All => true,
            Reach::Of { staff, .. } => staff_id.is_some_and(|s| staff.contains(&s)),
        }
    }

    /// Whether a record of `unit_id` is within reach.
    pub fn has_unit(&self, unit_id: Option<i64>) -> bool {
        match self {
            Reach::All => true,
            Reach::Of { units, .. } => unit_id.is_some_and(|u| units.contains(&u)),
        }
    }

    fn staff_list(&self) -> String {
        match self {
            Reach::All => String::new(),
            Reach::Of { staff, .. } => list(staff),
        }
    }

    fn unit_list(&self) -> String {
        match self {
            Reach::All => String::new(),
            Reach::Of { units, .. } => list(units),
        }
    }
}

/// `1, 2, 3`, or `NULL` for none (so `IN (NULL)` matches nothing).
fn list(ids: &[i64]) -> String {
    if ids.is_empty() {
        return "NULL".to_string();
    }
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

/// What one reader sees, per record kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub customers: Reach,
    /// Customers nobody owns are visible whatever `customers` says.
    pub unowned: bool,
    pub claims: Reach,
    pub activities: Reach,
    pub ledger: Reach,
    pub history: Reach,
    pub sales: Reach,
    pub events: Reach,
    pub cases: Reach,
    /// Workflows in which the reader takes some action: their cases are visible whatever
    /// `cases` says (an approver sees what waits for them).
    pub acts_in: Vec<String>,
    /// Workflows whose cases the reader sees only as one of a case's own people (who opened it
    /// or took a step on it), whatever `cases` and `history` say (R12.9).
    pub confined: Vec<String>,
    /// Workflows where a relation to a case seats the reader (they hold its customer, or head a
    /// person it names): those cases are visible whatever `cases` says, so a seat holder sees
    /// what waits for them.
    pub seated: Vec<(String, Mine)>,
    /// The reader (0 for work the system does for itself).
    pub me: i64,
}

impl View {
    /// Everything: an admin, or work the system does for itself.
    pub fn all() -> View {
        View {
            customers: Reach::All,
            unowned: true,
            claims: Reach::All,
            activities: Reach::All,
            ledger: Reach::All,
            history: Reach::All,
            sales: Reach::All,
            events: Reach::All,
            cases: Reach::All,
            acts_in: Vec::new(),
            confined: Vec::new(),
            seated: Vec::new(),
            me: 0,
        }
    }
}

/// The relations that make a case's action the reader's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mine {
    /// The reader, when they opened it (`opener`).
    pub opener: Option<i64>,
    /// The reader, when they hold its customer (`owner`).
    pub holder: Option<i64>,
    /// The staff members the reader heads, when it names one of them (`head_of:FIELD`).
    pub headed: Vec<i64>,
    /// The reader, when the case names them (`people`).
    pub member: Option<i64>,
}

impl Mine {
    /// ` AND (...)` keeping the cases (alias `k`) with one of the relations; `None` when there
    /// is none to have.
    pub fn clause(&self) -> Option<String> {
        self.conditions("k").map(|c| format!(" AND {c}"))
    }

    /// `(...)`: the case (alias `k`) has one of the relations; `None` when there is none to have.
    fn conditions(&self, k: &str) -> Option<String> {
        let mut any = Vec::new();
        if let Some(me) = self.opener {
            any.push(format!("{k}.opened_by = {me}"));
        }
        if let Some(me) = self.holder {
            any.push(format!(
                "EXISTS (SELECT 1 FROM claims rh WHERE rh.tenant_id = {k}.tenant_id AND rh.customer_id = {k}.customer_id \
                 AND rh.staff_id = {me} AND rh.status = 'valid')"
            ));
        }
        if let Some(me) = self.member {
            any.push(format!(
                "EXISTS (SELECT 1 FROM case_people rm WHERE rm.tenant_id = {k}.tenant_id AND rm.case_id = {k}.id \
                 AND rm.staff_id = {me})"
            ));
        }
        if !self.headed.is_empty() {
            let list = self.headed.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            any.push(format!(
                "EXISTS (SELECT 1 FROM case_people rp WHERE rp.tenant_id = {k}.tenant_id AND rp.case_id = {k}.id \
                 AND rp.staff_id IN ({list}))"
            ));
        }
        (!any.is_empty()).then(|| format!("({})", any.join(" OR ")))
    }
}

/// The customer in column `col` of the table aliased `t` is held by one of `staff` through a
/// standing claim (tenant equality kept, so the query stays within one tenant's shard).
fn held_by(t: &str, col: &str, staff: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM claims vh WHERE vh.tenant_id = {t}.tenant_id AND vh.customer_id = {t}.{col} \
         AND vh.staff_id IN ({staff}) AND vh.status IN ('pending', 'valid'))"
    )
}

/// ` AND (...)` restricting customers (table alias `c`), or nothing for all.
pub fn customers(view: &View, c: &str) -> String {
    let Reach::Of { .. } = &view.customers else {
        return String::new();
    };
    let staff = view.customers.staff_list();
    let mut parts = vec![format!("{c}.created_by IN ({staff})"), held_by(c, "id", &staff)];
    if view.unowned {
        parts.push(format!(
            "NOT EXISTS (SELECT 1 FROM claims vo WHERE vo.tenant_id = {c}.tenant_id AND vo.customer_id = {c}.id \
             AND vo.status = 'valid')"
        ));
    }
    format!(" AND ({})", parts.join(" OR "))
}

/// ` AND (cond)`, or nothing for a reach of all.
fn and(reach: &Reach, cond: impl FnOnce(&str, &str) -> String) -> String {
    match reach {
        Reach::All => String::new(),
        Reach::Of { .. } => format!(" AND ({})", cond(&reach.staff_list(), &reach.unit_list())),
    }
}

/// A claim (alias `x`) held, registered or confirmed by one of `s`.
fn claim_of(x: &str, s: &str) -> String {
    format!("{x}.staff_id IN ({s}) OR {x}.registered_by IN ({s}) OR {x}.confirmed_by IN ({s})")
}

/// A follow-up (alias `a`) recorded by one of `s`, or on a customer one of them holds (a new
/// holder reads the follow-ups before theirs).
fn activity_of(a: &str, s: &str) -> String {
    format!("{a}.staff_id IN ({s}) OR {}", held_by(a, "customer_id", s))
}

/// A ledger entry (alias `l`) charged to or entered by one of `s`, or a customer's entry for a
/// customer one of them holds.
fn entry_of(l: &str, s: &str) -> String {
    format!(
        "{l}.staff_id IN ({s}) OR {l}.created_by IN ({s}) OR ({l}.staff_id IS NULL AND {})",
        held_by(l, "customer_id", s)
    )
}

/// A sale (alias `x`) closed by or credited to one of `s`, or of a customer one of them holds.
fn sale_of(x: &str, s: &str) -> String {
    format!(
        "{x}.closed_by IN ({s}) OR {x}.credited_to IN ({s}) OR {}",
        held_by(x, "customer_id", s)
    )
}

/// ` AND (...)` restricting claims (alias `x`): held, registered or confirmed within reach.
pub fn claims(view: &View, x: &str) -> String {
    and(&view.claims, |s, _| claim_of(x, s))
}

/// ` AND (...)` restricting activities (alias `a`).
pub fn activities(view: &View, a: &str) -> String {
    and(&view.activities, |s, _| activity_of(a, s))
}

/// ` AND (...)` restricting ledger entries (alias `l`).
pub fn ledger(view: &View, l: &str) -> String {
    and(&view.ledger, |s, _| entry_of(l, s))
}

/// ` AND (...)` restricting sales (alias `x`).
pub fn sales(view: &View, x: &str) -> String {
    and(&view.sales, |s, _| sale_of(x, s))
}

/// ` AND (...)` restricting cases (alias `k`): opened by someone within reach, acted on by
/// someone within reach, or of a workflow in which the reader takes an action.
pub fn cases(view: &View, k: &str) -> String {
    let mut out = and(&view.cases, |s, _| {
        let mut c = own_case(k, s);
        let acts = workflow_list(&view.acts_in);
        if !acts.is_empty() {
            c.push_str(&format!(" OR {k}.workflow IN ({acts})"));
        }
        for (wf, mine) in &view.seated {
            let (list, Some(rel)) = (workflow_list(std::slice::from_ref(wf)), mine.conditions(k)) else {
                continue;
            };
            if !list.is_empty() {
                c.push_str(&format!(" OR ({k}.workflow = {list} AND {rel})"));
            }
        }
        c
    });
    out.push_str(&confined(view, k));
    out
}

/// The case (alias `k`) was opened by one of `s`, one of them took a step on it, or it names one
/// of them in a staff field (its own people).
fn own_case(k: &str, s: &str) -> String {
    format!(
        "{k}.opened_by IN ({s}) OR EXISTS (SELECT 1 FROM case_steps cs WHERE cs.tenant_id = {k}.tenant_id \
         AND cs.case_id = {k}.id AND cs.staff_id IN ({s})) OR EXISTS (SELECT 1 FROM case_people cp \
         WHERE cp.tenant_id = {k}.tenant_id AND cp.case_id = {k}.id AND cp.staff_id IN ({s}))"
    )
}

/// `'a', 'b'` of workflow ids. They are checked at policy load to be [a-z0-9_], so quoting them
/// is safe; anything else is left out.
fn workflow_list(ids: &[String]) -> String {
    ids.iter()
        .filter(|w| {
            w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// ` AND (...)` keeping a case (alias `k`) of a confined workflow to its own people (R12.9).
fn confined(view: &View, k: &str) -> String {
    let list = workflow_list(&view.confined);
    if list.is_empty() {
        return String::new();
    }
    format!(
        " AND ({k}.workflow NOT IN ({list}) OR {})",
        own_case(k, &view.me.to_string())
    )
}

/// ` AND (...)` restricting history events (alias `e`) by the history reach: an event done by
/// someone within it, about a customer held within it, or about a record (claim, follow-up,
/// ledger entry, sale, case) that the same reach would show. So a lapse the
/// system recorded on a consultant's card is the leader's to read.
pub fn history(view: &View, e: &str) -> String {
    let mut out = and(&view.history, |s, _| {
        let about = |entity: &str, table: &str, alias: &str, cond: String| {
            format!(
                "({e}.entity = '{entity}' AND EXISTS (SELECT 1 FROM {table} {alias} \
                 WHERE {alias}.tenant_id = {e}.tenant_id AND {alias}.id = {e}.entity_id AND ({cond})))"
            )
        };
        [
            format!("{e}.actor_id IN ({s})"),
            held_by(e, "customer_id", s),
            about("claim", "claims", "hc", claim_of("hc", s)),
            about("activity", "activities", "ha", activity_of("ha", s)),
            about("ledger", "ledger_entries", "hl", entry_of("hl", s)),
            about("sale", "sales", "hs", sale_of("hs", s)),
            about("case", "cases", "hk", own_case("hk", s)),
        ]
        .join(" OR ")
    });
    // A case of a confined workflow leaves no trace in the history of anyone else (R12.9).
    let list = workflow_list(&view.confined);
    if !list.is_empty() {
        out.push_str(&format!(
            " AND NOT ({e}.entity = 'case' AND EXISTS (SELECT 1 FROM cases hq WHERE hq.tenant_id = {e}.tenant_id \
             AND hq.id = {e}.entity_id AND hq.workflow IN ({list}) AND NOT ({})))",
            own_case("hq", &view.me.to_string())
        ));
    }
    out
}

/// Whether a joint event is within reach: organised by someone within it, or one of its
/// divisions is (events are few per tenant, so this is checked on the loaded rows).
pub fn event_visible(view: &View, created_by: i64, divisions: &[i64]) -> bool {
    view.events.has_staff(Some(created_by)) || divisions.iter().any(|d| view.events.has_unit(Some(*d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(me: i64) -> Reach {
        Reach::Of {
            staff: vec![me],
            units: vec![],
        }
    }

    #[test]
    fn all_adds_nothing_and_a_reach_names_only_integers() {
        assert_eq!(customers(&View::all(), "c"), "");
        let mut v = View::all();
        v.customers = own(7);
        v.unowned = false;
        let c = customers(&v, "c");
        assert!(c.contains("c.created_by IN (7)") && !c.contains("NOT EXISTS"), "{c}");
        v.unowned = true;
        assert!(customers(&v, "c").contains("NOT EXISTS"));
        v.cases = Reach::Of {
            staff: vec![],
            units: vec![],
        };
        assert!(cases(&v, "x").contains("IN (NULL)"));
        assert!(own(3).has_staff(Some(3)) && !own(3).has_staff(Some(4)) && !own(3).has_staff(None));
        v.events = Reach::Of {
            staff: vec![1],
            units: vec![5],
        };
        assert!(event_visible(&v, 2, &[4, 5]) && event_visible(&v, 1, &[]) && !event_visible(&v, 2, &[4]));
    }

    #[test]
    fn a_confined_workflow_keeps_its_cases_to_their_own_people_even_for_a_reader_of_all() {
        let mut v = View::all();
        assert_eq!(cases(&v, "k"), "");
        v.confined = vec!["development_project".into(), "bad'id".into()];
        v.me = 7;
        let c = cases(&v, "k");
        assert!(c.contains("k.workflow NOT IN ('development_project')"), "{c}");
        assert!(
            c.contains("k.opened_by IN (7)") && c.contains("cs.staff_id IN (7)"),
            "{c}"
        );
        assert!(!c.contains("bad"), "only ids go into the clause: {c}");
        let h = history(&v, "e");
        assert!(
            h.contains("e.entity = 'case'") && h.contains("hq.workflow IN ('development_project')"),
            "{h}"
        );
    }
}
