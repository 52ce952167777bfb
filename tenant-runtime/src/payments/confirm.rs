//! Turning a notification into a delivered order.
//!
//! Verification (signature) is the channel's job; this module checks the
//! notification against the attempt it names (same tenant, channel, amount,
//! currency) and then, in one transaction with the payment and order rows
//! locked: records the attempt, sells the reserved keys (or fresh ones after
//! a late payment), moves the order on, and queues the buyer's email. The
//! same notification any number of times has the effect of one.

use chrono::Utc;
use kapu_billing::channels::channel_by_kind;
use kapu_billing::{KnownPayment, Notification, PaymentOutcome, VerifiedNotification, VerifyError};
use kapu_core::entities::{orders, payments, products};
use kapu_core::jobs::{NewJob, enqueue};
use kapu_core::store::card_keys::{
    Reservation, reserve_keys_for_order_for_tenant, sell_reserved_keys_of_order_for_tenant,
    sold_keys_of_order_for_tenant,
};
use kapu_core::store::coupons::retake_coupon_use_for_tenant;
use kapu_core::store::fee_ledger::record_fee_for_order;
use kapu_core::store::orders::{lock_order_for_tenant, status};
use kapu_core::store::payment_notifications::{NotificationRecord, Verdict, masked_body, record_notification};
use kapu_core::store::payments::{
    find_payment_by_provider_ref_for_tenant, find_payment_for_tenant, lock_payment_for_tenant, status as pay_status,
};
use kapu_core::store::supply;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
};

use crate::error::StoreError;
use crate::http::host::TenantCtx;
use crate::jobs::{BUY_FROM_SUPPLIER, NOTIFY_ATTENTION, SEND_DELIVERY_EMAIL};
use crate::state::RuntimeState;

/// What a notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub order_id: String,
    pub order_no: String,
    /// The order's status after the notification.
    pub order_status: String,
    /// False when this notification had been processed before (a repeat).
    pub changed: bool,
    /// The provider said the payment failed or was cancelled.
    pub failed_payment: bool,
}

/// A notification as it arrived on a shop's notification address (or the
/// Stripe webhook): `notification` is `Err` when it could not be read.
/// Whatever happens, it is written to the shop's notification log with its
/// verdict (the merchant's notification inspector) and counted in
/// `kapu_payment_notifications_total`; `raw` is the body as received, kept
/// masked.
pub async fn receive_notification(
    state: &RuntimeState,
    shop: &TenantCtx,
    payment_id: &str,
    source_ip: std::net::IpAddr,
    notification: Result<Notification, StoreError>,
    raw: &str,
) -> Result<&'static str, StoreError> {
    let received = std::time::Instant::now();
    // The attempt is read once: to verify against, and for the log.
    let attempt = match &notification {
        Ok(_) => find_payment_for_tenant(state.db.reader(), &shop.tenant.id, payment_id).await,
        Err(_) => Ok(None),
    };
    let (body, result) = match (notification, &attempt) {
        (Ok(n), Ok(Some(payment))) => {
            (masked_body(&n.fields, &n.headers, &n.body), apply_notification(state, shop, payment, &n).await)
        }
        (Ok(n), Ok(None)) => (masked_body(&n.fields, &n.headers, &n.body), Err(StoreError::PaymentNotFound)),
        (Ok(n), Err(e)) => (masked_body(&n.fields, &n.headers, &n.body), Err(StoreError::from(e.clone()))),
        (Err(e), _) => (masked_body(&Default::default(), &Default::default(), raw), Err(e)),
    };
    let verdict = verdict_of(&result);
    if let Err(StoreError::Unavailable(_)) = &result {
        // The database is away: nothing can be logged, and the provider
        // retries the notification, which is logged then. Answer at once.
        kapu_core::metrics::payment_notification("unknown", verdict.as_str());
        return result.map(|(_, ack)| ack);
    }
    let attempt = attempt.ok().flatten();
    let channel = attempt.as_ref().map_or("unknown", |p| p.channel.as_str());
    kapu_core::metrics::payment_notification(channel, verdict.as_str());
    if let Ok((c, _)) = &result
        && c.changed
        && c.order_status == status::DELIVERED
    {
        kapu_core::metrics::payment_to_delivery(received.elapsed());
    }
    // The order number: known from an applied notification; read only for a refused one.
    let order_no = match (&result, &attempt) {
        (Ok((c, _)), _) => c.order_no.clone(),
        (Err(_), Some(p)) => orders::Entity::find_by_id((shop.tenant.id.clone(), p.order_id.clone()))
            .one(state.db.reader())
            .await
            .ok()
            .flatten()
            .map(|o| o.order_no)
            .unwrap_or_default(),
        (Err(_), None) => String::new(),
    };
    let reason = match &result {
        Err(StoreError::NotificationRejected(_, detail)) => detail.clone(),
        Err(e) => e.to_string(),
        Ok((c, _)) if c.changed => format!("order {} is now {}", c.order_no, c.order_status),
        Ok((c, _)) => format!("order {} was already {}", c.order_no, c.order_status),
    };
    let record = NotificationRecord {
        tenant_id: &shop.tenant.id,
        payment_id,
        order_no: &order_no,
        channel,
        source_ip: &source_ip.to_string(),
        verdict,
        reason: &reason,
        body: &body,
    };
    if let Err(e) = record_notification(state.db.writer(), record).await {
        tracing::warn!(error = %e, "could not log a payment notification");
    }
    result.map(|(_, ack)| ack)
}

/// The inspector's verdict on what applying a notification did.
fn verdict_of(result: &Result<(Confirmed, &'static str), StoreError>) -> Verdict {
    match result {
        Ok((c, _)) if c.failed_payment => Verdict::PaymentFailed,
        Ok((c, _)) if c.changed => Verdict::Accepted,
        Ok(_) => Verdict::Duplicate,
        Err(StoreError::NotificationRejected(v, _)) => *v,
        Err(StoreError::PaymentNotFound) => Verdict::UnknownAttempt,
        Err(StoreError::SandboxDisabled) => Verdict::NotAllowed,
        Err(_) => Verdict::Error,
    }
}

/// The verdict of a channel's refusal to verify.
fn verify_verdict(e: &VerifyError) -> Verdict {
    match e {
        VerifyError::BadSignature => Verdict::BadSignature,
        VerifyError::Malformed(_) => Verdict::Malformed,
        VerifyError::WrongMerchant(_) => Verdict::WrongAttempt,
        VerifyError::NotConfirmed(_) => Verdict::NotConfirmed,
        _ => Verdict::NotConfigured,
    }
}

/// Verifies `notification` with the channel of `payment` (an attempt of
/// this shop) and applies it. Also returns the body the channel's provider
/// expects as acknowledgement.
async fn apply_notification(
    state: &RuntimeState,
    shop: &TenantCtx,
    payment: &payments::Model,
    notification: &Notification,
) -> Result<(Confirmed, &'static str), StoreError> {
    let tenant = &shop.tenant;
    let payment_id = payment.id.as_str();
    let channel = channel_by_kind(&payment.channel).ok_or_else(|| {
        StoreError::NotificationRejected(
            Verdict::NotConfigured,
            format!("payment {payment_id} names unknown channel {:?}", payment.channel),
        )
    })?;
    if channel.test_only() && !tenant.is_test_mode() {
        return Err(StoreError::SandboxDisabled);
    }
    let keys = state.master.tenant(&tenant.id);
    // The shop's cached setup has its enabled channels' credentials; a
    // channel disabled since the attempt started is read from the database
    // (the buyer has paid through it).
    let setup = state.catalog.setup(&state.db, &state.master, &tenant.id).await?;
    let credentials = match setup.channels.iter().find(|c| c.kind == payment.channel) {
        Some(c) => c.credentials.clone(),
        None => {
            kapu_core::store::supply_payments::credentials_for_payment(
                state.db.reader(),
                &state.master,
                &tenant.id,
                &payment.channel,
            )
            .await?
        }
    };
    let ctx = state.providers.context(&tenant.id, &keys, tenant.is_test_mode(), &credentials);
    let known = KnownPayment {
        payment_id: payment.id.clone(),
        amount_minor: payment.amount_minor,
        currency: payment.currency.clone(),
        provider_ref: payment.provider_ref.clone(),
    };
    let verified = channel.verify_notification(ctx, notification, &known).await.map_err(|e| {
        StoreError::NotificationRejected(verify_verdict(&e), format!("payment {payment_id} ({}): {e}", payment.channel))
    })?;
    if verified.payment_id != payment_id {
        return Err(StoreError::NotificationRejected(
            Verdict::WrongAttempt,
            format!("notification for payment {} arrived on the URL of payment {payment_id}", verified.payment_id),
        ));
    }
    let confirmed = record_verified(state, &tenant.id, &verified).await?;
    Ok((confirmed, channel.notify_ack()))
}

/// Applies a verified notification in one transaction.
pub async fn record_verified(
    state: &RuntimeState,
    tenant_id: &str,
    v: &VerifiedNotification,
) -> Result<Confirmed, StoreError> {
    let now = Utc::now();
    // What the shop's caches know: whether it has webhook endpoints (as a
    // checkout does, see `ShopSetup`) and, if its catalog is loaded, the
    // kind of its visible products (a confirmation never loads the catalog:
    // that counts every available key of the shop).
    let setup = state.catalog.setup(&state.db, &state.master, tenant_id).await?;
    let catalog = state.catalog.cached(tenant_id).await;
    let txn = state.db.begin().await?;
    let payment = lock_payment_for_tenant(&txn, tenant_id, &v.payment_id).await?.ok_or(StoreError::PaymentNotFound)?;
    if v.amount_minor != payment.amount_minor || v.currency != payment.currency {
        return Err(StoreError::NotificationRejected(
            Verdict::AmountMismatch,
            format!(
                "payment {}: notified {} {} but the attempt is for {} {}",
                payment.id, v.amount_minor, v.currency, payment.amount_minor, payment.currency
            ),
        ));
    }
    let order = lock_order_for_tenant(&txn, tenant_id, &payment.order_id)
        .await?
        .ok_or_else(|| StoreError::Internal(format!("payment {} has no order", payment.id)))?;
    let kind = catalog.as_ref().and_then(|c| c.product(&order.product_id)).map(|p| p.kind.as_str());
    let unchanged = |order: &orders::Model| Confirmed {
        order_id: order.id.clone(),
        order_no: order.order_no.clone(),
        order_status: order.status.clone(),
        changed: false,
        failed_payment: false,
    };

    // Already applied (and possibly refunded since): a repeat changes nothing.
    if payment.status == pay_status::SUCCEEDED || payment.status == pay_status::REFUNDED {
        return Ok(unchanged(&order));
    }
    if v.outcome == PaymentOutcome::Failed {
        if payment.status == pay_status::CREATED {
            let mut p = payment.into_active_model();
            p.status = Set(pay_status::FAILED.into());
            p.error = Set(Some("the payer cancelled or the provider declined".into()));
            p.updated_at = Set(now);
            p.update(&txn).await?;
            txn.commit().await?;
            tracing::info!(order_no = %order.order_no, "payment attempt failed; order stays as it was");
        }
        return Ok(Confirmed { failed_payment: true, ..unchanged(&order) });
    }

    // One provider transaction pays one attempt: a notification replayed onto
    // another attempt is refused (the unique index is the backstop).
    if let Some(r) = &v.provider_ref
        && let Some(other) = find_payment_by_provider_ref_for_tenant(&txn, tenant_id, &payment.channel, r).await?
        && other.id != payment.id
    {
        return Err(StoreError::NotificationRejected(
            Verdict::WrongAttempt,
            format!(
                "transaction {r} already paid payment {} of order {}; refusing it for payment {}",
                other.id, other.order_id, payment.id
            ),
        ));
    }

    // A verified payment: record it first, whatever happens to the order.
    let mut p = payment.clone().into_active_model();
    p.status = Set(pay_status::SUCCEEDED.into());
    p.provider_ref = Set(v.provider_ref.clone());
    p.paid_at = Set(Some(now));
    p.updated_at = Set(now);
    let recorded = p.update(&txn).await?;

    let (new_status, stock_moved, from_supplier) = match order.status.as_str() {
        status::PENDING | status::EXPIRED => deliver(&txn, &state.master, tenant_id, &order, kind, now).await?,
        _ => {
            // Already paid by another attempt: keep the money visible for a refund.
            let mut p: payments::ActiveModel = recorded.into_active_model();
            p.error = Set(Some(format!("order already {} by another payment; refund this one", order.status)));
            p.update(&txn).await?;
            tracing::warn!(order_no = %order.order_no, payment = %payment.id, "second successful payment for one order");
            txn.commit().await?;
            return Ok(unchanged(&order));
        }
    };

    if order.status == status::EXPIRED
        && let Some(code) = &order.coupon_code
    {
        retake_coupon_use_for_tenant(&txn, tenant_id, code).await?;
    }
    let mut o = order.clone().into_active_model();
    o.status = Set(new_status.into());
    o.paid_at = Set(Some(now));
    o.updated_at = Set(now);
    let job = match new_status {
        status::DELIVERED => {
            o.delivered_at = Set(Some(now));
            Some(SEND_DELIVERY_EMAIL)
        }
        status::NEEDS_ATTENTION => {
            o.attention_reason = Set(Some("sold_out_after_late_payment".into()));
            Some(NOTIFY_ATTENTION)
        }
        // Bought from an external supplier now, by a job (retried, then the merchant's).
        status::PAID if from_supplier => Some(BUY_FROM_SUPPLIER),
        // Manual delivery: the merchant's fulfilment sends the email.
        _ => None,
    };
    o.update(&txn).await?;
    record_fee_for_order(&txn, tenant_id, &order.order_no, v.amount_minor, &v.currency, now).await?;
    // Taken through a supplier's channels: the supplier holds the money and owes it to this shop.
    if let Some(collector) = &setup.collected_by
        && payment.channel != kapu_billing::channels::sandbox::KIND
    {
        kapu_core::store::supply_payments::book_collected(&txn, &order, collector, v.amount_minor, now).await?;
    }
    if setup.webhooks {
        emit_order_events(&txn, tenant_id, &order, new_status, now).await?;
    }
    if let Some(job) = job {
        let mut job = NewJob::now(job, Some(tenant_id.to_string()), serde_json::json!({ "order_id": order.id }));
        if job.kind == BUY_FROM_SUPPLIER {
            job.max_attempts = state.cfg.supplier_buy_attempts.max(1) as i32;
        }
        enqueue(&txn, job).await?;
    }
    txn.commit().await?;
    if stock_moved {
        state.stock_changed(tenant_id).await;
        if let Some(supplier) = &order.stock_tenant_id {
            state.stock_changed(supplier).await;
        }
    }
    if new_status == status::DELIVERED {
        tracing::info!(order_no = %order.order_no, late = order.status == status::EXPIRED, "order paid and delivered");
    } else if from_supplier {
        tracing::info!(order_no = %order.order_no, "order paid; buying its keys from the supplier");
    } else if new_status == status::PAID {
        tracing::info!(order_no = %order.order_no, "manual order paid; waiting for the shop to deliver");
    } else {
        tracing::warn!(order_no = %order.order_no, "late payment but sold out: order needs attention");
    }
    kapu_core::metrics::order_event(kapu_core::metrics::ORDERS_PAID, 1);
    match new_status {
        status::DELIVERED => kapu_core::metrics::order_event(kapu_core::metrics::ORDERS_DELIVERED, 1),
        status::NEEDS_ATTENTION => kapu_core::metrics::order_event(kapu_core::metrics::ORDERS_NEEDS_ATTENTION, 1),
        _ => {}
    }
    Ok(Confirmed {
        order_id: order.id,
        order_no: order.order_no,
        order_status: new_status.into(),
        changed: true,
        failed_payment: false,
    })
}

/// Webhook events of a paid order (in the payment's transaction): always
/// `order.paid`, then `order.delivered` or `order.needs_attention`, and
/// `product.low_stock` when the sale left the product at or under its
/// threshold. One query when the shop has no endpoints; the stock is counted
/// (up to the threshold) only when an endpoint takes `product.low_stock`.
async fn emit_order_events(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    order: &orders::Model,
    new_status: &str,
    now: chrono::DateTime<Utc>,
) -> Result<(), StoreError> {
    use kapu_core::store::products::available_keys_up_to_for_tenant;
    use kapu_core::store::webhooks::{emit_event_to_endpoints, enabled_endpoints_for_tenant, order_data, subscribed};
    let endpoints = enabled_endpoints_for_tenant(txn, tenant_id).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let emit = |event: &'static str, data: serde_json::Value| {
        emit_event_to_endpoints(txn, tenant_id, &endpoints, event, data, now)
    };
    emit("order.paid", order_data(order, new_status)).await?;
    match new_status {
        status::DELIVERED => emit("order.delivered", order_data(order, new_status)).await?,
        status::NEEDS_ATTENTION => emit("order.needs_attention", order_data(order, new_status)).await?,
        _ => 0,
    };
    if new_status == status::DELIVERED
        && subscribed(&endpoints, "product.low_stock")
        && let Some(p) =
            products::Entity::find_by_id((tenant_id.to_string(), order.product_id.clone())).one(txn).await?
    {
        let threshold = p.low_stock_threshold.max(0) as u64;
        let left = available_keys_up_to_for_tenant(txn, tenant_id, &p.id, threshold + 1).await?;
        if left <= threshold {
            let data = serde_json::json!({ "product_id": p.id, "product_name": p.name, "available": left, "threshold": p.low_stock_threshold });
            emit("product.low_stock", data).await?;
        }
    }
    Ok(())
}

/// Sells the order's keys: the reserved ones, or fresh ones after expiry.
/// Returns the order's new status, whether it took keys that were
/// available (a late payment), which changes the shop's stock (selling the
/// reserved ones does not), and whether the keys are to be bought from an
/// external supplier (the order stays `paid` until a job has them). A resale order sells its supplier's keys (the
/// shop named by `stock_tenant_id`) and keeps a copy of them on the order,
/// sealed with the reseller's own key; the resale is booked on the supply
/// ledger in the same transaction.
async fn deliver(
    txn: &DatabaseTransaction,
    master: &kapu_core::crypto::MasterKey,
    tenant_id: &str,
    order: &orders::Model,
    kind: Option<&str>,
    now: chrono::DateTime<Utc>,
) -> Result<(&'static str, bool, bool), StoreError> {
    let product = match kind {
        Some(_) if order.stock_tenant_id.is_none() => None,
        // No catalog loaded, the product hidden since the order, or a resale: ask the database.
        _ => products::Entity::find_by_id((tenant_id.to_string(), order.product_id.clone())).one(txn).await?,
    };
    let is = |k: &str| match kind {
        Some(kind) => kind == k,
        None => product.as_ref().is_some_and(|p| p.kind == k),
    };
    if is("manual") {
        return Ok((status::PAID, false, false));
    }
    if is(kapu_core::store::external_supply::KIND) {
        return Ok((status::PAID, false, true));
    }
    let stock_tenant = supply::stock_tenant_of(order);
    // The product whose keys the order takes: the supplier's for a resale.
    let stock_product = match &order.stock_tenant_id {
        Some(_) => product.as_ref().and_then(|p| p.supply_product_id.clone()),
        None => Some(order.product_id.clone()),
    };
    let wanted = order.quantity as u64;
    let mut sold = sell_reserved_keys_of_order_for_tenant(txn, stock_tenant, &order.id, now).await?;
    let late = sold < wanted;
    if late && let Some(stock_product) = &stock_product {
        // Late payment: the reservation was released; take what stock remains.
        match reserve_keys_for_order_for_tenant(txn, stock_tenant, stock_product, &order.id, wanted - sold, now, None)
            .await?
        {
            Reservation::Reserved => {
                sold += sell_reserved_keys_of_order_for_tenant(txn, stock_tenant, &order.id, now).await?
            }
            Reservation::Short { .. } => {}
        }
    }
    if sold < wanted {
        return Ok((status::NEEDS_ATTENTION, late, false));
    }
    if order.stock_tenant_id.is_some() {
        let keys = sold_keys_of_order_for_tenant(txn, &master.tenant(stock_tenant), stock_tenant, &order.id)
            .await
            .map_err(|e| StoreError::Internal(format!("reading a resale order's keys: {e}")))?;
        let sealed = master.tenant(tenant_id).seal(keys.join("\n").as_bytes());
        orders::Entity::update_many()
            .col_expr(orders::Column::DeliveryCiphertext, Expr::value(Some(sealed.ciphertext)))
            .col_expr(orders::Column::DeliveryNonce, Expr::value(Some(sealed.nonce)))
            .filter(orders::Column::TenantId.eq(tenant_id))
            .filter(orders::Column::Id.eq(&order.id))
            .exec(txn)
            .await?;
        supply::book_resale(txn, order, now).await?;
    }
    Ok((status::DELIVERED, late, false))
}
