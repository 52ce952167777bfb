//! Outbound webhooks of a shop: endpoints (secret sealed with the tenant
//! key), events turned into one delivery per subscribed endpoint (queued in
//! the caller's transaction, so an event is never lost nor sent for a change
//! that rolled back), and the delivery log.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::crypto::TenantKeys;
use crate::entities::{webhook_deliveries, webhook_endpoints};
use crate::ids::new_id;
use crate::jobs::{NewJob, enqueue};

/// Job kind: deliver one webhook delivery.
pub const DELIVER_WEBHOOK: &str = "deliver_webhook";

/// Every event a shop can subscribe to.
pub const EVENT_TYPES: &[&str] = &[
    "order.created",
    "order.paid",
    "order.delivered",
    "order.needs_attention",
    "product.low_stock",
    "resale.delivered",
    "resale.refunded",
    "affiliate.commission_booked",
    "affiliate.commission_reversed",
    "affiliate.payout_requested",
];

/// `v1,{base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")}` (Standard Webhooks).
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &str) -> String {
    let mac = crate::crypto::hmac(key, format!("{msg_id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac))
}

/// A new signing secret: 32 random bytes, shown as `whsec_{base64}`.
pub fn new_secret() -> (Vec<u8>, String) {
    let bytes: [u8; 32] = rand::random();
    (bytes.to_vec(), format!("whsec_{}", STANDARD.encode(bytes)))
}

/// Adds an endpoint; returns its id.
pub async fn create_endpoint_for_tenant<C: ConnectionTrait>(
    conn: &C,
    keys: &TenantKeys,
    tenant_id: &str,
    url: &str,
    events: &[&str],
    secret: &[u8],
) -> Result<String, DbErr> {
    let id = new_id();
    let sealed = keys.seal(secret);
    webhook_endpoints::Entity::insert(webhook_endpoints::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        id: Set(id.clone()),
        url: Set(url.into()),
        events: Set(events.join(",")),
        secret_ciphertext: Set(sealed.ciphertext),
        secret_nonce: Set(sealed.nonce),
        enabled: Set(true),
        disabled_reason: Set(None),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(id)
}

pub async fn list_endpoints_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<webhook_endpoints::Model>, DbErr> {
    webhook_endpoints::Entity::find()
        .filter(webhook_endpoints::Column::TenantId.eq(tenant_id))
        .order_by_asc(webhook_endpoints::Column::CreatedAt)
        .all(conn)
        .await
}

pub async fn find_endpoint_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    id: &str,
) -> Result<Option<webhook_endpoints::Model>, DbErr> {
    webhook_endpoints::Entity::find_by_id((tenant_id.to_string(), id.to_string())).one(conn).await
}

/// Turns an endpoint on (clearing why it was off) or off with a reason.
pub async fn set_endpoint_enabled_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    id: &str,
    enabled: bool,
    reason: Option<&str>,
) -> Result<bool, DbErr> {
    let r = webhook_endpoints::Entity::update_many()
        .col_expr(webhook_endpoints::Column::Enabled, Expr::value(enabled))
        .col_expr(webhook_endpoints::Column::DisabledReason, Expr::value(reason.map(str::to_string)))
        .filter(webhook_endpoints::Column::TenantId.eq(tenant_id))
        .filter(webhook_endpoints::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn delete_endpoint_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    id: &str,
) -> Result<bool, DbErr> {
    let r = webhook_endpoints::Entity::delete_many()
        .filter(webhook_endpoints::Column::TenantId.eq(tenant_id))
        .filter(webhook_endpoints::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Whether the tenant has an enabled webhook endpoint (checkouts skip
/// emitting events when it has none).
pub async fn has_enabled_webhook_endpoint_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<bool, DbErr> {
    Ok(webhook_endpoints::Entity::find()
        .select_only()
        .column(webhook_endpoints::Column::Id)
        .filter(webhook_endpoints::Column::TenantId.eq(tenant_id))
        .filter(webhook_endpoints::Column::Enabled.eq(true))
        .into_tuple::<String>()
        .one(conn)
        .await?
        .is_some())
}

/// Queues `event_type` with `data` for every enabled endpoint of the shop
/// subscribed to it. Call inside the transaction of the change.
pub async fn emit_event_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    event_type: &str,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let endpoints = enabled_endpoints_for_tenant(conn, tenant_id).await?;
    emit_event_to_endpoints(conn, tenant_id, &endpoints, event_type, data, now).await
}

/// The shop's enabled endpoints, for several events of one change
/// ([`emit_event_to_endpoints`]).
pub async fn enabled_endpoints_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<webhook_endpoints::Model>, DbErr> {
    webhook_endpoints::Entity::find()
        .filter(webhook_endpoints::Column::TenantId.eq(tenant_id))
        .filter(webhook_endpoints::Column::Enabled.eq(true))
        .all(conn)
        .await
}

/// Whether any of `endpoints` takes `event_type`.
pub fn subscribed(endpoints: &[webhook_endpoints::Model], event_type: &str) -> bool {
    endpoints.iter().any(|e| takes(e, event_type))
}

/// Whether `endpoint` takes `event_type`.
fn takes(endpoint: &webhook_endpoints::Model, event_type: &str) -> bool {
    endpoint.events.split(',').any(|t| t == event_type)
}

/// Queues `event_type` for those of `endpoints` (the shop's enabled ones)
/// subscribed to it.
pub async fn emit_event_to_endpoints<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    endpoints: &[webhook_endpoints::Model],
    event_type: &str,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    if !subscribed(endpoints, event_type) {
        return Ok(0);
    }
    let payload = serde_json::json!({
        "type": event_type,
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string();
    let mut queued = 0;
    for e in endpoints.iter().filter(|e| takes(e, event_type)) {
        let id = new_id();
        webhook_deliveries::Entity::insert(webhook_deliveries::ActiveModel {
            tenant_id: Set(tenant_id.into()),
            id: Set(id.clone()),
            endpoint_id: Set(e.id.clone()),
            event_type: Set(event_type.into()),
            payload: Set(payload.clone()),
            status: Set("pending".into()),
            attempts: Set(0),
            last_status_code: Set(None),
            last_error: Set(None),
            next_attempt_at: Set(Some(now)),
            created_at: Set(now),
            delivered_at: Set(None),
        })
        .exec_without_returning(conn)
        .await?;
        queue_delivery(conn, tenant_id, &id, now).await?;
        queued += 1;
    }
    Ok(queued)
}

/// Queues an attempt of a delivery at `at`.
pub async fn queue_delivery<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    delivery_id: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut job =
        NewJob::now(DELIVER_WEBHOOK, Some(tenant_id.into()), serde_json::json!({ "delivery_id": delivery_id })).at(at);
    // Retries follow the webhook schedule, not the job queue's.
    job.max_attempts = 1;
    enqueue(conn, job).await
}

pub async fn find_delivery_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    id: &str,
) -> Result<Option<webhook_deliveries::Model>, DbErr> {
    webhook_deliveries::Entity::find_by_id((tenant_id.to_string(), id.to_string())).one(conn).await
}

/// Records one attempt. `next` is when to try again (`None`: give up, unless delivered).
pub async fn record_attempt_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    id: &str,
    status_code: Option<i32>,
    error: Option<&str>,
    delivered: bool,
    next: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let status = if delivered {
        "delivered"
    } else if next.is_some() {
        "pending"
    } else {
        "failed"
    };
    webhook_deliveries::Entity::update_many()
        .col_expr(webhook_deliveries::Column::Attempts, Expr::col(webhook_deliveries::Column::Attempts).add(1))
        .col_expr(webhook_deliveries::Column::LastStatusCode, Expr::value(status_code))
        .col_expr(
            webhook_deliveries::Column::LastError,
            Expr::value(error.map(|e| e.chars().take(500).collect::<String>())),
        )
        .col_expr(webhook_deliveries::Column::Status, Expr::value(status))
        .col_expr(webhook_deliveries::Column::NextAttemptAt, Expr::value(next))
        .col_expr(webhook_deliveries::Column::DeliveredAt, Expr::value(delivered.then(Utc::now)))
        .filter(webhook_deliveries::Column::TenantId.eq(tenant_id))
        .filter(webhook_deliveries::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The latest deliveries of a shop, newest first.
pub async fn recent_deliveries_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    limit: u64,
) -> Result<Vec<webhook_deliveries::Model>, DbErr> {
    webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::TenantId.eq(tenant_id))
        .order_by_desc(webhook_deliveries::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// What order events say about an order (no keys, ever).
pub fn order_data(o: &crate::entities::orders::Model, status: &str) -> serde_json::Value {
    serde_json::json!({
        "order_no": o.order_no,
        "status": status,
        "product_id": o.product_id,
        "product_name": o.product_name,
        "quantity": o.quantity,
        "amount": crate::money::format_minor(o.amount_minor, &o.currency),
        "currency": o.currency,
        "email": o.email,
        "created_at": o.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// What asking for a redelivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redelivery {
    /// Put back to pending: queue its job.
    Reset,
    /// Already pending with a job queued: nothing to add.
    AlreadyQueued,
    /// The shop has no such delivery.
    NotFound,
}

/// Puts a finished (delivered or failed) delivery back to pending for a
/// manual redelivery. A pending one is left alone, so clicking "Redeliver"
/// again and again queues one attempt, not one per click.
pub async fn reset_delivery_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Redelivery, DbErr> {
    let r = webhook_deliveries::Entity::update_many()
        .col_expr(webhook_deliveries::Column::Status, Expr::value("pending"))
        .col_expr(webhook_deliveries::Column::NextAttemptAt, Expr::value(now))
        .filter(webhook_deliveries::Column::TenantId.eq(tenant_id))
        .filter(webhook_deliveries::Column::Id.eq(id))
        .filter(webhook_deliveries::Column::Status.ne("pending"))
        .exec(conn)
        .await?;
    if r.rows_affected == 1 {
        return Ok(Redelivery::Reset);
    }
    Ok(match find_delivery_for_tenant(conn, tenant_id, id).await? {
        Some(_) => Redelivery::AlreadyQueued,
        None => Redelivery::NotFound,
    })
}

/// Webhook endpoints one shop may have.
pub const MAX_ENDPOINTS_PER_SHOP: usize = 10;

/// The webhook deliveries of one order's events (made since it was placed), oldest first.
pub async fn deliveries_of_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_no: &str,
    since: DateTime<Utc>,
) -> Result<Vec<webhook_deliveries::Model>, DbErr> {
    webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::TenantId.eq(tenant_id))
        .filter(webhook_deliveries::Column::CreatedAt.gte(since))
        .filter(webhook_deliveries::Column::Payload.like(format!("%\"order_no\":\"{order_no}\"%")))
        .order_by_asc(webhook_deliveries::Column::Id)
        .limit(50)
        .all(conn)
        .await
}
