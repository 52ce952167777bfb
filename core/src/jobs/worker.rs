use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, warn};

use super::queue::{Claim, ClaimedJob, Kinds, LOCK, claim_due, mark_done, mark_failed, renew_lock, tenant_slot};
use crate::db::Db;

/// Runs the body of a job. Bodies must be idempotent: a job can run again
/// after a crash between its effect and `mark_done`.
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, job: &ClaimedJob) -> anyhow::Result<()>;
}

/// How many jobs run at once, in all and per shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    pub total: usize,
    pub per_tenant: usize,
}

/// A kind of job that calls the outside world (a merchant's webhook
/// endpoint, a provider), with its own lane: its slow calls wait in their
/// own slots, never in front of another kind.
#[derive(Debug, Clone, Copy)]
pub struct OutsideKind {
    /// The kinds the lane runs (e.g. webhook deliveries and provider checks).
    pub kinds: &'static [&'static str],
    pub concurrency: Concurrency,
}

/// Polls the `jobs` table and runs due jobs until cancelled.
///
/// The work is split into lanes that never wait for one another: one lane
/// per [`OutsideKind`] and a core lane for every other kind (expiring
/// orders, delivery and account emails). In each lane jobs run
/// concurrently up to the lane's total, and one shop holds at most its
/// per-shop share of the lane, so a shop with a slow webhook endpoint and
/// a thousand queued deliveries delays only itself.
pub struct Worker {
    db: Db,
    handler: Arc<dyn JobHandler>,
    poll: Duration,
    core: Concurrency,
    outside: Vec<OutsideKind>,
    lock: Duration,
}

impl Worker {
    /// A worker whose core lane runs 4 jobs at once (2 per shop) and with
    /// no outside lanes; see [`Worker::lanes`].
    pub fn new(db: Db, handler: Arc<dyn JobHandler>, poll: Duration) -> Self {
        Self { db, handler, poll, core: Concurrency { total: 4, per_tenant: 2 }, outside: Vec::new(), lock: LOCK }
    }

    /// Locks claimed jobs for `lock` (renewed at a third of it while they
    /// run) instead of [`LOCK`]: for tests of a dead worker's jobs.
    pub fn lock(mut self, lock: Duration) -> Self {
        self.lock = lock;
        self
    }

    /// Sets the core lane's concurrency and the kinds that get lanes of their own.
    pub fn lanes(mut self, core: Concurrency, outside: Vec<OutsideKind>) -> Self {
        self.core = core;
        self.outside = outside;
        self
    }

    /// Runs until `shutdown` is cancelled; the jobs in hand are finished first.
    pub async fn run(self, shutdown: CancellationToken) {
        info!(core = self.core.total, outside = self.outside.len(), "job worker started");
        let this = Arc::new(self);
        let outside_kinds: Vec<&'static str> = this.outside.iter().flat_map(|o| o.kinds.iter().copied()).collect();
        let mut lanes = JoinSet::new();
        for o in this.outside.clone() {
            lanes.spawn(this.clone().lane(LaneKinds::Only(o.kinds), o.concurrency, shutdown.clone()));
        }
        lanes.spawn(this.clone().lane(LaneKinds::Except(outside_kinds), this.core, shutdown.clone()));
        while lanes.join_next().await.is_some() {}
        info!("job worker stopped");
    }

    async fn lane(self: Arc<Self>, kinds: LaneKinds, limit: Concurrency, shutdown: CancellationToken) {
        let limit = Concurrency { total: limit.total.max(1), per_tenant: limit.per_tenant.max(1) };
        let mut running_jobs = JoinSet::new();
        let mut slot_of = HashMap::new();
        let mut running: HashMap<String, usize> = HashMap::new();
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let free = limit.total - running_jobs.len();
            let claim = Claim {
                limit: free,
                kinds: kinds.as_kinds(),
                per_tenant: limit.per_tenant,
                running: &running,
                lock: self.lock,
            };
            let claimed = match claim_due(&self.db, claim).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    warn!(error = %e, "cannot claim jobs");
                    Vec::new()
                }
            };
            let took_some = !claimed.is_empty();
            for job in claimed {
                let slot = tenant_slot(job.tenant_id.as_deref());
                *running.entry(slot.clone()).or_default() += 1;
                let this = self.clone();
                let handle = running_jobs.spawn(async move { this.run_one(job).await });
                slot_of.insert(handle.id(), slot);
            }
            if took_some && running_jobs.len() < limit.total {
                // There may be more due (another shop's): ask again at once.
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(done) = running_jobs.join_next_with_id(), if !running_jobs.is_empty() => {
                    let id = match done {
                        Ok((id, ())) => id,
                        Err(e) => {
                            error!(error = %e, "a job's task ended abnormally; its lock will expire and it will run again");
                            e.id()
                        }
                    };
                    if let Some(slot) = slot_of.remove(&id)
                        && let Some(n) = running.get_mut(&slot)
                    {
                        *n -= 1;
                        if *n == 0 {
                            running.remove(&slot);
                        }
                    }
                }
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
        while running_jobs.join_next().await.is_some() {}
    }

    async fn run_one(&self, job: ClaimedJob) {
        let span = tracing::info_span!("job", id = job.id, kind = %job.kind, tenant = job.tenant_id.as_deref().unwrap_or(""),
            attempt = job.attempts, request_id = job.request_id.as_deref().unwrap_or(""));
        async {
            // The lock is renewed while the job runs: a long job keeps it,
            // a dead worker's job is free again within `self.lock`.
            let work = self.handler.run(&job);
            tokio::pin!(work);
            let mut renew = tokio::time::interval(self.lock / 3);
            renew.tick().await;
            let outcome = loop {
                tokio::select! {
                    outcome = &mut work => break outcome,
                    _ = renew.tick() => {
                        if let Err(e) = renew_lock(&self.db, job.id, self.lock).await {
                            warn!(error = %e, "cannot renew a running job's lock");
                        }
                    }
                }
            };
            match outcome {
                Ok(()) => {
                    if let Err(e) = mark_done(&self.db, job.id).await {
                        error!(error = %e, "job ran but could not be marked done; it will run again");
                    }
                }
                Err(err) => {
                    let msg = format!("{err:#}");
                    let give_up = is_permanent(&err);
                    if give_up {
                        error!(error = %msg, "job failed for good (retrying cannot help) and is now dead");
                    } else if job.attempts >= job.max_attempts {
                        error!(error = %msg, "job failed for the last time and is now dead");
                    } else {
                        warn!(error = %msg, "job failed; will retry");
                    }
                    if let Err(e) = mark_failed(&self.db, &job, &msg, give_up).await {
                        error!(error = %e, "cannot record job failure");
                    }
                }
            }
        }
        .instrument(span)
        .await
    }
}

/// Whether a job's error says that running it again cannot help (a mail
/// server refusing the address for good): it goes dead at once instead of
/// retrying for hours, and what refused it is kept on the job.
fn is_permanent(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<crate::mail::MailError>().is_some_and(crate::mail::MailError::is_refusal))
}

/// The kinds a lane claims (owned, so a lane's task holds its own).
enum LaneKinds {
    Only(&'static [&'static str]),
    Except(Vec<&'static str>),
}

impl LaneKinds {
    fn as_kinds(&self) -> Kinds<'_> {
        match self {
            LaneKinds::Only(kinds) => Kinds::Only(kinds),
            LaneKinds::Except(kinds) => Kinds::Except(kinds),
        }
    }
}
