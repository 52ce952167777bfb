use chrono::{DateTime, Duration, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::db::Db;
use crate::entities::jobs;

/// How long a claimed job stays locked before another worker may take it over.
const LOCK_SECS: i64 = 300;

/// A job to insert.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: &'static str,
    pub tenant_id: Option<String>,
    pub payload: serde_json::Value,
    pub run_at: DateTime<Utc>,
    pub max_attempts: i32,
}

impl NewJob {
    /// A job due now with the default retry cap (10 attempts).
    pub fn now(kind: &'static str, tenant_id: Option<String>, payload: serde_json::Value) -> Self {
        Self { kind, tenant_id, payload, run_at: Utc::now(), max_attempts: 10 }
    }

    /// The same job, due at `at`.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = at;
        self
    }
}

/// A job taken by a worker.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    pub tenant_id: Option<String>,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub max_attempts: i32,
}

/// Inserts a job; pass a transaction to make it part of a state change.
pub async fn enqueue<C: ConnectionTrait>(conn: &C, job: NewJob) -> Result<(), DbErr> {
    let now = Utc::now();
    jobs::Entity::insert(jobs::ActiveModel {
        tenant_id: Set(job.tenant_id),
        kind: Set(job.kind.to_string()),
        payload: Set(job.payload.to_string()),
        status: Set("queued".into()),
        attempts: Set(0),
        max_attempts: Set(job.max_attempts),
        run_at: Set(job.run_at),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Claims up to `limit` due jobs: queued ones whose time has come, and running
/// ones whose lock expired (their worker died).
pub async fn claim_due(db: &Db, limit: u64) -> Result<Vec<ClaimedJob>, DbErr> {
    let now = Utc::now();
    let txn = db.begin().await?;
    let due = jobs::Entity::find()
        .filter(
            jobs::Column::Status
                .eq("queued")
                .and(jobs::Column::RunAt.lte(now))
                .or(jobs::Column::Status.eq("running").and(jobs::Column::LockedUntil.lt(now))),
        )
        .order_by_asc(jobs::Column::RunAt)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(&txn)
        .await?;
    if due.is_empty() {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = due.iter().map(|j| j.id).collect();
    jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value("running"))
        .col_expr(jobs::Column::Attempts, Expr::col(jobs::Column::Attempts).add(1))
        .col_expr(jobs::Column::LockedUntil, Expr::value(now + Duration::seconds(LOCK_SECS)))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
        .filter(jobs::Column::Id.is_in(ids))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(due
        .into_iter()
        .map(|j| ClaimedJob {
            id: j.id,
            tenant_id: j.tenant_id,
            kind: j.kind,
            payload: serde_json::from_str(&j.payload).unwrap_or(serde_json::Value::Null),
            attempts: j.attempts + 1,
            max_attempts: j.max_attempts,
        })
        .collect())
}

/// Marks a job done.
pub async fn mark_done(db: &Db, id: i64) -> Result<(), DbErr> {
    jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value("done"))
        .col_expr(jobs::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(jobs::Column::Id.eq(id))
        .exec(db.writer())
        .await?;
    Ok(())
}

/// Records a failure: back to `queued` after a backoff, or `dead` at the cap.
pub async fn mark_failed(db: &Db, job: &ClaimedJob, error: &str) -> Result<(), DbErr> {
    let now = Utc::now();
    let dead = job.attempts >= job.max_attempts;
    let status = if dead { "dead" } else { "queued" };
    let error: String = error.chars().take(2000).collect();
    jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value(status))
        .col_expr(jobs::Column::RunAt, Expr::value(now + retry_delay(job.attempts)))
        .col_expr(jobs::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(jobs::Column::LastError, Expr::value(error))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
        .filter(jobs::Column::Id.eq(job.id))
        .exec(db.writer())
        .await?;
    Ok(())
}

/// Delay before the next attempt after `attempts` failures: 2^n seconds, at most an hour.
pub fn retry_delay(attempts: i32) -> Duration {
    let exp = attempts.clamp(0, 12) as u32;
    Duration::seconds(std::cmp::min(1i64 << exp, 3600))
}

/// Jobs by state, for operators and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub queued: u64,
    pub running: u64,
    pub done: u64,
    pub dead: u64,
}

/// Counts jobs by state.
pub async fn counts(db: &Db) -> Result<JobCounts, DbErr> {
    let count = |s: &'static str| jobs::Entity::find().filter(jobs::Column::Status.eq(s)).count(db.reader());
    Ok(JobCounts {
        queued: count("queued").await?,
        running: count("running").await?,
        done: count("done").await?,
        dead: count("dead").await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(retry_delay(1), Duration::seconds(2));
        assert_eq!(retry_delay(3), Duration::seconds(8));
        assert_eq!(retry_delay(40), Duration::seconds(3600));
    }
}
