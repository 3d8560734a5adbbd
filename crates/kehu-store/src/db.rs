//! One handle over the two backends. SQLite: a single writer connection plus a read pool (WAL).
//! PostgreSQL: one pool. Queries are written once with `$1` placeholders, which both accept,
//! and decode into row structs that derive `sqlx::FromRow` for both.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Arguments, AssertSqlSafe, PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::StoreError;

/// Which database a handle talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A bound query parameter. Nulls are typed so PostgreSQL can infer the column type.
#[derive(Debug, Clone)]
pub enum Arg {
    I64(i64),
    OptI64(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Bool(bool),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::I64(v)
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::OptI64(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(v.to_string())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(v)
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(v.clone())
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::OptText(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        Arg::OptText(v.map(str::to_string))
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Arg {
        Arg::Bool(v)
    }
}

/// Builds a `Vec<Arg>` from values of mixed types.
#[macro_export]
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$($crate::db::Arg::from($v)),*] };
}

/// A row type that decodes on both backends (derive `sqlx::FromRow`).
pub trait Rows: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin {}
impl<T> Rows for T where T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin {}

/// Binds the arguments into a backend's argument list (the same for both backends).
macro_rules! bind_all {
    ($ty:ty, $args:expr) => {{
        let mut a = <$ty>::default();
        for v in $args {
            match v {
                Arg::I64(v) => a.add(v),
                Arg::OptI64(v) => a.add(v),
                Arg::Text(v) => a.add(v),
                Arg::OptText(v) => a.add(v),
                Arg::Bool(v) => a.add(v),
            }
            .map_err(|e| StoreError::Other(e.to_string()))?;
        }
        Ok(a)
    }};
}

fn sqlite_args(args: Vec<Arg>) -> Result<SqliteArguments, StoreError> {
    bind_all!(SqliteArguments, args)
}

fn pg_args(args: Vec<Arg>) -> Result<PgArguments, StoreError> {
    bind_all!(PgArguments, args)
}

/// The database handle shared by the whole process.
#[derive(Clone, Debug)]
pub struct Db {
    kind: DbKind,
    heads: HeadCache,
    /// SQLite only: the group-commit queue of customer registrations, started on first use.
    creates: std::sync::Arc<std::sync::OnceLock<CreateQueue>>,
    /// This process created the database (its first migration ran here).
    new: bool,
    /// SQLite: the file did not exist before this handle opened it.
    created_file: bool,
}

type CreateQueue = tokio::sync::mpsc::UnboundedSender<crate::customers::CreateJob>;

#[derive(Clone, Debug)]
enum DbKind {
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
        inline: std::sync::Arc<Inline>,
    },
    Postgres(PgPool),
}

/// SQLite: read-only connections that [`Db::lookup_all`] uses on the calling thread. sqlx runs
/// each SQLite statement on the connection's own worker thread and hands every row back; for a
/// lookup by key (microseconds of SQL) those two thread switches are most of the cost of the
/// request (measured on GET /customers/{id}: see BENCHMARKS.md).
#[derive(Debug)]
struct Inline {
    path: String,
    idle: std::sync::Mutex<Vec<rusqlite::Connection>>,
}

/// Idle inline connections kept for reuse; more are opened when more threads read at once.
const INLINE_IDLE: usize = 16;

impl Inline {
    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let c = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        c.busy_timeout(Duration::from_secs(30))?;
        c.pragma_update(None, "cache_size", -8192)?;
        c.set_prepared_statement_cache_capacity(64);
        Ok(c)
    }

    /// Runs `f` on an idle connection (or a new one), then puts the connection back.
    fn with<R>(&self, f: impl FnOnce(&rusqlite::Connection) -> Result<R, StoreError>) -> Result<R, StoreError> {
        let idle = self
            .idle
            .lock()
            .map_err(|_| StoreError::Other("inline readers poisoned".into()))?
            .pop();
        let conn = match idle {
            Some(c) => c,
            None => self.open().map_err(sqlite_error)?,
        };
        let out = f(&conn);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < INLINE_IDLE
        {
            idle.push(conn);
        }
        out
    }

    /// The rows of `sql`, each decoded from its columns by name (as serde sees a map).
    fn rows<T: serde::de::DeserializeOwned>(&self, sql: &str, args: &[Arg]) -> Result<Vec<T>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(sql).map_err(sqlite_error)?;
            // `$N` names the Nth argument wherever it stands (SQLite numbers parameters in the
            // order they first appear), as sqlx binds them.
            for i in 1..=st.parameter_count() {
                let n = st
                    .parameter_name(i)
                    .and_then(|name| name.get(1..))
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(i);
                let arg = args
                    .get(n - 1)
                    .ok_or_else(|| StoreError::Other(format!("no argument ${n} for the query")))?;
                match arg {
                    Arg::I64(v) => st.raw_bind_parameter(i, v),
                    Arg::OptI64(v) => st.raw_bind_parameter(i, v),
                    Arg::Text(v) => st.raw_bind_parameter(i, v),
                    Arg::OptText(v) => st.raw_bind_parameter(i, v),
                    Arg::Bool(v) => st.raw_bind_parameter(i, v),
                }
                .map_err(sqlite_error)?;
            }
            let names: Vec<String> = st.column_names().into_iter().map(str::to_string).collect();
            let mut rows = st.raw_query();
            let mut out = Vec::new();
            while let Some(r) = rows.next().map_err(sqlite_error)? {
                let mut m = serde_json::Map::with_capacity(names.len());
                for (i, name) in names.iter().enumerate() {
                    use rusqlite::types::ValueRef;
                    let v = match r.get_ref(i).map_err(sqlite_error)? {
                        ValueRef::Null => serde_json::Value::Null,
                        ValueRef::Integer(n) => n.into(),
                        ValueRef::Real(f) => f.into(),
                        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
                        ValueRef::Blob(_) => return Err(StoreError::Other(format!("column {name} is a blob"))),
                    };
                    m.insert(name.clone(), v);
                }
                out.push(
                    serde_json::from_value(serde_json::Value::Object(m))
                        .map_err(|e| StoreError::Other(format!("decoding a row: {e}")))?,
                );
            }
            Ok(out)
        })
    }
}

fn sqlite_error(e: rusqlite::Error) -> StoreError {
    StoreError::Other(e.to_string())
}

/// Reads a boolean column: PostgreSQL's boolean, or SQLite's 0 and 1 (for rows that
/// [`Db::lookup_all`] decodes with serde). Use as `#[serde(deserialize_with = "kehu_store::db::flag")]`.
pub fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct Flag;
    impl serde::de::Visitor<'_> for Flag {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a boolean, or 0 or 1")
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<bool, E> {
            Ok(v != 0)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<bool, E> {
            Ok(v != 0)
        }
    }
    d.deserialize_any(Flag)
}

/// The last known end of each tenant's history chain (sequence number, hash). Only a hint:
/// the history's conditional update checks it against the stored head, so a stale entry (another
/// process wrote, or a transaction rolled back) costs one extra read, never a wrong chain.
pub type HeadCache = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<i64, (i64, String)>>>;

impl Db {
    /// Opens `sqlite://PATH` (created if missing) or `postgres://...`, and runs migrations.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        let db = Db::connect_unmigrated(url).await?;
        if db.backend() == Backend::Postgres {
            // PostgreSQL acknowledges a commit once its log is flushed, unless the server (or
            // this role or database) is told otherwise: say so, since Kehu then promises less.
            let (commit, fsync): (String, String) = db
                .fetch_one(
                    "SELECT current_setting('synchronous_commit'), current_setting('fsync')",
                    crate::args![],
                )
                .await?;
            if commit == "off" || fsync == "off" {
                tracing::warn!(
                    synchronous_commit = %commit,
                    fsync = %fsync,
                    "PostgreSQL may acknowledge commits it would lose in a power cut; set synchronous_commit and fsync to on"
                );
            }
        }
        let ran = crate::migrate::run(&db).await?;
        Ok(Db {
            new: ran.first() == Some(&1),
            ..db
        })
    }

    /// Opens `sqlite://PATH` (created if missing) or `postgres://...` as it is, without running
    /// migrations.
    pub async fn connect_unmigrated(url: &str) -> Result<Db, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            Db::connect_pg(opts, 16).await
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            Db::connect_sqlite(path).await
        }
    }

    /// Opens (or creates) a SQLite file: WAL, foreign keys on, one writer and a read pool.
    pub async fn connect_sqlite(path: &str) -> Result<Db, StoreError> {
        let created_file = !std::path::Path::new(path).exists();
        let base = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: each commit's write-ahead log is flushed to disk before the commit returns,
            // so an acknowledged write survives a power cut (NORMAL flushes only at checkpoints
            // and survives a process crash alone). Group commit (customer registrations share
            // one transaction) keeps the cost of the flush small.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            .pragma("cache_size", "-8192")
            .pragma("temp_store", "memory")
            // After a checkpoint the log is cut back to this size instead of staying at its peak.
            .pragma("journal_size_limit", "67108864");
        // The writer touches index pages all over the key and term indexes: it gets the larger cache
        // (48 MiB; the server stays under 150 MB resident at a million customers), and
        // checkpoint the WAL less often (fewer fsyncs); readers keep small caches.
        // No ping before each use (sqlx's default): a SQLite connection is a file handle in this
        // process, it cannot go stale, and the ping is one more round trip to the connection's
        // worker thread on every query.
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(
                base.clone()
                    .pragma("cache_size", "-49152")
                    .pragma("wal_autocheckpoint", "4000"),
            )
            .await?;
        // Four readers per core: a reader waits on its worker thread for each statement, and with
        // two per core GET /customers/{id} left the cores idle (measured on 2 cores: about
        // 10,500 req/s with 4 readers, 13,100 with 8, 13,200 with 16).
        let readers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8) as u32
            * 4;
        let reader = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(readers)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(base.read_only(true))
            .await?;
        let inline = std::sync::Arc::new(Inline {
            path: path.to_string(),
            idle: Default::default(),
        });
        Ok(Db {
            kind: DbKind::Sqlite { writer, reader, inline },
            heads: HeadCache::default(),
            creates: Default::default(),
            new: false,
            created_file,
        })
    }

    /// Opens a PostgreSQL pool with the given options (tests pass a per-test `search_path`).
    pub async fn connect_pg(opts: PgConnectOptions, max: u32) -> Result<Db, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(opts)
            .await?;
        Ok(Db {
            kind: DbKind::Postgres(pool),
            heads: HeadCache::default(),
            creates: Default::default(),
            new: false,
            created_file: false,
        })
    }

    /// Whether this process created the database: its first migration ran on this connect.
    pub fn is_new(&self) -> bool {
        self.new
    }

    /// SQLite: whether this process created the file (it did not exist before). Unlike
    /// [`Db::is_new`], SQL access alone cannot make this true.
    pub fn created_file(&self) -> bool {
        self.created_file
    }

    pub fn backend(&self) -> Backend {
        match &self.kind {
            DbKind::Sqlite { .. } => Backend::Sqlite,
            DbKind::Postgres(_) => Backend::Postgres,
        }
    }

    /// The queue of customer registrations for group commit; starts its writer task on first use.
    pub(crate) fn create_queue(&self) -> CreateQueue {
        self.creates
            .get_or_init(|| {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                tokio::spawn(crate::customers::run_create_queue(self.clone(), rx));
                tx
            })
            .clone()
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let kind = match &self.kind {
            DbKind::Sqlite { writer, .. } => TxKind::Sqlite(writer.begin().await?),
            DbKind::Postgres(p) => TxKind::Postgres(p.begin().await?),
        };
        Ok(Tx {
            kind,
            heads: self.heads.clone(),
        })
    }

    /// Reads all rows (from the read pool on SQLite).
    pub async fn fetch_all<T: Rows>(&self, sql: &str, args: Vec<Arg>) -> Result<Vec<T>, StoreError> {
        Ok(match &self.kind {
            DbKind::Sqlite { reader, .. } => {
                sqlx::query_as_with::<Sqlite, T, _>(AssertSqlSafe(sql), sqlite_args(args)?)
                    .fetch_all(reader)
                    .await?
            }
            DbKind::Postgres(p) => {
                sqlx::query_as_with::<Postgres, T, _>(AssertSqlSafe(sql), pg_args(args)?)
                    .fetch_all(p)
                    .await?
            }
        })
    }

    pub async fn fetch_optional<T: Rows>(&self, sql: &str, args: Vec<Arg>) -> Result<Option<T>, StoreError> {
        Ok(match &self.kind {
            DbKind::Sqlite { reader, .. } => {
                sqlx::query_as_with::<Sqlite, T, _>(AssertSqlSafe(sql), sqlite_args(args)?)
                    .fetch_optional(reader)
                    .await?
            }
            DbKind::Postgres(p) => {
                sqlx::query_as_with::<Postgres, T, _>(AssertSqlSafe(sql), pg_args(args)?)
                    .fetch_optional(p)
                    .await?
            }
        })
    }

    pub async fn fetch_one<T: Rows>(&self, sql: &str, args: Vec<Arg>) -> Result<T, StoreError> {
        self.fetch_optional(sql, args).await?.ok_or(StoreError::NotFound)
    }

    /// A lookup by key: a read that an index answers with a few rows, on every request's path
    /// (the caller's session, the customer on its page). SQLite runs it on the calling thread
    /// (it blocks that thread for the query's few microseconds, so never pass a scan here);
    /// PostgreSQL as [`Db::fetch_all`]. Rows decode with serde by column name on SQLite and
    /// with `FromRow` on PostgreSQL, so a row type derives both (booleans: [`flag`]).
    pub async fn lookup_all<T: Rows + serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        args: Vec<Arg>,
    ) -> Result<Vec<T>, StoreError> {
        match &self.kind {
            DbKind::Sqlite { inline, .. } => inline.rows(sql, &args),
            DbKind::Postgres(_) => self.fetch_all(sql, args).await,
        }
    }

    /// The first row of a [`Db::lookup_all`], if any.
    pub async fn lookup<T: Rows + serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        args: Vec<Arg>,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.lookup_all(sql, args).await?.into_iter().next())
    }

    /// Runs a statement outside a transaction (on the writer for SQLite).
    pub async fn execute(&self, sql: &str, args: Vec<Arg>) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let n = tx.execute(sql, args).await?;
        tx.commit().await?;
        Ok(n)
    }

    pub async fn close(&self) {
        match &self.kind {
            DbKind::Sqlite { writer, reader, inline } => {
                if let Ok(mut idle) = inline.idle.lock() {
                    idle.clear();
                }
                reader.close().await;
                writer.close().await;
            }
            DbKind::Postgres(p) => p.close().await,
        }
    }
}

/// A write transaction on either backend.
pub struct Tx {
    kind: TxKind,
    heads: HeadCache,
}

enum TxKind {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match &self.kind {
            TxKind::Sqlite(_) => Backend::Sqlite,
            TxKind::Postgres(_) => Backend::Postgres,
        }
    }

    /// `FOR UPDATE` on PostgreSQL; nothing on SQLite, whose single writer already serialises.
    pub fn for_update(&self) -> &'static str {
        match &self.kind {
            TxKind::Sqlite(_) => "",
            TxKind::Postgres(_) => " FOR UPDATE",
        }
    }

    /// The cached end of a tenant's history chain; see [`HeadCache`].
    pub(crate) fn cached_head(&self, tenant_id: i64) -> Option<(i64, String)> {
        self.heads.lock().ok()?.get(&tenant_id).cloned()
    }

    pub(crate) fn remember_head(&self, tenant_id: i64, seq: i64, hash: &str) {
        if let Ok(mut h) = self.heads.lock() {
            h.insert(tenant_id, (seq, hash.to_string()));
        }
    }

    pub async fn execute(&mut self, sql: &str, args: Vec<Arg>) -> Result<u64, StoreError> {
        Ok(match &mut self.kind {
            TxKind::Sqlite(tx) => sqlx::query_with(AssertSqlSafe(sql), sqlite_args(args)?)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            TxKind::Postgres(tx) => sqlx::query_with(AssertSqlSafe(sql), pg_args(args)?)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    pub async fn fetch_all<T: Rows>(&mut self, sql: &str, args: Vec<Arg>) -> Result<Vec<T>, StoreError> {
        Ok(match &mut self.kind {
            TxKind::Sqlite(tx) => {
                sqlx::query_as_with::<Sqlite, T, _>(AssertSqlSafe(sql), sqlite_args(args)?)
                    .fetch_all(&mut **tx)
                    .await?
            }
            TxKind::Postgres(tx) => {
                sqlx::query_as_with::<Postgres, T, _>(AssertSqlSafe(sql), pg_args(args)?)
                    .fetch_all(&mut **tx)
                    .await?
            }
        })
    }

    pub async fn fetch_optional<T: Rows>(&mut self, sql: &str, args: Vec<Arg>) -> Result<Option<T>, StoreError> {
        Ok(match &mut self.kind {
            TxKind::Sqlite(tx) => {
                sqlx::query_as_with::<Sqlite, T, _>(AssertSqlSafe(sql), sqlite_args(args)?)
                    .fetch_optional(&mut **tx)
                    .await?
            }
            TxKind::Postgres(tx) => {
                sqlx::query_as_with::<Postgres, T, _>(AssertSqlSafe(sql), pg_args(args)?)
                    .fetch_optional(&mut **tx)
                    .await?
            }
        })
    }

    pub async fn fetch_one<T: Rows>(&mut self, sql: &str, args: Vec<Arg>) -> Result<T, StoreError> {
        self.fetch_optional(sql, args).await?.ok_or(StoreError::NotFound)
    }

    /// Runs a script of several statements (migrations).
    pub async fn execute_script(&mut self, sql: &str) -> Result<(), StoreError> {
        match &mut self.kind {
            TxKind::Sqlite(tx) => {
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut **tx).await?;
            }
            TxKind::Postgres(tx) => {
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut **tx).await?;
            }
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self.kind {
            TxKind::Sqlite(tx) => tx.commit().await?,
            TxKind::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.kind {
            TxKind::Sqlite(tx) => tx.rollback().await?,
            TxKind::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// `$first, $first+1, ...` placeholders for an `IN (...)` list or a multi-row `VALUES`.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
