//! The platform's job kinds and the handler the worker calls for them.

use kapu_core::jobs::kinds::SEND_ACCOUNT_EMAIL;
use kapu_core::jobs::{ClaimedJob, JobHandler};
use kapu_core::mail::Mailer;

use crate::accounts::email::{AccountEmailJob, send_account_email};
use crate::state::PlatformState;
use crate::subscriptions::notices::{BillingNoticeJob, SEND_BILLING_NOTICE, send_billing_notice};
use crate::webhooks::deliver::{DeliverJob, deliver_webhook};
use kapu_core::store::webhooks::DELIVER_WEBHOOK;

/// Runs platform jobs.
pub struct PlatformJobs {
    pub state: PlatformState,
    pub mailer: Mailer,
}

impl PlatformJobs {
    /// Whether `kind` is one of the platform's.
    pub fn handles(kind: &str) -> bool {
        kind == SEND_ACCOUNT_EMAIL || kind == SEND_BILLING_NOTICE || kind == DELIVER_WEBHOOK
    }
}

#[async_trait::async_trait]
impl JobHandler for PlatformJobs {
    async fn run(&self, job: &ClaimedJob) -> anyhow::Result<()> {
        let mailer = &self.mailer.for_job(job.id);
        match job.kind.as_str() {
            SEND_ACCOUNT_EMAIL => {
                let body: AccountEmailJob = serde_json::from_value(job.payload.clone())?;
                send_account_email(&self.state, mailer, &body).await
            }
            SEND_BILLING_NOTICE => {
                let body: BillingNoticeJob = serde_json::from_value(job.payload.clone())?;
                send_billing_notice(&self.state, mailer, &body).await
            }
            DELIVER_WEBHOOK => {
                let body: DeliverJob = serde_json::from_value(job.payload.clone())?;
                let tenant = job.tenant_id.as_deref().ok_or_else(|| anyhow::anyhow!("webhook job without a shop"))?;
                deliver_webhook(&self.state, mailer, tenant, &body).await
            }
            other => anyhow::bail!("not a platform job: {other:?}"),
        }
    }
}
