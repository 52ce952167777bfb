use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, warn};

use super::queue::{ClaimedJob, claim_due, mark_done, mark_failed};
use crate::db::Db;

/// Runs the body of a job. Bodies must be idempotent: a job can run again
/// after a crash between its effect and `mark_done`.
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, job: &ClaimedJob) -> anyhow::Result<()>;
}

/// Polls the `jobs` table and runs due jobs until cancelled.
pub struct Worker {
    db: Db,
    handler: Arc<dyn JobHandler>,
    poll: Duration,
}

impl Worker {
    pub fn new(db: Db, handler: Arc<dyn JobHandler>, poll: Duration) -> Self {
        Self { db, handler, poll }
    }

    /// Runs until `shutdown` is cancelled; the job in hand is finished first.
    pub async fn run(self, shutdown: CancellationToken) {
        info!("job worker started");
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let claimed = match claim_due(&self.db, 16).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    warn!(error = %e, "cannot claim jobs");
                    Vec::new()
                }
            };
            let idle = claimed.is_empty();
            for job in claimed {
                self.run_one(job).await;
            }
            if idle {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(self.poll) => {}
                }
            }
        }
        info!("job worker stopped");
    }

    async fn run_one(&self, job: ClaimedJob) {
        let span = tracing::info_span!("job", id = job.id, kind = %job.kind, tenant = job.tenant_id.as_deref().unwrap_or(""), attempt = job.attempts);
        async {
            match self.handler.run(&job).await {
                Ok(()) => {
                    if let Err(e) = mark_done(&self.db, job.id).await {
                        error!(error = %e, "job ran but could not be marked done; it will run again");
                    }
                }
                Err(err) => {
                    let msg = format!("{err:#}");
                    if job.attempts >= job.max_attempts {
                        error!(error = %msg, "job failed for the last time and is now dead");
                    } else {
                        warn!(error = %msg, "job failed; will retry");
                    }
                    if let Err(e) = mark_failed(&self.db, &job, &msg).await {
                        error!(error = %e, "cannot record job failure");
                    }
                }
            }
        }
        .instrument(span)
        .await
    }
}
