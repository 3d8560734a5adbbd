//! The use cases behind both the API and the pages: load in a transaction, ask the domain,
//! apply with history in the same transaction. Handlers only parse and render.

use std::collections::{BTreeMap, HashMap};

use kehu_domain::claim::{decide_confirmation, decide_registration, decide_submission};
use kehu_domain::normalize::{Phone, normalize_name};
use kehu_domain::ownership::{Ownership, decide_ownership, select_owner};
use kehu_domain::policy::Channel;
use kehu_domain::search::plan;
use kehu_domain::{Permission, Policy, Text, Timestamp};
use kehu_store::claims::{self, ClaimRow, NewClaim};
use kehu_store::customers::{self, Created, CustomerRow, Key, NewCustomer};
use kehu_store::history::{self, NewEvent};
use kehu_store::visibility::View;
use kehu_store::{activities, ms, staff, ts};
use serde_json::json;

use crate::auth::Caller;
use crate::{AppState, Failure};

/// What a caller submits to register a customer.
#[derive(Debug, Clone, Default)]
pub struct CustomerInput {
    pub kind: String,
    pub name: String,
    pub phones: Vec<String>,
    pub grade: Option<String>,
    pub source: Option<String>,
    pub referrer_id: Option<i64>,
    pub agent: Option<String>,
}

/// A number as every page and answer shows it: grouped (175 6150 2287), without the tenant's
/// own country code.
pub fn shown_phone(e164: &str, default_cc: &str) -> String {
    kehu_domain::normalize::Phone::from_e164(e164)
        .map(|p| p.grouped(default_cc))
        .unwrap_or_else(|| e164.to_string())
}

/// A customer with its phones (grouped, see [`shown_phone`]) and derived owner.
#[derive(Debug, Clone)]
pub struct CustomerView {
    pub row: CustomerRow,
    pub phones: Vec<String>,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
}

impl CustomerView {
    pub fn to_json(&self) -> serde_json::Value {
        let r = &self.row;
        json!({
            "id": r.id,
            "kind": r.kind,
            "name": r.name,
            "phones": self.phones,
            "grade": r.grade,
            "source": r.source,
            "referrer_id": r.referrer_id,
            "agent": r.agent,
            "owner_id": self.owner_id,
            "owner_name": self.owner_name,
            "created_by": r.created_by,
            "created_at": ts(r.created_at).to_string(),
            "updated_at": ts(r.updated_at).to_string(),
        })
    }
}

/// Control characters other than line breaks and tabs have no place in a name or a note.
pub fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

pub(crate) fn clean(s: Option<String>, max: usize, field: &str) -> Result<Option<String>, Failure> {
    let Some(s) = s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if s.chars().count() > max {
        return Err(Failure::invalid(
            "invalid_field",
            Text::new(
                format!("{field} 不能超过 {max} 个字符"),
                format!("{field} may have at most {max} characters"),
            ),
        ));
    }
    if has_control(&s) {
        return Err(Failure::invalid(
            "invalid_field",
            Text::new(
                format!("{field} 含有不可见的控制字符"),
                format!("{field} contains control characters"),
            ),
        ));
    }
    Ok(Some(s))
}

/// A customer's source as stored: free text when the policy lists no sources; else the id of
/// the source it names (by id, name or alias), or 422 `invalid_source` listing the sources.
pub fn customer_source(policy: &Policy, source: Option<String>) -> Result<Option<String>, Failure> {
    let list = &policy.customers.sources;
    let Some(s) = source else {
        return Ok(None);
    };
    if list.is_empty() {
        return Ok(Some(s));
    }
    if let Some(found) = policy.source(&s) {
        return Ok(Some(found.id.clone()));
    }
    let zh: Vec<String> = list.iter().map(|x| format!("{}（{}）", x.name.zh, x.id)).collect();
    let en: Vec<String> = list.iter().map(|x| format!("{} ({})", x.id, x.name.en)).collect();
    Err(Failure::invalid(
        "invalid_source",
        Text::new(
            format!("来源“{s}”不在本制度的客户来源中；来源须为：{}", zh.join("、")),
            format!("`{s}` is not one of this policy's customer sources: {}", en.join(", ")),
        ),
    )
    .with_extra(
        "sources",
        serde_json::Value::Array(
            list.iter()
                .map(|x| json!({ "id": x.id, "name": { "zh": x.name.zh, "en": x.name.en } }))
                .collect(),
        ),
    ))
}

/// The active staff member `id` of the caller's tenant, or 422 `invalid_staff`.
pub async fn active_staff(state: &AppState, caller: &Caller, id: i64) -> Result<staff::StaffRow, Failure> {
    staff::get(&state.db, caller.tenant_id, id)
        .await
        .ok()
        .filter(|s| s.active)
        .ok_or_else(|| {
            Failure::invalid(
                "invalid_staff",
                Text::new("该员工不存在或已停用", "No such active staff member"),
            )
        })
}

/// Registers a customer, or answers 409 `duplicate_customer` naming the matches and owners.
pub async fn create_customer(state: &AppState, caller: &Caller, input: CustomerInput) -> Result<CustomerView, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::CustomersCreate)?;
    if input.kind != "person" && input.kind != "company" {
        return Err(Failure::invalid(
            "invalid_kind",
            Text::new(
                "客户类型必须是 person（个人）或 company（单位）",
                "kind must be `person` or `company`",
            ),
        ));
    }
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 || has_control(&name) {
        return Err(Failure::invalid(
            "invalid_name",
            Text::new(
                "请填写客户名称（最多 200 个字符）",
                "A name is required (at most 200 characters)",
            ),
        ));
    }
    let grade = clean(input.grade, 20, "grade")?;
    let source = customer_source(&policy, clean(input.source, 100, "source")?)?;
    let agent = clean(input.agent, 100, "agent")?;
    let cc = &policy.customers.default_country_code;
    let mut keys: Vec<Key> = Vec::new();
    if input.phones.len() > 10 {
        return Err(Failure::invalid(
            "invalid_phone",
            Text::new("最多登记 10 个电话号码", "At most 10 phone numbers"),
        ));
    }
    for raw in input.phones.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let phone = Phone::parse(raw, cc).map_err(|e| {
            Failure::invalid(
                "invalid_phone",
                Text::new(format!("电话号码“{raw}”无效：须为 5 到 15 位数字"), e.to_string()),
            )
        })?;
        let key = format!("phone:{phone}");
        if keys.iter().all(|k| k.key != key) {
            keys.push(Key {
                key,
                kind: "phone",
                value: raw.to_string(),
            });
        }
    }
    if input.kind == "company" {
        keys.push(Key {
            key: kehu_domain::normalize::company_directory_key(&name),
            kind: "company_name",
            value: name.clone(),
        });
    }
    let phones: Vec<String> = keys
        .iter()
        .filter(|k| k.kind == "phone")
        .map(|k| shown_phone(k.key.trim_start_matches("phone:"), cc))
        .collect();
    let name_norm = normalize_name(&name);
    let now = state.now();
    // R5.8: a walk-in's or caller's number gets a first message by the cut-off.
    let deadline = kehu_domain::contact::first_contact_due(
        &policy,
        &kehu_domain::contact::NewContact {
            customer_id: 0,
            customer_name: name.clone(),
            source: source.clone(),
            has_phone: !phones.is_empty(),
            registered_at: now,
            receiver_id: caller.id(),
            receiver_name: caller.staff.display_name.clone(),
        },
    )
    .map(|(due, rule)| (crate::lifecycle::FIRST_CONTACT.kind, due, rule));
    let created = customers::create(
        &state.db,
        caller.tenant_id,
        Some(caller.id()),
        NewCustomer {
            kind: input.kind.clone(),
            name: name.clone(),
            name_norm,
            grade,
            source,
            referrer_id: input.referrer_id,
            agent,
            keys,
            deadline,
        },
        now,
    )
    .await
    .map_err(|e| match e {
        kehu_store::StoreError::NotFound => Failure::invalid(
            "invalid_referrer",
            Text::new("推荐人客户不存在", "The referring customer does not exist"),
        ),
        other => Failure::from(other),
    })?;
    match created {
        Created::New(row) => {
            state.index_wake.notify_one();
            tracing::debug!(
                customer.id = row.id,
                tenant.id = caller.tenant_id,
                "customer registered"
            );
            Ok(CustomerView {
                row: *row,
                phones,
                owner_id: None,
                owner_name: None,
            })
        }
        Created::Duplicate(found) => {
            let ids: Vec<i64> = found.iter().map(|m| m.customer_id).collect();
            let owners = owners(state, &policy, caller.tenant_id, &ids).await?;
            let mut list: Vec<serde_json::Value> = Vec::new();
            let mut names = Vec::new();
            for m in &found {
                let owner = owners.get(&m.customer_id);
                let on = if m.kind == "phone" { "phone" } else { "company_name" };
                names.push(match owner {
                    Some((_, n)) => format!("{}（归{}）", m.name, n),
                    None => format!("{}（暂无归属）", m.name),
                });
                // The duplicate check works across the whole tenant, whatever the caller sees, and
                // so answers no more than a match's id, name, owner and what matched.
                list.push(json!({
                    "id": m.customer_id,
                    "name": m.name,
                    "owner_id": owner.map(|o| o.0),
                    "matched_on": on,
                }));
            }
            names.dedup();
            let names_en: Vec<String> = found
                .iter()
                .map(|m| match owners.get(&m.customer_id) {
                    Some((_, n)) => format!("{} (owned by {n})", m.name),
                    None => format!("{} (no owner)", m.name),
                })
                .collect();
            Err(Failure::conflict(
                "duplicate_customer",
                Text::new(
                    format!("该客户已登记：{}", names.join("、")),
                    format!("This customer is already registered: {}", names_en.join(", ")),
                ),
            )
            .with_extra("duplicates", serde_json::Value::Array(list)))
        }
    }
}

/// Owner (staff id, name) of each customer that has one.
pub async fn owners(
    state: &AppState,
    policy: &Policy,
    tenant_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, (i64, String)>, Failure> {
    let rows = claims::valid_for_customers(&state.db, tenant_id, ids).await?;
    let mut by_customer: BTreeMap<i64, Vec<kehu_domain::claim::ClaimFacts>> = BTreeMap::new();
    for r in &rows {
        by_customer.entry(r.customer_id).or_default().push(r.facts());
    }
    Ok(by_customer
        .into_iter()
        .filter_map(|(cid, facts)| select_owner(policy, &facts).map(|w| (cid, (w.staff_id, w.staff_name.clone()))))
        .collect())
}

/// Maps a store error on a customer lookup: `NotFound` becomes "no such customer".
pub(crate) fn customer_missing() -> impl Fn(kehu_store::StoreError) -> Failure {
    move |e| match e {
        kehu_store::StoreError::NotFound => customer_not_found(),
        e => e.into(),
    }
}

fn customer_not_found() -> Failure {
    Failure::not_found(Text::new("找不到该客户", "No such customer"))
}

/// Changes a customer's grade and tags (what the visit cadence reads, R1.6, R1.7), with a
/// history event. `None` leaves a field as it is.
pub async fn update_customer(
    state: &AppState,
    caller: &Caller,
    id: i64,
    grade: Option<String>,
    tags: Option<Vec<String>>,
) -> Result<CustomerView, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::CustomersUpdate)?;
    let now = state.now();
    let view = crate::visibility::view(state, caller, &policy).await?;
    let mut tx = state.db.begin().await?;
    crate::visibility::lock_customer(&mut tx, &view, caller, id).await?;
    change_customer(
        &mut tx,
        &policy,
        (caller.tenant_id, id),
        (Some(caller.id()), None),
        now,
        |before| {
            let grade = match grade {
                None => before.grade.clone(),
                Some(g) => clean(Some(g), kehu_domain::workflow::GRADE_MAX, "grade")?,
            };
            let tags = match tags {
                None => before.tags.clone(),
                Some(list) => {
                    let mut out: Vec<String> = Vec::new();
                    for t in list {
                        let t = t.trim().to_string();
                        if t.is_empty() {
                            continue;
                        }
                        if t.chars().count() > 30 || t.contains(',') || has_control(&t) || out.len() >= 20 {
                            return Err(Failure::invalid(
                                "invalid_tag",
                                Text::new(
                                    "标记最多 20 个，每个不超过 30 个字符，不含逗号",
                                    "At most 20 tags of at most 30 characters each, without commas",
                                ),
                            ));
                        }
                        if !out.contains(&t) {
                            out.push(t);
                        }
                    }
                    out.join(",")
                }
            };
            Ok((grade, tags))
        },
    )
    .await?;
    tx.commit().await?;
    get_customer(state, caller, id).await
}

/// Changes a customer's grade and tags to what `edit` makes of the customer as it stands, in
/// `tx` (the customer locked by the caller): the valid claims get their per-grade limits anew
/// and a history event records the change, by `who.0` (none for a rule) with the Decision
/// `who.1` that made it (a case's effect, R1.11).
pub(crate) async fn change_customer(
    tx: &mut kehu_store::Tx,
    policy: &Policy,
    (tenant, id): (i64, i64),
    who: (Option<i64>, Option<&kehu_domain::Decision>),
    now: Timestamp,
    edit: impl FnOnce(&CustomerRow) -> Result<(Option<String>, String), Failure>,
) -> Result<(), Failure> {
    let before = customers::get_tx(tx, tenant, id).await?;
    let (grade, tags) = edit(&before)?;
    if grade == before.grade && tags == before.tags {
        return Ok(());
    }
    customers::set_grade_and_tags(tx, tenant, id, grade.as_deref(), &tags, now).await?;
    // Per-grade follow-up windows: the customer's valid claims get their limits anew.
    for claim in claims::for_customer_tx(tx, tenant, id).await? {
        if claim.status() == kehu_domain::claim::ClaimStatus::Valid {
            crate::lifecycle::settle(tx, policy, claim, now).await?;
        }
    }
    history::append(
        tx,
        tenant,
        now,
        NewEvent {
            actor_id: who.0,
            entity: "customer",
            entity_id: id,
            customer_id: Some(id),
            action: "update",
            before: Some(json!({ "grade": before.grade, "tags": before.tag_list() })),
            after: Some(
                json!({ "grade": grade, "tags": tags.split(',').filter(|t| !t.is_empty()).collect::<Vec<_>>() }),
            ),
            decision: who.1,
        },
    )
    .await?;
    Ok(())
}

pub async fn get_customer(state: &AppState, caller: &Caller, id: i64) -> Result<CustomerView, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::CustomersRead)?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    // One round trip: the customer, its numbers and the valid claims its owner is decided on.
    let read = customers::get_with_phones(&state.db, caller.tenant_id, id, &view)
        .await
        .map_err(customer_missing())?;
    let cc = &policy.customers.default_country_code;
    let phones = read.phones.iter().map(|p| shown_phone(p, cc)).collect();
    let facts: Vec<_> = read.valid_claims.iter().map(ClaimRow::facts).collect();
    let owner = select_owner(&policy, &facts).map(|w| (w.staff_id, w.staff_name.clone()));
    Ok(CustomerView {
        row: read.row,
        phones,
        owner_id: owner.as_ref().map(|o| o.0),
        owner_name: owner.map(|o| o.1),
    })
}

/// One page of customers matching `q` (any part of the name, or phone digits).
pub async fn search_customers(
    state: &AppState,
    caller: &Caller,
    q: &str,
    cursor: Option<i64>,
    limit: i64,
) -> Result<(Vec<CustomerView>, Option<i64>), Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::CustomersRead)?;
    if q.chars().count() > 100 || has_control(q) {
        return Err(Failure::invalid(
            "invalid_query",
            Text::new(
                "搜索内容最多 100 个字符",
                "The search text may have at most 100 characters",
            ),
        ));
    }
    let (p, q_norm) = plan(q);
    let cc = &policy.customers.default_country_code;
    let view = crate::visibility::view(state, caller, &policy).await?;
    let (rows, next) = customers::search(&state.db, caller.tenant_id, &view, &p, &q_norm, cc, cursor, limit).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut phones = customers::phones(&state.db, caller.tenant_id, &ids).await?;
    let owners = owners(state, &policy, caller.tenant_id, &ids).await?;
    let items = rows
        .into_iter()
        .map(|row| {
            let owner = owners.get(&row.id);
            CustomerView {
                phones: phones
                    .remove(&row.id)
                    .unwrap_or_default()
                    .iter()
                    .map(|p| shown_phone(p, cc))
                    .collect(),
                owner_id: owner.map(|o| o.0),
                owner_name: owner.map(|o| o.1.clone()),
                row,
            }
        })
        .collect();
    Ok((items, next))
}

/// Who owns the customer and why (R3.3, R5.5, R7.7).
pub async fn ownership(state: &AppState, caller: &Caller, customer_id: i64) -> Result<Ownership, Failure> {
    Ok(ownership_and_claims(state, caller, customer_id).await?.0)
}

/// A customer the caller sees, or "no such customer".
pub async fn visible_customer(
    state: &AppState,
    caller: &Caller,
    view: &kehu_store::visibility::View,
    id: i64,
) -> Result<CustomerRow, Failure> {
    customers::get_in_view(&state.db, caller.tenant_id, id, view)
        .await
        .map_err(customer_missing())
}

/// The ownership decision (taken over all of the customer's claims) together with the claims
/// the caller sees (oldest first), for pages that show both.
pub async fn ownership_and_claims(
    state: &AppState,
    caller: &Caller,
    customer_id: i64,
) -> Result<(Ownership, Vec<ClaimRow>), Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::CustomersRead)?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    visible_customer(state, caller, &view, customer_id).await?;
    let all = claims::for_customer(&state.db, caller.tenant_id, customer_id, &View::all()).await?;
    let facts: Vec<_> = all.iter().map(ClaimRow::facts).collect();
    let decision = decide_ownership(&policy, &facts);
    let seen = if view.claims.is_all() {
        all
    } else {
        claims::for_customer(&state.db, caller.tenant_id, customer_id, &view).await?
    };
    Ok((decision, seen))
}

/// What the rules would say to the caller registering their own claim on the customer now
/// (`None`: they would accept it), so a page offers the action only when it can succeed and
/// says why when it cannot.
pub async fn claim_refusal(
    state: &AppState,
    caller: &Caller,
    policy: &Policy,
    customer_id: i64,
) -> Result<Option<kehu_domain::Refusal>, Failure> {
    let existing: Vec<_> = claims::for_customer(&state.db, caller.tenant_id, customer_id, &View::all())
        .await?
        .iter()
        .map(ClaimRow::facts)
        .collect();
    Ok(decide_registration(policy, state.now(), &caller.facts(), caller.staff.unit_id, &existing).err())
}

/// Registers a claim on a customer for `holder` (default: the caller), as the policy says
/// (R5.1: pending until a team leader confirms; otherwise valid at once).
pub async fn register_claim(
    state: &AppState,
    caller: &Caller,
    customer_id: i64,
    holder: Option<i64>,
) -> Result<ClaimRow, Failure> {
    register_claim_at(state, caller, customer_id, holder, None, None).await
}

/// Registers a claim for a contact at `contact_at` (default: now); a late submission is
/// recorded, and charged beyond the grace (R3.1, R3.12).
pub async fn register_claim_at(
    state: &AppState,
    caller: &Caller,
    customer_id: i64,
    holder: Option<i64>,
    contact_at: Option<Timestamp>,
    event_id: Option<i64>,
) -> Result<ClaimRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::ClaimsCreate)?;
    let holder_id = holder.unwrap_or(caller.id());
    let holder = if holder_id == caller.id() {
        caller.staff.clone()
    } else {
        caller.require(&policy, Permission::ClaimsCreateForOthers)?;
        staff::get(&state.db, caller.tenant_id, holder_id)
            .await
            .map_err(|_| Failure::invalid("invalid_staff", Text::new("该员工不存在", "No such staff member")))?
    };
    if !holder.active {
        return Err(Failure::invalid(
            "invalid_staff",
            Text::new("该员工已停用", "This staff member is inactive"),
        ));
    }
    let now = state.now();
    if let Some(at) = contact_at {
        kehu_domain::policy::limits::check_past(&policy, "contact_at", at, now, "contact_in_future")
            .map_err(|r| Failure::invalid(r.code, r.text))?;
    }
    // Where several claims may stand, a customer the caller does not see may still be claimed
    // (the duplicate check named it); else it must be one they see.
    let view = if kehu_domain::claim::may_claim_unseen(&policy) {
        View::all()
    } else {
        crate::visibility::view(state, caller, &policy).await?
    };
    let mut tx = state.db.begin().await?;
    crate::visibility::lock_customer(&mut tx, &view, caller, customer_id).await?;
    // A customer in a pool is claimed from the pool, under its rules (R11.8); registered for
    // someone else (by a role that may), it simply leaves the pool.
    let pooled = customers::get_tx(&mut tx, caller.tenant_id, customer_id).await?.pool_id;
    if let Some(pool) = &pooled {
        if holder.id == caller.id() {
            let row = crate::lifecycle::take_from_pool(&mut tx, &policy, caller, pool, customer_id, now).await?;
            tx.commit().await?;
            return Ok(row);
        }
        customers::set_pool(&mut tx, caller.tenant_id, customer_id, None, now).await?;
    }
    let existing: Vec<_> = claims::for_customer_tx(&mut tx, caller.tenant_id, customer_id)
        .await?
        .iter()
        .map(ClaimRow::facts)
        .collect();
    let facts = holder.facts();
    // The division the claim counts for (R11.4): the holder's unit, which is also the division an
    // invitation to a joint event counts for (R11.3).
    let reg = decide_registration(&policy, now, &facts, holder.unit_id, &existing)?;
    let held = claims::count_held(&mut tx, caller.tenant_id, holder.id).await?;
    kehu_domain::pool::decide_capacity(&policy, &facts, held)?;
    let late = decide_submission(&policy, &facts, contact_at.unwrap_or(now), now)?;
    let row = claims::insert(
        &mut tx,
        caller.tenant_id,
        NewClaim {
            customer_id,
            staff_id: holder.id,
            registered_by: caller.id(),
            status: reg.status,
            registered_at: now,
            effective_at: reg.effective_at,
            policy_version: policy.version,
            reassigned_from: None,
            contact_at,
            from_pool: None,
        },
    )
    .await?;
    // R11.3: an invitation to a joint event counts for the holder's division.
    let row = match event_id {
        Some(ev) => crate::events::attach(&mut tx, state, &policy, caller, row, ev, holder.unit_id, now).await?,
        None => row,
    };
    history::append(
        &mut tx,
        caller.tenant_id,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "claim",
            entity_id: row.id,
            customer_id: Some(customer_id),
            action: "register",
            after: Some(row.to_json()),
            decision: Some(&reg.decision),
            ..Default::default()
        },
    )
    .await?;
    if let Some(late) = &late {
        history::append(
            &mut tx,
            caller.tenant_id,
            now,
            NewEvent {
                actor_id: Some(caller.id()),
                entity: "claim",
                entity_id: row.id,
                customer_id: Some(customer_id),
                action: "late_submission",
                decision: Some(&late.decision),
                ..Default::default()
            },
        )
        .await?;
        if let Some(code) = &late.penalty {
            crate::lifecycle::charge(
                &mut tx,
                &policy,
                crate::lifecycle::Charge {
                    tenant_id: caller.tenant_id,
                    staff_id: holder.id,
                    customer_id: Some(customer_id),
                    code,
                    subject: format!("claim:{}", row.id),
                    decision: late.decision.clone(),
                    at: now,
                },
            )
            .await?;
        }
    }
    let (row, _) = crate::lifecycle::settle(&mut tx, &policy, row, now).await?;
    let before: Vec<ClaimRow> = claims::for_customer_tx(&mut tx, caller.tenant_id, customer_id)
        .await?
        .into_iter()
        .filter(|c| c.id != row.id)
        .collect();
    crate::lifecycle::charge_duplicates(&mut tx, &policy, &row, &before, now).await?;
    tx.commit().await?;
    tracing::debug!(claim.id = row.id, customer.id = customer_id, rule.id = %reg.decision.rule, "claim registered");
    Ok(row)
}

/// Confirms a pending claim (R5.1): only the roles the policy names; effective as it says.
pub async fn confirm_claim(state: &AppState, caller: &Caller, claim_id: i64) -> Result<ClaimRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    let now = state.now();
    let view = crate::visibility::view(state, caller, &policy).await?;
    let mut tx = state.db.begin().await?;
    let claim = crate::lifecycle::lock_claim(&mut tx, &view, caller, claim_id).await?;
    let confirmer = caller.facts();
    let others: Vec<_> = claims::for_customer_tx(&mut tx, caller.tenant_id, claim.customer_id)
        .await?
        .iter()
        .map(ClaimRow::facts)
        .collect();
    let c = decide_confirmation(&policy, now, &claim.facts(), &others, &confirmer)?;
    let row = claims::confirm(
        &mut tx,
        caller.tenant_id,
        claim_id,
        caller.id(),
        &c.role,
        now,
        c.effective_at,
    )
    .await?;
    history::append(
        &mut tx,
        caller.tenant_id,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "claim",
            entity_id: claim_id,
            customer_id: Some(claim.customer_id),
            action: "confirm",
            before: Some(claim.to_json()),
            after: Some(row.to_json()),
            decision: Some(&c.decision),
        },
    )
    .await?;
    let row = crate::events::confirmed(&mut tx, state, &policy, row, now).await?;
    let (row, _) = crate::lifecycle::settle(&mut tx, &policy, row, now).await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn get_claim(state: &AppState, caller: &Caller, claim_id: i64) -> Result<ClaimRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::CustomersRead)?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    claims::get(&state.db, caller.tenant_id, claim_id, &view)
        .await
        .map_err(|_| Failure::not_found(Text::new("找不到该登记", "No such claim")))
}

/// Records a follow-up on a customer.
pub async fn add_activity(
    state: &AppState,
    caller: &Caller,
    customer_id: i64,
    channel: &str,
    at: Option<Timestamp>,
    note: Option<String>,
) -> Result<activities::ActivityRow, Failure> {
    add_activity_kind(state, caller, customer_id, channel, at, note, None).await
}

/// As [`add_activity`], recorded as a kind of service the policy names (R11.7).
#[allow(clippy::too_many_arguments)]
pub async fn add_activity_kind(
    state: &AppState,
    caller: &Caller,
    customer_id: i64,
    channel: &str,
    at: Option<Timestamp>,
    note: Option<String>,
    kind: Option<&str>,
) -> Result<activities::ActivityRow, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::ActivitiesCreate)?;
    let channel = Channel::parse(channel)
        .filter(|c| policy.activities.channels.contains(c))
        .ok_or_else(|| {
            let known: Vec<&str> = policy.activities.channels.iter().map(|c| c.as_str()).collect();
            Failure::invalid(
                "invalid_channel",
                Text::new(
                    format!("跟进方式须为：{}", known.join("、")),
                    format!("channel must be one of: {}", known.join(", ")),
                ),
            )
        })?;
    let note = clean(note, 2000, "note")?.unwrap_or_default();
    let kind = kind.map(str::trim).filter(|k| !k.is_empty());
    if let Some(k) = kind
        && !policy.activities.kinds.iter().any(|x| x.id == k)
    {
        let known: Vec<&str> = policy.activities.kinds.iter().map(|x| x.id.as_str()).collect();
        return Err(Failure::invalid(
            "invalid_kind",
            Text::new(
                if known.is_empty() {
                    "本制度没有服务类别".to_string()
                } else {
                    format!("服务类别须为：{}", known.join("、"))
                },
                if known.is_empty() {
                    "This policy has no kinds of service".to_string()
                } else {
                    format!("kind must be one of: {}", known.join(", "))
                },
            ),
        ));
    }
    let now = state.now();
    let at = at.unwrap_or(now);
    kehu_domain::policy::limits::check_past(&policy, "at", at, now, "activity_in_future")
        .map_err(|r| Failure::invalid(r.code, r.text))?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    let mut tx = state.db.begin().await?;
    crate::visibility::lock_customer(&mut tx, &view, caller, customer_id).await?;
    let row = activities::insert(
        &mut tx,
        caller.tenant_id,
        activities::NewActivity {
            customer_id,
            staff_id: caller.id(),
            channel,
            at,
            note: &note,
            kind,
        },
        now,
    )
    .await?;
    history::append(
        &mut tx,
        caller.tenant_id,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "activity",
            entity_id: row.id,
            customer_id: Some(customer_id),
            action: "create",
            after: Some(row.to_json()),
            ..Default::default()
        },
    )
    .await?;
    // R5.8: the receiver's first message makes the first-contact deadline moot.
    if policy
        .customers
        .first_contact
        .as_ref()
        .is_some_and(|f| f.channel == channel)
        && customers::get_tx(&mut tx, caller.tenant_id, customer_id)
            .await?
            .created_by
            == Some(caller.id())
    {
        kehu_store::deadlines::cancel(
            &mut tx,
            caller.tenant_id,
            crate::lifecycle::FIRST_CONTACT.kind,
            customer_id,
        )
        .await?;
    }
    // A follow-up moves the limit of the author's claim on this customer (R5.2, R5.4).
    let held: Vec<ClaimRow> = claims::for_customer_tx(&mut tx, caller.tenant_id, customer_id)
        .await?
        .into_iter()
        .filter(|c| c.staff_id == caller.id() && c.status() == kehu_domain::claim::ClaimStatus::Valid)
        .collect();
    for claim in held {
        crate::lifecycle::settle(&mut tx, &policy, claim, now).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// The follow-ups on a customer the caller sees, newest first.
pub async fn activities(
    state: &AppState,
    caller: &Caller,
    customer_id: i64,
    limit: i64,
) -> Result<Vec<activities::ActivityRow>, Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::CustomersRead)?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    visible_customer(state, caller, &view, customer_id).await?;
    Ok(activities::for_customer(&state.db, caller.tenant_id, customer_id, limit, &view).await?)
}

/// A customer's history, newest first, each event with its decision.
pub async fn customer_history(
    state: &AppState,
    caller: &Caller,
    customer_id: i64,
    cursor: Option<i64>,
    limit: i64,
) -> Result<(Vec<history::EventRow>, Option<i64>), Failure> {
    let policy = state.policy(caller.tenant_id).await?;
    caller.require(&policy, Permission::HistoryRead)?;
    let view = crate::visibility::view(state, caller, &policy).await?;
    visible_customer(state, caller, &view, customer_id).await?;
    let mut rows = history::for_customer(&state.db, caller.tenant_id, customer_id, cursor, limit + 1, &view).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.seq)
    } else {
        None
    };
    Ok((rows, next))
}

/// Moves the virtual clock forward (admin only, `--virtual-clock` only).
pub async fn advance_clock(
    state: &AppState,
    caller: &Caller,
    seconds: Option<i64>,
    to: Option<Timestamp>,
) -> Result<(Timestamp, u64), Failure> {
    if !state.clock.is_virtual() {
        return Err(Failure::conflict(
            "clock_not_virtual",
            Text::new(
                "服务未以 --virtual-clock 启动，不能调整时间",
                "The server runs on the real clock; start it with --virtual-clock",
            ),
        ));
    }
    if !caller.is_admin() {
        return Err(Failure::forbidden(Text::new(
            "只有管理员可以调整时间",
            "Only an admin may move the clock",
        )));
    }
    let now = state.now();
    if let Some(t) = to {
        kehu_domain::policy::limits::check_bounds("to", t)?;
    }
    let delta_ms = match (seconds, to) {
        (Some(s), None) if (0..=100 * 365 * 86_400).contains(&s) => s * 1000,
        (None, Some(t)) if t >= now => t.as_millisecond() - now.as_millisecond(),
        _ => {
            return Err(Failure::invalid(
                "invalid_advance",
                Text::new(
                    "请给出 seconds（非负秒数）或 to（不早于现在的时间），二者选一",
                    "Give either `seconds` (not negative) or `to` (not before now), not both",
                ),
            ));
        }
    };
    let offset = state.clock.offset_ms() + delta_ms;
    // Deadlines due on the way fire first, each at its own time, in time order.
    let fired = crate::lifecycle::fire_until(state, ts(ms(now) + delta_ms)).await?;
    let mut tx = state.db.begin().await?;
    kehu_store::clock::set_offset(&mut tx, offset).await?;
    let new_now = ts(ms(now) + delta_ms);
    history::append(
        &mut tx,
        caller.tenant_id,
        now,
        NewEvent {
            actor_id: Some(caller.id()),
            entity: "clock",
            entity_id: 1,
            action: "advance",
            before: Some(json!({"now": now.to_string()})),
            after: Some(json!({"now": new_now.to_string()})),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    state.clock.set_offset_ms(offset);
    Ok((state.now(), fired))
}
