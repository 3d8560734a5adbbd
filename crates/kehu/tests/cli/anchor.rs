//! History anchored outside the database (issue 9 §1): what someone with SQL access alone can do
//! to the chain (cut its end and rewrite the head, re-hash it whole) is found by
//! `verify-history` against the signed checkpoints, as are a checkpoint signed by another key
//! and a deleted checkpoint folder; an honest chain with many checkpoints verifies. On SQLite
//! and on PostgreSQL.

use std::path::{Path, PathBuf};

use kehu_domain::history::{CheckpointKey, EventRecord};
use kehu_store::history::EventRow;
use kehu_store::{Db, args};

use super::{kehu, pg_schema, temp, text};

/// A database with the `bench` tenant and some history, and its checkpoint folder.
pub(super) struct Case {
    pub(super) url: String,
    pub(super) dir: PathBuf,
    file: Option<PathBuf>,
    pub(super) pg: Option<(sqlx::PgPool, String)>,
}

impl Case {
    pub(super) async fn sqlite(tag: &str) -> Case {
        let file = temp(&format!("{tag}.db"));
        let case = Case {
            url: format!("sqlite://{}", file.display()),
            dir: temp(&format!("{tag}.checkpoints")),
            file: Some(file),
            pg: None,
        };
        case.fill();
        case
    }

    pub(super) async fn postgres(tag: &str) -> Option<Case> {
        let (admin, schema, url) = pg_schema(tag).await?;
        let case = Case {
            url,
            dir: temp(&format!("{tag}.checkpoints")),
            file: None,
            pg: Some((admin, schema)),
        };
        case.fill();
        Some(case)
    }

    /// Five rounds of generated customers, each ending with a checkpoint: many checkpoints.
    fn fill(&self) {
        for _ in 0..5 {
            let o = self.run(&["generate", "--customers", "12"]);
            assert!(o.status.success(), "{}", text(&o));
        }
    }

    pub(super) fn run(&self, args: &[&str]) -> std::process::Output {
        let mut all = args.to_vec();
        all.extend(["--database-url", &self.url, "--checkpoint-dir"]);
        let dir = self.dir.display().to_string();
        all.push(&dir);
        kehu(&all)
    }

    fn verify(&self) -> (Option<i32>, String) {
        let o = self.run(&["verify-history"]);
        (o.status.code(), text(&o))
    }

    pub(super) async fn db(&self) -> Db {
        Db::connect(&self.url).await.unwrap()
    }

    pub(super) async fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(kehu_store::anchor::key_path(&self.dir));
        if let Some(f) = &self.file {
            super::remove_db(f);
        }
        if let Some((admin, schema)) = self.pg {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await
                .unwrap();
        }
    }
}

async fn events(db: &Db) -> Vec<EventRecord> {
    let rows: Vec<EventRow> = db
        .fetch_all(
            "SELECT tenant_id, seq, at_ms, actor_id, entity, entity_id, customer_id, action, before_json, after_json, \
             decision_json, prev_hash, hash FROM events ORDER BY seq",
            args![],
        )
        .await
        .unwrap();
    rows.into_iter().map(EventRow::into_record).collect()
}

/// Cuts the chain after `keep` events and sets the head back to match: consistent in itself.
async fn truncate_with_head(db: &Db, keep: i64) {
    let last = &events(db).await[keep as usize - 1];
    let mut tx = db.begin().await.unwrap();
    tx.execute("DELETE FROM events WHERE seq > $1", args![keep])
        .await
        .unwrap();
    tx.execute(
        "UPDATE history_heads SET last_seq = $1, last_hash = $2",
        args![keep, last.hash.as_str()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// Edits event `at` and re-hashes every event from it to the end, head included: what someone
/// with SQL access and the (public) hashing scheme can do.
async fn rehash_from(db: &Db, at: i64) {
    let mut all = events(db).await;
    let mut tx = db.begin().await.unwrap();
    for i in (at as usize - 1)..all.len() {
        if i == at as usize - 1 {
            all[i].after = Some("{\"name\":\"改过的名字\"}".into());
        }
        let (seq, prev) = (all[i].seq - 1, all[i - 1].hash.clone());
        all[i].seal(seq, &prev);
        let e = &all[i];
        tx.execute(
            "UPDATE events SET after_json = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
            args![e.after.clone(), e.prev_hash.as_str(), e.hash.as_str(), e.seq],
        )
        .await
        .unwrap();
    }
    let last = all.last().unwrap();
    tx.execute(
        "UPDATE history_heads SET last_seq = $1, last_hash = $2",
        args![last.seq, last.hash.as_str()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

fn checkpoint_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

async fn scenarios(make: impl AsyncFn(&str) -> Option<Case>) {
    // Honest: many checkpoints, all held.
    let Some(c) = make("honest").await else { return };
    let (code, out) = c.verify();
    assert_eq!(code, Some(0), "{out}");
    let lines = std::fs::read_to_string(checkpoint_file(&c.dir)).unwrap();
    assert!(lines.lines().count() >= 5, "{lines}");
    assert!(
        out.contains("bench: ok, ") && out.contains("signed checkpoint(s)"),
        "{out}"
    );
    // A copy of the folder checks with the public key alone, and not with another one.
    let db = c.db().await;
    let public = kehu_store::anchor::public_key(&c.dir).unwrap().unwrap();
    let copy = temp("copy.checkpoints");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(
        checkpoint_file(&c.dir),
        copy.join(checkpoint_file(&c.dir).file_name().unwrap()),
    )
    .unwrap();
    let dir = copy.display().to_string();
    let verify_copy = |key: &str| {
        kehu(&[
            "verify-history",
            "--database-url",
            &c.url,
            "--checkpoint-dir",
            &dir,
            "--public-key",
            key,
        ])
    };
    let o = verify_copy(&public);
    assert!(o.status.success(), "{}", text(&o));
    let o = verify_copy(&CheckpointKey::from_secret([5; 32]).public_hex());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    std::fs::remove_dir_all(&copy).ok();
    db.close().await;
    c.remove().await;

    // The end cut off and the head rewritten to match: the chain holds together, the
    // checkpoints do not agree.
    let c = make("cut").await.unwrap();
    let db = c.db().await;
    truncate_with_head(&db, 20).await;
    db.close().await;
    let (code, out) = c.verify();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("bench: BROKEN at event 21 (shorter_than_checkpoint)"),
        "{out}"
    );
    c.remove().await;

    // One event edited and the whole chain after it re-hashed, head included.
    let c = make("rehash").await.unwrap();
    let db = c.db().await;
    rehash_from(&db, 5).await;
    db.close().await;
    let (code, out) = c.verify();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("(differs_from_checkpoint)"), "{out}");
    // Nothing signs the rewritten chain: it does not extend the last checkpoint.
    let o = c.run(&["generate", "--customers", "1"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("no longer extends its last checkpoint"),
        "{}",
        text(&o)
    );
    c.remove().await;

    // A checkpoint signed with another key (one that vouches for a rewritten chain).
    let c = make("otherkey").await.unwrap();
    let db = c.db().await;
    rehash_from(&db, 5).await;
    let all = events(&db).await;
    db.close().await;
    let last = all.last().unwrap();
    let forged = CheckpointKey::from_secret([9; 32]).sign("bench", last.tenant_id, last.seq, &last.hash, 1);
    std::fs::write(
        checkpoint_file(&c.dir),
        format!("{}\n", serde_json::to_string(&forged).unwrap()),
    )
    .unwrap();
    let (code, out) = c.verify();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("bench: BROKEN: 1 checkpoint(s) cannot be trusted"),
        "{out}"
    );
    assert!(out.contains("signed by another key"), "{out}");
    c.remove().await;

    // The folder deleted: said loudly, and the history is not vouched for.
    let c = make("deleted").await.unwrap();
    std::fs::remove_dir_all(&c.dir).unwrap();
    let (code, out) = c.verify();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("WARNING: the checkpoint folder") && out.contains("does not exist"),
        "{out}"
    );
    assert!(out.contains("bench: NOT ANCHORED"), "{out}");
    // Nothing quietly starts a new folder while the key says checkpoints were written.
    let o = c.run(&["generate", "--customers", "1"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("is missing, but its key"), "{}", text(&o));
    // The operator moves the key aside on purpose: `kehu serve` begins new checkpoints at start,
    // and the history verifies against them from then on.
    let key = kehu_store::anchor::key_path(&c.dir);
    std::fs::rename(&key, format!("{}.retired", key.display())).unwrap();
    serve_once(&c);
    let (code, out) = c.verify();
    assert_eq!(code, Some(0), "{out}");
    std::fs::remove_file(format!("{}.retired", key.display())).ok();
    c.remove().await;

    // Tables dropped with SQL access make the database look new: its checkpoints are not
    // moved aside, the start is refused.
    let c = make("dropped").await.unwrap();
    let db = c.db().await;
    let tables: Vec<(String,)> = match db.backend() {
        kehu_store::Backend::Sqlite => db
            .fetch_all(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                args![],
            )
            .await
            .unwrap(),
        kehu_store::Backend::Postgres => db
            .fetch_all(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
                args![],
            )
            .await
            .unwrap(),
    };
    let mut tx = db.begin().await.unwrap();
    if db.backend() == kehu_store::Backend::Sqlite {
        tx.execute("PRAGMA defer_foreign_keys = ON", args![]).await.unwrap();
    }
    for (t,) in &tables {
        let cascade = if db.backend() == kehu_store::Backend::Postgres {
            " CASCADE"
        } else {
            ""
        };
        tx.execute(&format!("DROP TABLE IF EXISTS {t}{cascade}"), args![])
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    db.close().await;
    let o = c.run(&["generate", "--customers", "1"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("holds checkpoints of an earlier one"), "{}", text(&o));
    assert!(checkpoint_file(&c.dir).exists());
    c.remove().await;
}

/// Starts `kehu serve` on the case's database, waits for its address, and stops it.
fn serve_once(c: &Case) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = temp("serve.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kehu"))
        .args([
            "serve",
            "--database-url",
            &c.url,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--checkpoint-dir", &c.dir.display().to_string()])
        .env("KEHU_LOG", "warn")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let seen = std::fs::read_to_string(&log).unwrap_or_default();
        if seen.contains("API: ") {
            assert!(seen.contains("history checkpoints: "), "{seen}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "kehu serve did not start:\n{seen}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().ok();
    child.wait().ok();
    std::fs::remove_file(log).ok();
}

#[tokio::test]
async fn checkpoints_find_what_sql_access_alone_can_rewrite_on_sqlite() {
    scenarios(async |tag: &str| Some(Case::sqlite(tag).await)).await;
}

#[tokio::test]
async fn checkpoints_find_what_sql_access_alone_can_rewrite_on_postgres() {
    scenarios(async |tag: &str| Case::postgres(tag).await).await;
}
