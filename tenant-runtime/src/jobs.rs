//! The runtime's job kinds and the handler the worker calls.

use chrono::Utc;
use kapu_core::entities::orders;
use kapu_core::jobs::{ClaimedJob, JobHandler};
use kapu_core::mail::Mailer;
use kapu_core::store::card_keys::release_keys_of_order_for_tenant;
use kapu_core::store::coupons::release_coupon_use_for_tenant;
use kapu_core::store::orders::{lock_order_for_tenant, status};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};

use crate::delivery::email;
use crate::state::RuntimeState;

pub use kapu_core::jobs::kinds::{
    BUY_FROM_SUPPLIER, CHECK_PAYMENT, EXPIRE_ORDER, NOTIFY_ATTENTION, SEND_DELIVERY_EMAIL, SEND_ORDER_LINKS,
};

/// Runs runtime jobs.
pub struct RuntimeJobs {
    pub state: RuntimeState,
    pub mailer: Mailer,
}

#[derive(serde::Deserialize)]
struct OrderJob {
    order_id: String,
}

#[derive(serde::Deserialize)]
struct PaymentJob {
    payment_id: String,
}

#[derive(serde::Deserialize)]
struct LinksJob {
    email: String,
    locale: String,
    base_url: String,
}

#[async_trait::async_trait]
impl JobHandler for RuntimeJobs {
    async fn run(&self, job: &ClaimedJob) -> anyhow::Result<()> {
        let tenant_id = job.tenant_id.as_deref().ok_or_else(|| anyhow::anyhow!("job has no tenant"))?;
        let order = || serde_json::from_value::<OrderJob>(job.payload.clone());
        let mailer = &self.mailer.for_job(job.id);
        match job.kind.as_str() {
            EXPIRE_ORDER => expire_order(&self.state, tenant_id, &order()?.order_id).await,
            BUY_FROM_SUPPLIER => crate::supplier::buy_for_order(&self.state, job, tenant_id, &order()?.order_id).await,
            SEND_DELIVERY_EMAIL | NOTIFY_ATTENTION => {
                email::send_order_email(&self.state, mailer, tenant_id, &order()?.order_id).await
            }
            SEND_ORDER_LINKS => {
                let b: LinksJob = serde_json::from_value(job.payload.clone())?;
                email::send_order_links(&self.state, mailer, tenant_id, &b.email, &b.locale, &b.base_url).await
            }
            kapu_core::jobs::kinds::SEND_AFFILIATE_LINK => {
                let b: crate::affiliate_mail::SigninLinkJob = serde_json::from_value(job.payload.clone())?;
                crate::affiliate_mail::send_signin_link(&self.state, mailer, tenant_id, &b).await
            }
            CHECK_PAYMENT => {
                let p: PaymentJob = serde_json::from_value(job.payload.clone())?;
                crate::payments::reconcile::check_now(&self.state, tenant_id, &p.payment_id).await?;
                Ok(())
            }
            other => anyhow::bail!("unknown job kind {other:?}"),
        }
    }
}

/// Expires an order if it is still unpaid and due; otherwise does nothing.
pub async fn expire_order(state: &RuntimeState, tenant_id: &str, order_id: &str) -> anyhow::Result<()> {
    expire(state, tenant_id, order_id, false).await
}

/// Expires a still-unpaid order now, before its time: no channel could take its payment.
pub async fn release_unpayable_order(state: &RuntimeState, tenant_id: &str, order_id: &str) -> anyhow::Result<()> {
    expire(state, tenant_id, order_id, true).await
}

async fn expire(state: &RuntimeState, tenant_id: &str, order_id: &str, now_anyway: bool) -> anyhow::Result<()> {
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let Some(order) = lock_order_for_tenant(&txn, tenant_id, order_id).await? else {
        return Ok(());
    };
    if order.status != status::PENDING || (order.expires_at > now && !now_anyway) {
        return Ok(());
    }
    // A resale order's keys go back to its supplier's stock.
    let stock_tenant = kapu_core::store::supply::stock_tenant_of(&order).to_string();
    let released = release_keys_of_order_for_tenant(&txn, &stock_tenant, order_id).await?;
    if let Some(code) = &order.coupon_code {
        release_coupon_use_for_tenant(&txn, tenant_id, code).await?;
    }
    let order_no = order.order_no.clone();
    let mut o: orders::ActiveModel = order.into_active_model();
    o.status = Set(status::EXPIRED.into());
    if now_anyway {
        o.expires_at = Set(now);
    }
    o.updated_at = Set(now);
    o.update(&txn).await?;
    txn.commit().await?;
    kapu_core::metrics::order_event(kapu_core::metrics::ORDERS_EXPIRED, 1);
    state.stock_changed(tenant_id).await;
    if stock_tenant != tenant_id {
        state.stock_changed(&stock_tenant).await;
    }
    tracing::info!(%order_no, released, "unpaid order expired; keys back in stock");
    Ok(())
}
