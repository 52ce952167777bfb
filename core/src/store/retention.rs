//! The retention sweep: rows that would otherwise grow forever are deleted
//! once older than their configured age. What a merchant, a buyer or an
//! audit needs is never touched: orders, payments, card keys, the audit log,
//! the fee ledger, accounts and shops stay whatever their age.
//!
//! | rows | deleted when | age (days) |
//! |---|---|---|
//! | `jobs` done | last changed before | `KAPU_RETAIN_DONE_JOBS_DAYS` (7) |
//! | `jobs` dead | last changed before | `KAPU_RETAIN_RECORDS_DAYS` (30) |
//! | `payment_checks`, `risk_events` | created before | `KAPU_RETAIN_RECORDS_DAYS` |
//! | `webhook_deliveries` delivered or failed | created before | `KAPU_RETAIN_RECORDS_DAYS` |
//! | `stripe_events` (dedupe of webhook events) | received before | `KAPU_RETAIN_RECORDS_DAYS` |
//! | `key_imports` done or failed | last changed before | `KAPU_RETAIN_KEY_IMPORTS_DAYS` (90) |
//! | `payment_notifications` | received before | `KAPU_RETAIN_RECORDS_DAYS`; their bodies after 7 days |
//! | `status_checks` | made before | 90 days (the status page's history) |
//!
//! Expired sessions, tokens and idempotent API answers have their own
//! purges (`accounts`, `operators`, `api_idempotency`); all run together
//! in the platform's housekeeping, on one worker at a time.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::entities::{
    jobs, key_imports, payment_checks, payment_notifications, risk_events, status_checks, stripe_events,
    webhook_deliveries,
};

/// How old each kind of row may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub done_jobs: Duration,
    pub records: Duration,
    pub key_imports: Duration,
}

impl Retention {
    pub fn days(done_jobs: u32, records: u32, key_imports: u32) -> Self {
        let d = |n: u32| Duration::days(i64::from(n.max(1)));
        Self { done_jobs: d(done_jobs), records: d(records), key_imports: d(key_imports) }
    }
}

/// Rows deleted by one sweep, by table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub jobs: u64,
    pub payment_checks: u64,
    pub risk_events: u64,
    pub webhook_deliveries: u64,
    pub stripe_events: u64,
    pub key_imports: u64,
    pub payment_notifications: u64,
    /// Notification bodies blanked (the rows stay).
    pub notification_bodies: u64,
    pub status_checks: u64,
}

impl Swept {
    pub fn total(&self) -> u64 {
        self.jobs
            + self.payment_checks
            + self.risk_events
            + self.webhook_deliveries
            + self.stripe_events
            + self.key_imports
            + self.payment_notifications
            + self.notification_bodies
            + self.status_checks
    }
}

/// Deletes every row older than `keep` allows, as of `now`.
pub async fn sweep<C: ConnectionTrait>(conn: &C, now: DateTime<Utc>, keep: &Retention) -> Result<Swept, DbErr> {
    let records = now - keep.records;
    let done = jobs::Entity::delete_many()
        .filter(jobs::Column::Status.eq("done"))
        .filter(jobs::Column::UpdatedAt.lt(now - keep.done_jobs))
        .exec(conn)
        .await?
        .rows_affected;
    let dead = jobs::Entity::delete_many()
        .filter(jobs::Column::Status.eq("dead"))
        .filter(jobs::Column::UpdatedAt.lt(records))
        .exec(conn)
        .await?
        .rows_affected;
    Ok(Swept {
        jobs: done + dead,
        payment_checks: payment_checks::Entity::delete_many()
            .filter(payment_checks::Column::CreatedAt.lt(records))
            .exec(conn)
            .await?
            .rows_affected,
        risk_events: risk_events::Entity::delete_many()
            .filter(risk_events::Column::CreatedAt.lt(records))
            .exec(conn)
            .await?
            .rows_affected,
        webhook_deliveries: webhook_deliveries::Entity::delete_many()
            .filter(webhook_deliveries::Column::Status.is_in(["delivered", "failed"]))
            .filter(webhook_deliveries::Column::CreatedAt.lt(records))
            .exec(conn)
            .await?
            .rows_affected,
        stripe_events: stripe_events::Entity::delete_many()
            .filter(stripe_events::Column::ReceivedAt.lt(records))
            .exec(conn)
            .await?
            .rows_affected,
        key_imports: key_imports::Entity::delete_many()
            .filter(key_imports::Column::Status.is_in(["done", "failed"]))
            .filter(key_imports::Column::UpdatedAt.lt(now - keep.key_imports))
            .exec(conn)
            .await?
            .rows_affected,
        payment_notifications: payment_notifications::Entity::delete_many()
            .filter(payment_notifications::Column::CreatedAt.lt(records))
            .exec(conn)
            .await?
            .rows_affected,
        notification_bodies: crate::store::payment_notifications::blank_old_bodies(conn, now).await?,
        status_checks: status_checks::Entity::delete_many()
            .filter(status_checks::Column::CreatedAt.lt(now - Duration::days(crate::store::status::HISTORY_DAYS)))
            .exec(conn)
            .await?
            .rows_affected,
    })
}
