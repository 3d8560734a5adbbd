//! Cases of the policy's workflows and the steps taken on them, on both backends. What a case
//! may do next is `kehu_domain::workflow`'s to decide; this module only keeps the record.

use kehu_domain::workflow::{CaseFacts, OtherCase, Step};
use kehu_domain::{Decision, Timestamp};
use serde_json::{Map, Value};

use crate::db::{Db, Tx};
use crate::visibility::{self, View};
use crate::{Result, StoreError, args, ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseRow {
    pub id: i64,
    pub tenant_id: i64,
    pub workflow: String,
    pub policy_version: i64,
    pub state: String,
    pub customer_id: Option<i64>,
    /// The fields as a JSON object.
    pub fields: String,
    pub opened_by: i64,
    pub opened_at: i64,
    pub updated_at: i64,
    /// When a timer found the case late (cleared when it moves or a step restarts the timer).
    pub overdue_since: Option<i64>,
    /// The case whose step opened this one (`{ open = WORKFLOW }`).
    pub linked_from: Option<i64>,
    pub customer_name: Option<String>,
    pub opened_by_name: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StepRow {
    pub id: i64,
    pub case_id: i64,
    pub action: String,
    pub role: Option<String>,
    /// `None` for a step a timer took.
    pub staff_id: Option<i64>,
    /// Empty for a step a timer took.
    pub staff_name: String,
    pub from_state: String,
    pub to_state: String,
    pub note: Option<String>,
    pub fields: String,
    pub at: i64,
    pub decision_json: String,
}

impl CaseRow {
    pub fn field_map(&self) -> Map<String, Value> {
        serde_json::from_str(&self.fields).unwrap_or_default()
    }

    /// The case as the engine decides on it.
    pub fn facts(&self, steps: &[StepRow]) -> CaseFacts {
        CaseFacts {
            id: self.id,
            state: self.state.clone(),
            fields: self.field_map(),
            opened_by: self.opened_by,
            steps: steps.iter().map(StepRow::step).collect(),
        }
    }
}

impl StepRow {
    pub fn step(&self) -> Step {
        Step {
            action: self.action.clone(),
            role: self.role.clone(),
            staff_id: self.staff_id,
            from_state: self.from_state.clone(),
            to_state: self.to_state.clone(),
            fields: serde_json::from_str(&self.fields).unwrap_or_default(),
        }
    }

    pub fn decision(&self) -> Option<Decision> {
        serde_json::from_str(&self.decision_json).ok()
    }
}

/// A tenant's cases (`$1`), alias `k`; each query adds its own conditions.
const SELECT: &str = "SELECT k.id, k.tenant_id, k.workflow, k.policy_version, k.state, k.customer_id, k.fields, k.opened_by, \
     k.opened_at, k.updated_at, k.overdue_since, k.linked_from, cu.name AS customer_name, o.display_name AS opened_by_name FROM cases k \
     JOIN staff o ON o.tenant_id = k.tenant_id AND o.id = k.opened_by \
     LEFT JOIN customers cu ON cu.tenant_id = k.tenant_id AND cu.id = k.customer_id WHERE k.tenant_id = $1";

fn json(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(e.to_string()))
}

pub struct NewCase<'a> {
    pub workflow: &'a str,
    pub state: &'a str,
    pub customer_id: Option<i64>,
    pub fields: &'a Map<String, Value>,
    pub opened_by: i64,
    /// The case whose step opens this one.
    pub linked_from: Option<i64>,
    pub at: Timestamp,
    pub decision: &'a Decision,
}

pub async fn insert(tx: &mut Tx, tenant_id: i64, c: NewCase<'_>) -> Result<CaseRow> {
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO cases (tenant_id, workflow, policy_version, state, customer_id, fields, opened_by, opened_at, updated_at, linked_from) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING id",
            args![
                tenant_id,
                c.workflow,
                i64::from(c.decision.policy_version),
                c.state,
                c.customer_id,
                json(c.fields)?,
                c.opened_by,
                ms(c.at),
                c.linked_from
            ],
        )
        .await?;
    get_tx(tx, tenant_id, id).await
}

/// Locks the case row only (PostgreSQL refuses to lock the outer join's customer side).
fn lock_clause(tx: &Tx) -> &'static str {
    if tx.for_update().is_empty() {
        ""
    } else {
        " FOR UPDATE OF k"
    }
}

/// A case the reader sees; `NotFound` otherwise.
pub async fn get(db: &Db, tenant_id: i64, id: i64, view: &View) -> Result<CaseRow> {
    db.fetch_one(
        &format!("{SELECT} AND k.id = $2{}", visibility::cases(view, "k")),
        args![tenant_id, id],
    )
    .await
}

/// A case whoever may see it: what a rule reads (a snapshot compared with the case today).
pub async fn get_any(db: &Db, tenant_id: i64, id: i64) -> Result<CaseRow> {
    db.fetch_one(&format!("{SELECT} AND k.id = $2"), args![tenant_id, id])
        .await
}

/// The case, locked for the rest of `tx` (PostgreSQL; SQLite's one writer serialises), so two
/// actions on one case run one after the other and the second sees the first.
pub async fn lock_in_view(tx: &mut Tx, tenant_id: i64, id: i64, view: &View) -> Result<CaseRow> {
    let sql = format!(
        "{SELECT} AND k.id = $2{}{}",
        visibility::cases(view, "k"),
        lock_clause(tx)
    );
    tx.fetch_one(&sql, args![tenant_id, id]).await
}

#[derive(sqlx::FromRow)]
struct TimerLock {
    #[sqlx(flatten)]
    row: CaseRow,
    superseded: bool,
}

/// The case a timer of kind `kind` fired on, locked for the rest of `tx`, and whether that
/// timer is set again already (a step earlier in the same batch restarted it, so this firing is
/// out of date): one statement, as a sweep fires thousands.
pub async fn lock_for_timer(tx: &mut Tx, tenant_id: i64, id: i64, kind: &str) -> Result<(CaseRow, bool)> {
    let select = SELECT.replacen(
        "SELECT ",
        "SELECT EXISTS (SELECT 1 FROM deadlines dl WHERE dl.tenant_id = k.tenant_id AND dl.kind = $3 \
         AND dl.subject_id = k.id) AS superseded, ",
        1,
    );
    let sql = format!("{select} AND k.id = $2{}", lock_clause(tx));
    let l: TimerLock = tx.fetch_one(&sql, args![tenant_id, id, kind]).await?;
    Ok((l.row, l.superseded))
}

pub async fn get_tx(tx: &mut Tx, tenant_id: i64, id: i64) -> Result<CaseRow> {
    tx.fetch_one(&format!("{SELECT} AND k.id = $2"), args![tenant_id, id])
        .await
}

/// The case now belongs to `customer_id` (a project whose customer was registered, R12.6).
pub async fn set_customer(tx: &mut Tx, tenant_id: i64, id: i64, customer_id: i64, at: Timestamp) -> Result<CaseRow> {
    tx.execute(
        "UPDATE cases SET customer_id = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
        args![tenant_id, id, customer_id, ms(at)],
    )
    .await?;
    get_tx(tx, tenant_id, id).await
}

/// The people case `id` names in its staff fields, as they now stand (they see the case as its
/// own people do).
pub async fn set_people(tx: &mut Tx, tenant_id: i64, id: i64, people: &[i64]) -> Result<()> {
    tx.execute(
        "DELETE FROM case_people WHERE tenant_id = $1 AND case_id = $2",
        args![tenant_id, id],
    )
    .await?;
    for p in people {
        tx.execute(
            "INSERT INTO case_people (tenant_id, case_id, staff_id) VALUES ($1, $2, $3)",
            args![tenant_id, id, *p],
        )
        .await?;
    }
    Ok(())
}

/// The cases of a customer as a case's expressions read them (id, workflow, state, fields),
/// oldest first, whoever may see them: a rule reads them, not a reader (R1.3).
pub async fn of_customer_tx(tx: &mut Tx, tenant_id: i64, customer_id: i64) -> Result<Vec<OtherCase>> {
    let rows: Vec<(i64, String, String, String)> = tx
        .fetch_all(
            "SELECT id, workflow, state, fields FROM cases WHERE tenant_id = $1 AND customer_id = $2 ORDER BY id LIMIT 1000",
            args![tenant_id, customer_id],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, workflow, state, fields)| OtherCase {
            id,
            workflow,
            state,
            fields: serde_json::from_str(&fields).unwrap_or_default(),
        })
        .collect())
}

/// Which cases a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub workflow: Option<String>,
    pub state: Option<String>,
    pub customer_id: Option<i64>,
    /// Only cases a timer found late.
    pub overdue: bool,
    /// Only cases this staff member opened or took a step on ("mine").
    pub involving: Option<i64>,
    /// Only cases a step of this case opened.
    pub linked_from: Option<i64>,
    /// Paging: ids below this one.
    pub before: Option<i64>,
}

/// Cases the reader sees, newest first.
pub async fn list(db: &Db, tenant_id: i64, f: &Filter, limit: i64, view: &View) -> Result<Vec<CaseRow>> {
    db.fetch_all(
        &format!(
            "{SELECT} AND ($2 IS NULL OR k.workflow = $2) \
             AND ($3 IS NULL OR k.state = $3) AND ($4 IS NULL OR k.customer_id = $4) AND ($5 IS NULL OR k.id < $5) \
             AND ($7 IS NULL OR k.opened_by = $7 OR EXISTS (SELECT 1 FROM case_steps ms WHERE ms.tenant_id = k.tenant_id \
             AND ms.case_id = k.id AND ms.staff_id = $7)) AND ($8 IS NULL OR k.linked_from = $8){}{} \
             ORDER BY k.id DESC LIMIT $6",
            if f.overdue {
                " AND k.overdue_since IS NOT NULL"
            } else {
                ""
            },
            visibility::cases(view, "k")
        ),
        args![
            tenant_id,
            f.workflow.clone(),
            f.state.clone(),
            f.customer_id,
            f.before,
            limit,
            f.involving,
            f.linked_from
        ],
    )
    .await
}

/// The cases of `workflow` in one of `states`, oldest first, at most `limit`: all of them for a
/// rule that ranks them (R1.9), or those `view` shows.
pub async fn in_states(
    db: &Db,
    tenant_id: i64,
    (workflow, states): (&str, &[String]),
    view: Option<&View>,
    limit: i64,
) -> Result<Vec<CaseRow>> {
    if states.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{SELECT} AND k.workflow = $2 AND k.state IN ({}){} ORDER BY k.id LIMIT {limit}",
        crate::db::placeholders(3, states.len()),
        view.map(|v| visibility::cases(v, "k")).unwrap_or_default(),
    );
    let mut a = args![tenant_id, workflow];
    a.extend(states.iter().map(|s| crate::db::Arg::from(s.clone())));
    db.fetch_all(&sql, a).await
}

/// Where a reader may act: the cases of `workflow` in `state`, those `opened_by` this person
/// alone when only the opener relation lets them act (an inbox's cases).
#[derive(Debug, Clone)]
pub struct Waiting {
    pub workflow: String,
    pub state: String,
    /// `Some`: only the cases the reader has a relation to wait for them (the place's actions
    /// are theirs as the opener or in a relation seat, not by a role they hold).
    pub mine: Option<Mine>,
    /// The reader and the sign-offs of all of the place: a case they signed in the current round
    /// waits on the other signers, not on them, unless a timer found it late.
    pub signed: Option<(i64, Vec<String>)>,
    /// Only the cases a timer found late (the reader's steps here leave the case in its state).
    pub overdue_only: bool,
}

pub use crate::visibility::Mine;

/// The cases of the places given that the reader sees, at most `limit` of each place: those a
/// timer found late first (longest late first), then the oldest. Each place reads the
/// `cases_overdue` and `cases_workflow` indexes, so the cost is the limit, not the number of open
/// cases.
pub async fn waiting(db: &Db, tenant_id: i64, places: &[Waiting], limit: i64, view: &View) -> Result<Vec<CaseRow>> {
    let seen = visibility::cases(view, "k");
    let mut out: Vec<CaseRow> = Vec::new();
    for p in places {
        let mine = match &p.mine {
            None => String::new(),
            Some(m) => match m.clause() {
                Some(c) => c,
                None => continue,
            },
        };
        let signed = match &p.signed {
            Some((me, actions)) if !actions.is_empty() => {
                // Action ids are the policy's identifiers; anything else is left out.
                let list = actions
                    .iter()
                    .filter(|a| a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
                    .map(|a| format!("'{a}'"))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    " AND (k.overdue_since IS NOT NULL OR NOT EXISTS (SELECT 1 FROM case_steps ws \
                     WHERE ws.tenant_id = k.tenant_id AND ws.case_id = k.id AND ws.staff_id = {me} \
                     AND ws.action IN ({list}) AND ws.id > (SELECT COALESCE(MAX(wc.id), 0) FROM case_steps wc \
                     WHERE wc.tenant_id = k.tenant_id AND wc.case_id = k.id AND wc.from_state <> wc.to_state)))"
                )
            }
            _ => String::new(),
        };
        let place = format!("AND k.workflow = $2 AND k.state = $3{mine}{signed}");
        let late =
            format!("{SELECT} {place} AND k.overdue_since IS NOT NULL{seen} ORDER BY k.overdue_since, k.id LIMIT $4");
        let a = || args![tenant_id, p.workflow.clone(), p.state.clone(), limit];
        let mut rows: Vec<CaseRow> = db.fetch_all(&late, a()).await?;
        if (rows.len() as i64) < limit && !p.overdue_only {
            let rest = format!("{SELECT} {place} AND k.overdue_since IS NULL{seen} ORDER BY k.id LIMIT $4");
            let more = limit - rows.len() as i64;
            rows.extend(
                db.fetch_all::<CaseRow>(&rest, args![tenant_id, p.workflow.clone(), p.state.clone(), more])
                    .await?,
            );
        }
        out.extend(rows);
    }
    Ok(out)
}

/// A tenant's case steps (`$1`) with the name of who took each, alias `s`; each query adds which
/// cases, then [`OLDEST_FIRST`].
const STEPS: &str = "SELECT s.id, s.case_id, s.action, s.role, s.staff_id, COALESCE(p.display_name, '') AS staff_name, \
     s.from_state, s.to_state, s.note, s.fields, s.at, s.decision_json FROM case_steps s \
     LEFT JOIN staff p ON p.tenant_id = s.tenant_id AND p.id = s.staff_id WHERE s.tenant_id = $1";
const OLDEST_FIRST: &str = " ORDER BY s.id";

/// The steps taken on a case, oldest first.
pub async fn steps(db: &Db, tenant_id: i64, case_id: i64) -> Result<Vec<StepRow>> {
    db.fetch_all(
        &format!("{STEPS} AND s.case_id = $2{OLDEST_FIRST}"),
        args![tenant_id, case_id],
    )
    .await
}

pub async fn steps_tx(tx: &mut Tx, tenant_id: i64, case_id: i64) -> Result<Vec<StepRow>> {
    tx.fetch_all(
        &format!("{STEPS} AND s.case_id = $2{OLDEST_FIRST}"),
        args![tenant_id, case_id],
    )
    .await
}

/// The steps of several cases (a page of a list), oldest first, in one query.
pub async fn steps_of(db: &Db, tenant_id: i64, case_ids: &[i64]) -> Result<Vec<StepRow>> {
    if case_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{STEPS} AND s.case_id IN ({}){OLDEST_FIRST}",
        crate::db::placeholders(2, case_ids.len())
    );
    let mut a = args![tenant_id];
    a.extend(case_ids.iter().map(|id| crate::db::Arg::from(*id)));
    db.fetch_all(&sql, a).await
}

pub struct NewStep<'a> {
    pub action: &'a str,
    pub role: Option<&'a str>,
    /// `None`: a timer took the step.
    pub staff_id: Option<i64>,
    /// Whose name the step shows (empty for a timer's).
    pub staff_name: &'a str,
    pub from_state: &'a str,
    pub to_state: &'a str,
    pub note: Option<&'a str>,
    /// The fields this step set.
    pub fields: &'a Map<String, Value>,
    /// The case's fields after the step.
    pub case_fields: &'a Map<String, Value>,
    pub at: Timestamp,
    pub decision: &'a Decision,
    /// `Some(true)`: the case is overdue from now (if it was not already); `Some(false)`: it is
    /// not; `None`: as it was.
    pub overdue: Option<bool>,
}

/// Records a step and moves the case `before` (as read in `tx`) to its new state and fields;
/// the case as it now stands, as the update made it (no read back).
pub async fn record_step(tx: &mut Tx, before: &CaseRow, s: NewStep<'_>) -> Result<CaseRow> {
    Ok(record_step_row(tx, before, s).await?.0)
}

/// [`record_step`], with the step as it was stored (so the caller need not read the steps back).
pub async fn record_step_row(tx: &mut Tx, before: &CaseRow, s: NewStep<'_>) -> Result<(CaseRow, StepRow)> {
    let tenant_id = before.tenant_id;
    let (fields, decision_json) = (json(s.fields)?, json(s.decision)?);
    let (step_id,): (i64,) = tx
        .fetch_one(
        "INSERT INTO case_steps (tenant_id, case_id, action, role, staff_id, from_state, to_state, note, fields, at, decision_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        args![
            tenant_id,
            before.id,
            s.action,
            s.role,
            s.staff_id,
            s.from_state,
            s.to_state,
            s.note,
            fields.as_str(),
            ms(s.at),
            decision_json.as_str()
        ],
    )
    .await?;
    let step = StepRow {
        id: step_id,
        case_id: before.id,
        action: s.action.to_string(),
        role: s.role.map(str::to_string),
        staff_id: s.staff_id,
        staff_name: s.staff_name.to_string(),
        from_state: s.from_state.to_string(),
        to_state: s.to_state.to_string(),
        note: s.note.map(str::to_string),
        fields,
        at: ms(s.at),
        decision_json,
    };
    tx.execute(
        "UPDATE cases SET state = $1, fields = $2, updated_at = $3, \
         overdue_since = CASE WHEN $6 = 1 THEN COALESCE(overdue_since, $3) WHEN $6 = 0 THEN NULL ELSE overdue_since END \
         WHERE tenant_id = $4 AND id = $5",
        args![
            s.to_state,
            json(s.case_fields)?,
            ms(s.at),
            tenant_id,
            before.id,
            s.overdue.map(i64::from)
        ],
    )
    .await?;
    let at = ms(s.at);
    let row = CaseRow {
        state: s.to_state.to_string(),
        fields: json(s.case_fields)?,
        updated_at: at,
        overdue_since: match s.overdue {
            Some(true) => before.overdue_since.or(Some(at)),
            Some(false) => None,
            None => before.overdue_since,
        },
        ..before.clone()
    };
    Ok((row, step))
}
