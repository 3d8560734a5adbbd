//! Backups that restore, and the database's own integrity check.
//!
//! SQLite: `VACUUM INTO` on a reading connection copies one consistent snapshot (the read
//! transaction's) while writes go on in the write-ahead log; it takes time in proportion to the
//! database's size and never blocks writers. The copy is written beside its destination, flushed
//! to disk, and renamed into place, so a backup file is either whole or absent.
//!
//! PostgreSQL: `pg_dump --format=custom` of Kehu's schema (one snapshot, writes go on), restored
//! with `pg_restore --single-transaction` (all or nothing).

use std::path::{Path, PathBuf};

use crate::db::{Backend, Db};
use crate::{Result, StoreError, args};

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Other(format!("{what} {}: {e}", path.display()))
}

/// `FILE.partial`: where a file is written before it is renamed into place.
fn partial(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".partial");
    PathBuf::from(s)
}

/// Flushes a file and its folder to disk, so the file and its name survive a power cut.
fn sync(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("flushing", path, e))?;
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(|e| io("flushing", dir, e))?;
    }
    Ok(())
}

/// The schema Kehu's tables live in (PostgreSQL), from the connection's search path.
async fn pg_schema(db: &Db) -> Result<Option<String>> {
    let (s,): (Option<String>,) = db.fetch_one("SELECT current_schema()::text", args![]).await?;
    Ok(s)
}

/// Copies the database to `to` (which must not exist) while it stays in use. Returns the
/// backup's size in bytes.
pub async fn backup(db: &Db, database_url: &str, to: &Path) -> Result<u64> {
    if to.exists() {
        return Err(StoreError::Other(format!(
            "{} exists already: back up to a new file",
            to.display()
        )));
    }
    let tmp = partial(to);
    let _ = std::fs::remove_file(&tmp);
    match db.backend() {
        Backend::Sqlite => {
            let target = tmp
                .to_str()
                .ok_or_else(|| StoreError::Other(format!("{} is not a UTF-8 path", tmp.display())))?;
            let _: Vec<(i64,)> = db.fetch_all("VACUUM INTO $1", args![target]).await?;
        }
        Backend::Postgres => {
            let schema = pg_schema(db).await?.unwrap_or_else(|| "public".to_string());
            let url = database_url.to_string();
            let file = tmp.clone();
            run_tool(move || {
                std::process::Command::new("pg_dump")
                    .arg("--format=custom")
                    .arg(format!("--schema={schema}"))
                    .arg("--file")
                    .arg(&file)
                    .arg(format!("--dbname={url}"))
                    .output()
            })
            .await?;
        }
    }
    sync(&tmp)?;
    std::fs::rename(&tmp, to).map_err(|e| io("renaming the backup to", to, e))?;
    sync(to)?;
    std::fs::metadata(to).map(|m| m.len()).map_err(|e| io("reading", to, e))
}

/// Runs an external tool (pg_dump, pg_restore) off the async threads; its error output is the
/// error when it fails.
async fn run_tool(f: impl FnOnce() -> std::io::Result<std::process::Output> + Send + 'static) -> Result<()> {
    let out = tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Other(e.to_string()))?
        .map_err(|e| {
            StoreError::Other(format!(
                "cannot run the PostgreSQL tool ({e}); install the PostgreSQL client (pg_dump, pg_restore)"
            ))
        })?;
    if !out.status.success() {
        return Err(StoreError::Other(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(())
}

/// Whether a database URL names a place that holds no Kehu database yet: a SQLite file that
/// does not exist, or a PostgreSQL schema without Kehu's tables.
pub async fn target_is_empty(database_url: &str) -> Result<bool> {
    match sqlite_path(database_url) {
        Some(p) => Ok(!Path::new(p).exists()),
        None => {
            let db = Db::connect_unmigrated(database_url).await?;
            let (t,): (Option<String>,) = db
                .fetch_one("SELECT to_regclass('schema_migrations')::text", args![])
                .await?;
            db.close().await;
            Ok(t.is_none())
        }
    }
}

/// The file of a `sqlite://PATH` URL.
pub fn sqlite_path(database_url: &str) -> Option<&str> {
    database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p))
}

/// Where a SQLite restore is assembled before it is renamed into place.
pub fn restoring_path(target: &Path) -> PathBuf {
    let mut s = target.as_os_str().to_os_string();
    s.push(".restoring");
    PathBuf::from(s)
}

/// Puts a backup's contents at `database_url`, which must hold no Kehu database. SQLite: the
/// file is copied to `PATH.restoring` (flushed); the caller checks it and renames it into place
/// with [`finish_sqlite_restore`]. PostgreSQL: `pg_restore` in one transaction.
pub async fn restore(from: &Path, database_url: &str) -> Result<()> {
    if !from.is_file() {
        return Err(StoreError::Other(format!("{} is not a file", from.display())));
    }
    match sqlite_path(database_url) {
        Some(p) => {
            let staged = restoring_path(Path::new(p));
            for s in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{s}", staged.display()));
            }
            std::fs::copy(from, &staged).map_err(|e| io("copying the backup to", &staged, e))?;
            sync(&staged)
        }
        None => {
            let url = database_url.to_string();
            let file = from.to_path_buf();
            run_tool(move || {
                std::process::Command::new("pg_restore")
                    .args(["--single-transaction", "--exit-on-error", "--no-owner"])
                    .arg(format!("--dbname={url}"))
                    .arg(&file)
                    .output()
            })
            .await
        }
    }
}

/// Renames a checked SQLite restore into place (its connections closed).
pub fn finish_sqlite_restore(target: &Path) -> Result<()> {
    let staged = restoring_path(target);
    for s in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{s}", staged.display()));
    }
    std::fs::rename(&staged, target).map_err(|e| io("renaming the restore to", target, e))?;
    sync(target)
}

/// What the database's own integrity check said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    Ok,
    /// The problems it names.
    Damaged(Vec<String>),
    /// No check could be run (why).
    NotChecked(String),
}

/// The database's own integrity check. SQLite: `PRAGMA quick_check` (every page, b-tree and
/// row; at 1,000,000 customers about 3 s), or with `thorough` `PRAGMA integrity_check`, which
/// also matches every index entry to its row (about 8 s). PostgreSQL: `amcheck`'s B-tree check
/// of Kehu's indexes when the extension is installed (data pages are the server's to check, with
/// data checksums).
pub async fn integrity(db: &Db, thorough: bool) -> Result<Integrity> {
    match db.backend() {
        Backend::Sqlite => {
            let pragma = if thorough {
                "PRAGMA integrity_check"
            } else {
                "PRAGMA quick_check"
            };
            let rows: Vec<(String,)> = db.fetch_all(pragma, args![]).await?;
            Ok(if rows.len() == 1 && rows[0].0 == "ok" {
                Integrity::Ok
            } else {
                Integrity::Damaged(rows.into_iter().map(|r| r.0).collect())
            })
        }
        Backend::Postgres => {
            let (amcheck,): (i64,) = db
                .fetch_one("SELECT COUNT(*) FROM pg_extension WHERE extname = 'amcheck'", args![])
                .await?;
            if amcheck == 0 {
                return Ok(Integrity::NotChecked(
                    "PostgreSQL: the amcheck extension is not installed (CREATE EXTENSION amcheck) to check indexes"
                        .into(),
                ));
            }
            let checked: std::result::Result<(i64,), StoreError> = db
                .fetch_one(
                    "SELECT COUNT(*) FROM (SELECT bt_index_check(c.oid) FROM pg_index i \
                     JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                     JOIN pg_am a ON a.oid = c.relam WHERE n.nspname = current_schema() AND a.amname = 'btree') s",
                    args![],
                )
                .await;
            Ok(match checked {
                Ok(_) => Integrity::Ok,
                Err(e) => Integrity::Damaged(vec![e.to_string()]),
            })
        }
    }
}
