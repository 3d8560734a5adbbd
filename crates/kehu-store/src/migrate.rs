//! Migrations, embedded in the binary, one folder per dialect, applied in order at start.

use crate::db::{Backend, Db};
use crate::{Result, StoreError, args};

const SQLITE: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/sqlite/0001_init.sql")),
    (
        2,
        "deadlines_ledger",
        include_str!("../migrations/sqlite/0002_deadlines_ledger.sql"),
    ),
    (
        3,
        "complaints",
        include_str!("../migrations/sqlite/0003_complaints.sql"),
    ),
    (
        4,
        "joint_events",
        include_str!("../migrations/sqlite/0004_joint_events.sql"),
    ),
    (5, "conflicts", include_str!("../migrations/sqlite/0005_conflicts.sql")),
    (6, "sales", include_str!("../migrations/sqlite/0006_sales.sql")),
    (7, "trust", include_str!("../migrations/sqlite/0007_trust.sql")),
    (8, "slips", include_str!("../migrations/sqlite/0008_slips.sql")),
    (9, "search", include_str!("../migrations/sqlite/0009_search.sql")),
    (
        10,
        "distributable",
        include_str!("../migrations/sqlite/0010_distributable.sql"),
    ),
    (11, "cases", include_str!("../migrations/sqlite/0011_cases.sql")),
    (
        12,
        "case_timers",
        include_str!("../migrations/sqlite/0012_case_timers.sql"),
    ),
    (13, "snapshots", include_str!("../migrations/sqlite/0013_snapshots.sql")),
    (
        14,
        "complaints_as_cases",
        include_str!("../migrations/sqlite/0014_complaints_as_cases.sql"),
    ),
    (
        15,
        "conflicts_as_cases",
        include_str!("../migrations/sqlite/0015_conflicts_as_cases.sql"),
    ),
    (
        16,
        "linked_cases",
        include_str!("../migrations/sqlite/0016_linked_cases.sql"),
    ),
    (
        17,
        "case_files",
        include_str!("../migrations/sqlite/0017_case_files.sql"),
    ),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/postgres/0001_init.sql")),
    (
        2,
        "deadlines_ledger",
        include_str!("../migrations/postgres/0002_deadlines_ledger.sql"),
    ),
    (
        3,
        "complaints",
        include_str!("../migrations/postgres/0003_complaints.sql"),
    ),
    (
        4,
        "joint_events",
        include_str!("../migrations/postgres/0004_joint_events.sql"),
    ),
    (
        5,
        "conflicts",
        include_str!("../migrations/postgres/0005_conflicts.sql"),
    ),
    (6, "sales", include_str!("../migrations/postgres/0006_sales.sql")),
    (7, "trust", include_str!("../migrations/postgres/0007_trust.sql")),
    (8, "slips", include_str!("../migrations/postgres/0008_slips.sql")),
    (9, "search", include_str!("../migrations/postgres/0009_search.sql")),
    (
        10,
        "distributable",
        include_str!("../migrations/postgres/0010_distributable.sql"),
    ),
    (11, "cases", include_str!("../migrations/postgres/0011_cases.sql")),
    (
        12,
        "case_timers",
        include_str!("../migrations/postgres/0012_case_timers.sql"),
    ),
    (
        13,
        "snapshots",
        include_str!("../migrations/postgres/0013_snapshots.sql"),
    ),
    (
        14,
        "complaints_as_cases",
        include_str!("../migrations/postgres/0014_complaints_as_cases.sql"),
    ),
    (
        15,
        "conflicts_as_cases",
        include_str!("../migrations/postgres/0015_conflicts_as_cases.sql"),
    ),
    (
        16,
        "linked_cases",
        include_str!("../migrations/postgres/0016_linked_cases.sql"),
    ),
    (
        17,
        "case_files",
        include_str!("../migrations/postgres/0017_case_files.sql"),
    ),
];

#[derive(sqlx::FromRow)]
struct Applied {
    version: i64,
    name: String,
    checksum: Option<String>,
}

/// The checksum a migration's text is held to once applied: SHA-256 of the text with line ends
/// made `\n`, so a checkout that turns them into `\r\n` does not count as an edit.
pub fn checksum(sql: &str) -> String {
    use sha2::{Digest, Sha256};
    kehu_domain::history::hex(&Sha256::digest(sql.replace("\r\n", "\n").as_bytes()))
}

/// The migrations this binary carries for a backend: (version, name, SQL).
pub fn list(backend: Backend) -> &'static [(i64, &'static str, &'static str)] {
    match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }
}

/// Applies every migration not yet applied. Several processes starting at once on PostgreSQL
/// serialise on an advisory lock, so each migration runs once. A migration applied earlier whose
/// text has changed since is refused, as is a database that has migrations this binary lacks:
/// nothing runs, and the error says which.
pub async fn run(db: &Db) -> Result<Vec<i64>> {
    run_list(db, list(db.backend())).await
}

/// [`run`] with only the migrations up to `last`: for building an older database in tests.
pub async fn run_up_to(db: &Db, last: i64) -> Result<Vec<i64>> {
    let all = list(db.backend());
    let n = all.iter().take_while(|(v, _, _)| *v <= last).count();
    run_list(db, &all[..n]).await
}

/// [`run`] with a given list of migrations.
pub async fn run_list(db: &Db, list: &[(i64, &str, &str)]) -> Result<Vec<i64>> {
    let mut tx = db.begin().await?;
    let has_checksum_sql = match db.backend() {
        Backend::Sqlite => "SELECT COUNT(*) FROM pragma_table_info('schema_migrations') WHERE name = 'checksum'",
        Backend::Postgres => {
            tx.execute("SELECT pg_advisory_xact_lock(74687501)", args![]).await?;
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name = 'schema_migrations' AND column_name = 'checksum'"
        }
    };
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL, checksum TEXT)",
        args![],
    )
    .await?;
    // Databases made before checksums were kept get the column; their migrations' checksums are
    // recorded from this binary's text below (what was applied then cannot be known now).
    let (has_checksum,): (i64,) = tx.fetch_one(has_checksum_sql, args![]).await?;
    if has_checksum == 0 {
        tx.execute("ALTER TABLE schema_migrations ADD COLUMN checksum TEXT", args![])
            .await?;
    }
    let applied: Vec<Applied> = tx
        .fetch_all(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
            args![],
        )
        .await?;
    for a in &applied {
        let Some((_, _, sql)) = list.iter().find(|(v, _, _)| *v == a.version) else {
            if a.version > list.last().map_or(0, |l| l.0) {
                return Err(StoreError::Other(format!(
                    "the database has migration {:04}_{} that this kehu does not carry: it was upgraded by a newer version of kehu; run that version (or newer)",
                    a.version, a.name
                )));
            }
            continue;
        };
        let now = checksum(sql);
        match &a.checksum {
            None => {
                tx.execute(
                    "UPDATE schema_migrations SET checksum = $1 WHERE version = $2",
                    args![now.as_str(), a.version],
                )
                .await?;
            }
            Some(recorded) if *recorded != now => {
                return Err(StoreError::Other(format!(
                    "migration {:04}_{}.sql was edited after it was applied to this database (checksum then {}, now {}): \
                     a landed migration must never change; undo the edit and put the change in a new migration",
                    a.version,
                    a.name,
                    short(recorded),
                    short(&now)
                )));
            }
            Some(_) => {}
        }
    }
    let mut ran = Vec::new();
    for (version, name, sql) in list {
        if applied.iter().any(|a| a.version == *version) {
            continue;
        }
        tx.execute_script(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at, checksum) VALUES ($1, $2, $3, $4)",
            args![*version, *name, jiff::Timestamp::now().as_millisecond(), checksum(sql)],
        )
        .await?;
        tracing::info!(migration.version = version, migration.name = name, "migration applied");
        ran.push(*version);
    }
    tx.commit().await?;
    Ok(ran)
}

fn short(checksum: &str) -> &str {
    checksum.get(..12).unwrap_or(checksum)
}
