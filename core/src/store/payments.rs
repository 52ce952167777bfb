use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::entities::payments;

/// Payment attempt states.
pub mod status {
    pub const CREATED: &str = "created";
    pub const SUCCEEDED: &str = "succeeded";
    pub const FAILED: &str = "failed";
}

/// A payment attempt of a tenant, row-locked until the transaction ends.
pub async fn lock_payment_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    payment_id: &str,
) -> Result<Option<payments::Model>, DbErr> {
    payments::Entity::find_by_id((tenant_id.to_string(), payment_id.to_string())).lock_exclusive().one(conn).await
}

/// A payment attempt of a tenant.
pub async fn find_payment_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    payment_id: &str,
) -> Result<Option<payments::Model>, DbErr> {
    payments::Entity::find_by_id((tenant_id.to_string(), payment_id.to_string())).one(conn).await
}

/// All attempts of one order of a tenant.
pub async fn list_payments_of_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_id: &str,
) -> Result<Vec<payments::Model>, DbErr> {
    payments::Entity::find()
        .filter(payments::Column::TenantId.eq(tenant_id))
        .filter(payments::Column::OrderId.eq(order_id))
        .all(conn)
        .await
}
