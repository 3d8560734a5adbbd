//! `kehu demo`: a tenant on a preset with an organisation, staff and about 200 customers whose
//! claims, confirmations and follow-ups went through the same rules as real ones, spread over
//! the last 30 days.

use anyhow::Context;
use kehu_domain::Policy;
use kehu_server::AppState;
use kehu_server::auth::Caller;
use kehu_server::service::{self, CustomerInput};
use kehu_store::staff::{NewStaff, StaffRow};

/// Password of the demo staff (the demo listens on loopback only by default).
pub const DEMO_PASSWORD: &str = "kehu-demo";
pub(crate) const TENANT: &str = "demo";

pub struct Login {
    pub username: String,
    pub password: String,
    pub role: String,
}

/// (username, display name, role, unit index)
const STAFF: &[(&str, &str, &str, usize)] = &[
    ("gm", "赵总", "general_manager", 0),
    ("manager", "孙经理", "sales_manager", 1),
    ("leader1", "周组长", "team_leader", 2),
    ("leader2", "吴组长", "team_leader", 3),
    ("wangfang", "王芳", "consultant", 2),
    ("liqiang", "李强", "consultant", 2),
    ("zhangwei", "张伟", "consultant", 3),
    ("liuyang", "刘洋", "consultant", 3),
    ("chenjing", "陈静", "sales_assistant", 1),
];

/// The logins to print. A password the operator chose (`KEHU_ADMIN_PASSWORD`) is never printed.
async fn logins_of(state: &AppState, admin_from_env: bool) -> anyhow::Result<Vec<Login>> {
    let Some(t) = kehu_store::tenants::by_slug(&state.db, TENANT).await? else {
        return Ok(Vec::new());
    };
    Ok(kehu_store::staff::list(&state.db, t.id)
        .await?
        .into_iter()
        .filter(|s| s.active)
        .map(|s| Login {
            password: if s.username == "admin" && admin_from_env {
                "(KEHU_ADMIN_PASSWORD)".to_string()
            } else {
                DEMO_PASSWORD.to_string()
            },
            role: s.role_list().join(","),
            username: s.username,
        })
        .collect())
}

/// A small deterministic generator, so every demo database looks the same.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

pub(crate) const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马",
    "罗", "欧阳", "司马",
];
pub(crate) const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "华",
    "平", "刚", "桂英", "建华", "志强", "晓明", "海燕", "丹", "鑫", "宇", "浩然", "子涵", "欣怡", "梓萱", "思远",
    "雨桐", "国庆", "红梅", "文博",
];
const COMPANIES: &[&str] = &[
    "华信科技有限公司",
    "顺达物流有限公司",
    "恒通汽车租赁有限公司",
    "金桥建设集团有限公司",
    "长风电子股份有限公司",
    "蓝海餐饮管理有限公司",
    "安泰保险代理有限公司",
    "明德教育咨询有限公司",
    "鼎盛房地产开发有限公司",
    "远航国际旅行社有限公司",
    "瑞丰农业科技有限公司",
    "新世纪广告传媒有限公司",
    "宏达机械制造有限公司",
    "绿源环保工程有限公司",
    "星光影视文化有限公司",
];
/// Source ids of the car-dealership preset's `[[customers.sources]]`.
const SOURCES: &[&str] = &[
    "inbound_call",
    "walk_in",
    "self_sourced",
    "customer_referral",
    "roadshow",
    "online",
];
/// The car dealership's follow-up notes (other presets have their own, in `demo_generic`).
const NOTES: &[&str] = &[
    "客户关注SUV车型，预算20万左右",
    "已试驾，对油耗满意，考虑贷款方案",
    "周末带家人再来看车",
    "询问置换补贴政策",
    "对比了两个品牌，价格敏感",
    "发送了新车型资料",
    "约定下周二到店",
    "需要公司采购流程审批",
];

/// Creates the demo tenant if the database has none; returns the logins to print.
pub async fn ensure(state: &AppState, preset: &str) -> anyhow::Result<Vec<Login>> {
    let admin_password = std::env::var("KEHU_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty());
    if let Some(p) = &admin_password {
        kehu_server::auth::check_password(p).map_err(|t| anyhow::anyhow!("KEHU_ADMIN_PASSWORD: {}", t.en))?;
    }
    let admin_pw = admin_password.clone().unwrap_or_else(|| DEMO_PASSWORD.to_string());
    if let Some(t) = kehu_store::tenants::by_slug(&state.db, TENANT).await? {
        if let Some(p) = &admin_password {
            let admin = kehu_store::staff::list(&state.db, t.id)
                .await?
                .into_iter()
                .find(|s| s.username == "admin")
                .context("the demo tenant has no admin")?;
            let hash = kehu_server::auth::hash_password(p).map_err(|_| anyhow::anyhow!("hashing failed"))?;
            kehu_store::staff::set_password(&state.db, t.id, None, admin.id, &hash, state.now()).await?;
        }
        println!("  using the existing demo tenant (delete the database file to start over)");
        return logins_of(state, admin_password.is_some()).await;
    }
    let (file, source) = crate::presets::find(preset)?;
    let policy = Policy::parse(source, file).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("  creating the demo tenant on preset `{preset}` ...");
    let saved_offset = state.clock.offset_ms();
    let result = if preset == "car-dealership" {
        seed(state, &policy, file, source, &admin_pw).await
    } else {
        crate::demo_generic::seed(state, &policy, file, source, &admin_pw).await
    };
    state.clock.set_offset_ms(saved_offset);
    result?;
    logins_of(state, admin_password.is_some()).await
}

/// How a seeded holder follows a card up.
#[derive(Clone, Copy)]
enum Plan {
    /// One message (R5.8's first SMS, or the last of a run).
    Once,
    /// Keeps the card: a second follow-up the leader signs, then weekly ones.
    Keep,
    KeepConfirm,
    Weekly,
    /// One follow-up then silence; `true`: the leader reassigns the void card.
    Lapse(bool),
    /// No follow-up at all; `true`: a colleague registers the customer after it lapses.
    Never(bool),
    /// Three SMS-only follow-ups in a row (R5.4).
    SmsOnly,
    SmsSecond,
}

/// Something that happens in the demo's past.
enum Step {
    Customer(usize),
    /// customer, staff, channel, what comes next
    FollowUp(i64, i64, &'static str, Plan),
    /// activity, leader
    ConfirmFollowUp(i64, i64),
    /// customer, staff: a claim, signed by the staff member's leader
    Claim(i64, i64),
    /// customer, from staff, to staff
    Reassign(i64, i64, i64),
    /// claim, leader
    Cancel(i64, i64),
    /// staff, code, note
    Fine(i64, &'static str, &'static str),
    /// staff, reason: reverses the staff member's latest entry
    ReverseLast(i64, &'static str),
}

/// The demo's past in time order.
#[derive(Default)]
struct Agenda {
    queue: std::collections::BinaryHeap<std::cmp::Reverse<(i64, u64)>>,
    steps: std::collections::HashMap<u64, Step>,
    seq: u64,
}

impl Agenda {
    fn at(&mut self, t: jiff::Timestamp, step: Step) {
        self.seq += 1;
        self.queue.push(std::cmp::Reverse((t.as_millisecond(), self.seq)));
        self.steps.insert(self.seq, step);
    }

    fn next(&mut self) -> Option<(jiff::Timestamp, Step)> {
        let std::cmp::Reverse((t, seq)) = self.queue.pop()?;
        Some((jiff::Timestamp::from_millisecond(t).ok()?, self.steps.remove(&seq)?))
    }
}

/// Moves the process clock so seeded events carry past times.
pub(crate) fn set_now(state: &AppState, t: jiff::Timestamp) {
    state
        .clock
        .set_offset_ms(t.as_millisecond() - jiff::Timestamp::now().as_millisecond());
}

pub(crate) fn caller(s: &StaffRow) -> Caller {
    Caller::operator(s)
}

async fn seed(state: &AppState, policy: &Policy, file: &str, source: &str, admin_pw: &str) -> anyhow::Result<()> {
    let db = &state.db;
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(30 * 24);
    set_now(state, start);
    let tenant =
        kehu_store::tenants::create(db, TENANT, "示范汽车销售服务有限公司", policy, source, file, start).await?;
    let admin_hash = kehu_server::auth::hash_password(admin_pw).map_err(|_| anyhow::anyhow!("hashing failed"))?;
    let admin = kehu_store::staff::create(db, tenant.id, None, NewStaff::admin(&admin_hash), start).await?;
    let company =
        kehu_store::units::create(db, tenant.id, Some(admin.id), "示范汽车销售服务有限公司", None, start).await?;
    let sales = kehu_store::units::create(db, tenant.id, Some(admin.id), "销售部", Some(company.id), start).await?;
    let team1 = kehu_store::units::create(db, tenant.id, Some(admin.id), "销售一组", Some(sales.id), start).await?;
    let team2 = kehu_store::units::create(db, tenant.id, Some(admin.id), "销售二组", Some(sales.id), start).await?;
    let units = [company.id, sales.id, team1.id, team2.id];
    let demo_hash = kehu_server::auth::hash_password(DEMO_PASSWORD).map_err(|_| anyhow::anyhow!("hashing failed"))?;
    let mut staff = Vec::new();
    for (username, name, role, unit) in STAFF {
        let s = kehu_store::staff::create(
            db,
            tenant.id,
            Some(admin.id),
            NewStaff {
                username,
                display_name: name,
                password_hash: &demo_hash,
                unit_id: Some(units[*unit]),
                roles: &[role.to_string()],
            },
            start,
        )
        .await?;
        staff.push(s);
    }
    let by_name = |u: &str| staff.iter().find(|s| s.username == u).expect("demo staff").clone();
    let consultants = [
        by_name("wangfang"),
        by_name("liqiang"),
        by_name("zhangwei"),
        by_name("liuyang"),
    ];
    let leader_of = |s: &StaffRow| {
        if s.unit_id == Some(team1.id) {
            by_name("leader1")
        } else {
            by_name("leader2")
        }
    };
    let assistant = by_name("chenjing");

    let manager = by_name("manager");
    let mut rng = Rng(0x5eed_6b65_6875);
    let mut phones = std::collections::HashSet::new();
    let total = 200usize;
    let step = jiff::SignedDuration::from_secs(29 * 24 * 3600 / total as i64);
    let real_now = jiff::Timestamp::now();
    let mut agenda = Agenda::default();
    for i in 0..total {
        agenda.at(start + step * (i as i32 + 1), Step::Customer(i));
    }
    // Conduct fines a manager enters by hand (R5.17) in the last days, one of them reversed; the
    // third lateness in a month flags dismissal review.
    let (li, zhang) = (by_name("liqiang"), by_name("zhangwei"));
    let ago = |days: i64| real_now - jiff::SignedDuration::from_hours(24 * days) + jiff::SignedDuration::from_mins(30);
    for (days, who, code, note) in [
        (9, &zhang, "showroom_conduct", "展厅内双手插兜"),
        (8, &li, "lateness", "8:42 到店"),
        (6, &zhang, "phone_greeting", "接电话未报店名"),
        (5, &li, "lateness", "8:55 到店"),
        (2, &li, "lateness", "9:10 到店"),
    ] {
        agenda.at(ago(days), Step::Fine(who.id, code, note));
    }
    agenda.at(ago(7), Step::ReverseLast(zhang.id, "经核实为接待客户时临时动作，撤销"));
    let staff_by_id = |id: i64| staff.iter().find(|s| s.id == id).cloned();
    while let Some((t, step)) = agenda.next() {
        if t > real_now {
            continue;
        }
        // Deadlines due by now fire first, in time order, as the scheduler would.
        kehu_server::lifecycle::sweep(state, t)
            .await
            .map_err(|e| anyhow::anyhow!("seeding sweep: {}", e.detail.en))?;
        set_now(state, t);
        match step {
            Step::Customer(i) => {
                let base = t;
                let creator = if i % 10 == 9 {
                    assistant.clone()
                } else {
                    rng.pick(&consultants).clone()
                };
                // 张三, the README's first search, is wangfang's: a consultant sees the
                // customers she registered or holds (and those nobody owns).
                let creator = if i == 0 { consultants[0].clone() } else { creator };
                let (kind, name) = if i == 0 {
                    ("person", "张三".to_string())
                } else if i % 13 == 5 {
                    ("company", COMPANIES[(i / 13) % COMPANIES.len()].to_string())
                } else {
                    ("person", format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN)))
                };
                let phone = loop {
                    let p = format!(
                        "1{}{}{:08}",
                        rng.pick(&["3", "5", "7", "8"]),
                        rng.below(10),
                        rng.next() % 100_000_000
                    );
                    if phones.insert(p.clone()) {
                        break p;
                    }
                };
                let source = *rng.pick(SOURCES);
                let input = CustomerInput {
                    kind: kind.into(),
                    name,
                    phones: vec![format!("{} {} {}", &phone[..3], &phone[3..7], &phone[7..])],
                    source: Some(source.to_string()),
                    ..Default::default()
                };
                let customer = match service::create_customer(state, &caller(&creator), input).await {
                    Ok(c) => c,
                    // A company name repeats after the list runs out: the duplicate check working.
                    Err(e) if e.code == "duplicate_customer" => continue,
                    Err(e) => anyhow::bail!("seeding customer {i}: {}", e.detail.en),
                };
                let id = customer.row.id;
                // R5.8: a caller's or visitor's number gets the first SMS the same day, mostly.
                if matches!(source, "inbound_call" | "walk_in") && i % 6 != 4 {
                    agenda.at(
                        base + jiff::SignedDuration::from_mins(20),
                        Step::FollowUp(id, creator.id, "sms", Plan::Once),
                    );
                }
                if i % 10 >= 7 {
                    continue; // about 30% stay unclaimed
                }
                let holder = if creator.username == "chenjing" {
                    rng.pick(&consultants).clone()
                } else {
                    creator.clone()
                };
                set_now(state, base + jiff::SignedDuration::from_mins(10));
                let claim = service::register_claim(state, &caller(&holder), id, None)
                    .await
                    .map_err(|e| anyhow::anyhow!("seeding claim: {}", e.detail.en))?;
                if i % 10 == 6 {
                    continue; // waits for the leader's signature
                }
                let signed = base + jiff::SignedDuration::from_mins(40 + rng.below(120) as i64);
                set_now(state, signed);
                service::confirm_claim(state, &caller(&leader_of(&holder)), claim.id)
                    .await
                    .map_err(|e| anyhow::anyhow!("seeding confirmation: {}", e.detail.en))?;
                let day = |d: i64, h: i64| signed + jiff::SignedDuration::from_hours(24 * d + h);
                let plan = match i {
                    20 => Plan::SmsOnly,
                    33 => {
                        agenda.at(day(1, 2), Step::Cancel(claim.id, leader_of(&holder).id));
                        continue;
                    }
                    _ => match i % 4 {
                        0 | 1 => Plan::Keep,
                        2 => Plan::Lapse(i % 8 == 2),
                        _ => Plan::Never(i % 8 == 7),
                    },
                };
                match plan {
                    Plan::Never(duplicate) => {
                        // No first follow-up: void after 3 days (R5.2); sometimes another
                        // consultant then registers the customer (R5.5 fine).
                        if duplicate {
                            let others: Vec<&StaffRow> = consultants.iter().filter(|c| c.id != holder.id).collect();
                            agenda.at(day(4, 3), Step::Claim(id, rng.pick(&others).id));
                        }
                    }
                    Plan::SmsOnly => agenda.at(day(1, 0), Step::FollowUp(id, holder.id, "sms", Plan::SmsOnly)),
                    plan => agenda.at(day(1, 0), Step::FollowUp(id, holder.id, "call", plan)),
                }
                // Every eighth claimed customer also gets a later, duplicate card by a colleague (R5.5).
                if i % 8 == 3 {
                    let other = consultants
                        .iter()
                        .find(|c| c.id != holder.id && c.unit_id != holder.unit_id)
                        .unwrap_or(&consultants[0])
                        .clone();
                    agenda.at(base + jiff::SignedDuration::from_mins(200), Step::Claim(id, other.id));
                }
            }
            Step::FollowUp(customer, staff_id, channel, plan) => {
                let Some(who) = staff_by_id(staff_id) else { continue };
                let a = service::add_activity(
                    state,
                    &caller(&who),
                    customer,
                    channel,
                    None,
                    Some(rng.pick(NOTES).to_string()),
                )
                .await
                .map_err(|e| anyhow::anyhow!("seeding follow-up: {}", e.detail.en))?;
                let next = |d: i64| t + jiff::SignedDuration::from_hours(24 * d);
                match plan {
                    Plan::Once | Plan::Never(_) => {}
                    // The second follow-up is signed by the leader (R5.2), now and then late.
                    Plan::Keep => {
                        let (channel, wait) = match rng.below(4) {
                            0 => ("visit", 2),
                            1 => ("meeting", 3),
                            _ => ("call", 5),
                        };
                        agenda.at(
                            next(wait),
                            Step::FollowUp(customer, staff_id, channel, Plan::KeepConfirm),
                        );
                    }
                    Plan::KeepConfirm => {
                        let late = rng.below(5) == 0;
                        let leader = leader_of(&who);
                        agenda.at(
                            t + jiff::SignedDuration::from_hours(if late { 30 } else { 3 }),
                            Step::ConfirmFollowUp(a.id, leader.id),
                        );
                        agenda.at(next(6), Step::FollowUp(customer, staff_id, "call", Plan::Weekly));
                    }
                    Plan::Weekly => {
                        let channel = *rng.pick(&["call", "visit", "meeting", "call"]);
                        agenda.at(
                            next(4 + rng.below(3) as i64),
                            Step::FollowUp(customer, staff_id, channel, Plan::Weekly),
                        );
                    }
                    // One follow-up, then silence: void a week later (R5.2), and the leader
                    // hands some of them on (R5.3).
                    Plan::Lapse(reassign) => {
                        if reassign {
                            let to = consultants
                                .iter()
                                .find(|c| c.id != staff_id && c.unit_id == who.unit_id)
                                .unwrap_or(&consultants[0]);
                            agenda.at(next(8), Step::Reassign(customer, staff_id, to.id));
                        }
                    }
                    Plan::SmsOnly => {
                        agenda.at(next(1), Step::FollowUp(customer, staff_id, "sms", Plan::SmsSecond));
                    }
                    Plan::SmsSecond => {
                        agenda.at(
                            t + jiff::SignedDuration::from_hours(2),
                            Step::ConfirmFollowUp(a.id, leader_of(&who).id),
                        );
                        // The third SMS in a row voids the card (R5.4).
                        agenda.at(next(1), Step::FollowUp(customer, staff_id, "sms", Plan::Once));
                    }
                }
            }
            Step::ConfirmFollowUp(activity, leader) => {
                let Some(leader) = staff_by_id(leader) else { continue };
                // A card that lapsed in the meantime has nothing left to confirm.
                let _ = kehu_server::lifecycle::confirm_follow_up(state, &caller(&leader), activity).await;
            }
            Step::Claim(customer, staff_id) => {
                let Some(who) = staff_by_id(staff_id) else { continue };
                let Ok(claim) = service::register_claim(state, &caller(&who), customer, None).await else {
                    continue;
                };
                set_now(state, t + jiff::SignedDuration::from_mins(30));
                service::confirm_claim(state, &caller(&leader_of(&who)), claim.id)
                    .await
                    .map_err(|e| anyhow::anyhow!("seeding duplicate confirmation: {}", e.detail.en))?;
            }
            Step::Reassign(customer, from, to) => {
                let claims =
                    kehu_store::claims::for_customer(db, tenant.id, customer, &kehu_store::visibility::View::all())
                        .await?;
                let Some(void) = claims
                    .iter()
                    .find(|c| c.staff_id == from && c.status() == kehu_domain::claim::ClaimStatus::Void)
                else {
                    continue;
                };
                let Some(signer) = void.confirmed_by.and_then(staff_by_id) else {
                    continue;
                };
                let new = kehu_server::lifecycle::reassign_claim(state, &caller(&signer), void.id, to)
                    .await
                    .map_err(|e| anyhow::anyhow!("seeding reassignment: {}", e.detail.en))?;
                agenda.at(
                    t + jiff::SignedDuration::from_hours(20),
                    Step::FollowUp(customer, new.staff_id, "call", Plan::Keep),
                );
            }
            Step::Cancel(claim, leader) => {
                let Some(leader) = staff_by_id(leader) else { continue };
                kehu_server::lifecycle::cancel_claim(state, &caller(&leader), claim, "客户已在外地购车，撤销登记")
                    .await
                    .map_err(|e| anyhow::anyhow!("seeding cancellation: {}", e.detail.en))?;
            }
            Step::Fine(staff_id, code, note) => {
                kehu_server::ledger::add_manual(state, &caller(&manager), staff_id, code, 1, note)
                    .await
                    .map_err(|e| anyhow::anyhow!("seeding fine: {}", e.detail.en))?;
            }
            Step::ReverseLast(staff_id, reason) => {
                let last = kehu_store::ledger::list(
                    db,
                    tenant.id,
                    Some(staff_id),
                    None,
                    (None, 1),
                    &kehu_store::visibility::View::all(),
                )
                .await?;
                if let Some(e) = last.first() {
                    kehu_server::ledger::reverse(state, &caller(&manager), e.id, reason)
                        .await
                        .map_err(|e| anyhow::anyhow!("seeding reversal: {}", e.detail.en))?;
                }
            }
        }
    }
    set_now(state, real_now);
    kehu_server::lifecycle::sweep(state, jiff::Timestamp::now())
        .await
        .map_err(|e| anyhow::anyhow!("seeding sweep: {}", e.detail.en))?;
    kehu_server::indexer::drain(db).await?;
    let n = kehu_store::customers::count(db, tenant.id).await?;
    println!("  demo tenant ready: {n} customers");
    Ok(())
}
