//! The billing sweep, every `KAPU_BILLING_SWEEP_SECS`: a shop whose grace
//! period after a failed payment is over moves to the default plan (limits
//! apply again, nothing is deleted, the owner is emailed); a shop closed for
//! longer than `KAPU_CLOSED_RETENTION_DAYS` has its data purged.

use std::time::Duration;

use chrono::Utc;
use kapu_core::store::audit::{Actor, record_audit};
use kapu_core::store::plans::{default_plan_id, find_plan};
use kapu_core::store::subscriptions::{lapsed_subscriptions, save_subscription};
use kapu_core::store::tenant_admin::{closed_tenants_due_for_purge, purge_tenant_data};
use sea_orm::DbErr;

use crate::state::PlatformState;
use crate::subscriptions::notices::{BillingNotice, queue_notice};
use crate::subscriptions::webhook::move_plan;

pub fn spawn_billing_sweep(state: PlatformState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = Duration::from_secs(state.cfg.billing_sweep_secs.max(1));
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            // One worker at a time (a lease that outlives three missed passes).
            if !kapu_core::store::sweep_leases::may_sweep(state.db.writer(), "billing", period * 3).await {
                continue;
            }
            if let Err(e) = sweep_once(&state).await {
                tracing::warn!(error = %e, "billing sweep failed; next pass retries");
            }
        }
    })
}

/// One pass; returns (shops downgraded, shops purged).
pub async fn sweep_once(state: &PlatformState) -> Result<(usize, usize), DbErr> {
    let now = Utc::now();
    let mut downgraded = 0;
    for sub in lapsed_subscriptions(state.db.reader(), now).await? {
        let txn = state.db.begin().await?;
        let fallback = default_plan_id(&txn).await?;
        let plan_name = find_plan(&txn, &fallback).await?.map(|p| p.name).unwrap_or_else(|| fallback.clone());
        let mut changed = Vec::new();
        move_plan(&txn, &sub.tenant_id, &fallback, &Actor::system(), "grace period over, plan unpaid", &mut changed)
            .await?;
        let tenant_id = sub.tenant_id.clone();
        let mut row = sub;
        row.grace_until = None;
        row.status = "lapsed".into();
        save_subscription(&txn, row).await?;
        queue_notice(&txn, &tenant_id, BillingNotice::Downgraded { plan_name }).await?;
        txn.commit().await?;
        state.bus.shop_changed(&tenant_id);
        downgraded += 1;
        tracing::info!(tenant = %tenant_id, "grace period over: shop moved to the default plan");
    }
    let mut purged = 0;
    let cutoff = now - chrono::Duration::days(state.cfg.closed_retention_days.max(0));
    for tenant_id in closed_tenants_due_for_purge(state.db.reader(), cutoff).await? {
        let txn = state.db.begin().await?;
        let rows = purge_tenant_data(&txn, &tenant_id).await?;
        record_audit(
            &txn,
            &Actor::system(),
            Some(&tenant_id),
            "tenant.purge",
            &tenant_id,
            &format!("closed for {} days; {rows} rows deleted", state.cfg.closed_retention_days),
        )
        .await?;
        txn.commit().await?;
        state.bus.shop_changed(&tenant_id);
        purged += 1;
        tracing::info!(tenant = %tenant_id, rows, "closed shop purged");
    }
    Ok((downgraded, purged))
}
