use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

use crate::entities::orders;

/// Order states (see DESIGN.md §5).
pub mod status {
    pub const PENDING: &str = "pending";
    pub const DELIVERED: &str = "delivered";
    pub const EXPIRED: &str = "expired";
    pub const NEEDS_ATTENTION: &str = "needs_attention";
}

/// An order of a tenant by its public number.
pub async fn find_order_by_no_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_no: &str,
) -> Result<Option<orders::Model>, DbErr> {
    orders::Entity::find()
        .filter(orders::Column::TenantId.eq(tenant_id))
        .filter(orders::Column::OrderNo.eq(order_no))
        .one(conn)
        .await
}

/// An order of a tenant by id, row-locked until the transaction ends (PostgreSQL;
/// SQLite's single writer gives the same guarantee).
pub async fn lock_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_id: &str,
) -> Result<Option<orders::Model>, DbErr> {
    orders::Entity::find_by_id((tenant_id.to_string(), order_id.to_string())).lock_exclusive().one(conn).await
}

/// Pending orders of a tenant placed from one client IP.
pub async fn count_pending_orders_by_ip_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    client_ip: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    orders::Entity::find()
        .filter(orders::Column::TenantId.eq(tenant_id))
        .filter(orders::Column::Status.eq(status::PENDING))
        .filter(orders::Column::ClientIp.eq(client_ip))
        .filter(orders::Column::ExpiresAt.gt(now))
        .count(conn)
        .await
}

/// Pending orders of a tenant for one email address.
pub async fn count_pending_orders_by_email_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    email: &str,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    orders::Entity::find()
        .filter(orders::Column::TenantId.eq(tenant_id))
        .filter(orders::Column::Status.eq(status::PENDING))
        .filter(orders::Column::Email.eq(email))
        .filter(orders::Column::ExpiresAt.gt(now))
        .count(conn)
        .await
}

/// The most recent orders of a tenant for one email address.
pub async fn list_recent_orders_by_email_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    email: &str,
    limit: u64,
) -> Result<Vec<orders::Model>, DbErr> {
    use sea_orm::QueryOrder;
    orders::Entity::find()
        .filter(orders::Column::TenantId.eq(tenant_id))
        .filter(orders::Column::Email.eq(email))
        .order_by_desc(orders::Column::CreatedAt)
        .limit(limit)
        .all(conn)
        .await
}
