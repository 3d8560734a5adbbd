//! Kehu's domain: the policy model and the pure functions that decide what the rules say.
//!
//! Nothing here does IO, talks to a database or reads the system clock: every function that
//! needs the time takes it as an argument, so a scenario runs the same on a virtual clock.

pub mod assign;
pub mod cadence;
pub mod claim;
pub mod contact;
pub mod decision;
pub mod event;
pub mod files;
pub mod history;
pub mod ledger;
pub mod lifecycle;
pub mod normalize;
pub mod org;
pub mod ownership;
pub mod policy;
pub mod pool;
pub mod sale;
pub mod search;
pub mod snapshot;
pub mod text;
pub mod workflow;

pub use decision::{Decision, Refusal, RuleId};
pub use policy::{Permission, Policy, PolicyError};
pub use text::{Lang, Text};

/// A point in time, always UTC inside the domain; the tenant's zone is applied only for display
/// and for cut-offs.
pub type Timestamp = jiff::Timestamp;
