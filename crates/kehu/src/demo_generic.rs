//! Demo data for any preset: an organisation, a few staff per role the policy defines, about
//! 120 customers registered over the last 30 days by those who may (their sources from the
//! policy's list), claims (signed where the policy asks for it), follow-ups, ledger entries from
//! the policy's manual codes, where the policy returns unserved customers to a pool (R11.8) a
//! few claimed months ago and returned since, and cases of each workflow (complaints about the
//! customers' holders, R11.9; partners' admissions, development projects) opened and walked on.
//! Every step goes through the same use cases and rules as real work, with deadlines fired in
//! time.

use kehu_domain::policy::Party;
use kehu_domain::{Permission, Policy};
use kehu_server::AppState;
use kehu_server::service::{self, CustomerInput};
use kehu_store::staff::{NewStaff, StaffRow};

use crate::demo::{DEMO_PASSWORD, GIVEN, Rng, SURNAMES, TENANT, caller, set_now};

const SOURCES: &[&str] = &["来电", "到店", "自主开发", "老客户介绍", "活动"];
/// Follow-up notes that fit any business (the car dealership's demo has its own, about cars).
const NOTES: &[&str] = &[
    "客户有意向，约定下周再联系",
    "发送了资料，等待客户回复",
    "客户询问价格和优惠政策",
    "客户需要和家人商量后再定",
    "约好周末面谈",
    "客户比较了几家，价格敏感",
    "客户暂时不急，下月再跟进",
    "需要客户单位走采购审批",
];
const GRADES: &[&str] = &["A", "B", "C", "D"];
/// Parts of demo company names (a city, a trade, and a number that keeps them apart).
const CITIES: &[&str] = &["杭州", "宁波", "苏州", "合肥", "南昌", "福州"];
const FIRMS: &[&str] = &[
    "建设工程有限公司",
    "市政工程有限公司",
    "机电安装有限公司",
    "建筑劳务有限公司",
];

pub async fn seed(state: &AppState, policy: &Policy, file: &str, source: &str, admin_pw: &str) -> anyhow::Result<()> {
    let db = &state.db;
    let real_now = jiff::Timestamp::now();
    let start = real_now - jiff::SignedDuration::from_hours(30 * 24);
    // A policy that returns unserved customers to a pool (R11.8) starts far enough back for some
    // to have been returned by today, so the pool holds customers to claim.
    let release = pool_release(policy);
    let first = match release {
        Some(after) => (real_now - after - jiff::SignedDuration::from_hours(5 * 24)).min(start),
        None => start,
    };
    set_now(state, first);
    let company = format!(
        "示范{}",
        policy.name.zh.trim_end_matches("管理制度").trim_end_matches("制度")
    );
    let tenant = kehu_store::tenants::create(db, TENANT, &company, policy, source, file, first).await?;
    let hash = kehu_server::auth::hash_password(admin_pw).map_err(|_| anyhow::anyhow!("hashing failed"))?;
    let admin = kehu_store::staff::create(db, tenant.id, None, NewStaff::admin(&hash), first).await?;
    let top = kehu_store::units::create(db, tenant.id, Some(admin.id), &company, None, first).await?;
    let teams = [
        kehu_store::units::create(db, tenant.id, Some(admin.id), "一部", Some(top.id), first).await?,
        kehu_store::units::create(db, tenant.id, Some(admin.id), "二部", Some(top.id), first).await?,
    ];
    let demo_hash = kehu_server::auth::hash_password(DEMO_PASSWORD).map_err(|_| anyhow::anyhow!("hashing failed"))?;
    let mut rng = Rng(0x5eed_0000_6b65_6875);
    let mut staff: Vec<StaffRow> = Vec::new();
    for role in policy.roles.iter().filter(|r| r.id != kehu_domain::policy::ADMIN_ROLE) {
        // Front-line roles (they hold customers, and neither manage staff, sign claims nor keep
        // the ledger) come two to a team; the others one each.
        let ids = std::slice::from_ref(&role.id);
        let holds = role.permissions.contains(&Permission::ClaimsCreate)
            && !role.permissions.contains(&Permission::StaffManage)
            && !policy.may_confirm(ids)
            && !policy.may_manage_ledger(ids);
        // R11.3: each division has its own head, who files the division's invitations.
        let heads = policy
            .events
            .as_ref()
            .is_some_and(|e| kehu_domain::Policy::holds_any(ids, &e.filers));
        let n = if holds {
            4
        } else if heads {
            2
        } else {
            1
        };
        for i in 1..=n {
            let name = format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN));
            let unit = if holds || heads { teams[(i - 1) % 2].id } else { top.id };
            let s = kehu_store::staff::create(
                db,
                tenant.id,
                Some(admin.id),
                NewStaff {
                    username: &format!("{}{i}", role.id.replace('_', "")),
                    display_name: &name,
                    password_hash: &demo_hash,
                    unit_id: Some(unit),
                    roles: std::slice::from_ref(&role.id),
                },
                first,
            )
            .await?;
            staff.push(s);
        }
    }
    let may = |s: &StaffRow, p: Permission| policy.allows(&s.role_list(), p);
    let creators: Vec<StaffRow> = staff
        .iter()
        .filter(|s| may(s, Permission::CustomersCreate))
        .cloned()
        .collect();
    let holders: Vec<StaffRow> = staff
        .iter()
        .filter(|s| may(s, Permission::ClaimsCreate))
        .cloned()
        .collect();
    let confirmers: Vec<StaffRow> = staff
        .iter()
        .filter(|s| policy.may_confirm(&s.role_list()) && s.username != "admin")
        .cloned()
        .collect();
    let channels: Vec<&'static str> = match &policy.claims.lifecycle {
        Some(lc) => lc.follow_up_channels.iter().map(|c| c.as_str()).collect(),
        None => policy.activities.channels.iter().map(|c| c.as_str()).collect(),
    };
    let sources: Vec<String> = if policy.customers.sources.is_empty() {
        SOURCES.iter().map(|s| s.to_string()).collect()
    } else {
        policy.customers.sources.iter().map(|s| s.id.clone()).collect()
    };
    let mut phones = std::collections::HashSet::new();
    if release.is_some() {
        unserved(
            state,
            &creators,
            &holders,
            &confirmers,
            &sources,
            &mut phones,
            &mut rng,
            first,
        )
        .await?;
    }
    let mut companies: Vec<i64> = Vec::new();
    let wants_companies = policy
        .workflows
        .iter()
        .flat_map(|w| w.guards.iter().chain(w.actions.iter().flat_map(|a| &a.guards)))
        .any(|g| g.when.source.contains("customer.kind"));
    let total = 120;
    let step = jiff::SignedDuration::from_secs(29 * 24 * 3600 / total as i64);
    // Customers with a claim, oldest first: those a complaint can be about.
    let mut claimed: Vec<i64> = Vec::new();
    for i in 0..total {
        let at = start + step * (i + 1);
        kehu_server::lifecycle::sweep(state, at)
            .await
            .map_err(|e| anyhow::anyhow!("seeding sweep: {}", e.detail.en))?;
        set_now(state, at);
        if creators.is_empty() {
            break;
        }
        let creator = rng.pick(&creators).clone();
        let phone = new_phone(&mut rng, &mut phones);
        // A policy whose workflows ask for companies (partner firms, R1.1) has them as well as
        // people.
        let company = wants_companies && i % 3 == 0;
        let input = CustomerInput {
            kind: if company { "company" } else { "person" }.into(),
            name: if company {
                format!("{}{}{}", rng.pick(CITIES), rng.pick(FIRMS), i + 1)
            } else {
                format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN))
            },
            phones: vec![phone],
            source: Some(rng.pick(&sources).clone()),
            grade: (i % 2 == 0).then(|| rng.pick(GRADES).to_string()),
            ..Default::default()
        };
        let customer = match service::create_customer(state, &caller(&creator), input).await {
            Ok(c) => c,
            Err(e) if e.code == "duplicate_customer" => continue,
            Err(e) => anyhow::bail!("seeding customer {i}: {}", e.detail.en),
        };
        if company {
            companies.push(customer.row.id);
        }
        if i % 10 >= 7 || holders.is_empty() {
            continue;
        }
        let holder = if may(&creator, Permission::ClaimsCreate) {
            creator.clone()
        } else {
            rng.pick(&holders).clone()
        };
        set_now(state, at + jiff::SignedDuration::from_mins(10));
        let Ok(claim) = service::register_claim(state, &caller(&holder), customer.row.id, None).await else {
            continue;
        };
        claimed.push(customer.row.id);
        if claim.status == "pending" && !confirmers.is_empty() && i % 10 != 6 {
            set_now(state, at + jiff::SignedDuration::from_mins(60));
            let _ = service::confirm_claim(state, &caller(rng.pick(&confirmers)), claim.id).await;
        }
        for f in 0..(1 + rng.below(3)) {
            let when = at + jiff::SignedDuration::from_hours(2 + 30 * f as i64);
            if when > real_now || channels.is_empty() {
                break;
            }
            set_now(state, when);
            let channel: &str = channels[rng.below(channels.len())];
            let _ = service::add_activity(
                state,
                &caller(&holder),
                customer.row.id,
                channel,
                None,
                Some(rng.pick(NOTES).to_string()),
            )
            .await;
        }
    }
    // A few manual ledger entries by those who manage the ledger, in the last weeks.
    let managers: Vec<StaffRow> = staff
        .iter()
        .filter(|s| policy.may_manage_ledger(&s.role_list()))
        .cloned()
        .collect();
    let codes: Vec<&str> = policy
        .ledger
        .codes
        .iter()
        .filter(|c| c.manual && c.party == Party::Staff && c.times_referred.is_none())
        .map(|c| c.code.as_str())
        .collect();
    if !managers.is_empty() && !codes.is_empty() && !holders.is_empty() {
        for k in 0..8 {
            set_now(state, real_now - jiff::SignedDuration::from_hours(24 * (16 - 2 * k)));
            let by = rng.pick(&managers).clone();
            let who = rng.pick(&holders).clone();
            let code = *rng.pick(&codes);
            let _ = kehu_server::ledger::add_manual(state, &caller(&by), who.id, code, 1, "示范记录").await;
        }
    }
    if policy.events.is_some() {
        joint_event(state, policy, &staff, &teams, &mut rng, real_now).await?;
    }
    // Cases of customers go to the companies when the workflows ask for companies, else to the
    // customers somebody holds now (a complaint is about its holder, R11.9).
    let subjects = if companies.is_empty() {
        let held: Vec<(i64,)> = state
            .db
            .fetch_all(
                "SELECT DISTINCT customer_id FROM claims WHERE tenant_id = $1 AND status = 'valid' ORDER BY customer_id",
                kehu_store::args![admin.tenant_id],
            )
            .await?;
        held.into_iter().map(|(c,)| c).filter(|c| claimed.contains(c)).collect()
    } else {
        companies
    };
    open_cases(state, policy, &admin, &staff, &subjects, real_now).await?;
    set_now(state, real_now);
    kehu_server::lifecycle::sweep(state, real_now)
        .await
        .map_err(|e| anyhow::anyhow!("seeding sweep: {}", e.detail.en))?;
    kehu_server::indexer::drain(db).await?;
    let n = kehu_store::customers::count(db, tenant.id).await?;
    println!("  demo tenant ready: {n} customers");
    Ok(())
}

/// A phone number not used yet in this demo.
fn new_phone(rng: &mut Rng, phones: &mut std::collections::HashSet<String>) -> String {
    loop {
        let p = format!(
            "1{}{}{:08}",
            rng.pick(&["3", "5", "7", "8"]),
            rng.below(10),
            rng.next() % 100_000_000
        );
        if phones.insert(p.clone()) {
            break p;
        }
    }
}

/// How long an unserved claim stands before its customer returns to a pool (R11.8), when the
/// policy returns customers to one.
fn pool_release(policy: &Policy) -> Option<jiff::SignedDuration> {
    let lc = policy.claims.lifecycle.as_ref()?;
    if lc.on_miss != kehu_domain::policy::OnMiss::Release {
        return None;
    }
    let window = lc.first_within.or(lc.valid_for)?;
    let at = jiff::Timestamp::now();
    Some(window.after(at, &policy.tz).duration_since(at))
}

/// The source of the customers invited at a joint event: the policy's source for event files
/// when it lists one, else free text.
fn event_source(policy: &Policy) -> Option<String> {
    if policy.customers.sources.is_empty() {
        return Some("活动".into());
    }
    policy
        .source("活动")
        .or(policy.customers.sources.first())
        .map(|s| s.id.clone())
}

/// R11.8: six customers claimed (and confirmed) at the start and never served again: their
/// claims lapse on the way to today and the customers return to the pool, for staff to claim.
#[expect(clippy::too_many_arguments, reason = "the seeding state the demo threads through")]
async fn unserved(
    state: &AppState,
    creators: &[StaffRow],
    holders: &[StaffRow],
    confirmers: &[StaffRow],
    sources: &[String],
    phones: &mut std::collections::HashSet<String>,
    rng: &mut Rng,
    first: jiff::Timestamp,
) -> anyhow::Result<()> {
    if creators.is_empty() || holders.is_empty() {
        return Ok(());
    }
    for n in 0..6 {
        let at = first + jiff::SignedDuration::from_hours(2 * (n + 1));
        set_now(state, at);
        let holder = rng.pick(holders).clone();
        let creator = if creators.iter().any(|c| c.id == holder.id) {
            holder.clone()
        } else {
            rng.pick(creators).clone()
        };
        let input = CustomerInput {
            kind: "person".into(),
            name: format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN)),
            phones: vec![new_phone(rng, phones)],
            source: Some(rng.pick(sources).clone()),
            ..Default::default()
        };
        let customer = match service::create_customer(state, &caller(&creator), input).await {
            Ok(c) => c,
            Err(e) if e.code == "duplicate_customer" => continue,
            Err(e) => anyhow::bail!("seeding an unserved customer: {}", e.detail.en),
        };
        let Ok(claim) = service::register_claim(state, &caller(&holder), customer.row.id, None).await else {
            continue;
        };
        if claim.status == "pending" && !confirmers.is_empty() {
            set_now(state, at + jiff::SignedDuration::from_mins(30));
            let _ = service::confirm_claim(state, &caller(rng.pick(confirmers)), claim.id).await;
        }
    }
    Ok(())
}

/// R11.3: a joint event of the two teams in four days' time, with invitations from both; the
/// first team's head has filed, the second's filing is still due.
async fn joint_event(
    state: &AppState,
    policy: &Policy,
    staff: &[StaffRow],
    teams: &[kehu_store::units::UnitRow; 2],
    rng: &mut Rng,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let Some(rules) = &policy.events else {
        return Ok(());
    };
    let Some(organiser) = staff
        .iter()
        .find(|s| kehu_domain::Policy::holds_any(&s.role_list(), &rules.organisers))
    else {
        return Ok(());
    };
    let day = (now + jiff::SignedDuration::from_hours(24 * 4))
        .to_zoned(policy.tz.clone())
        .date();
    let starts_at = day
        .at(14, 30, 0, 0)
        .to_zoned(policy.tz.clone())
        .map(|z| z.timestamp())
        .unwrap_or(now);
    set_now(state, now - jiff::SignedDuration::from_hours(3));
    let event = kehu_server::events::create(
        state,
        &caller(organiser),
        kehu_server::events::Schedule {
            name: "健康知识讲座",
            starts_at,
            session: kehu_domain::event::Session::Afternoon,
            division_ids: &[teams[0].id, teams[1].id],
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("seeding event: {}", e.detail.en))?;
    for (k, team) in teams.iter().enumerate() {
        let head = staff
            .iter()
            .find(|s| s.unit_id == Some(team.id) && kehu_domain::Policy::holds_any(&s.role_list(), &rules.filers));
        let sales: Vec<&StaffRow> = staff
            .iter()
            .filter(|s| s.unit_id == Some(team.id) && policy.allows(&s.role_list(), Permission::ClaimsCreate))
            .filter(|s| !kehu_domain::Policy::holds_any(&s.role_list(), &rules.filers))
            .collect();
        let (Some(head), false) = (head, sales.is_empty()) else {
            continue;
        };
        for n in 0..3 {
            let inviter = *rng.pick(&sales);
            let phone = format!("1860{}{:06}", k, 100 + n + 10 * k);
            let input = CustomerInput {
                kind: "person".into(),
                name: format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN)),
                phones: vec![phone],
                source: event_source(policy),
                ..Default::default()
            };
            set_now(state, now - jiff::SignedDuration::from_mins(150 - 10 * n as i64));
            let Ok(customer) = service::create_customer(state, &caller(inviter), input).await else {
                continue;
            };
            let Ok(claim) =
                service::register_claim_at(state, &caller(inviter), customer.row.id, None, None, Some(event.id)).await
            else {
                continue;
            };
            if claim.status == "pending" {
                let _ = service::confirm_claim(state, &caller(head), claim.id).await;
            }
        }
        if k == 0 {
            set_now(state, now - jiff::SignedDuration::from_mins(30));
            let _ = kehu_server::events::file(state, &caller(head), event.id).await;
        }
    }
    Ok(())
}

/// A few cases of each workflow of customers, on the demo's first companies, opened over the
/// last days by someone the workflow lets open them and who sees the company (required fields
/// filled in by type), then walked on: the k-th case takes k steps that move it, each by someone
/// the engine lets take it. A step or an opening a rule refuses (a cooperation project before the
/// admission, R1.3) is simply not taken: the demo goes through the rules like real work.
async fn open_cases(
    state: &AppState,
    policy: &Policy,
    admin: &StaffRow,
    staff: &[StaffRow],
    companies: &[i64],
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    use kehu_domain::workflow::Subject;
    for wf in &policy.workflows {
        let openers: Vec<&StaffRow> = staff
            .iter()
            .filter(|s| kehu_domain::workflow::may_open(wf, &kehu_server::cases::actor(&caller(s))))
            .collect();
        // The people a case must name and no default names (the two parties of a conflict,
        // R11.6): the n-th such field names someone of the n-th team who may not open the
        // workflow (a seller, not a head) and, when the workflow seats heads, has one in their
        // team; so two parties are of two teams, each with its head.
        let headed = |s: &StaffRow| {
            wf.head_roles.is_empty()
                || staff.iter().any(|h| {
                    h.id != s.id && h.unit_id == s.unit_id && h.role_list().iter().any(|r| wf.head_roles.contains(r))
                })
        };
        let candidates: Vec<&StaffRow> = staff
            .iter()
            .filter(|s| {
                !openers.iter().any(|o| o.id == s.id)
                    && policy.allows(&s.role_list(), Permission::ClaimsCreate)
                    && s.unit_id.is_some()
                    && headed(s)
            })
            .collect();
        let mut teams: Vec<i64> = candidates.iter().filter_map(|s| s.unit_id).collect();
        teams.sort_unstable();
        teams.dedup();
        let party = |n: usize| {
            let team = teams.get(n)?;
            candidates.iter().find(|s| s.unit_id == Some(*team)).copied()
        };
        // Cases of customers on the first companies; cases standing alone (a development
        // project for a company not registered yet) six of them, so that some get far.
        let subjects: Vec<Option<i64>> = match wf.subject {
            Subject::Customer => companies.iter().take(4).map(|c| Some(*c)).collect(),
            Subject::None => vec![None; 6],
        };
        for (k, customer) in subjects.into_iter().enumerate() {
            let mut fields = serde_json::Map::new();
            for (n, f) in wf
                .opening_fields()
                .into_iter()
                .filter(|f| f.kind == FieldKind::Staff && f.required && f.default.is_none())
                .enumerate()
            {
                if let Some(p) = party(n) {
                    fields.insert(f.id.clone(), serde_json::json!(p.id));
                }
            }
            // What a case may be opened with, filled in at once on every other case.
            for f in wf.opening_fields() {
                if fields.contains_key(&f.id) {
                    continue;
                }
                if f.required || (k % 2 == 0 && !matches!(f.kind, FieldKind::Choice(_))) {
                    let v = if f.not_in_directory.is_some() {
                        // A company the directory does not have (R12.1).
                        serde_json::json!(format!(
                            "{}示范目标{}",
                            ["华东", "华南", "西北", "东北", "华中", "西南"][k % 6],
                            k + 1
                        ))
                    } else {
                        demo_value(&f.kind, true)
                    };
                    fields.insert(f.id.clone(), v);
                }
            }
            let mut at = now - jiff::SignedDuration::from_hours(24 * (2 + 3 * k as i64));
            set_now(state, at);
            let mut opened = None;
            for by in &openers {
                match kehu_server::cases::open(state, &caller(by), &wf.id, customer, &fields).await {
                    Ok(v) => {
                        opened = Some(v.row.id);
                        break;
                    }
                    // Another opener may see this company (404), or a rule refuses (409).
                    Err(e) if e.kind != kehu_server::failure::Kind::Internal => {}
                    Err(e) => anyhow::bail!("seeding a case of {}: {}", wf.id, e.detail.en),
                }
            }
            let Some(id) = opened else {
                continue;
            };
            for _ in 0..k {
                at += jiff::SignedDuration::from_hours(3);
                set_now(state, at);
                if !walk(state, wf, staff, &caller(admin), id, k).await? {
                    break;
                }
            }
        }
    }
    Ok(())
}

use kehu_domain::workflow::FieldKind;

/// A value of a field's kind for the demo: at opening a choice takes its first value, later its
/// last (a grade change proposes A, an acceptance gives D).
fn demo_value(kind: &FieldKind, opening: bool) -> serde_json::Value {
    match kind {
        FieldKind::Text => serde_json::json!("示范"),
        FieldKind::Number => serde_json::json!(1),
        // 5,000,000 yuan at opening (what a threshold asks for, R12.1), 100,000 later.
        FieldKind::Money if opening => serde_json::json!(500_000_000),
        FieldKind::Money => serde_json::json!(10_000_000),
        FieldKind::Amounts => serde_json::json!({ "差旅费": 1_000_000, "样品与试制": 1_500_000 }),
        // Nobody in particular: a staff field is left for the people to fill in.
        FieldKind::Staff => serde_json::Value::Null,
        FieldKind::Bool => serde_json::json!(false),
        FieldKind::Date => serde_json::json!("2027-06-30"),
        FieldKind::Choice(of) => {
            let v = if opening { of.first() } else { of.last() };
            serde_json::json!(v.cloned().unwrap_or_default())
        }
    }
}

/// One step that moves case `id` on: its checklists answered first (yes, one item unclear on
/// odd cases), then the first action out of its state needing no note that someone may take.
/// Whether it moved.
async fn walk(
    state: &AppState,
    wf: &kehu_domain::workflow::Workflow,
    staff: &[StaffRow],
    reader: &kehu_server::auth::Caller,
    id: i64,
    k: usize,
) -> anyhow::Result<bool> {
    use kehu_domain::workflow::{Given, available_seated};
    let view = kehu_server::cases::get(state, reader, id)
        .await
        .map_err(|e| anyhow::anyhow!("reading case {id}: {}", e.detail.en))?;
    let facts = view.row.facts(&view.steps);
    // Who holds the relation seats (R11.6: the heads of the parties' divisions sign).
    let policy = state
        .policy(reader.tenant_id)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.detail.en))?;
    let seated = kehu_server::cases::seated(state, &policy, &view.row)
        .await
        .map_err(|e| anyhow::anyhow!("reading case {id}: {}", e.detail.en))?;
    let none = serde_json::Map::new();
    for s in staff {
        let me = caller(s);
        let mine = available_seated(wf, &facts, &kehu_server::cases::actor(&me), &seated);
        // Checklists not yet answered, then a move.
        for a in mine.iter().filter(|a| !a.answers.is_empty()) {
            let mut answers = serde_json::Map::new();
            for c in wf.checklists.iter().filter(|c| a.answers.contains(&c.id)) {
                if c.tally(&facts.fields).answered > 0 {
                    continue;
                }
                for (n, item) in c.items.iter().enumerate() {
                    let answer = if k % 2 == 1 && n == 1 { "unclear" } else { "yes" };
                    answers.insert(item.id.clone(), serde_json::json!(answer));
                }
            }
            if !answers.is_empty() {
                let given = Given {
                    fields: &none,
                    answers: &answers,
                    note: None,
                    attested: false,
                };
                let _ = kehu_server::cases::act(state, &me, id, &a.id, &given).await;
            }
        }
        for a in mine.iter().filter(|a| a.moves_from(&facts.state) && !a.note) {
            let fields: serde_json::Map<String, serde_json::Value> = a
                .fields
                .iter()
                .filter_map(|f| wf.field(f))
                .map(|f| {
                    // Someone a step names (to whom a conflict's customer goes, R11.6): the first
                    // person the case names.
                    let v = match f.kind {
                        FieldKind::Staff => wf
                            .fields
                            .iter()
                            .filter(|g| g.kind == FieldKind::Staff)
                            .find_map(|g| facts.fields.get(&g.id).filter(|v| v.is_i64()))
                            .cloned()
                            .unwrap_or_default(),
                        _ => demo_value(&f.kind, false),
                    };
                    (f.id.clone(), v)
                })
                .collect();
            let given = Given {
                fields: &fields,
                answers: &none,
                note: None,
                attested: false,
            };
            match kehu_server::cases::act(state, &me, id, &a.id, &given).await {
                Ok(_) => return Ok(true),
                Err(e) if e.kind != kehu_server::failure::Kind::Internal => {}
                Err(e) => anyhow::bail!("seeding a step on case {id}: {}", e.detail.en),
            }
        }
    }
    Ok(false)
}
