//! What a merchant does to an order: see its jobs (emails), resend the
//! delivery email, mark it refunded.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::entities::{jobs, orders};
use crate::jobs::kinds::SEND_DELIVERY_EMAIL;
use crate::jobs::{NewJob, enqueue};
use crate::store::orders::status;

/// The jobs queued for an order (expiry, emails), oldest first.
pub async fn list_jobs_of_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order: &orders::Model,
) -> Result<Vec<jobs::Model>, DbErr> {
    let needle = format!("%\"order_id\":\"{}\"%", order.id);
    jobs::Entity::find()
        .filter(jobs::Column::TenantId.eq(tenant_id))
        .filter(jobs::Column::CreatedAt.gte(order.created_at))
        .filter(jobs::Column::Payload.like(needle))
        .order_by_asc(jobs::Column::Id)
        .limit(50)
        .all(conn)
        .await
}

/// Queues the delivery email again; only delivered orders have one.
pub async fn resend_delivery_email_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order: &orders::Model,
) -> Result<bool, DbErr> {
    if order.status != status::DELIVERED {
        return Ok(false);
    }
    let payload = serde_json::json!({ "order_id": order.id });
    enqueue(conn, NewJob::now(SEND_DELIVERY_EMAIL, Some(tenant_id.to_string()), payload)).await?;
    Ok(true)
}

/// States from which the merchant may record a refund (money was received).
pub const REFUNDABLE: [&str; 3] = [status::DELIVERED, status::NEEDS_ATTENTION, status::PAID];

/// Marks a paid order refunded (the merchant refunded it at the provider).
/// Keys stay sold: they were shown to the buyer. `false` if the order was
/// not in a refundable state (checked in the UPDATE itself).
pub async fn mark_order_refunded_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_id: &str,
) -> Result<bool, DbErr> {
    let r = orders::Entity::update_many()
        .col_expr(orders::Column::Status, Expr::value(status::REFUNDED))
        .col_expr(orders::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(orders::Column::TenantId.eq(tenant_id))
        .filter(orders::Column::Id.eq(order_id))
        .filter(orders::Column::Status.is_in(REFUNDABLE))
        .exec(conn)
        .await?;
    if r.rows_affected != 1 {
        return Ok(false);
    }
    // A refunded resale no longer owes the supplier: the ledger books the reverse.
    // An affiliate's commission on it is cancelled, or reversed once booked.
    if let Some(order) = orders::Entity::find_by_id((tenant_id.to_string(), order_id.to_string())).one(conn).await? {
        if order.stock_tenant_id.is_some() {
            crate::store::supply::book_refund(conn, &order, Utc::now()).await?;
        }
        // Paid through a supplier's channels: it no longer holds the buyer's money for this shop.
        crate::store::supply_payments::book_collect_refund(conn, &order, Utc::now()).await?;
        crate::store::affiliates::on_order_refunded(conn, &order, Utc::now()).await?;
    }
    Ok(true)
}
