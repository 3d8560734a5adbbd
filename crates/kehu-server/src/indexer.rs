//! The search indexer: moves newly registered customers from the search queue into the name
//! term index (name n-grams and the 4-digit runs of their numbers), in batches, in the background. Search reads the queue too, so nothing waits for it.

use std::time::Duration;

use kehu_domain::search::index_terms;
use kehu_store::{Db, StoreError};

use crate::AppState;

/// Customers indexed per transaction.
pub const BATCH: i64 = 500;

fn terms(name: &str, phones: &[&str]) -> Vec<String> {
    index_terms(name, phones).into_iter().collect()
}

/// Indexes what is queued, a full batch at a time; stops at the first batch that is not full,
/// so that under a steady stream of new customers it does not chase them one by one (each batch
/// is a transaction on the one writer; tiny ones would halve the create rate). Answers how many
/// customers were indexed.
pub async fn drain(db: &Db) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let n = kehu_store::customers::index_pending(db, BATCH, terms).await?;
        total += n;
        if n < BATCH as usize {
            return Ok(total);
        }
    }
}

/// Runs the indexer until the process ends: woken by new customers (or once a second, for
/// customers another process registered), it waits a moment so a batch can gather, then drains.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = state.index_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Err(e) = drain(&state.db).await {
                tracing::error!(error = %e, "search indexer failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    })
}
