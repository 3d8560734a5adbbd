//! Trust for the data (issue 9): the history held to signed checkpoints through the API, and
//! migrations that are checked (an edited landed migration is refused; a database made by the
//! first migration upgrades to the last with its data and its chain). SQLite and PostgreSQL.

use axum::http::{Method, StatusCode, header};
use kehu_domain::history::{EventRecord, GENESIS};
use kehu_store::{Db, args, migrate};
use serde_json::json;
use tower::ServiceExt;

use crate::both;
use crate::support::{PASSWORD, TestApp, body_json, empty_postgres, empty_sqlite, json_request, preset};

both!(
    the_api_holds_the_history_to_the_signed_checkpoints,
    |mut app: TestApp| async move {
        let dir = std::env::temp_dir().join(format!(
            "kehu-anchor-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_millisecond()
        ));
        app.with_anchor(&dir).await;
        for (i, name) in ["北京华信", "上海远景", "深圳新航"].iter().enumerate() {
            app.customer(&app.admin, name, &format!("1391000{:04}", i + 1)).await;
        }
        app.state.checkpoint().await;
        let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(
            (v["ok"].as_bool(), v["checkpoints"].as_i64()),
            (Some(true), Some(1)),
            "{v}"
        );
        let first = v["newest_checkpoint"].as_i64().unwrap();
        assert_eq!(v["events"].as_i64(), Some(first), "{v}");
        // An unchanged head is not signed again; a moved one is.
        app.state.checkpoint().await;
        app.customer(&app.admin, "广州恒达", "13910009999").await;
        app.state.checkpoint().await;
        let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(v["checkpoints"].as_i64(), Some(2), "{v}");
        assert!(v["newest_checkpoint"].as_i64().unwrap() > first, "{v}");

        // The last events cut off and the head set back to match, with SQL access alone.
        app.tamper(&format!(
            "DELETE FROM events WHERE tenant_id = {} AND seq > {first}",
            app.tenant_id
        ))
        .await;
        app.tamper(&format!(
            "UPDATE history_heads SET last_seq = {first}, last_hash = (SELECT hash FROM events WHERE tenant_id = {t} AND seq = {first}) \
             WHERE tenant_id = {t}",
            t = app.tenant_id
        ))
        .await;
        let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(
            (v["ok"].as_bool(), v["reason"].as_str(), v["first_bad_event"].as_i64()),
            (Some(false), Some("shorter_than_checkpoint"), Some(first + 1)),
            "{v}"
        );
        // A line in the tenant's checkpoint file that this server did not sign.
        let file = dir.join(format!("tenant-{}.jsonl", app.tenant_id));
        let forged =
            kehu_domain::history::CheckpointKey::from_secret([3; 32]).sign("acme", app.tenant_id, 1, GENESIS, 1);
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str(&format!("{}\n", serde_json::to_string(&forged).unwrap()));
        std::fs::write(&file, text).unwrap();
        let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(v["reason"].as_str(), Some("checkpoint_not_trusted"), "{v}");
        // The folder gone: not sound.
        std::fs::remove_dir_all(&dir).ok();
        let (_, v) = app.get("/api/v1/history/verify", &app.admin).await;
        assert_eq!(
            (v["ok"].as_bool(), v["reason"].as_str()),
            (Some(false), Some("checkpoints_missing")),
            "{v}"
        );
        std::fs::remove_file(kehu_store::anchor::key_path(&dir)).ok();
    }
);

/// Runs `check` on an empty SQLite database and an empty PostgreSQL schema.
async fn on_empty_databases(check: impl AsyncFn(Db)) {
    let (db, file) = empty_sqlite().await;
    check(db).await;
    for s in ["", "-wal", "-shm"] {
        std::fs::remove_file(format!("{}{s}", file.display())).ok();
    }
    if let Some((db, _)) = empty_postgres().await {
        check(db).await;
    }
}

async fn migration_count(db: &Db) -> i64 {
    let (n,): (i64,) = db
        .fetch_one("SELECT COUNT(*) FROM schema_migrations", args![])
        .await
        .unwrap();
    n
}

#[tokio::test]
async fn a_landed_migration_that_was_edited_is_refused_at_start() {
    on_empty_databases(async |db: Db| {
        let all = migrate::list(db.backend());
        assert_eq!(migrate::run(&db).await.unwrap().len(), all.len());
        assert!(migrate::run(&db).await.unwrap().is_empty(), "a second run applies nothing");
        let n = migration_count(&db).await;

        // The second migration's text changed after it landed: refused, naming it.
        let mut edited = all.to_vec();
        let sql = format!("{}\n-- an edit after the fact\n", edited[1].2);
        edited[1].2 = &sql;
        let err = migrate::run_list(&db, &edited).await.unwrap_err().to_string();
        assert!(
            err.contains("migration 0002_deadlines_ledger.sql was edited after it was applied"),
            "{err}"
        );
        // Line ends alone are no edit.
        let crlf = all[1].2.replace('\n', "\r\n");
        let mut crlf_list = all.to_vec();
        crlf_list[1].2 = &crlf;
        assert!(migrate::run_list(&db, &crlf_list).await.is_ok());

        // The checksum recorded in the database is held too.
        let mut tx = db.begin().await.unwrap();
        tx.execute("UPDATE schema_migrations SET checksum = 'abc' WHERE version = 3", args![])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let err = migrate::run(&db).await.unwrap_err().to_string();
        assert!(err.contains("0003_complaints.sql was edited"), "{err}");
        let mut tx = db.begin().await.unwrap();
        tx.execute(
            "UPDATE schema_migrations SET checksum = $1 WHERE version = 3",
            args![migrate::checksum(all[2].2)],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        // A database a newer kehu upgraded is not run by this one.
        let mut tx = db.begin().await.unwrap();
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at, checksum) VALUES (9999, 'from_the_future', 0, 'x')",
            args![],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let err = migrate::run(&db).await.unwrap_err().to_string();
        assert!(err.contains("9999_from_the_future") && err.contains("newer version of kehu"), "{err}");
        assert_eq!(migration_count(&db).await, n + 1, "a refused run changes nothing");
        db.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_database_made_before_checksums_were_kept_gets_them() {
    on_empty_databases(async |db: Db| {
        migrate::run_up_to(&db, 3).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.execute("ALTER TABLE schema_migrations DROP COLUMN checksum", args![])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let ran = migrate::run(&db).await.unwrap();
        assert_eq!(ran.first(), Some(&4), "{ran:?}");
        let (missing,): (i64,) = db
            .fetch_one("SELECT COUNT(*) FROM schema_migrations WHERE checksum IS NULL", args![])
            .await
            .unwrap();
        assert_eq!(missing, 0);
        db.close().await;
    })
    .await;
}

/// Writes one event of the chain by hand, as the first migration's schema holds it.
async fn old_event(
    tx: &mut kehu_store::Tx,
    head: &mut (i64, String),
    tenant_id: i64,
    e: (&str, i64, Option<i64>, String),
) {
    let mut r = EventRecord {
        tenant_id,
        seq: 0,
        at_ms: 1_780_000_000_000 + head.0,
        actor_id: None,
        entity: e.0.to_string(),
        entity_id: e.1,
        customer_id: e.2,
        action: "create".into(),
        before: None,
        after: Some(e.3),
        decision: None,
        prev_hash: String::new(),
        hash: String::new(),
    };
    r.seal(head.0, &head.1);
    tx.execute(
        "INSERT INTO events (tenant_id, seq, at_ms, actor_id, entity, entity_id, customer_id, action, before_json, after_json, \
         decision_json, prev_hash, hash) VALUES ($1, $2, $3, NULL, $4, $5, $6, 'create', NULL, $7, NULL, $8, $9)",
        args![
            tenant_id,
            r.seq,
            r.at_ms,
            r.entity.as_str(),
            r.entity_id,
            r.customer_id,
            r.after.clone(),
            r.prev_hash.as_str(),
            r.hash.as_str()
        ],
    )
    .await
    .unwrap();
    *head = (r.seq, r.hash);
}

#[tokio::test]
async fn a_database_from_the_first_migration_upgrades_with_its_data_and_its_chain() {
    on_empty_databases(async |db: Db| {
        assert_eq!(migrate::run_up_to(&db, 1).await.unwrap(), vec![1]);
        let (file, src) = preset();
        let version = crate::support::preset_version() as i64;
        let hash = kehu_server::auth::hash_password(PASSWORD).unwrap();
        // The first migration's schema, filled by hand: a tenant, its admin, customers with
        // phones, and the chain of their creation.
        let mut tx = db.begin().await.unwrap();
        let (t,): (i64,) = tx
            .fetch_one(
                "INSERT INTO tenants (slug, name, policy_version, created_at) VALUES ('old', '老客户公司', $1, 1780000000000) RETURNING id",
                args![version],
            )
            .await
            .unwrap();
        tx.execute(
            "INSERT INTO policy_versions (tenant_id, version, file_name, source, created_at) VALUES ($1, $2, $3, $4, 1780000000000)",
            args![t, version, file.as_str(), src.as_str()],
        )
        .await
        .unwrap();
        let (admin,): (i64,) = tx
            .fetch_one(
                "INSERT INTO staff (tenant_id, username, display_name, password_hash, roles, created_at) \
                 VALUES ($1, 'oldadmin', '老管理员', $2, 'admin', 1780000000000) RETURNING id",
                args![t, hash.as_str()],
            )
            .await
            .unwrap();
        let mut head = (0i64, GENESIS.to_string());
        old_event(&mut tx, &mut head, t, ("staff", admin, None, json!({"username": "oldadmin"}).to_string())).await;
        let mut ids = Vec::new();
        for (name, phone) in [("老客户甲", "+8613900001111"), ("老客户乙", "+8613900002222")] {
            let (id,): (i64,) = tx
                .fetch_one(
                    "INSERT INTO customers (tenant_id, kind, name, name_norm, created_by, created_at, updated_at) \
                     VALUES ($1, 'person', $2, $2, $3, 1780000000000, 1780000000000) RETURNING id",
                    args![t, name, admin],
                )
                .await
                .unwrap();
            tx.execute(
                "INSERT INTO customer_keys (tenant_id, key, customer_id, kind, value) VALUES ($1, $2, $3, 'phone', $4)",
                args![t, format!("phone:{phone}"), id, phone],
            )
            .await
            .unwrap();
            old_event(&mut tx, &mut head, t, ("customer", id, Some(id), json!({"name": name}).to_string())).await;
            ids.push(id);
        }
        tx.execute(
            "INSERT INTO history_heads (tenant_id, last_seq, last_hash) VALUES ($1, $2, $3)",
            args![t, head.0, head.1.as_str()],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        // Upgraded to the last migration: everything is there, and the chain verifies.
        let ran = migrate::run(&db).await.unwrap();
        assert_eq!(ran.len(), migrate::list(db.backend()).len() - 1, "{ran:?}");
        assert_eq!(kehu_store::history::verify(&db, t, Default::default()).await.unwrap(), Ok(3));

        // The server runs on it: the old admin logs in, reads the old customers (phones
        // included), finds one by phone once the indexer has run, and registers a new one.
        let state = kehu_server::AppState::new(db.clone(), false).await.unwrap();
        let router = kehu_server::app(state.clone());
        let call = |method: Method, path: String, cookie: Option<String>, body: Option<serde_json::Value>| {
            let router = router.clone();
            async move {
                let req = json_request(method, &path, cookie.as_deref(), body);
                let res = router.oneshot(req).await.unwrap();
                let cookie = res
                    .headers()
                    .get(header::SET_COOKIE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(';').next())
                    .map(str::to_string);
                (res.status(), cookie, body_json(res).await)
            }
        };
        let (status, cookie, body) = call(
            Method::POST,
            "/api/v1/session".into(),
            None,
            Some(json!({"username": "oldadmin", "password": PASSWORD})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let cookie = cookie.unwrap();
        let (status, _, c) = call(Method::GET, format!("/api/v1/customers/{}", ids[1]), Some(cookie.clone()), None).await;
        assert_eq!(status, StatusCode::OK, "{c}");
        assert_eq!(c["name"], "老客户乙", "{c}");
        assert_eq!(c["phones"][0].as_str().map(|p| p.replace(' ', "")), Some("13900002222".into()), "{c}");
        kehu_server::indexer::drain(&state.db).await.unwrap();
        let (_, _, found) = call(Method::GET, "/api/v1/customers?q=00001111".into(), Some(cookie.clone()), None).await;
        assert_eq!(found["items"].as_array().map(|a| a.len()), Some(1), "{found}");
        assert_eq!(found["items"][0]["id"].as_i64(), Some(ids[0]), "{found}");
        let (status, _, body) = call(
            Method::POST,
            "/api/v1/customers".into(),
            Some(cookie.clone()),
            Some(json!({"kind": "person", "name": "新客户", "phones": ["13900003333"]})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(body["id"].as_i64().unwrap() > ids[1], "{body}");
        assert_eq!(kehu_store::history::verify(&db, t, Default::default()).await.unwrap(), Ok(4));
        db.close().await;
    })
    .await;
}

/// Tables every node holds whole under Citus (docs/scaling.md); every other table is a tenant
/// table, distributed by `tenant_id`. A new table is one or the other, on purpose.
const REFERENCE_TABLES: &[&str] = &["tenants", "clock", "schema_migrations"];

/// The schema can be distributed by tenant (issue 9 §4), read from the PostgreSQL catalog after
/// every migration, so a later table or key cannot break it unseen: every table but the
/// reference tables has `tenant_id`, every unique index (primary keys and unique constraints
/// included) contains it, and every foreign key between tenant tables joins on it.
#[tokio::test]
async fn every_tenant_table_is_keyed_by_tenant_so_it_can_be_distributed() {
    let Some((db, _)) = empty_postgres().await else { return };
    migrate::run(&db).await.unwrap();
    let tables: Vec<(String, bool)> = db
        .fetch_all(
            "SELECT c.relname::text, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' \
             AND NOT a.attisdropped) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY 1",
            args![],
        )
        .await
        .unwrap();
    let unique: Vec<(String, String, bool)> = db
        .fetch_all(
            "SELECT t.relname::text, ic.relname::text, EXISTS (SELECT 1 FROM unnest(i.indkey) k JOIN pg_attribute a \
             ON a.attrelid = t.oid AND a.attnum = k WHERE a.attname = 'tenant_id') \
             FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema() AND i.indisunique ORDER BY 1, 2",
            args![],
        )
        .await
        .unwrap();
    let foreign: Vec<(String, String, String, String, String)> = db
        .fetch_all(
            "SELECT t.relname::text, con.conname::text, r.relname::text, \
             (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(num, ord) \
              JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num), \
             (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(con.confkey) WITH ORDINALITY k(num, ord) \
              JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num) \
             FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid JOIN pg_class r ON r.oid = con.confrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema() AND con.contype = 'f' ORDER BY 1, 2",
            args![],
        )
        .await
        .unwrap();
    let reference = |t: &str| REFERENCE_TABLES.contains(&t);
    let mut wrong = Vec::new();
    for (t, has_tenant) in &tables {
        if !reference(t) && !has_tenant {
            wrong.push(format!(
                "{t}: no tenant_id (add it, or name the table a reference table)"
            ));
        }
    }
    for (t, index, has_tenant) in &unique {
        if !reference(t) && !has_tenant {
            wrong.push(format!("{t}: unique index {index} lacks tenant_id"));
        }
    }
    for (t, name, r, cols, rcols) in &foreign {
        if reference(t) && !reference(r) {
            wrong.push(format!("{t}: reference table refers to tenant table {r} ({name})"));
        }
        if reference(r) {
            continue;
        }
        let at = |list: &str| list.split(',').position(|c| c == "tenant_id");
        if at(cols).is_none() || at(cols) != at(rcols) {
            wrong.push(format!(
                "{t}: foreign key {name} ({cols}) -> {r} ({rcols}) does not join on tenant_id"
            ));
        }
    }
    let tenant_tables = tables.iter().filter(|(t, _)| !reference(t)).count();
    eprintln!(
        "catalog: {} tables ({} tenant, {} reference), {} unique indexes, {} foreign keys; {} problems",
        tables.len(),
        tenant_tables,
        tables.len() - tenant_tables,
        unique.len(),
        foreign.len(),
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "not distributable by tenant_id:\n{}",
        wrong.join("\n")
    );
    assert!(
        tenant_tables >= 20 && foreign.len() >= 50,
        "the catalog query found too little"
    );
    db.close().await;
}

/// Every join between tenant tables in the code's SQL carries tenant equality (issue 9 §4:
/// Citus runs a join of distributed tables on one worker only when it is on the distribution
/// column). Reads the SQL text of the store, the server and the binary.
#[test]
fn every_join_of_tenant_tables_in_the_code_is_on_tenant_id() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut files = Vec::new();
    let mut dirs: Vec<std::path::PathBuf> = ["kehu-store/src", "kehu-server/src", "kehu/src"]
        .iter()
        .map(|d| std::path::Path::new(root).join(d))
        .collect();
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let mut joins = 0;
    let mut wrong = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (at, _) in text.match_indices("JOIN ") {
            let rest = &text[at + 5..];
            let table: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if table.is_empty() || REFERENCE_TABLES.contains(&table.as_str()) || table.starts_with("pg_") {
                continue;
            }
            let Some(on) = rest.find(" ON ") else { continue };
            let clause = &rest[on + 4..];
            let end = ["JOIN ", "WHERE ", "ORDER BY", "GROUP BY", "\""]
                .iter()
                .filter_map(|s| clause.find(s))
                .min()
                .unwrap_or(clause.len());
            joins += 1;
            if !clause[..end].contains("tenant_id") {
                let line = text[..at].lines().count();
                wrong.push(format!(
                    "{}:{line}: JOIN {table} ON {}",
                    f.display(),
                    clause[..end].trim()
                ));
            }
        }
    }
    assert!(joins >= 20, "found only {joins} joins: the scan is broken");
    assert!(wrong.is_empty(), "joins without tenant equality:\n{}", wrong.join("\n"));
}

#[derive(Debug, sqlx::FromRow, serde::Deserialize)]
struct LookedUp {
    #[sqlx(flatten)]
    #[serde(flatten)]
    staff: kehu_store::staff::StaffRow,
    unit_name: Option<String>,
    asked: i64,
}

both!(
    a_lookup_on_the_calling_thread_reads_what_the_pool_reads,
    |app: TestApp| async move {
        let db = &app.state.db;
        let sql = format!(
            "SELECT {}, NULL AS unit_name, $2 AS asked FROM staff WHERE tenant_id = $1 AND active = $3 ORDER BY id",
            kehu_store::staff::COLUMNS
        );
        // `$2` stands before `$1`: arguments go by number, not by order of appearance.
        let pooled: Vec<LookedUp> = db.fetch_all(&sql, args![app.tenant_id, 7, true]).await.unwrap();
        let inline: Vec<LookedUp> = db.lookup_all(&sql, args![app.tenant_id, 7, true]).await.unwrap();
        assert!(!pooled.is_empty());
        assert_eq!(format!("{inline:?}"), format!("{pooled:?}"));
        assert!(
            inline
                .iter()
                .all(|r| r.staff.active && r.asked == 7 && r.unit_name.is_none())
        );
        // A committed change is read at once (a new read transaction per lookup).
        let first = inline[0].staff.id;
        db.execute(
            "UPDATE staff SET display_name = $1 WHERE tenant_id = $2 AND id = $3",
            args!["改名以后", app.tenant_id, first],
        )
        .await
        .unwrap();
        let again: Option<LookedUp> = db.lookup(&sql, args![app.tenant_id, 7, true]).await.unwrap();
        assert_eq!(again.unwrap().staff.display_name, "改名以后");
        // Too few arguments is an error, not a NULL.
        let short: Result<Vec<LookedUp>, _> = db.lookup_all(&sql, args![app.tenant_id]).await;
        assert!(short.is_err());
    }
);

/// Issue 10: the complaints (R11.9) recorded before they ran on the case engine are cases of the
/// workflow `complaint` after the upgrade (migration 0014), with their fields, their steps and
/// their decisions; the staff member concerned still reads them, and a limit still to come is
/// the case's timer, which the engine fires with the fines the policy sets.
/// When the upgrade tests' records were made.
const T0: i64 = 1_780_000_000_000;

fn event_customers() -> kehu_domain::Policy {
    kehu_domain::Policy::parse(
        include_str!("../../../../presets/event-customers.toml"),
        "event-customers.toml",
    )
    .unwrap()
}

/// A tenant of the event company on the event-customers preset, as the rows before an upgrade
/// hold it: its id.
async fn event_tenant(tx: &mut kehu_store::Tx) -> i64 {
    let src = include_str!("../../../../presets/event-customers.toml");
    let version = i64::from(event_customers().version);
    let (t,): (i64,) = tx
        .fetch_one(
            "INSERT INTO tenants (slug, name, policy_version, created_at) VALUES ('ev', '会销公司', $1, $2) RETURNING id",
            args![version, T0],
        )
        .await
        .unwrap();
    tx.execute(
        "INSERT INTO policy_versions (tenant_id, version, file_name, source, created_at) VALUES ($1, $2, 'event-customers.toml', $3, $4)",
        args![t, version, src, T0],
    )
    .await
    .unwrap();
    t
}

#[tokio::test]
async fn complaints_recorded_before_the_engine_are_cases_after_the_upgrade() {
    on_empty_databases(async |db: Db| {
        assert_eq!(migrate::run_up_to(&db, 13).await.unwrap().len(), 13);
        let (policy, t0) = (event_customers(), T0);
        let version = i64::from(policy.version);
        let day = 86_400_000;
        let mut tx = db.begin().await.unwrap();
        let t = event_tenant(&mut tx).await;
        let (unit,): (i64,) = tx
            .fetch_one(
                "INSERT INTO units (tenant_id, name, created_at) VALUES ($1, '一部', $2) RETURNING id",
                args![t, t0],
            )
            .await
            .unwrap();
        let mut staff = Vec::new();
        for (user, name, role) in [("head", "钱主任", "division_head"), ("wang", "小王", "sales")] {
            let (id,): (i64,) = tx
                .fetch_one(
                    "INSERT INTO staff (tenant_id, username, display_name, password_hash, roles, unit_id, created_at) \
                     VALUES ($1, $2, $3, 'x', $4, $5, $6) RETURNING id",
                    args![t, user, name, role, unit, t0],
                )
                .await
                .unwrap();
            staff.push(id);
        }
        let (head, wang) = (staff[0], staff[1]);
        let (customer,): (i64,) = tx
            .fetch_one(
                "INSERT INTO customers (tenant_id, kind, name, name_norm, created_by, created_at, updated_at) \
                 VALUES ($1, 'person', '孙阿姨', '孙阿姨', $2, $3, $3) RETURNING id",
                args![t, wang, t0],
            )
            .await
            .unwrap();
        let decision = |text: &str| {
            json!({ "rule": "R11.9", "policy_version": version, "facts": {}, "text": { "zh": text, "en": text } }).to_string()
        };
        // One resolved the next day; one still open, its limit a day after the upgrade's clock.
        let (resolved,): (i64,) = tx
            .fetch_one(
                "INSERT INTO complaints (tenant_id, customer_id, staff_id, to_boss, summary, found_at, found_by, due_at, \
                 policy_version, decision_json, resolved_at, resolved_by, resolution, resolved_decision_json) \
                 VALUES ($1, $2, $3, FALSE, '送货延误', $4, $5, $6, $7, $8, $9, $5, '上门道歉', $10) RETURNING id",
                args![t, customer, wang, t0, head, t0 + 3 * day, version, decision("查实"), t0 + day, decision("已解决")],
            )
            .await
            .unwrap();
        let (open,): (i64,) = tx
            .fetch_one(
                "INSERT INTO complaints (tenant_id, customer_id, staff_id, to_boss, summary, found_at, found_by, due_at, \
                 policy_version, decision_json) VALUES ($1, $2, $3, TRUE, '向老板投诉', $4, $5, $6, $7, $8) RETURNING id",
                args![t, customer, wang, t0 + 2 * day, head, t0 + 5 * day, version, decision("查实，投诉至老板")],
            )
            .await
            .unwrap();
        tx.execute(
            "INSERT INTO history_heads (tenant_id, last_seq, last_hash) VALUES ($1, 0, $2)",
            args![t, GENESIS],
        )
        .await
        .unwrap();
        tx.execute(
            "INSERT INTO deadlines (tenant_id, kind, subject_id, customer_id, due_at, rule, created_at) \
             VALUES ($1, 'complaint_due', $2, $3, $4, 'R11.9', $5)",
            args![t, open, customer, t0 + 5 * day, t0 + 2 * day],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert!(resolved < open);

        assert_eq!(migrate::run(&db).await.unwrap(), vec![14, 15, 16, 17]);
        let cases: Vec<(i64, String, String, i64)> = db
            .fetch_all(
                "SELECT id, state, fields, opened_by FROM cases WHERE tenant_id = $1 AND workflow = 'complaint' ORDER BY id",
                args![t],
            )
            .await
            .unwrap();
        assert_eq!(cases.len(), 2, "{cases:?}");
        let fields: Vec<serde_json::Value> = cases.iter().map(|c| serde_json::from_str(&c.2).unwrap()).collect();
        assert_eq!((cases[0].1.as_str(), cases[1].1.as_str()), ("resolved", "open"));
        assert_eq!((fields[0]["staff"].as_i64(), fields[0]["resolution"].as_str()), (Some(wang), Some("上门道歉")));
        assert_eq!((fields[1]["to_boss"].as_bool(), fields[1]["summary"].as_str()), (Some(true), Some("向老板投诉")));
        assert_eq!(cases[0].3, head);
        let steps: Vec<(i64, String, Option<i64>, String)> = db
            .fetch_all(
                "SELECT case_id, action, staff_id, decision_json FROM case_steps WHERE tenant_id = $1 ORDER BY case_id, at, id",
                args![t],
            )
            .await
            .unwrap();
        let walked: Vec<(i64, &str)> = steps.iter().map(|s| (s.0, s.1.as_str())).collect();
        assert_eq!(walked, vec![(cases[0].0, "open"), (cases[0].0, "resolve"), (cases[1].0, "open")]);
        assert!(steps[1].3.contains("已解决"), "each step keeps its decision: {steps:?}");
        let people: Vec<(i64, i64)> = db
            .fetch_all("SELECT case_id, staff_id FROM case_people WHERE tenant_id = $1 ORDER BY case_id", args![t])
            .await
            .unwrap();
        assert_eq!(people, vec![(cases[0].0, wang), (cases[1].0, wang)]);
        let timers: Vec<(String, i64)> = db
            .fetch_all("SELECT kind, subject_id FROM deadlines WHERE tenant_id = $1", args![t])
            .await
            .unwrap();
        assert_eq!(timers, vec![("case:unresolved".to_string(), cases[1].0)]);

        // The engine runs the carried limit: the fines for an unresolved complaint to the staff
        // member and the head, and the case moves on; nobody holds the customer, so it stays.
        let state = kehu_server::AppState::new(db.clone(), false).await.unwrap();
        let fired = kehu_server::lifecycle::sweep(&state, kehu_store::ts(t0 + 5 * day + 1000)).await.unwrap();
        assert_eq!(fired, 1);
        let (state_now,): (String,) = db
            .fetch_one("SELECT state FROM cases WHERE tenant_id = $1 AND id = $2", args![t, cases[1].0])
            .await
            .unwrap();
        assert_eq!(state_now, "escalated");
        let fines: Vec<(i64, String, i64)> = db
            .fetch_all(
                "SELECT staff_id, code, amount FROM ledger_entries WHERE tenant_id = $1 ORDER BY staff_id",
                args![t],
            )
            .await
            .unwrap();
        assert_eq!(
            fines,
            vec![(head, "complaint_unresolved".to_string(), 50000), (wang, "complaint_unresolved".to_string(), 50000)]
        );
        // A new case is numbered after the carried ones.
        let mut tx = db.begin().await.unwrap();
        let d = kehu_domain::Decision {
            rule: kehu_domain::RuleId::parse("R11.9").unwrap(),
            key: "case.opened".into(),
            policy_version: policy.version,
            facts: json!({}),
            text: kehu_domain::Text::new("x", "x"),
        };
        let row = kehu_store::cases::insert(
            &mut tx,
            t,
            kehu_store::cases::NewCase {
                workflow: "complaint",
                state: "open",
                customer_id: Some(customer),
                fields: &serde_json::Map::new(),
                opened_by: head,
                linked_from: None,
                at: kehu_store::ts(t0 + 6 * day),
                decision: &d,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert!(row.id > cases[1].0, "{} after {}", row.id, cases[1].0);
        db.close().await;
    })
    .await;
}

/// A conflict as the table before migration 15 held it: (status, escalated_by, reason, award_to,
/// argued, closed_by, sign-offs as (seat, who, award)).
type OldConflict = (
    &'static str,
    Option<i64>,
    Option<&'static str>,
    Option<i64>,
    Option<bool>,
    Option<i64>,
    Vec<(String, i64, i64)>,
);
/// A carried step: (case, action, role, to_state, decision, note).
type CarriedStep = (i64, String, Option<String>, String, String, Option<String>);

/// R11.6 (migration 15): conflicts recorded before the engine are cases of `conflict` after the
/// upgrade: one settled by three sign-offs, one escalated by a differing sign-off and ruled, one
/// still open with the coordinator's sign-off, which the heads can go on signing.
#[tokio::test]
async fn conflicts_recorded_before_the_engine_are_cases_after_the_upgrade() {
    on_empty_databases(async |db: Db| {
        assert_eq!(migrate::run_up_to(&db, 14).await.unwrap().len(), 14);
        let (policy, t0) = (event_customers(), T0);
        let version = i64::from(policy.version);
        let hour = 3_600_000;
        let mut tx = db.begin().await.unwrap();
        let t = event_tenant(&mut tx).await;
        let mut units = Vec::new();
        for name in ["一部", "二部"] {
            let (u,): (i64,) = tx
                .fetch_one(
                    "INSERT INTO units (tenant_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
                    args![t, name, t0],
                )
                .await
                .unwrap();
            units.push(u);
        }
        let mut staff = Vec::new();
        for (user, name, role, unit) in [
            ("coord", "郑协调", "coordinator", None),
            ("head1", "周经理", "division_head", Some(units[0])),
            ("head2", "吴经理", "division_head", Some(units[1])),
            ("wang", "小王", "sales", Some(units[0])),
            ("li", "小李", "sales", Some(units[1])),
            ("gm", "钱总", "general_manager", None),
        ] {
            let (id,): (i64,) = tx
                .fetch_one(
                    "INSERT INTO staff (tenant_id, username, display_name, password_hash, roles, unit_id, created_at) \
                     VALUES ($1, $2, $3, 'x', $4, $5, $6) RETURNING id",
                    args![t, user, name, role, unit, t0],
                )
                .await
                .unwrap();
            staff.push(id);
        }
        let [coord, head1, head2, wang, li, gm] = staff[..] else { unreachable!() };
        let (customer,): (i64,) = tx
            .fetch_one(
                "INSERT INTO customers (tenant_id, kind, name, name_norm, created_by, created_at, updated_at) \
                 VALUES ($1, 'person', '李阿姨', '李阿姨', $2, $3, $3) RETURNING id",
                args![t, wang, t0],
            )
            .await
            .unwrap();
        let (event,): (i64,) = tx
            .fetch_one(
                "INSERT INTO joint_events (tenant_id, name, starts_at, session, divisions, created_by, created_at, policy_version) \
                 VALUES ($1, '两部联合会', $2, 'afternoon', $3, $4, $2, $5) RETURNING id",
                args![t, t0, format!("[{},{}]", units[0], units[1]), coord, version],
            )
            .await
            .unwrap();
        // (status, escalated_by, reason, award_to, argued, closed_by, sign-offs as (seat, who, award))
        let head = |u: i64| format!("head:{u}");
        let conflicts: Vec<OldConflict> = vec![
            ("settled", None, None, Some(li), Some(true), Some(head2), vec![
                ("coordinator".into(), coord, li), (head(units[0]), head1, li), (head(units[1]), head2, li),
            ]),
            ("decided", None, Some("处理意见不一致"), Some(wang), Some(false), Some(gm), vec![
                (head(units[0]), head1, wang), (head(units[1]), head2, li),
            ]),
            ("open", None, None, None, None, None, vec![("coordinator".into(), coord, li)]),
            ("escalated", Some(coord), Some("双方说法不一"), None, None, None, vec![]),
        ];
        let mut ids = Vec::new();
        for (k, (status, escalated_by, reason, award, argued, closed_by, signs)) in conflicts.iter().enumerate() {
            let at = t0 + (k as i64) * 10 * hour;
            let escalated_at = reason.map(|_| at + 3 * hour);
            let closed_at = closed_by.map(|_| at + 4 * hour);
            let (id,): (i64,) = tx
                .fetch_one(
                    "INSERT INTO conflicts (tenant_id, customer_id, event_id, party_a, unit_a, party_b, unit_b, summary, status, \
                     opened_by, opened_at, escalated_by, escalated_at, escalation_reason, award_to, argued, closed_by, closed_at, \
                     closing_note, policy_version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, '两人都说邀约了', $8, $9, $10, $11, $12, $13, $14, \
                     CASE WHEN $15 = 1 THEN TRUE WHEN $15 = 0 THEN FALSE END, $16, $17, '', $18) RETURNING id",
                    args![t, customer, event, wang, units[0], li, units[1], *status, coord, at, *escalated_by, escalated_at,
                          *reason, *award, argued.map(i64::from), *closed_by, closed_at, version],
                )
                .await
                .unwrap();
            for (n, (seat, who, to)) in signs.iter().enumerate() {
                tx.execute(
                    "INSERT INTO conflict_signoffs (tenant_id, conflict_id, seat, staff_id, award_to, argued, note, signed_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, '会后协商', $7)",
                    args![t, id, seat.as_str(), *who, *to, argued.unwrap_or(false), at + (n as i64 + 1) * hour],
                )
                .await
                .unwrap();
            }
            ids.push(id);
        }
        // The history's decision of the first settlement (the chain itself is not read here).
        let settled = json!({ "rule": "R11.6", "policy_version": version, "facts": {}, "text": { "zh": "三方一致同意", "en": "agreed" } });
        tx.execute(
            "INSERT INTO events (tenant_id, seq, at_ms, actor_id, entity, entity_id, customer_id, action, decision_json, prev_hash, hash) \
             VALUES ($1, 1, $2, $3, 'conflict', $4, $5, 'settle', $6, '', '')",
            args![t, t0 + 3 * hour, head2, ids[0], customer, settled.to_string()],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        assert_eq!(migrate::run(&db).await.unwrap(), vec![15, 16, 17]);
        let cases: Vec<(i64, String, String)> = db
            .fetch_all(
                "SELECT id, state, fields FROM cases WHERE tenant_id = $1 AND workflow = 'conflict' ORDER BY id",
                args![t],
            )
            .await
            .unwrap();
        let states: Vec<&str> = cases.iter().map(|c| c.1.as_str()).collect();
        assert_eq!(states, vec!["settled", "decided", "open", "escalated"]);
        let fields: Vec<serde_json::Value> = cases.iter().map(|c| serde_json::from_str(&c.2).unwrap()).collect();
        assert_eq!(
            (fields[0]["party_a"].as_i64(), fields[0]["award_to"].as_i64(), fields[0]["argued"].as_bool()),
            (Some(wang), Some(li), Some(true))
        );
        assert_eq!((fields[0]["event"].as_str(), fields[2]["argued"].is_null()), (Some("两部联合会"), true));
        let steps: Vec<CarriedStep> = db
            .fetch_all(
                "SELECT case_id, action, role, to_state, decision_json, note FROM case_steps WHERE tenant_id = $1 ORDER BY case_id, id",
                args![t],
            )
            .await
            .unwrap();
        let walked: Vec<(i64, &str, Option<&str>, &str)> =
            steps.iter().map(|s| (s.0, s.1.as_str(), s.2.as_deref(), s.3.as_str())).collect();
        let (a, b, c, d) = (cases[0].0, cases[1].0, cases[2].0, cases[3].0);
        assert_eq!(
            walked,
            vec![
                (a, "open", None, "open"),
                (a, "sign", Some("coordinator"), "open"),
                (a, "sign", Some("head_of:party_a"), "open"),
                (a, "sign", Some("head_of:party_b"), "settled"),
                (b, "open", None, "open"),
                (b, "sign", Some("head_of:party_a"), "open"),
                (b, "sign", Some("head_of:party_b"), "escalated"),
                (b, "decide", Some("general_manager"), "decided"),
                (c, "open", None, "open"),
                (c, "sign", Some("coordinator"), "open"),
                (d, "open", None, "open"),
                (d, "escalate", Some("coordinator"), "escalated"),
            ],
            "the differing sign-off escalated it: no escalate step of the coordinator's"
        );
        assert!(steps[3].4.contains("三方一致同意"), "the settlement keeps its decision: {steps:?}");
        assert!(steps[0].4.contains("R11.6"), "a step the history had no decision for names the rule");
        assert_eq!(steps[11].5.as_deref(), Some("双方说法不一"), "the escalation's reason is its note");
        let people: Vec<(i64, i64)> = db
            .fetch_all("SELECT case_id, staff_id FROM case_people WHERE tenant_id = $1 ORDER BY case_id, staff_id", args![t])
            .await
            .unwrap();
        assert_eq!(people, vec![(a, wang), (a, li), (b, wang), (b, li), (c, wang), (c, li), (d, wang), (d, li)]);

        // The engine goes on with the open one: the coordinator has signed, the heads of both
        // parties' divisions may sign, the coordinator may not sign again.
        let wf = policy.workflow("conflict").unwrap();
        let row = kehu_store::cases::get_any(&db, t, c).await.unwrap();
        let facts = row.facts(&kehu_store::cases::steps(&db, t, c).await.unwrap());
        let seated = vec![
            ("head_of:party_a".to_string(), vec![head1]),
            ("head_of:party_b".to_string(), vec![head2]),
        ];
        let may = |id: i64, role: &str| {
            let actor = kehu_domain::workflow::Actor { id, name: String::new(), roles: vec![role.to_string()] };
            kehu_domain::workflow::available_seated(wf, &facts, &actor, &seated)
                .iter()
                .map(|a| a.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(may(head2, "division_head"), vec!["sign".to_string()]);
        assert_eq!(may(coord, "coordinator"), vec!["escalate".to_string()]);
        let (n,): (i64,) = db
            .fetch_one("SELECT COUNT(*) FROM cases WHERE tenant_id = $1", args![t])
            .await
            .unwrap();
        assert_eq!(n, 4);
        db.close().await;
    })
    .await;
}
