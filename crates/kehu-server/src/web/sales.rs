//! Sales on the customer page (R5.7, R11.5): the customer's sales with who each counts for and
//! why, the form to record one (naming the event it was made at), the leader's and manager's
//! signatures on a special-case change of credit, and the inviter's consent for a helper on the
//! event page.

use axum::Form;
use axum::extract::{Path, State};
use kehu_domain::{Lang, Policy, Text};
use kehu_store::ts;
use serde::Deserialize;

use super::customers::{detail_with_error, parse_id};
use super::{PageCaller, PageResult, csrf_ok, csrf_refused, see_other};
use crate::auth::Caller;
use crate::sales::{self, NewSaleInput};
use crate::{ApiError, AppState};

pub struct SaleLine {
    pub id: i64,
    pub amount: String,
    pub at: String,
    pub closer: String,
    pub credited: String,
    pub rule: String,
    pub why: String,
    /// "待销售经理签字：改记入刘洋" while a special-case change waits.
    pub pending: Option<String>,
}

/// The sales card of the customer page.
pub struct SalesCard {
    pub rule: String,
    pub lines: Vec<SaleLine>,
    pub may_record: bool,
    /// Joint events the customer is invited to: (id, name).
    pub events: Vec<(i64, String)>,
    /// Whether the caller signs special-case changes of credit (R5.7), and to whom.
    pub may_sign: bool,
    pub staff: Vec<(i64, String)>,
    /// Who a sale counts for, as the policy says: (rule, sentence).
    pub terms: Vec<(String, String)>,
}

impl SalesCard {
    pub fn shown(&self) -> bool {
        self.may_record || !self.lines.is_empty()
    }
}

pub async fn card(
    state: &AppState,
    caller: &Caller,
    policy: &Policy,
    (customer_id, owner, source): (i64, Option<i64>, Option<&str>),
    claims: &[kehu_store::claims::ClaimRow],
    names: &std::collections::HashMap<i64, String>,
    lang: Lang,
) -> Result<Option<SalesCard>, ApiError> {
    let Some(p) = &policy.sales else {
        return Ok(None);
    };
    let rows = sales::for_customer(state, caller, customer_id).await?;
    let lines = rows
        .iter()
        .map(|s| {
            let pending = s.change_to.map(|to| {
                let signed: Vec<String> = s
                    .signed()
                    .iter()
                    .map(|r| policy.role_name(r).get(lang).to_string())
                    .collect();
                let to = names.get(&to).cloned().unwrap_or_default();
                Text::new(
                    format!("{}已签字，改记入{to}待其他负责人签字", signed.join("、")),
                    format!("Signed by {}: crediting {to} waits for the others", signed.join(", ")),
                )
                .get(lang)
                .to_string()
            });
            SaleLine {
                id: s.id,
                amount: kehu_domain::ledger::yuan(s.amount),
                at: policy.local_time(ts(s.at)),
                closer: s.closer_name.clone(),
                credited: s.credited_name.clone(),
                rule: s.rule.clone(),
                why: s.decision().map(|d| d.text.get(lang).to_string()).unwrap_or_default(),
                pending,
            }
        })
        .collect();
    let mut events: Vec<(i64, String)> = Vec::new();
    if p.at_events.is_some() {
        let view = crate::visibility::view(state, caller, policy).await?;
        for c in claims.iter().filter(|c| c.status().is_active()) {
            if let Some(eid) = c.event_id.filter(|e| !events.iter().any(|(x, _)| x == e))
                && let Ok(ev) = kehu_store::events::get(&state.db, caller.tenant_id, eid, &view).await
            {
                events.push((eid, ev.name));
            }
        }
    }
    let may_sign = p
        .special
        .as_ref()
        .is_some_and(|s| Policy::holds_any(&caller.roles, &s.roles));
    let mut staff: Vec<(i64, String)> = if may_sign {
        names.iter().map(|(k, v)| (*k, v.clone())).collect()
    } else {
        Vec::new()
    };
    staff.sort();
    Ok(Some(SalesCard {
        terms: super::policy_section(policy, "Sales credit", lang),
        rule: p.rule.to_string(),
        lines,
        // A sale counts for the owner (R5.5): the form is offered to the owner, on a customer
        // nobody owns, on one who belongs to whoever closes (R5.7), and to those who record for
        // others (leaders, managers), never to a colleague whose sale would count for someone else.
        may_record: caller.may(policy, kehu_domain::Permission::ActivitiesCreate)
            && (owner.is_none_or(|o| o == caller.id())
                || caller.may(policy, kehu_domain::Permission::ClaimsCreateForOthers)
                || kehu_domain::sale::belongs_to_closer(policy, source)),
        events,
        may_sign,
        staff,
    }))
}

#[derive(Deserialize)]
pub struct SaleForm {
    csrf: String,
    /// Yuan, as typed: "12800" or "12800.50".
    amount: String,
    #[serde(default)]
    event_id: String,
    #[serde(default)]
    note: String,
}

/// "12800.5" yuan in fen; `None` unless a positive amount with at most two decimals.
pub fn fen(s: &str) -> Option<i64> {
    let s = s.trim().replace([',', '，'], "");
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let w: i64 = whole.parse().ok()?;
    let f: i64 = format!("{frac:0<2}").parse().ok()?;
    w.checked_mul(100)?.checked_add(f).filter(|v| *v > 0)
}

/// POST /customers/{id}/sales
pub async fn record(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<SaleForm>,
) -> PageResult {
    let id = parse_id(&pc.c, &id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    let Some(amount) = fen(&f.amount) else {
        let e = crate::Failure::invalid(
            "invalid_amount",
            Text::new("请填写大于零的成交金额（元）", "Give an amount in yuan, more than zero"),
        );
        return Ok(detail_with_error(&state, &pc, id, &e, None).await);
    };
    let input = NewSaleInput {
        customer_id: id,
        amount,
        event_id: f.event_id.trim().parse().ok(),
        note: &f.note,
    };
    match sales::record(&state, &pc.caller, input).await {
        Ok(_) => Ok(see_other(&format!("/customers/{id}?done=sale#sales"))),
        Err(e) => Ok(detail_with_error(&state, &pc, id, &e, None).await),
    }
}

#[derive(Deserialize)]
pub struct CreditForm {
    csrf: String,
    customer_id: String,
    to_staff_id: String,
    #[serde(default)]
    reason: String,
}

/// POST /sales/{id}/credit
pub async fn credit(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<CreditForm>,
) -> PageResult {
    let id = parse_id(&pc.c, &id)?;
    let customer = parse_id(&pc.c, &f.customer_id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    let to = f.to_staff_id.trim().parse().unwrap_or(0);
    match sales::change_credit(&state, &pc.caller, id, to, &f.reason).await {
        Ok(_) => Ok(see_other(&format!("/customers/{customer}?done=credit#sales"))),
        Err(e) => Ok(detail_with_error(&state, &pc, customer, &e, None).await),
    }
}

#[derive(Deserialize)]
pub struct ConsentForm {
    csrf: String,
    customer_id: String,
    helper_id: String,
}

/// POST /events/{id}/helpers
pub async fn consent(
    State(state): State<AppState>,
    pc: PageCaller,
    Path(id): Path<String>,
    Form(f): Form<ConsentForm>,
) -> PageResult {
    let id = parse_id(&pc.c, &id)?;
    let customer = parse_id(&pc.c, &f.customer_id)?;
    if !csrf_ok(&pc.caller, &f.csrf) {
        return Err(csrf_refused(&pc.c).into());
    }
    let helper = f.helper_id.trim().parse().unwrap_or(0);
    match sales::consent(&state, &pc.caller, id, customer, helper).await {
        Ok(_) => Ok(see_other(&format!("/events/{id}?done=consent"))),
        Err(e) => Err(super::failure_page(&pc.c, &e).into()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts_are_read_in_yuan() {
        assert_eq!(super::fen("12800"), Some(1_280_000));
        assert_eq!(super::fen("12,800.5"), Some(1_280_050));
        assert_eq!(super::fen(" 0.01 "), Some(1));
        for bad in ["0", "", "-5", "1.234", "abc", "1e3", ".5"] {
            assert_eq!(super::fen(bad), None, "{bad}");
        }
    }
}
