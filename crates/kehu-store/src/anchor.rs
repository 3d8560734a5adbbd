//! Signed checkpoints of every tenant's history head, kept outside the database.
//!
//! The chain in the database proves that no event was edited, dropped or reordered, as long as
//! nobody rewrites the chain and its head together. Someone with SQL access can do that: cut the
//! last events and set the head back, or re-hash every event after an edit. A checkpoint is the
//! head signed with a key that lives in a file, not in the database; `verify-history` holds the
//! chain to every checkpoint, so such a rewrite is found up to the newest checkpoint.
//!
//! The folder holds one file per tenant, `tenant-<id>.jsonl`, one signed checkpoint a line,
//! appended and flushed to disk. The key is the file `<folder>.key` beside the folder (32 secret
//! bytes in hex, readable by its owner only), made on first start. Copy the folder somewhere the
//! database's administrators cannot write (another machine, object storage with retention) to
//! keep the anchor out of their reach as well.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kehu_domain::history::{Checkpoint, CheckpointKey, hex, unhex};

use crate::db::Db;
use crate::{Result, StoreError, args};

/// The checkpoint folder and its signing key.
pub struct Anchor {
    dir: PathBuf,
    key: CheckpointKey,
    /// The head last written for each tenant: an unchanged head is not written again.
    written: Mutex<HashMap<i64, (i64, String)>>,
}

/// The folder a database's checkpoints go to when none is named: beside a SQLite file
/// (`PATH.checkpoints`), and for PostgreSQL a folder under `~/.local/state/kehu/checkpoints`
/// named after the server, database and options (never the password).
pub fn default_dir(database_url: &str) -> PathBuf {
    state_dir(database_url, "checkpoints")
}

/// A folder of Kehu's own beside the database: `PATH.<what>` beside a SQLite file, else
/// `~/.local/state/kehu/<what>/<host and database>` (`$XDG_STATE_HOME` when set).
pub fn state_dir(database_url: &str, what: &str) -> PathBuf {
    if let Some(path) = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or(path);
        return PathBuf::from(format!("{path}.{what}"));
    }
    let rest = database_url.split_once("://").map_or(database_url, |(_, r)| r);
    let rest = match rest.rsplit_once('@') {
        Some((_, host)) => host,
        None => rest,
    };
    // Options name the database (a schema in `options`, say); a password in them is left out.
    let rest = match rest.split_once('?') {
        Some((base, query)) => {
            let kept: Vec<&str> = query.split('&').filter(|p| !p.contains("password")).collect();
            format!("{base}?{}", kept.join("&"))
        }
        None => rest.to_string(),
    };
    let name: String = rest
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("kehu").join(what).join(name)
}

/// The key file of a checkpoint folder: `<folder>.key`, beside it, so that removing the folder
/// does not remove the key.
pub fn key_path(dir: &Path) -> PathBuf {
    let mut s = dir.as_os_str().to_os_string();
    s.push(".key");
    PathBuf::from(s)
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Other(format!("{what} {}: {e}", path.display()))
}

/// Reads the public key of a folder's key file.
pub fn public_key(dir: &Path) -> Result<Option<String>> {
    let path = key_path(dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(parse_key(&path, &text)?.public_hex())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("reading the checkpoint key", &path, e)),
    }
}

fn parse_key(path: &Path, text: &str) -> Result<CheckpointKey> {
    let secret: [u8; 32] = unhex(text.trim()).and_then(|b| b.try_into().ok()).ok_or_else(|| {
        StoreError::Other(format!(
            "{} is not a checkpoint key (64 hexadecimal digits)",
            path.display()
        ))
    })?;
    Ok(CheckpointKey::from_secret(secret))
}

impl Anchor {
    /// Opens the folder and its key, making both on first use, for the database `db`.
    ///
    /// Refused, with what to do, when the folder no longer matches what the key says happened:
    /// the key exists but the folder is gone (checkpoints were written and then removed), or the
    /// database is new but the folder holds checkpoints of an earlier one (SQL access can make
    /// a database look new by dropping its tables). Only a SQLite file this process created,
    /// which SQL access alone cannot cause, moves an old folder aside (`<folder>.old-<time>`)
    /// and begins a new one.
    pub fn open(dir: &Path, db: &Db) -> Result<Anchor> {
        let key_file = key_path(dir);
        let had_key = key_file.exists();
        let has_checkpoints = std::fs::read_dir(dir).is_ok_and(|mut e| e.next().is_some());
        if db.created_file() && dir.exists() {
            let aside = aside_path(dir, "old");
            std::fs::rename(dir, &aside).map_err(|e| io("moving aside", dir, e))?;
            tracing::warn!(
                old = %aside.display(),
                "the database file is new: checkpoints of an earlier database in this folder were moved aside"
            );
        } else if db.is_new() && has_checkpoints {
            return Err(StoreError::Other(format!(
                "the database is new, but {} holds checkpoints of an earlier one. If that database is gone for good, \
                 move the folder aside; if this should be that database, restore it from a backup (kehu restore)",
                dir.display()
            )));
        } else if had_key && !dir.exists() && !db.created_file() {
            return Err(StoreError::Other(format!(
                "the checkpoint folder {} is missing, but its key {} exists: checkpoints were written and then removed. \
                 Restore the folder from a copy; if its checkpoints are gone for good, move the key aside to begin \
                 new ones (kehu verify-history reports the history NOT ANCHORED until then)",
                dir.display(),
                key_file.display()
            )));
        }
        let key = match std::fs::read_to_string(&key_file) {
            Ok(text) => parse_key(&key_file, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = key_file.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| io("creating", parent, e))?;
                }
                let secret: [u8; 32] = rand::random();
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut f = opts
                    .open(&key_file)
                    .map_err(|e| io("creating the checkpoint key", &key_file, e))?;
                f.write_all(format!("{}\n", hex(&secret)).as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(|e| io("writing the checkpoint key", &key_file, e))?;
                sync_dir(&key_file)?;
                tracing::info!(key = %key_file.display(), "checkpoint signing key created");
                CheckpointKey::from_secret(secret)
            }
            Err(e) => return Err(io("reading the checkpoint key", &key_file, e)),
        };
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| io("creating the checkpoint folder", dir, e))?;
            sync_dir(dir)?;
        }
        let anchor = Anchor {
            dir: dir.to_path_buf(),
            key,
            written: Mutex::new(HashMap::new()),
        };
        // What was signed last, per tenant, so the next checkpoint can be checked to extend it.
        // Only each file's last line is read: the files grow by a line a minute for as long as
        // the history moves, and a start should not check them all.
        let last = last_signed(dir, &anchor.public_hex());
        *anchor.written.lock().expect("checkpoint lock") = last;
        Ok(anchor)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The public key (hex) that verifies this anchor's checkpoints.
    pub fn public_hex(&self) -> String {
        self.key.public_hex()
    }

    /// Signs and appends a checkpoint for every tenant whose head moved since this process last
    /// wrote one. Returns how many were written. Each file is flushed to disk before returning.
    pub async fn write(&self, db: &Db) -> Result<usize> {
        let heads = crate::history::heads(db).await?;
        let now = jiff::Timestamp::now().as_millisecond();
        let mut n = 0;
        for h in heads {
            if h.last_seq == 0 {
                continue;
            }
            let head = (h.last_seq, h.last_hash.clone());
            let last = self.written.lock().expect("checkpoint lock").get(&h.tenant_id).cloned();
            if last.as_ref() == Some(&head) {
                continue;
            }
            // Sign only a chain that extends the last checkpoint: a head behind it, or an event
            // at its place with another hash, means the history was rewritten since.
            if let Some((seq, hash)) = &last {
                let at: Option<(String,)> = db
                    .fetch_optional(
                        "SELECT hash FROM events WHERE tenant_id = $1 AND seq = $2",
                        args![h.tenant_id, *seq],
                    )
                    .await?;
                if h.last_seq < *seq || at.as_ref().map(|a| &a.0) != Some(hash) {
                    return Err(StoreError::Other(format!(
                        "the history of tenant {} no longer extends its last checkpoint (event {seq}): not signed; \
                         run kehu verify-history",
                        h.slug
                    )));
                }
            }
            let cp = self.key.sign(&h.slug, h.tenant_id, h.last_seq, &h.last_hash, now);
            let line = serde_json::to_string(&cp).map_err(|e| StoreError::Other(e.to_string()))?;
            let path = self.dir.join(format!("tenant-{}.jsonl", h.tenant_id));
            let created = !path.exists();
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .read(true)
                .open(&path)
                .map_err(|e| io("opening", &path, e))?;
            // A line cut short by a crash is closed first, so this one stands on its own.
            let torn = ends_unterminated(&mut f).map_err(|e| io("reading", &path, e))?;
            let text = if torn {
                format!("\n{line}\n")
            } else {
                format!("{line}\n")
            };
            f.write_all(text.as_bytes())
                .and_then(|_| f.sync_data())
                .map_err(|e| io("writing", &path, e))?;
            if created {
                sync_dir(&path)?;
            }
            self.written.lock().expect("checkpoint lock").insert(h.tenant_id, head);
            n += 1;
        }
        Ok(n)
    }
}

/// Whether a file's last byte is not a newline (a line cut short).
fn ends_unterminated(f: &mut std::fs::File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    f.seek(SeekFrom::Start(len - 1))?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b)?;
    Ok(b[0] != b'\n')
}

/// Flushes the folder that holds `path`, so a new file's name survives a power cut.
pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(|e| io("flushing", dir, e))?;
    }
    Ok(())
}

/// The last complete line of each tenant file, when it is a checkpoint signed by `public_hex`:
/// tenant id to (sequence number, hash).
fn last_signed(dir: &Path, public_hex: &str) -> HashMap<i64, (i64, String)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(tenant) = tenant_of(&entry.path()) else {
            continue;
        };
        let tail = std::fs::File::open(entry.path()).and_then(|mut f| {
            let len = f.metadata()?.len();
            f.seek(SeekFrom::Start(len.saturating_sub(8192)))?;
            let mut text = String::new();
            f.read_to_string(&mut text)?;
            Ok(text)
        });
        let Ok(tail) = tail else { continue };
        let complete = tail.rfind('\n').map_or("", |i| &tail[..i]);
        let line = complete.rsplit('\n').next().unwrap_or_default();
        if let Ok(cp) = serde_json::from_str::<Checkpoint>(line)
            && cp.tenant_id == tenant
            && cp.check(public_hex).is_ok()
        {
            out.insert(tenant, (cp.seq, cp.hash));
        }
    }
    out
}

/// The tenant a checkpoint file belongs to, from its name `tenant-<id>.jsonl`.
fn tenant_of(path: &Path) -> Option<i64> {
    path.file_name()?
        .to_str()?
        .strip_prefix("tenant-")?
        .strip_suffix(".jsonl")?
        .parse()
        .ok()
}

/// What a checkpoint folder holds, checked against the trusted public key.
#[derive(Debug, Default)]
pub struct Checkpoints {
    /// The folder does not exist.
    pub missing: bool,
    /// Good checkpoints by tenant: sequence number to hash.
    pub by_tenant: HashMap<i64, BTreeMap<i64, String>>,
    /// Lines that cannot be trusted, by tenant, as `file:line: why`.
    pub bad: HashMap<i64, Vec<String>>,
    /// Files that do not belong in the folder or cannot be read.
    pub stray: Vec<String>,
}

impl Checkpoints {
    /// The newest good checkpoint of a tenant: (sequence number, count of good checkpoints).
    pub fn newest(&self, tenant_id: i64) -> Option<(i64, usize)> {
        let m = self.by_tenant.get(&tenant_id)?;
        Some((*m.last_key_value()?.0, m.len()))
    }
}

/// Reads every checkpoint in the folder and checks each one's signature with `public_hex`.
/// Two good checkpoints that name one event with different hashes are both reported bad (only
/// the signing key could make that, so the key itself leaked).
pub fn read(dir: &Path, public_hex: &str) -> Checkpoints {
    read_only(dir, public_hex, None)
}

/// [`read`], of one tenant's file alone when `tenant` is given.
pub fn read_only(dir: &Path, public_hex: &str, tenant: Option<i64>) -> Checkpoints {
    let mut out = Checkpoints::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            out.missing = true;
            return out;
        }
        Err(e) => {
            out.stray.push(format!("{}: {e}", dir.display()));
            return out;
        }
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for path in files {
        let Some(file_tenant) = tenant_of(&path) else {
            out.stray.push(format!("{}: not a checkpoint file", path.display()));
            continue;
        };
        if tenant.is_some_and(|t| t != file_tenant) {
            continue;
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                out.stray.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        // A last line without its newline is being appended right now (or was cut short by a
        // crash): it is not read yet.
        let complete = match text.rfind('\n') {
            Some(i) => &text[..=i],
            None => "",
        };
        for (i, line) in complete.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = format!("{}:{}", path.display(), i + 1);
            let why = match serde_json::from_str::<Checkpoint>(line) {
                // A line that is no checkpoint vouches for nothing and takes nothing away (a
                // crash can leave half a line): said, not held against the history.
                Err(e) => {
                    out.stray.push(format!("{at}: not a checkpoint, skipped ({e})"));
                    continue;
                }
                Ok(cp) if cp.tenant_id != file_tenant => Some(format!(
                    "names tenant {} in the file of tenant {file_tenant}",
                    cp.tenant_id
                )),
                Ok(cp) => match cp.check(public_hex) {
                    Err(e) => Some(e.to_string()),
                    Ok(()) => {
                        let m = out.by_tenant.entry(file_tenant).or_default();
                        match m.get(&cp.seq) {
                            Some(h) if *h != cp.hash => {
                                Some(format!("another checkpoint names event {} with another hash", cp.seq))
                            }
                            _ => {
                                m.insert(cp.seq, cp.hash);
                                None
                            }
                        }
                    }
                },
            };
            if let Some(why) = why {
                out.bad.entry(file_tenant).or_default().push(format!("{at}: {why}"));
            }
        }
    }
    out
}

/// After a restore: the folder's checkpoints that name events past the restored heads (what
/// was recorded after the backup) no longer describe this database. The folder is moved aside
/// whole (`<folder>.before-restore-<time>`, kept as the record of what was lost) and a new one
/// holds the checkpoints up to each restored head. `heads`: tenant id to restored last event.
/// A name beside `dir` for moving it aside, `<dir>.<label>-<time>`, with `-2`, `-3`, ... when
/// that is taken (two in one second: a restore right after a new database).
fn aside_path(dir: &Path, label: &str) -> PathBuf {
    let base = format!(
        "{}.{label}-{}",
        dir.display(),
        jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S")
    );
    (1..)
        .map(|n| PathBuf::from(if n == 1 { base.clone() } else { format!("{base}-{n}") }))
        .find(|p| !p.exists())
        .expect("an unused name")
}

/// Returns where the old folder went, or `None` when there was none.
pub fn rewind(dir: &Path, heads: &HashMap<i64, i64>) -> Result<Option<PathBuf>> {
    if !dir.exists() {
        return Ok(None);
    }
    let aside = aside_path(dir, "before-restore");
    std::fs::rename(dir, &aside).map_err(|e| io("moving aside", dir, e))?;
    std::fs::create_dir_all(dir).map_err(|e| io("creating the checkpoint folder", dir, e))?;
    let entries = std::fs::read_dir(&aside).map_err(|e| io("reading", &aside, e))?;
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let Some(tenant) = tenant_of(&entry.path()) else {
            continue;
        };
        let Some(&head) = heads.get(&tenant) else { continue };
        let text = std::fs::read_to_string(entry.path()).map_err(|e| io("reading", &entry.path(), e))?;
        let kept: String = text
            .lines()
            .filter(|l| serde_json::from_str::<Checkpoint>(l).is_ok_and(|c| c.seq <= head))
            .map(|l| format!("{l}\n"))
            .collect();
        let path = dir.join(&name);
        std::fs::write(&path, kept)
            .and_then(|_| std::fs::File::open(&path)?.sync_all())
            .map_err(|e| io("writing", &path, e))?;
    }
    Ok(Some(aside))
}
