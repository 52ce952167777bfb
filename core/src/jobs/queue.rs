use chrono::{DateTime, Duration, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::db::Db;
use crate::entities::jobs;

/// How long a claimed job stays locked before another worker may take it
/// over, unless its worker renews the lock ([`renew_lock`]) while the job
/// runs. Short, so a job whose process died (killed, crashed, its machine
/// gone) runs again within this time, not minutes later.
pub const LOCK: std::time::Duration = std::time::Duration::from_secs(30);

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
        Self { kind, tenant_id, payload, run_at: Utc::now(), max_attempts: super::kinds::attempts_for(kind) }
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
    /// The request that queued it, if a request did.
    pub request_id: Option<String>,
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
        request_id: Set(crate::trace::current_request_id()),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Which job kinds a claim takes.
#[derive(Debug, Clone, Copy)]
pub enum Kinds<'a> {
    /// Only these kinds (a lane of jobs that call the outside world).
    Only(&'a [&'a str]),
    /// Every kind but these (the core lane: expiry, emails).
    Except(&'a [&'a str]),
}

/// What a worker's lane asks for: how many jobs, of which kinds, and how
/// many one shop may have running at once in this lane.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub limit: usize,
    pub kinds: Kinds<'a>,
    /// Jobs of one shop (or of the platform, for jobs without one) running at once.
    pub per_tenant: usize,
    /// This lane's jobs already running, by tenant (see [`tenant_slot`]).
    pub running: &'a std::collections::HashMap<String, usize>,
    /// How long the claimed jobs stay locked ([`LOCK`] unless a test says otherwise).
    pub lock: std::time::Duration,
}

/// The fairness bucket of a job: its shop, or `""` for platform jobs.
pub fn tenant_slot(tenant_id: Option<&str>) -> String {
    tenant_id.unwrap_or_default().to_string()
}

/// Claims due jobs: queued ones whose time has come, and running ones whose
/// lock expired (their worker died); oldest first, but never more of one
/// shop's than `per_tenant` allows beside what it has running, so a shop
/// with thousands of due jobs takes its share and no more.
pub async fn claim_due(db: &Db, claim: Claim<'_>) -> Result<Vec<ClaimedJob>, DbErr> {
    if claim.limit == 0 {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let full: Vec<String> =
        claim.running.iter().filter(|(_, n)| **n >= claim.per_tenant).map(|(t, _)| t.clone()).collect();
    let txn = db.begin().await?;
    let mut find = jobs::Entity::find().filter(
        jobs::Column::Status
            .eq("queued")
            .and(jobs::Column::RunAt.lte(now))
            .or(jobs::Column::Status.eq("running").and(jobs::Column::LockedUntil.lt(now))),
    );
    find = match claim.kinds {
        Kinds::Only(kinds) => find.filter(jobs::Column::Kind.is_in(kinds.iter().copied())),
        Kinds::Except([]) => find,
        Kinds::Except(kinds) => find.filter(jobs::Column::Kind.is_not_in(kinds.iter().copied())),
    };
    // Shops already at their share are left out in the query, so their
    // backlog cannot fill the candidates.
    let platform_full = full.iter().any(String::is_empty);
    let shops_full: Vec<&String> = full.iter().filter(|t| !t.is_empty()).collect();
    if !shops_full.is_empty() {
        find = find.filter(jobs::Column::TenantId.is_null().or(jobs::Column::TenantId.is_not_in(shops_full)));
    }
    if platform_full {
        find = find.filter(jobs::Column::TenantId.is_not_null());
    }
    // A few candidates per free slot: one shop's many due jobs are skipped
    // in memory for the next shop's.
    let candidates = find
        .order_by_asc(jobs::Column::RunAt)
        .order_by_asc(jobs::Column::Id)
        .limit((claim.limit * 8) as u64)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(&txn)
        .await?;
    let mut taken = claim.running.clone();
    let mut due = Vec::new();
    for job in candidates {
        if due.len() == claim.limit {
            break;
        }
        let slot = taken.entry(tenant_slot(job.tenant_id.as_deref())).or_default();
        if *slot < claim.per_tenant {
            *slot += 1;
            due.push(job);
        }
    }
    if due.is_empty() {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = due.iter().map(|j| j.id).collect();
    jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value("running"))
        .col_expr(jobs::Column::Attempts, Expr::col(jobs::Column::Attempts).add(1))
        .col_expr(jobs::Column::LockedUntil, Expr::value(now + lock_for(claim.lock)))
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
            request_id: j.request_id,
        })
        .collect())
}

fn lock_for(lock: std::time::Duration) -> Duration {
    Duration::milliseconds(Ord::max(i64::try_from(lock.as_millis()).unwrap_or(i64::MAX), 1))
}

/// Keeps a running job's lock for another `lock` from now; its worker calls
/// this while the job runs, so only a dead worker's jobs are taken over.
pub async fn renew_lock(db: &Db, id: i64, lock: std::time::Duration) -> Result<(), DbErr> {
    let now = Utc::now();
    jobs::Entity::update_many()
        .col_expr(jobs::Column::LockedUntil, Expr::value(now + lock_for(lock)))
        .filter(jobs::Column::Id.eq(id))
        .filter(jobs::Column::Status.eq("running"))
        .exec(db.writer())
        .await?;
    Ok(())
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

/// Records a failure: back to `queued` after a backoff, or `dead` at the
/// cap, or at once when `give_up` (retrying cannot mend it).
pub async fn mark_failed(db: &Db, job: &ClaimedJob, error: &str, give_up: bool) -> Result<(), DbErr> {
    let now = Utc::now();
    let dead = give_up || job.attempts >= job.max_attempts;
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
