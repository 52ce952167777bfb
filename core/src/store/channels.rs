use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::channel_configs;

/// Enabled payment channels of a tenant, by priority (lowest first).
pub async fn list_enabled_channels_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Vec<channel_configs::Model>, DbErr> {
    channel_configs::Entity::find()
        .filter(channel_configs::Column::TenantId.eq(tenant_id))
        .filter(channel_configs::Column::Enabled.eq(true))
        .order_by_asc(channel_configs::Column::Priority)
        .order_by_asc(channel_configs::Column::Id)
        .all(conn)
        .await
}
