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
    crate::anchor::sync_dir(path)
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
                pg_tool("pg_dump", &url)
                    .arg("--format=custom")
                    .arg(format!("--schema={schema}"))
                    .arg("--file")
                    .arg(&file)
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

/// A PostgreSQL URL without its password, and the password: the tools get it in `PGPASSWORD`,
/// so it is not on their command line for every user of the machine to read.
fn split_password(url: &str) -> (String, Option<String>) {
    let (Some(s), Some(at)) = (url.find("://"), url.rfind('@')) else {
        return (url.to_string(), None);
    };
    if at < s {
        return (url.to_string(), None);
    }
    match url[s + 3..at].split_once(':') {
        Some((user, pass)) => (
            format!("{}{user}{}", &url[..s + 3], &url[at..]),
            Some(percent_decode(pass)),
        ),
        None => (url.to_string(), None),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A PostgreSQL tool for `url`: the URL without its password, the password in the environment.
fn pg_tool(program: &str, url: &str) -> std::process::Command {
    let (url, password) = split_password(url);
    let mut c = std::process::Command::new(program);
    if let Some(p) = password {
        c.env("PGPASSWORD", p);
    }
    c.arg(format!("--dbname={url}"));
    c
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
        // A log left beside a moved database would be read into the restored one.
        Some(p) => Ok(["", "-wal", "-shm", "-journal"]
            .iter()
            .all(|s| !Path::new(&format!("{p}{s}")).exists())),
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
            // The dump creates its schema; an empty database already has `public`, and an empty
            // schema may exist too. So the schema entries are left out of the restore's list and
            // the schema made here when missing.
            let file = from.to_path_buf();
            let listed = tokio::task::spawn_blocking(move || {
                std::process::Command::new("pg_restore")
                    .arg("--list")
                    .arg(&file)
                    .output()
            })
            .await
            .map_err(|e| StoreError::Other(e.to_string()))?
            .map_err(|e| StoreError::Other(format!("cannot run pg_restore ({e}); install the PostgreSQL client")))?;
            if !listed.status.success() {
                return Err(StoreError::Other(
                    String::from_utf8_lossy(&listed.stderr).trim().to_string(),
                ));
            }
            let list = String::from_utf8_lossy(&listed.stdout).to_string();
            let is_schema = |l: &str| {
                ["SCHEMA - ", "COMMENT - SCHEMA ", "ACL - SCHEMA "]
                    .iter()
                    .any(|m| l.contains(m))
            };
            let schemas: Vec<String> = list
                .lines()
                .filter_map(|l| l.split_once("SCHEMA - ").map(|(_, r)| r))
                .filter_map(|r| r.split_whitespace().next().map(str::to_string))
                .collect();
            let db = Db::connect_unmigrated(database_url).await?;
            for name in &schemas {
                let quoted = format!("\"{}\"", name.replace('"', "\"\""));
                db.execute(&format!("CREATE SCHEMA IF NOT EXISTS {quoted}"), args![])
                    .await?;
            }
            db.close().await;
            let kept: String = list
                .lines()
                .filter(|l| !is_schema(l))
                .map(|l| format!("{l}\n"))
                .collect();
            let list_file = PathBuf::from(format!("{}.list", from.display()));
            std::fs::write(&list_file, kept).map_err(|e| io("writing", &list_file, e))?;
            let url = database_url.to_string();
            let file = from.to_path_buf();
            let lf = list_file.clone();
            let done = run_tool(move || {
                pg_tool("pg_restore", &url)
                    .args(["--single-transaction", "--exit-on-error", "--no-owner"])
                    .arg("--use-list")
                    .arg(&lf)
                    .arg(&file)
                    .output()
            })
            .await;
            let _ = std::fs::remove_file(&list_file);
            done
        }
    }
}

/// Puts a checked SQLite restore in place (its connections closed, which writes its log back
/// into the file). The file is linked under its name, which fails if something took the name
/// meanwhile, and only then is the staged name removed.
pub fn finish_sqlite_restore(target: &Path) -> Result<()> {
    let staged = restoring_path(target);
    let wal = PathBuf::from(format!("{}-wal", staged.display()));
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Err(StoreError::Other(format!(
            "{} still holds changes not written back into the restored file; nothing was put in place",
            wal.display()
        )));
    }
    for s in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{s}", staged.display()));
    }
    std::fs::hard_link(&staged, target).map_err(|e| io("putting the restore in place at", target, e))?;
    std::fs::remove_file(&staged).map_err(|e| io("removing", &staged, e))?;
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
                Err(e) if e.to_string().contains("permission denied") => Integrity::NotChecked(format!(
                    "PostgreSQL: amcheck is installed but may not be run by this role ({e})"
                )),
                Err(e) => Integrity::Damaged(vec![e.to_string()]),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_password_leaves_the_url_for_the_environment() {
        assert_eq!(
            super::split_password("postgres://kehu:s%40cret@db:5432/kehu?sslmode=require"),
            (
                "postgres://kehu@db:5432/kehu?sslmode=require".to_string(),
                Some("s@cret".to_string())
            )
        );
        assert_eq!(
            super::split_password("postgres://kehu@db/kehu"),
            ("postgres://kehu@db/kehu".to_string(), None)
        );
    }
}
