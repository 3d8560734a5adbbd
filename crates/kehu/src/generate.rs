//! `kehu generate`: bulk customers for benchmarks, written through the same create path as the
//! API (normalisation, duplicate check, search terms, history), and the rate it reached.

use std::time::Instant;

use anyhow::Context;
use kehu_domain::Policy;
use kehu_server::AppState;
use kehu_server::auth::Caller;
use kehu_server::service::{self, CustomerInput};
use kehu_store::Db;

const SURNAMES: &str = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段漕钱汤尹黎易常武乔贺赖龚文";
const GIVEN: &str = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华平刚桂建志晓海燕丹鑫宇浩然子涵欣怡梓萱思远雨桐国庆红梅文博嘉怡俊熙一诺佳琪晨阳雅婷子轩明轩";

pub async fn run(db: Db, tenant: &str, n: u64, writers: usize, lapsing: u64) -> anyhow::Result<()> {
    let state = AppState::new(db, false).await?;
    let now = jiff::Timestamp::now();
    let t = match kehu_store::tenants::by_slug(&state.db, tenant).await? {
        Some(t) => t,
        None => {
            let (file, src) = crate::presets::find("car-dealership")?;
            let policy = Policy::parse(src, file).map_err(|e| anyhow::anyhow!("{e}"))?;
            kehu_store::tenants::create(&state.db, tenant, "基准测试", &policy, src, file, now).await?
        }
    };
    let admin = match kehu_store::staff::list(&state.db, t.id)
        .await?
        .into_iter()
        .find(|s| s.username == "bench-admin")
    {
        Some(a) => a,
        None => {
            let hash = kehu_server::auth::hash_password("bench-admin-password")
                .map_err(|_| anyhow::anyhow!("hashing failed"))?;
            kehu_store::staff::create(
                &state.db,
                t.id,
                None,
                kehu_store::staff::NewStaff {
                    username: "bench-admin",
                    display_name: "基准",
                    password_hash: &hash,
                    unit_id: None,
                    roles: &["admin".to_string()],
                },
                now,
            )
            .await?
        }
    };
    let start_count = kehu_store::customers::count(&state.db, t.id).await? as u64;
    let admin_id = admin.id;
    let caller = Caller::operator(&admin);
    let surnames: Vec<char> = SURNAMES.chars().collect();
    let given: Vec<char> = GIVEN.chars().collect();
    let started = Instant::now();
    let indexer = kehu_server::indexer::spawn(state.clone());
    let writers = writers.max(1);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let state = state.clone();
        let caller = caller.clone();
        let (surnames, given) = (surnames.clone(), given.clone());
        tasks.push(tokio::spawn(async move {
            let mut dups = 0u64;
            let mut i = w as u64;
            while i < n {
                let k = start_count + i;
                let mut x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
                x ^= x >> 29;
                let s = surnames[(x % surnames.len() as u64) as usize];
                let g1 = given[((x >> 8) % given.len() as u64) as usize];
                let name = if x & 1 == 0 {
                    format!("{s}{g1}")
                } else {
                    format!("{s}{g1}{}", given[((x >> 16) % given.len() as u64) as usize])
                };
                let (kind, name) = if k % 20 == 7 {
                    ("company", format!("{name}{k}贸易有限公司"))
                } else {
                    ("person", name)
                };
                let input = CustomerInput {
                    kind: kind.into(),
                    name,
                    phones: vec![format!("{}", 13_000_000_000u64 + k)],
                    ..Default::default()
                };
                match service::create_customer(&state, &caller, input).await {
                    Ok(_) => {}
                    Err(e) if e.code == "duplicate_customer" => dups += 1,
                    Err(e) => anyhow::bail!("customer {k}: {}", e.detail.en),
                }
                i += writers as u64;
                if w == 0 && i % 50_000 < writers as u64 {
                    let done = i;
                    eprintln!(
                        "  {done} / {n} ({:.0}/s)",
                        done as f64 / started.elapsed().as_secs_f64()
                    );
                }
            }
            Ok(dups)
        }));
    }
    let mut dups = 0;
    for t in tasks {
        dups += t.await.context("generator task")??;
    }
    // The run ends when every new customer is also in the search index.
    indexer.abort();
    kehu_server::indexer::drain(&state.db).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "generated {} customers in {secs:.1} s: {:.0} creates/s with duplicate check ({dups} duplicates refused); tenant `{tenant}` now has {}",
        n - dups,
        n as f64 / secs,
        kehu_store::customers::count(&state.db, t.id).await?
    );
    if lapsing > 0 {
        let started = Instant::now();
        let made = lapsing_claims(&state.db, t.id, admin_id, lapsing, jiff::Timestamp::now()).await?;
        println!(
            "gave {made} customers a card that lapsed a day ago, each with its deadline due, in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Signed cards (R5.1) that took effect four days ago with no follow-up, so each lapsed (R5.2)
/// a day ago, for `n` customers without a claim; each with its due deadline, as `settle` writes
/// them. Bulk SQL: a benchmark fixture, not a path the application takes.
async fn lapsing_claims(db: &Db, tenant_id: i64, staff_id: i64, n: u64, now: jiff::Timestamp) -> anyhow::Result<u64> {
    let now = now.as_millisecond();
    let day = 86_400_000i64;
    let mut tx = db.begin().await?;
    let made = tx
        .execute(
            "INSERT INTO claims (tenant_id, customer_id, staff_id, status, registered_at, registered_by, effective_at, \
             confirmed_at, confirmed_by, confirmed_role, policy_version, valid_until) \
             SELECT c.tenant_id, c.id, $2, 'valid', $3, $2, $4, $4, $2, 'admin', t.policy_version, $5 \
             FROM customers c JOIN tenants t ON t.id = c.tenant_id \
             WHERE c.tenant_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM claims x WHERE x.tenant_id = c.tenant_id AND x.customer_id = c.id) \
             ORDER BY c.id LIMIT $6",
            kehu_store::args![tenant_id, staff_id, now - 5 * day, now - 4 * day, now - day, n as i64],
        )
        .await?;
    tx.execute(
        "INSERT INTO deadlines (tenant_id, kind, subject_id, customer_id, due_at, rule, created_at) \
         SELECT c.tenant_id, 'claim_lapse', c.id, c.customer_id, c.valid_until, 'R5.2', $2 FROM claims c \
         WHERE c.tenant_id = $1 AND c.status = 'valid' AND c.valid_until IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM deadlines d WHERE d.tenant_id = c.tenant_id AND d.kind = 'claim_lapse' AND d.subject_id = c.id)",
        kehu_store::args![tenant_id, now],
    )
    .await?;
    tx.commit().await?;
    Ok(made)
}
