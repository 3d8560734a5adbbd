//! Kehu's storage on SQLite (embedded default) and PostgreSQL: migrations, one module per
//! aggregate, and the hash-chained history written in the same transaction as each change.
//!
//! The store loads and applies; it never decides. Rules are decided in `kehu-domain`.

pub mod activities;
pub mod anchor;
pub mod auth;
pub mod backup;
pub mod cases;
pub mod claims;
pub mod clock;
pub mod customers;
pub mod db;
pub mod deadlines;
pub mod events;
pub mod files;
pub mod history;
pub mod ledger;
pub mod migrate;
pub mod sales;
pub mod snapshots;
pub mod staff;
pub mod tenants;
pub mod units;
pub mod visibility;

pub use db::{Arg, Backend, Db, Tx};

use kehu_domain::Timestamp;

/// Storage errors stay small; the server turns them into HTTP answers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or foreign-key constraint refused the change.
    #[error("conflict: {constraint}")]
    Conflict { constraint: String },
    #[error("database: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        if let Some(db) = e.as_database_error()
            && (db.is_unique_violation() || db.is_foreign_key_violation())
        {
            return StoreError::Conflict {
                constraint: db
                    .constraint()
                    .map(str::to_string)
                    .unwrap_or_else(|| db.message().to_string()),
            };
        }
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            other => StoreError::Other(other.to_string()),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Milliseconds since the epoch, as times are stored.
pub fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// A stored time back as a timestamp.
pub fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}
