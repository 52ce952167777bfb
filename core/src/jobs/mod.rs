//! Durable jobs: the `jobs` table is both the queue and the outbox.
//!
//! A job that must happen because of a state change is inserted with
//! [`enqueue`] inside the same transaction as the change, so a crash can lose
//! neither. The [`Worker`] claims due jobs (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, the single writer on SQLite), runs them, and reschedules
//! failures with exponential backoff until `max_attempts`, after which the job
//! is `dead` and stays visible for an operator. Kinds that call the outside
//! world run in lanes of their own, and no shop takes more than its share of
//! a lane (see [`Worker`]). A job whose worker died
//! mid-run is claimed again once its lock expires, so job bodies must be
//! idempotent.

pub mod kinds;
mod queue;
mod worker;

pub use queue::{
    Claim, ClaimedJob, JobCounts, Kinds, NewJob, claim_due, counts, enqueue, mark_done, mark_failed, retry_delay,
    tenant_slot,
};
pub use worker::{Concurrency, JobHandler, OutsideKind, Worker};
