//! Reconciliation: asking providers about attempts whose notification has
//! not arrived. An attempt still unpaid `reconcile_after_secs` after it was
//! created is asked about every `reconcile_every_secs` while its order waits
//! for payment, and once more after the order expired; a paid answer goes
//! through the same idempotent path as a notification, so a lost
//! notification still delivers. What a check finds is logged for the
//! merchant (every outcome except "still pending").

use chrono::{Duration, Utc};
use kapu_billing::channels::channel_by_kind;
use kapu_billing::{KnownPayment, QueryOutcome};
use kapu_core::entities::{orders, payments};
use kapu_core::store::orders::status;
use kapu_core::store::payment_checks::{CheckRecord, record_check};
use kapu_core::store::payments::{attempts_to_reconcile, mark_checked};
use kapu_core::tenant::find_tenant_by_id;
use sea_orm::EntityTrait;

use crate::error::StoreError;
use crate::payments::confirm::record_verified;
use crate::state::RuntimeState;

/// Attempts looked at per sweep.
const BATCH: u64 = 200;
/// A safety stop: no attempt is asked about more often than this.
const MAX_CHECKS: i32 = 60;

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sweep {
    pub checked: usize,
    pub delivered: usize,
}

/// Runs one sweep over every shop's due attempts.
pub async fn reconcile_due(state: &RuntimeState) -> Result<Sweep, StoreError> {
    let now = Utc::now();
    let after = Duration::seconds(i64::try_from(state.cfg.reconcile_after_secs).unwrap_or(i64::MAX / 2));
    let every = Duration::seconds(i64::try_from(state.cfg.reconcile_every_secs).unwrap_or(i64::MAX / 2));
    let due = attempts_to_reconcile(
        state.db.reader(),
        now - after,
        now - every,
        MAX_CHECKS,
        &[kapu_billing::channels::sandbox::KIND],
        BATCH,
    )
    .await?;
    let mut sweep = Sweep::default();
    for p in due {
        sweep.checked += 1;
        match check_one(state, &p, false).await {
            Ok(true) => sweep.delivered += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(payment = %p.id, error = %e, "reconciliation check failed"),
        }
    }
    Ok(sweep)
}

/// The merchant's "ask the provider now": one check of the attempt, whatever
/// its schedule, with every outcome logged (a still-pending one too).
pub async fn check_now(state: &RuntimeState, tenant_id: &str, payment_id: &str) -> Result<bool, StoreError> {
    let p = kapu_core::store::payments::find_payment_for_tenant(state.db.reader(), tenant_id, payment_id)
        .await?
        .ok_or(StoreError::PaymentNotFound)?;
    check_one(state, &p, true).await
}

/// Asks the provider about one attempt. True when it turned out paid and
/// was applied now. `asked` (by the merchant): log a pending answer too.
async fn check_one(state: &RuntimeState, p: &payments::Model, asked: bool) -> Result<bool, StoreError> {
    let now = Utc::now();
    let db = state.db.writer();
    let Some(order) = orders::Entity::find_by_id((p.tenant_id.clone(), p.order_id.clone())).one(db).await? else {
        return Ok(false);
    };
    let Some(channel) = channel_by_kind(&p.channel).filter(|c| !c.test_only()) else {
        // The sandbox (and anything unknown) has no provider to ask.
        mark_checked(db, &p.tenant_id, &p.id, now, Some("no provider to ask")).await?;
        if asked {
            let record = CheckRecord {
                tenant_id: &p.tenant_id,
                payment_id: &p.id,
                order_no: &order.order_no,
                channel: &p.channel,
                outcome: "error",
                detail: "this channel has no provider to ask (the sandbox)",
            };
            record_check(db, record).await?;
        }
        return Ok(false);
    };
    let Some(tenant) = find_tenant_by_id(db, &p.tenant_id).await? else {
        return Ok(false);
    };
    let log = |outcome: &'static str, detail: String| {
        let (tenant_id, payment_id, order_no, kind) =
            (p.tenant_id.clone(), p.id.clone(), order.order_no.clone(), p.channel.clone());
        async move {
            record_check(
                db,
                CheckRecord {
                    tenant_id: &tenant_id,
                    payment_id: &payment_id,
                    order_no: &order_no,
                    channel: &kind,
                    outcome,
                    detail: &detail,
                },
            )
            .await
        }
    };
    let keys = state.master.tenant(&tenant.id);
    let credentials =
        kapu_core::store::supply_payments::credentials_for_payment(db, &state.master, &tenant.id, &p.channel).await?;
    let ctx = state.providers.context(&tenant.id, &keys, tenant.is_test_mode(), &credentials);
    let known = KnownPayment {
        payment_id: p.id.clone(),
        amount_minor: p.amount_minor,
        currency: p.currency.clone(),
        provider_ref: p.provider_ref.clone(),
    };
    // After the order stopped waiting, one last look, then the attempt is closed.
    let last_look = order.status != status::PENDING && p.checked_at.is_some_and(|c| c >= order.expires_at);
    let outcome = channel.query_payment(ctx, &known).await;
    match outcome {
        Ok(QueryOutcome::Paid(v)) if v.payment_id == p.id => match record_verified(state, &tenant.id, &v).await {
            Ok(c) => {
                mark_checked(db, &p.tenant_id, &p.id, now, None).await?;
                if c.changed {
                    log("delivered", format!("provider reports paid; order is now {}", c.order_status)).await?;
                    kapu_core::metrics::payment_notification(&p.channel, "found_by_reconciliation");
                    tracing::info!(order_no = %order.order_no, channel = %p.channel, "reconciliation found a payment whose notification never came");
                }
                if !c.changed && asked {
                    log("paid", format!("provider reports paid; the order was already {}", c.order_status)).await?;
                }
                Ok(c.changed)
            }
            Err(e) => {
                mark_checked(db, &p.tenant_id, &p.id, now, None).await?;
                log("rejected", format!("provider reports paid but it does not match the attempt: {e}")).await?;
                Ok(false)
            }
        },
        Ok(QueryOutcome::Paid(v)) => {
            mark_checked(db, &p.tenant_id, &p.id, now, None).await?;
            log("rejected", format!("provider answered about payment {}", v.payment_id)).await?;
            Ok(false)
        }
        Ok(QueryOutcome::Pending) if last_look => {
            mark_checked(db, &p.tenant_id, &p.id, now, Some("still unpaid after the order stopped waiting")).await?;
            log("unpaid", format!("still unpaid after the order became {}; no more checks", order.status)).await?;
            Ok(false)
        }
        Ok(QueryOutcome::Pending) => {
            mark_checked(db, &p.tenant_id, &p.id, now, None).await?;
            if asked {
                log("pending", "the provider says it is still waiting for the payer".into()).await?;
            }
            Ok(false)
        }
        Ok(QueryOutcome::Closed) => {
            mark_checked(db, &p.tenant_id, &p.id, now, Some("closed at the provider")).await?;
            log("closed", "the provider closed the payment unpaid".into()).await?;
            Ok(false)
        }
        Ok(QueryOutcome::NotFound) => {
            let stop = last_look.then_some("the provider does not know this payment");
            mark_checked(db, &p.tenant_id, &p.id, now, stop).await?;
            log("not_found", "the provider does not know this payment".into()).await?;
            Ok(false)
        }
        Err(e) => {
            mark_checked(db, &p.tenant_id, &p.id, now, None).await?;
            log("error", format!("could not ask the provider: {e}")).await?;
            Ok(false)
        }
    }
}

/// Sweeps every `reconcile_every_secs` until the token is cancelled, on one
/// worker process at a time (`sweep_leases`).
pub fn spawn_reconciler(state: RuntimeState, stop: tokio_util::sync::CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = std::time::Duration::from_secs(state.cfg.reconcile_every_secs.max(1));
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(period) => {}
            }
            // One worker at a time (a lease that outlives three missed passes).
            let lease = (period * 3).max(std::time::Duration::from_secs(30));
            if !kapu_core::store::sweep_leases::may_sweep(state.db.writer(), "reconcile", lease).await {
                continue;
            }
            match reconcile_due(&state).await {
                Ok(s) if s.checked > 0 => {
                    tracing::info!(checked = s.checked, delivered = s.delivered, "reconciliation sweep")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reconciliation sweep failed"),
            }
        }
    })
}
