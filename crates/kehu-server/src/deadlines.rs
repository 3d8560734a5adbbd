//! Who fires which deadline. A module that sets deadlines names their kind and the function
//! that fires them in an [`Owner`], and lists it in [`OWNERS`]; the scheduler (`lifecycle`)
//! hands each due deadline to the owner its kind names. A new kind of deadline (a workflow's
//! timer) is a new owner, not a new case in a match.

use std::future::Future;
use std::pin::Pin;

use kehu_domain::{Policy, Timestamp};
use kehu_store::db::Tx;
use kehu_store::deadlines::DeadlineRow;

use crate::{AppState, Failure};

/// What firing a deadline returns.
pub type Firing<'a> = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>>;

/// Fires a due deadline in the scheduler's transaction (the row is already taken, so it fires
/// once whoever commits).
pub type Fire = for<'a> fn(&'a mut Tx, &'a AppState, &'a Policy, &'a DeadlineRow, Timestamp) -> Firing<'a>;

/// A kind of deadline and what fires it.
pub struct Owner {
    /// The kind, or with `prefix` the start of the kinds (`case:` and the timer's id).
    pub kind: &'static str,
    pub prefix: bool,
    pub fire: Fire,
}

impl Owner {
    fn owns(&self, kind: &str) -> bool {
        if self.prefix {
            kind.starts_with(self.kind)
        } else {
            kind == self.kind
        }
    }
}

/// Every owner of deadlines.
const OWNERS: [&Owner; 4] = [
    &crate::lifecycle::CLAIM_LAPSE,
    &crate::lifecycle::FIRST_CONTACT,
    &crate::events::FILING,
    &crate::cases::TIMER,
];

/// The owner of deadlines of `kind`.
pub fn owner(kind: &str) -> Option<&'static Owner> {
    OWNERS.into_iter().find(|o| o.owns(kind))
}

/// Fires `d` through its owner; a kind nobody owns (left by an older version) is dropped with
/// a warning.
pub async fn fire(
    tx: &mut Tx,
    state: &AppState,
    policy: &Policy,
    d: &DeadlineRow,
    now: Timestamp,
) -> Result<(), Failure> {
    match owner(&d.kind) {
        Some(o) => (o.fire)(tx, state, policy, d, now).await,
        None => {
            tracing::warn!(deadline.id = d.id, kind = %d.kind, "deadline of an unknown kind dropped");
            Ok(())
        }
    }
}
