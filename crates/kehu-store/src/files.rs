//! Files attached to a case: the rows (`case_files`, both backends) and the bytes, kept once per
//! content on the local disk under their SHA-256 ([`Blobs`]). A row is never updated or
//! deleted; a blob is written before the row that names it commits, so a crash leaves at most
//! an unnamed blob, never a row without its bytes.

use std::io::Write;
use std::path::{Path, PathBuf};

use kehu_domain::Timestamp;
use sha2::{Digest, Sha256};

use crate::db::{Db, Tx};
use crate::{Result, StoreError, args, ms};

/// The folder of file contents: `ab/abcdef...` by SHA-256 in hex.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Other(format!("file store: {e}"))
}

impl Blobs {
    /// The folder beside a SQLite file (`PATH.files`), or under `~/.local/state/kehu/files` for
    /// PostgreSQL, when none is named.
    pub fn default_dir(database_url: &str) -> PathBuf {
        crate::anchor::state_dir(database_url, "files")
    }

    /// Opens (and makes) the folder.
    pub fn open(dir: &Path) -> Result<Blobs> {
        std::fs::create_dir_all(dir).map_err(io)?;
        Ok(Blobs { dir: dir.to_path_buf() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, sha: &str) -> Option<PathBuf> {
        (sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then(|| self.dir.join(&sha[..2]).join(sha))
    }

    /// Keeps `bytes` and answers their SHA-256; content kept before is not written again. The
    /// bytes reach the disk (synced, then renamed into place) before this returns.
    pub fn put(&self, bytes: &[u8]) -> Result<String> {
        let sha = sha256(bytes);
        let path = self.path(&sha).expect("a SHA-256 in hex");
        if path.exists() {
            return Ok(sha);
        }
        let folder = path.parent().expect("a blob has a folder");
        std::fs::create_dir_all(folder).map_err(io)?;
        let tmp = folder.join(format!(".{sha}.{}.tmp", std::process::id()));
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).and_then(|_| f.sync_all()).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        if let Ok(d) = std::fs::File::open(folder) {
            d.sync_all().ok();
        }
        Ok(sha)
    }

    /// The bytes kept under `sha`.
    pub fn get(&self, sha: &str) -> Result<Vec<u8>> {
        let path = self.path(sha).ok_or(StoreError::NotFound)?;
        match std::fs::read(path) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::Other(format!(
                "file store: the content {sha} is missing from {}",
                self.dir.display()
            ))),
            Err(e) => Err(io(e)),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FileRow {
    pub id: i64,
    pub tenant_id: i64,
    pub case_id: i64,
    pub name: String,
    /// What its content is (`kehu_domain::files::FileKind`'s id: `pdf`, `png`, ...).
    pub kind: String,
    pub size: i64,
    pub sha256: String,
    pub staff_id: Option<i64>,
    pub staff_name: Option<String>,
    pub at: i64,
}

const COLUMNS: &str = "f.id, f.tenant_id, f.case_id, f.name, f.kind, f.size, f.sha256, f.staff_id, \
                       s.display_name AS staff_name, f.at";

/// What an attachment records.
pub struct NewFile<'a> {
    pub case_id: i64,
    pub name: &'a str,
    pub kind: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub staff_id: Option<i64>,
    pub at: Timestamp,
}

pub async fn insert(tx: &mut Tx, tenant_id: i64, f: NewFile<'_>) -> Result<i64> {
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO case_files (tenant_id, case_id, name, kind, size, sha256, staff_id, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            args![
                tenant_id,
                f.case_id,
                f.name,
                f.kind,
                f.size,
                f.sha256,
                f.staff_id,
                ms(f.at)
            ],
        )
        .await?;
    Ok(id)
}

/// A case's files, oldest first (at most 500).
pub async fn of_case(db: &Db, tenant_id: i64, case_id: i64) -> Result<Vec<FileRow>> {
    db.fetch_all(
        &format!(
            "SELECT {COLUMNS} FROM case_files f LEFT JOIN staff s ON s.tenant_id = f.tenant_id AND s.id = f.staff_id \
             WHERE f.tenant_id = $1 AND f.case_id = $2 ORDER BY f.id LIMIT 500"
        ),
        args![tenant_id, case_id],
    )
    .await
}

/// One file of a case.
pub async fn get(db: &Db, tenant_id: i64, case_id: i64, id: i64) -> Result<FileRow> {
    db.fetch_one(
        &format!(
            "SELECT {COLUMNS} FROM case_files f LEFT JOIN staff s ON s.tenant_id = f.tenant_id AND s.id = f.staff_id \
             WHERE f.tenant_id = $1 AND f.case_id = $2 AND f.id = $3"
        ),
        args![tenant_id, case_id, id],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_kept_once_under_its_hash() {
        let dir = std::env::temp_dir().join(format!("kehu-blobs-{}", std::process::id()));
        let b = Blobs::open(&dir).unwrap();
        let a = b.put(b"%PDF-1.7 one").unwrap();
        assert_eq!(b.put(b"%PDF-1.7 one").unwrap(), a);
        assert_eq!(b.get(&a).unwrap(), b"%PDF-1.7 one");
        let files: Vec<_> = walk(&dir);
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(matches!(b.get("../../etc/passwd"), Err(StoreError::NotFound)));
        std::fs::remove_dir_all(&dir).ok();
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
        out
    }
}
