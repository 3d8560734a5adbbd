//! The `kehu` binary as an operator uses it: policy check, init, migrate and verify-history, on
//! SQLite and on PostgreSQL; history held to signed checkpoints (`cli/anchor.rs`); and every page
//! of every preset's demo (`cli/every_page.rs`).

#[path = "cli/anchor.rs"]
mod anchor;
#[path = "cli/backup.rs"]
mod backup;
#[path = "cli/every_page.rs"]
mod every_page;

use std::process::{Command, Output};
use std::str::FromStr;

fn kehu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kehu"))
        .args(args)
        .env_remove("KEHU_DATABASE_URL")
        .env_remove("KEHU_ADMIN_PASSWORD")
        .output()
        .expect("kehu runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The version the shipped car-dealership preset declares.
fn preset_version() -> u32 {
    let preset = concat!(env!("CARGO_MANIFEST_DIR"), "/../../presets/car-dealership.toml");
    kehu_domain::Policy::parse(&std::fs::read_to_string(preset).unwrap(), preset)
        .unwrap()
        .version
}

/// Removes a SQLite database file with its log files, its checkpoint folder and key.
fn remove_db(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm", "-journal", ".checkpoints.key"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let _ = std::fs::remove_dir_all(format!("{}.checkpoints", path.display()));
}

/// Removes the default checkpoint folder (and key) of a database URL.
fn remove_checkpoints(url: &str) {
    let dir = kehu_store::anchor::default_dir(url);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(kehu_store::anchor::key_path(&dir));
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "kehu-cli-{}-{}-{name}",
        std::process::id(),
        jiff::Timestamp::now().as_millisecond()
    ))
}

#[test]
fn policy_check_accepts_the_preset_and_points_at_errors() {
    let preset = concat!(env!("CARGO_MANIFEST_DIR"), "/../../presets/car-dealership.toml");
    let o = kehu(&["policy", "check", preset]);
    assert!(o.status.success(), "{}", text(&o));
    let version = preset_version();
    assert!(
        text(&o).contains(&format!("ok: policy `car-dealership` version {version}")),
        "{}",
        text(&o)
    );

    // Explain prints every rule in plain language, Chinese then English.
    let o = kehu(&["policy", "explain", preset]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    for rule in [
        "[R5.1]", "[R5.2]", "[R5.3]", "[R5.4]", "[R5.5]", "[R5.6]", "[R5.11]", "[R5.17]",
    ] {
        assert!(out.contains(rule), "{rule} missing:\n{out}");
    }
    assert!(out.contains("生效后 3 天内须首次跟进，否则登记作废"), "{out}");
    assert!(
        out.contains("The first follow-up is due within 3 days of taking effect"),
        "{out}"
    );
    let o = kehu(&["policy", "explain", "--lang", "en", preset]);
    assert!(!text(&o).contains("登记须由"), "{}", text(&o));

    let bad = temp("bad.toml");
    let src = std::fs::read_to_string(preset)
        .unwrap()
        .replace("roles = [\"team_leader\"]", "roles = [\"team_lead\"]");
    std::fs::write(&bad, &src).unwrap();
    let line = src.lines().position(|l| l.contains("team_lead\"]")).unwrap() + 1;
    let o = kehu(&["policy", "check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o);
    assert!(
        out.contains(&format!(
            "{}:{line}:10: error: role `team_lead` is not defined",
            bad.display()
        )),
        "{out}"
    );
    assert!(
        out.contains("hint: defined roles: admin, consultant, team_leader"),
        "{out}"
    );
    std::fs::remove_file(bad).ok();

    // A file an earlier Kehu wrote, with the retired [conflicts] section: it still checks, read
    // as the workflow it is now, and the check says how to write it.
    let old = temp("old-conflicts.toml");
    let event = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../presets/event-customers.toml"
    ))
    .unwrap();
    let cut = event.find("[[workflows]]\nid = \"conflict\"").unwrap();
    let src = format!(
        "{}[conflicts]\nrule = \"R11.6\"\nopeners = [\"coordinator\", \"division_head\"]\ncoordinator_roles = [\"coordinator\"]\nhead_roles = [\"division_head\"]\narbiters = [\"general_manager\"]\npenalty = \"conflict_argued\"\n",
        &event[..cut]
    );
    std::fs::write(&old, &src).unwrap();
    let o = kehu(&["policy", "check", old.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let line = src.lines().position(|l| l == "[conflicts]").unwrap() + 1;
    assert!(
        text(&o).contains(&format!(
            "note: line {line}: [conflicts] is read as workflow `conflict`"
        )),
        "{}",
        text(&o)
    );
    std::fs::remove_file(old).ok();

    let o = kehu(&["policy", "check", "/no/such/file.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("cannot read the file"));
}

#[test]
fn init_takes_the_admin_password_from_the_environment_or_standard_input() {
    use std::io::Write;
    let db = temp("init-pw.db");
    let url = format!("sqlite://{}", db.display());
    let init = |tenant: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kehu"));
        c.args(["init", "--database-url", &url, "--tenant", tenant, "--name", "某某公司"])
            .env_remove("KEHU_DATABASE_URL")
            .env_remove("KEHU_ADMIN_PASSWORD")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c
    };
    // From the environment.
    let o = init("envco")
        .env("KEHU_ADMIN_PASSWORD", "from-the-environment")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // From standard input when it is not a terminal (the prompt's place in a script).
    let mut child = init("stdinco").spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"typed-at-the-prompt\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // Nothing at all: refused with what to do, and no tenant.
    let o = init("noneco").output().unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("KEHU_ADMIN_PASSWORD"), "{}", text(&o));
    // A short one is refused like any weak password.
    let o = init("weakco").env("KEHU_ADMIN_PASSWORD", "short").output().unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    remove_db(&db);
}

/// `kehu init` makes a tenant whose fresh history verifies.
async fn init_and_verify(url: &str) {
    let o = kehu(&[
        "init",
        "--database-url",
        url,
        "--tenant",
        "acme",
        "--name",
        "某某汽车",
        "--admin-password",
        "password123",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = kehu(&[
        "init",
        "--database-url",
        url,
        "--tenant",
        "acme",
        "--name",
        "again",
        "--admin-password",
        "password123",
    ]);
    assert!(!o.status.success(), "a second tenant with the same name is refused");
    let o = kehu(&["verify-history", "--database-url", url]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("acme: ok, 3 events verified"), "{}", text(&o));

    // A new policy version must be newer; activating it is recorded in the history.
    let preset = concat!(env!("CARGO_MANIFEST_DIR"), "/../../presets/car-dealership.toml");
    let o = kehu(&["policy", "activate", "--database-url", url, "--tenant", "acme", preset]);
    assert!(!o.status.success());
    let version = preset_version();
    assert!(
        text(&o).contains(&format!("not newer than the active version {version}")),
        "{}",
        text(&o)
    );
    let v2 = temp("v2.toml");
    std::fs::write(
        &v2,
        std::fs::read_to_string(preset).unwrap().replacen(
            &format!("version = {version}"),
            &format!("version = {}", version + 1),
            1,
        ),
    )
    .unwrap();
    let o = kehu(&[
        "policy",
        "activate",
        "--database-url",
        url,
        "--tenant",
        "acme",
        v2.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::remove_file(v2).ok();
    let o = kehu(&["verify-history", "--database-url", url]);
    assert!(text(&o).contains("acme: ok, 4 events verified"), "{}", text(&o));
}

#[tokio::test]
async fn verify_history_on_sqlite() {
    let file = temp("v.db");
    let url = format!("sqlite://{}", file.display());
    init_and_verify(&url).await;
    let db = kehu_store::Db::connect(&url).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.execute(
        "UPDATE events SET after_json = '{\"name\":\"x\"}' WHERE seq = 1",
        vec![],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    db.close().await;
    let o = kehu(&["verify-history", "--database-url", &url]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("acme: BROKEN at event 1 (edited)"), "{}", text(&o));
    remove_db(&file);
}

#[tokio::test]
async fn verify_history_on_postgres() {
    let base = std::env::var("KEHU_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let opts = sqlx::postgres::PgConnectOptions::from_str(&base).unwrap();
    let admin = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(opts.clone())
        .await
    {
        Ok(p) => p,
        Err(e) => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "PostgreSQL is required in CI: {e}"
            );
            eprintln!("skipped: PostgreSQL not reachable at {base}");
            return;
        }
    };
    let schema = format!(
        "kehu_cli_{}_{}",
        std::process::id(),
        jiff::Timestamp::now().as_millisecond()
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    init_and_verify(&url).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {schema}.events WHERE seq = 2"
    )))
    .execute(&admin)
    .await
    .unwrap();
    let o = kehu(&["verify-history", "--database-url", &url]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("acme: BROKEN at event 3 (missing_or_reordered)"),
        "{}",
        text(&o)
    );
    remove_checkpoints(&url);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
}

/// A fresh PostgreSQL schema and its URL, or `None` (outside CI) without a reachable server.
async fn pg_schema(tag: &str) -> Option<(sqlx::PgPool, String, String)> {
    let base = std::env::var("KEHU_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let opts = sqlx::postgres::PgConnectOptions::from_str(&base).unwrap();
    let admin = match sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "PostgreSQL is required in CI: {e}"
            );
            eprintln!("skipped: PostgreSQL not reachable at {base}");
            return None;
        }
    };
    let schema = format!(
        "kehu_cli_{tag}_{}_{}",
        std::process::id(),
        jiff::Timestamp::now().as_millisecond()
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    Some((admin, schema, url))
}

/// The deadline engine on PostgreSQL with three `kehu sweep` processes at once: every due
/// deadline fires exactly once (R5.2 lapses), whichever process takes it.
#[tokio::test]
async fn three_sweeps_at_once_fire_each_deadline_exactly_once() {
    let Some((admin, schema, url)) = pg_schema("sweep").await else {
        return;
    };
    const N: i64 = 900;
    let o = kehu(&[
        "generate",
        "--database-url",
        &url,
        "--tenant",
        "bench",
        "--customers",
        &N.to_string(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // Signed cards that took effect four days ago with no follow-up: each lapsed a day ago.
    let now = jiff::Timestamp::now().as_millisecond();
    let day = 86_400_000i64;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {schema}.claims (tenant_id, customer_id, staff_id, status, registered_at, registered_by, effective_at, \
         confirmed_at, confirmed_by, policy_version, valid_until) \
         SELECT c.tenant_id, c.id, s.id, 'valid', {reg}, s.id, {eff}, {eff}, s.id, 2, {due} \
         FROM {schema}.customers c JOIN {schema}.staff s ON s.tenant_id = c.tenant_id AND s.username = 'bench-admin'; \
         INSERT INTO {schema}.deadlines (tenant_id, kind, subject_id, customer_id, due_at, rule, created_at) \
         SELECT tenant_id, 'claim_lapse', id, customer_id, valid_until, 'R5.2', {now} FROM {schema}.claims",
        reg = now - 5 * day,
        eff = now - 4 * day,
        due = now - day,
    )))
    .execute(&admin)
    .await
    .unwrap();
    let sweeps: Vec<_> = (0..3)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_kehu"))
                .args(["sweep", "--database-url", &url])
                .env("KEHU_LOG", "warn")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("kehu sweep starts")
        })
        .collect();
    let mut fired = Vec::new();
    for child in sweeps {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let out = text(&o);
        // The summary line; a warning logged on a loaded machine (a slow statement) may come first.
        let n: i64 = out
            .lines()
            .find_map(|l| l.strip_prefix("fired "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected output: {out}"));
        fired.push(n);
    }
    eprintln!("fired per process: {fired:?}");
    assert_eq!(fired.iter().sum::<i64>(), N, "fired per process: {fired:?}");
    let count = |sql: String| {
        let admin = admin.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_one(&admin)
                .await
                .unwrap();
            n
        }
    };
    assert_eq!(
        count(format!(
            "SELECT COUNT(*) FROM {schema}.claims WHERE status = 'void' AND ended_rule = 'R5.2'"
        ))
        .await,
        N
    );
    assert_eq!(
        count(format!(
            "SELECT COUNT(*) FROM {schema}.events WHERE entity = 'claim' AND action = 'void'"
        ))
        .await,
        N
    );
    assert_eq!(count(format!("SELECT COUNT(*) FROM {schema}.deadlines")).await, 0);
    let o = kehu(&["verify-history", "--database-url", &url]);
    assert!(o.status.success(), "{}", text(&o));
    // Nothing is due any more: a further sweep fires nothing.
    let o = kehu(&["sweep", "--database-url", &url]);
    assert!(text(&o).starts_with("fired 0 deadline(s)"), "{}", text(&o));
    remove_checkpoints(&url);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
}

/// The SQLite sweep fires due deadlines in batches (256 a transaction, history rows 32 to an
/// insert): 300 lapses span two batches and several inserts, and the history chain still verifies.
#[test]
fn a_sqlite_sweep_fires_every_due_deadline_in_batches_and_the_chain_verifies() {
    let file = temp("sweep.db");
    let url = format!("sqlite://{}", file.display());
    let o = kehu(&[
        "generate",
        "--database-url",
        &url,
        "--customers",
        "300",
        "--lapsing-claims",
        "300",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = kehu(&["sweep", "--database-url", &url]);
    assert!(text(&o).starts_with("fired 300 deadline(s)"), "{}", text(&o));
    let o = kehu(&["sweep", "--database-url", &url]);
    assert!(text(&o).starts_with("fired 0 deadline(s)"), "{}", text(&o));
    let o = kehu(&["verify-history", "--database-url", &url]);
    assert!(o.status.success() && text(&o).contains("bench: ok"), "{}", text(&o));
    remove_db(&file);
}

/// `kehu demo --preset NAME` seeds any shipped preset through the rules and serves it.
#[test]
fn demo_seeds_every_other_preset_and_serves_it() {
    for preset in [
        "retail-store",
        "property-archives",
        "event-customers",
        "new-customer-development",
    ] {
        let db = temp(&format!("{preset}.db"));
        let log = temp(&format!("{preset}.log"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = std::fs::File::create(&log).unwrap();
        // One of them gets its admin password from the environment: it is never printed.
        let chosen = "chosen-admin-password-7";
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kehu"));
        cmd.args(["demo", "--preset", preset, "--db", db.to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env_remove("KEHU_ADMIN_PASSWORD");
        if preset == "retail-store" {
            cmd.env("KEHU_ADMIN_PASSWORD", chosen);
        }
        let mut child = cmd
            .env("KEHU_LOG", "warn")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("kehu demo starts");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        let seen = loop {
            let now = std::fs::read_to_string(&log).unwrap_or_default();
            if now.contains("API: ") || std::time::Instant::now() > deadline {
                break now;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("kehu demo --preset {preset} exited ({status}):\n{now}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        child.kill().ok();
        child.wait().ok();
        // About 120 customers, plus the joint event's invitations and the customers returned to
        // the pool (R11.8) where the preset has them.
        let ready = seen
            .split("demo tenant ready: ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<u32>().ok());
        assert!(ready.is_some_and(|n| (120..=140).contains(&n)), "{preset}:\n{seen}");
        assert!(seen.contains(&format!("http://127.0.0.1:{port}/")), "{preset}:\n{seen}");
        assert!(
            seen.contains("admin ") && seen.contains("kehu-demo"),
            "{preset}:\n{seen}"
        );
        assert!(!seen.contains(chosen), "the demo printed KEHU_ADMIN_PASSWORD:\n{seen}");
        if preset == "retail-store" {
            assert!(seen.contains("(KEHU_ADMIN_PASSWORD)"), "{seen}");
        }
        let o = kehu(&[
            "verify-history",
            "--database-url",
            &format!("sqlite://{}", db.display()),
        ]);
        assert!(o.status.success() && text(&o).contains("demo: ok"), "{}", text(&o));
        // The demo opens where there is something to see: the pool holds customers to claim
        // (R11.8), and every customer's source is one the policy lists.
        let url = format!("sqlite://{}", db.display());
        let (pooled, unlisted, states): (i64, i64, i64) = tokio::runtime::Runtime::new().unwrap().block_on(async {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let (states,): (i64,) = sqlx::query_as("SELECT COUNT(DISTINCT state) FROM cases")
                .fetch_one(&pool)
                .await
                .unwrap();
            let (pooled,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM customers WHERE pool_id IS NOT NULL")
                .fetch_one(&pool)
                .await
                .unwrap();
            let (rows,): (String,) = sqlx::query_as("SELECT source FROM policy_versions ORDER BY version DESC LIMIT 1")
                .fetch_one(&pool)
                .await
                .unwrap();
            let policy = kehu_domain::Policy::parse(&rows, "demo.toml").unwrap();
            let sources: Vec<(Option<String>,)> = sqlx::query_as("SELECT source FROM customers")
                .fetch_all(&pool)
                .await
                .unwrap();
            pool.close().await;
            let unlisted = sources
                .iter()
                .filter(|(s,)| {
                    s.as_deref()
                        .is_some_and(|s| !policy.customers.sources.iter().any(|x| x.id == s))
                })
                .count();
            (pooled, unlisted as i64, states)
        });
        assert_eq!(
            unlisted, 0,
            "{preset}: customers with a source the policy does not list"
        );
        if preset == "event-customers" {
            assert!(pooled >= 3, "{preset}: {pooled} customers in the pool");
        }
        if preset == "new-customer-development" {
            // Development projects stand alone (no customer): the demo opens them and walks
            // them on through the approvals and the budget.
            assert!(states >= 4, "{preset}: projects in {states} states");
        }
        remove_db(&db);
        std::fs::remove_file(&log).ok();
    }
}
