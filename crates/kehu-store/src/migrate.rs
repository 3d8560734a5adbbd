//! Migrations, embedded in the binary, one folder per dialect, applied in order at start.

use crate::db::{Backend, Db};
use crate::{Result, args};

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
];

#[derive(sqlx::FromRow)]
struct Applied {
    version: i64,
}

/// Applies every migration not yet applied. Several processes starting at once on PostgreSQL
/// serialise on an advisory lock, so each migration runs once.
pub async fn run(db: &Db) -> Result<Vec<i64>> {
    let mut tx = db.begin().await?;
    let list = match db.backend() {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => {
            tx.execute("SELECT pg_advisory_xact_lock(74687501)", args![]).await?;
            POSTGRES
        }
    };
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        args![],
    )
    .await?;
    let applied: Vec<Applied> = tx.fetch_all("SELECT version FROM schema_migrations", args![]).await?;
    let mut ran = Vec::new();
    for (version, name, sql) in list {
        if applied.iter().any(|a| a.version == *version) {
            continue;
        }
        tx.execute_script(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            args![*version, *name, jiff::Timestamp::now().as_millisecond()],
        )
        .await?;
        tracing::info!(migration.version = version, migration.name = name, "migration applied");
        ran.push(*version);
    }
    tx.commit().await?;
    Ok(ran)
}
