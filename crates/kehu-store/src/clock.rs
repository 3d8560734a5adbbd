//! The virtual clock's offset from real time, kept in the database so a restart keeps it.

use crate::db::{Db, Tx};
use crate::{Result, args};

#[derive(sqlx::FromRow)]
struct Offset {
    offset_ms: i64,
}

pub async fn offset(db: &Db) -> Result<i64> {
    let o: Option<Offset> = db
        .fetch_optional("SELECT offset_ms FROM clock WHERE id = 1", args![])
        .await?;
    Ok(o.map(|o| o.offset_ms).unwrap_or(0))
}

pub async fn set_offset(tx: &mut Tx, offset_ms: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO clock (id, offset_ms) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET offset_ms = excluded.offset_ms",
        args![offset_ms],
    )
    .await?;
    Ok(())
}
