//! Backups that restore (issue 9 §3): a backup taken during a burst of writes restores with
//! every write acknowledged before it began, passes the integrity check, and its history holds
//! to the signed checkpoints; a damaged backup restores nothing; a database in place is never
//! overwritten. On SQLite and on PostgreSQL.

use std::process::{Command, Stdio};

use kehu_store::{Db, args};

use super::anchor::Case;
use super::{kehu, temp, text};

async fn customer_ids(db: &Db) -> Vec<i64> {
    let rows: Vec<(i64,)> = db
        .fetch_all("SELECT id FROM customers ORDER BY id", args![])
        .await
        .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

async fn backup_and_restore(c: Case) {
    let file = temp("backup.kehu");
    // A burst of registrations in another process, going on through the backup.
    let dir = c.dir.display().to_string();
    let restore = |from: &std::path::Path, target: &str| {
        kehu(&[
            "restore",
            "--from",
            from.to_str().unwrap(),
            "--database-url",
            target,
            "--checkpoint-dir",
            &dir,
        ])
    };
    let mut burst = Command::new(env!("CARGO_BIN_EXE_kehu"))
        .args([
            "generate",
            "--customers",
            "4000",
            "--database-url",
            &c.url,
            "--checkpoint-dir",
            &dir,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let db = c.db().await;
    let start = customer_ids(&db).await.len();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while customer_ids(&db).await.len() < start + 200 {
        assert!(std::time::Instant::now() < deadline, "the burst did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Every registration acknowledged before the backup begins.
    let acknowledged = customer_ids(&db).await;
    let o = c.run(&["backup", "--to", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("backed up to"), "{}", text(&o));
    assert!(
        burst.try_wait().unwrap().is_none(),
        "the burst was meant to outlast the backup"
    );
    assert!(burst.wait().unwrap().success());
    let after_burst = customer_ids(&db).await;
    db.close().await;
    // Backing up onto an existing file is refused.
    let o = c.run(&["backup", "--to", file.to_str().unwrap()]);
    assert!(
        !o.status.success() && text(&o).contains("exists already"),
        "{}",
        text(&o)
    );

    // Restored where the database was: the PostgreSQL schema is dropped, the SQLite file goes
    // to a new path.
    let target = match &c.pg {
        Some((admin, schema)) => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(admin)
                .await
                .unwrap();
            c.url.clone()
        }
        None => format!("sqlite://{}", temp("restored.db").display()),
    };
    let o = restore(&file, &target);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("bench: ") && out.contains("held to"), "{out}");
    assert!(out.contains("recorded after this backup and are not in it"), "{out}");
    let restored = Db::connect(&target).await.unwrap();
    let ids = customer_ids(&restored).await;
    restored.close().await;
    for id in &acknowledged {
        assert!(
            ids.binary_search(id).is_ok(),
            "customer {id}, acknowledged before the backup, is missing"
        );
    }
    assert!(
        ids.len() < after_burst.len(),
        "{} restored of {}",
        ids.len(),
        after_burst.len()
    );
    let o = kehu(&["verify-history", "--database-url", &target, "--checkpoint-dir", &dir]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("bench: ok") && text(&o).contains("integrity check"),
        "{}",
        text(&o)
    );

    // A database in place is not overwritten.
    let o = restore(&file, &target);
    assert!(
        !o.status.success() && text(&o).contains("holds a Kehu database already"),
        "{}",
        text(&o)
    );

    if let Some((admin, schema)) = &c.pg {
        // Into an empty schema that exists (as `public` does in an empty database).
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {schema} CASCADE; CREATE SCHEMA {schema}"
        )))
        .execute(admin)
        .await
        .unwrap();
        let o = restore(&file, &target);
        assert!(o.status.success(), "{}", text(&o));
        let o = kehu(&["verify-history", "--database-url", &target, "--checkpoint-dir", &dir]);
        assert!(o.status.success(), "{}", text(&o));
    }
    if c.pg.is_none() {
        // A log left behind where the database was moved away would be read into the restored
        // file: refused.
        let path = temp("with-stale-log.db");
        std::fs::write(format!("{}-wal", path.display()), b"left over").unwrap();
        let o = restore(&file, &format!("sqlite://{}", path.display()));
        assert!(
            !o.status.success() && text(&o).contains("holds a Kehu database already"),
            "{}",
            text(&o)
        );
        super::remove_db(&path);
        // A damaged backup restores nothing.
        let mut bytes = std::fs::read(&file).unwrap();
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid..mid + 8192] {
            *b ^= 0x5a;
        }
        let damaged = temp("damaged.kehu");
        std::fs::write(&damaged, bytes).unwrap();
        let path = temp("from-damaged.db");
        let url = format!("sqlite://{}", path.display());
        let o = restore(&damaged, &url);
        assert!(!o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("nothing was restored"), "{}", text(&o));
        assert!(!path.exists(), "a damaged backup left {}", path.display());
        let staged = format!("{}.restoring", path.display());
        assert!(
            !std::path::Path::new(&staged).exists(),
            "a damaged backup left {staged}"
        );
        std::fs::remove_file(damaged).ok();
        super::remove_db(std::path::Path::new(target.trim_start_matches("sqlite://")));
    }
    std::fs::remove_file(&file).ok();
    for entry in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(&format!(
            "{}.before-restore-",
            c.dir.file_name().unwrap().to_string_lossy()
        )) {
            std::fs::remove_dir_all(entry.path()).ok();
        }
    }
    c.remove().await;
}

#[tokio::test]
async fn a_backup_during_writes_restores_what_was_acknowledged_on_sqlite() {
    backup_and_restore(Case::sqlite("bk").await).await;
}

#[tokio::test]
async fn a_backup_during_writes_restores_what_was_acknowledged_on_postgres() {
    if let Some(c) = Case::postgres("bk").await {
        backup_and_restore(c).await;
    }
}
