//! The reconciliation log a merchant reads: what asking the provider found.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::payment_checks;
use crate::ids::new_id;

/// One line of the log.
pub struct CheckRecord<'a> {
    pub tenant_id: &'a str,
    pub payment_id: &'a str,
    pub order_no: &'a str,
    pub channel: &'a str,
    pub outcome: &'a str,
    pub detail: &'a str,
}

pub async fn record_check<C: ConnectionTrait>(conn: &C, r: CheckRecord<'_>) -> Result<(), DbErr> {
    payment_checks::Entity::insert(payment_checks::ActiveModel {
        tenant_id: Set(r.tenant_id.into()),
        id: Set(new_id()),
        payment_id: Set(r.payment_id.into()),
        order_no: Set(r.order_no.into()),
        channel: Set(r.channel.into()),
        outcome: Set(r.outcome.into()),
        detail: Set(r.detail.chars().take(500).collect()),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The newest checks of a tenant.
pub async fn recent_checks_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    limit: u64,
) -> Result<Vec<payment_checks::Model>, DbErr> {
    payment_checks::Entity::find()
        .filter(payment_checks::Column::TenantId.eq(tenant_id))
        .order_by_desc(payment_checks::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// The checks of one order (made since it was placed), oldest first.
pub async fn checks_of_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_no: &str,
    since: chrono::DateTime<Utc>,
) -> Result<Vec<payment_checks::Model>, DbErr> {
    payment_checks::Entity::find()
        .filter(payment_checks::Column::TenantId.eq(tenant_id))
        .filter(payment_checks::Column::CreatedAt.gte(since))
        .filter(payment_checks::Column::OrderNo.eq(order_no))
        .order_by_asc(payment_checks::Column::Id)
        .limit(100)
        .all(conn)
        .await
}
