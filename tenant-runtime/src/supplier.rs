//! Buying a paid order's keys from an external supplier, and polling each
//! supplier's stock. The purchase runs in a job after the payment is
//! recorded (never in the buyer's request): idempotent by the order's id,
//! retried with backoff, guarded by a circuit breaker per supplier (the
//! payment channels' breaker, keyed `supplier:{connection}`). Keys that come
//! back are checked (count, none empty, none repeated, none this shop
//! delivered before) before the buyer sees them; when the supplier refuses,
//! sends bad keys, or stays away past the last try, the order needs the
//! merchant, with the reason, and the merchant can refund it.

use std::time::Instant;

use chrono::Utc;
use kapu_billing::suppliers::{GenericSupplier, SupplierError};
use kapu_core::entities::{orders, products, supplier_connections};
use kapu_core::jobs::kinds::{NOTIFY_ATTENTION, SEND_DELIVERY_EMAIL};
use kapu_core::jobs::{ClaimedJob, NewJob, enqueue};
use kapu_core::store::external_supply::{self, accept_supplied_keys, record_check, secret_of, set_stock_of_connection};
use kapu_core::store::orders::{lock_order_for_tenant, status};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};

use crate::state::RuntimeState;

/// The breaker key of one supplier connection.
pub fn breaker_kind(connection_id: &str) -> String {
    format!("supplier:{connection_id}")
}

/// Runs a `buy_from_supplier` job for `order_id`.
pub async fn buy_for_order(
    state: &RuntimeState,
    job: &ClaimedJob,
    tenant_id: &str,
    order_id: &str,
) -> anyhow::Result<()> {
    let db = state.db.reader();
    let Some(order) = orders::Entity::find_by_id((tenant_id.to_string(), order_id.to_string())).one(db).await? else {
        return Ok(());
    };
    if order.status != status::PAID {
        return Ok(()); // delivered, refunded or handed to the merchant already
    }
    let product = products::Entity::find_by_id((tenant_id.to_string(), order.product_id.clone())).one(db).await?;
    let connection = match (&order.external_connection_id, &product) {
        (Some(c), _) => external_supply::find_connection_for_tenant(db, tenant_id, c).await?,
        _ => None,
    };
    let (Some(product), Some(connection)) = (product, connection) else {
        return needs_attention(state, tenant_id, order_id, "the product's supplier connection no longer exists").await;
    };
    let Some(sku) = product.external_sku.clone() else {
        return needs_attention(state, tenant_id, order_id, "the product names no supplier SKU").await;
    };
    let keys = state.master.tenant(tenant_id);
    let secret = match secret_of(&keys, &connection) {
        Ok(s) => s,
        Err(e) => return needs_attention(state, tenant_id, order_id, &e).await,
    };
    let kind = breaker_kind(&connection.id);
    let last_try = job.attempts >= job.max_attempts;
    if matches!(state.health.admit(tenant_id, &kind).await, kapu_billing::health::Admission::Skipped) {
        let why = format!("{} is not answering (circuit breaker open)", connection.name);
        return retry_or_give_up(state, tenant_id, order_id, last_try, &why).await;
    }
    let client = GenericSupplier {
        providers: &state.providers,
        base_url: &connection.base_url,
        secret: &secret,
        bearer: connection.kind == "kapu",
    };
    let started = Instant::now();
    let answer = client.fetch_or_buy(&order.id, &sku, order.quantity.max(0) as u32, job.attempts > 1).await;
    let latency = started.elapsed();
    let sold = match answer {
        Ok(sold) => {
            state.health.record_success(tenant_id, &kind, latency).await;
            record_check(state.db.writer(), tenant_id, &connection.id, None, Utc::now()).await?;
            sold
        }
        Err(e) => {
            let transient = e.is_transient();
            state.health.record_failure(tenant_id, &kind, latency, &e.to_string(), transient).await;
            record_check(state.db.writer(), tenant_id, &connection.id, Some(&e.to_string()), Utc::now()).await?;
            return match e {
                SupplierError::Transient(m) => {
                    retry_or_give_up(state, tenant_id, order_id, last_try, &format!("{}: {m}", connection.name)).await
                }
                SupplierError::Refused(m) => {
                    needs_attention(state, tenant_id, order_id, &format!("{} refused: {m}", connection.name)).await
                }
            };
        }
    };
    if sold.reference != order.id {
        let why = format!("{} answered for another order ({})", connection.name, sold.reference);
        return needs_attention(state, tenant_id, order_id, &why).await;
    }
    if sold.status != "delivered" {
        let why = format!("{} has not delivered yet ({})", connection.name, sold.status);
        return retry_or_give_up(state, tenant_id, order_id, last_try, &why).await;
    }
    deliver_supplied(state, tenant_id, &order, &connection, &sold.keys).await
}

/// Checks the keys and delivers them in one transaction: the keys sealed on
/// the order, the order delivered, the buyer's email and the webhook queued.
async fn deliver_supplied(
    state: &RuntimeState,
    tenant_id: &str,
    order: &orders::Model,
    connection: &supplier_connections::Model,
    supplied: &[String],
) -> anyhow::Result<()> {
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let Some(locked) = lock_order_for_tenant(&txn, tenant_id, &order.id).await? else { return Ok(()) };
    if locked.status != status::PAID {
        return Ok(());
    }
    let keys: Vec<String> = supplied.iter().map(|k| k.trim().to_string()).collect();
    if let Err(refused) =
        accept_supplied_keys(&txn, tenant_id, &order.id, order.quantity.max(0) as u64, &keys, now).await?
    {
        drop(txn);
        let why = format!("{}: {}", connection.name, refused.reason());
        return needs_attention(state, tenant_id, &order.id, &why).await;
    }
    let sealed = state.master.tenant(tenant_id).seal(keys.join("\n").as_bytes());
    let mut o = locked.clone().into_active_model();
    o.status = Set(status::DELIVERED.into());
    o.delivered_at = Set(Some(now));
    o.updated_at = Set(now);
    o.delivery_ciphertext = Set(Some(sealed.ciphertext));
    o.delivery_nonce = Set(Some(sealed.nonce));
    o.update(&txn).await?;
    enqueue(
        &txn,
        NewJob::now(SEND_DELIVERY_EMAIL, Some(tenant_id.to_string()), serde_json::json!({ "order_id": order.id })),
    )
    .await?;
    emit_order_event(&txn, tenant_id, &locked, "order.delivered", status::DELIVERED, now).await?;
    txn.commit().await?;
    kapu_core::metrics::order_event(kapu_core::metrics::ORDERS_DELIVERED, 1);
    tracing::info!(order_no = %order.order_no, supplier = %connection.name, "keys bought from the supplier and delivered");
    Ok(())
}

/// A failure that may pass: the job runs again later, unless this was its
/// last try, when the order goes to the merchant.
async fn retry_or_give_up(
    state: &RuntimeState,
    tenant_id: &str,
    order_id: &str,
    last_try: bool,
    why: &str,
) -> anyhow::Result<()> {
    if last_try {
        needs_attention(state, tenant_id, order_id, &format!("gave up after the last try: {why}")).await
    } else {
        anyhow::bail!("buying from the supplier: {why}")
    }
}

/// The order needs the merchant (refund, or deliver by hand): the reason is
/// kept on it, the buyer is told, and the merchant's webhook hears it.
async fn needs_attention(state: &RuntimeState, tenant_id: &str, order_id: &str, why: &str) -> anyhow::Result<()> {
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let Some(order) = lock_order_for_tenant(&txn, tenant_id, order_id).await? else { return Ok(()) };
    if order.status != status::PAID {
        return Ok(());
    }
    let reason: String = format!("supplier: {why}").chars().take(500).collect();
    orders::Entity::update_many()
        .col_expr(orders::Column::Status, Expr::value(status::NEEDS_ATTENTION))
        .col_expr(orders::Column::AttentionReason, Expr::value(Some(reason.clone())))
        .col_expr(orders::Column::UpdatedAt, Expr::value(now))
        .filter(orders::Column::TenantId.eq(tenant_id))
        .filter(orders::Column::Id.eq(order_id))
        .exec(&txn)
        .await?;
    enqueue(
        &txn,
        NewJob::now(NOTIFY_ATTENTION, Some(tenant_id.to_string()), serde_json::json!({ "order_id": order_id })),
    )
    .await?;
    emit_order_event(&txn, tenant_id, &order, "order.needs_attention", status::NEEDS_ATTENTION, now).await?;
    txn.commit().await?;
    kapu_core::metrics::order_event(kapu_core::metrics::ORDERS_NEEDS_ATTENTION, 1);
    tracing::warn!(order_no = %order.order_no, reason = %reason, "supplier order needs the merchant");
    Ok(())
}

async fn emit_order_event(
    txn: &sea_orm::DatabaseTransaction,
    tenant_id: &str,
    order: &orders::Model,
    event: &'static str,
    new_status: &str,
    now: chrono::DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    use kapu_core::store::webhooks::{emit_event_to_endpoints, enabled_endpoints_for_tenant, order_data};
    let endpoints = enabled_endpoints_for_tenant(txn, tenant_id).await?;
    if !endpoints.is_empty() {
        emit_event_to_endpoints(txn, tenant_id, &endpoints, event, order_data(order, new_status), now).await?;
    }
    Ok(())
}

/// Asks every supplier connection of every shop for its stock and stores
/// it on the products bound to it; one that does not answer counts against
/// its breaker and keeps its last figures (with their age).
pub async fn poll_stock_once(state: &RuntimeState) -> anyhow::Result<u64> {
    let mut changed = 0;
    for c in external_supply::all_connections(state.db.reader()).await? {
        changed += poll_connection(state, &c).await.unwrap_or_else(|e| {
            tracing::warn!(connection = %c.id, error = %e, "polling a supplier's stock failed");
            0
        });
    }
    Ok(changed)
}

/// Polls one connection; returns how many products changed.
pub async fn poll_connection(state: &RuntimeState, c: &supplier_connections::Model) -> anyhow::Result<u64> {
    let secret = secret_of(&state.master.tenant(&c.tenant_id), c).map_err(anyhow::Error::msg)?;
    let kind = breaker_kind(&c.id);
    let client = GenericSupplier {
        providers: &state.providers,
        base_url: &c.base_url,
        secret: &secret,
        bearer: c.kind == "kapu",
    };
    let started = Instant::now();
    let now = Utc::now();
    match client.products().await {
        Ok(list) => {
            state.health.record_success(&c.tenant_id, &kind, started.elapsed()).await;
            record_check(state.db.writer(), &c.tenant_id, &c.id, None, now).await?;
            let stock: Vec<(String, i64)> = list.into_iter().map(|p| (p.sku, p.stock)).collect();
            let n = set_stock_of_connection(state.db.writer(), &c.tenant_id, &c.id, &stock, now).await?;
            if n > 0 {
                state.shop_changed(&c.tenant_id).await;
            }
            Ok(n)
        }
        Err(e) => {
            state.health.record_failure(&c.tenant_id, &kind, started.elapsed(), &e.to_string(), e.is_transient()).await;
            record_check(state.db.writer(), &c.tenant_id, &c.id, Some(&e.to_string()), now).await?;
            Err(anyhow::anyhow!(e.to_string()))
        }
    }
}

/// Polls every supplier's stock every `supplier_poll_secs`, on one worker of
/// the fleet at a time (a sweep lease).
pub fn spawn_stock_poller(
    state: RuntimeState,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = std::time::Duration::from_secs(state.cfg.supplier_poll_secs.max(1));
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(period) => {}
            }
            let lease = (period * 3).max(std::time::Duration::from_secs(30));
            if !kapu_core::store::sweep_leases::may_sweep(state.db.writer(), "supplier_stock", lease).await {
                continue;
            }
            if let Err(e) = poll_stock_once(&state).await {
                tracing::warn!(error = %e, "supplier stock poll failed");
            }
        }
    })
}
