//! A shop's own settings as its merchant changes them: profile, mode,
//! velocity rule, and the facts the settings page decides by.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter};

use crate::entities::{orders, products, tenants};
use crate::store::orders::status;
use crate::tenant::RiskSettings;

/// The profile fields of the settings form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopProfile {
    pub name: String,
    pub announcement: String,
    pub support_contact: String,
    pub default_locale: String,
    /// `None` keeps the current currency.
    pub currency: Option<String>,
    pub order_ttl_minutes: Option<i32>,
}

pub async fn update_shop_profile_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    p: &ShopProfile,
) -> Result<(), DbErr> {
    let mut q = tenants::Entity::update_many()
        .col_expr(tenants::Column::Name, Expr::value(p.name.clone()))
        .col_expr(tenants::Column::Announcement, Expr::value(p.announcement.clone()))
        .col_expr(tenants::Column::SupportContact, Expr::value(p.support_contact.clone()))
        .col_expr(tenants::Column::DefaultLocale, Expr::value(p.default_locale.clone()))
        .col_expr(tenants::Column::OrderTtlMinutes, Expr::value(p.order_ttl_minutes));
    if let Some(c) = &p.currency {
        q = q.col_expr(tenants::Column::Currency, Expr::value(c.clone()));
    }
    q.filter(tenants::Column::Id.eq(tenant_id)).exec(conn).await?;
    Ok(())
}

/// `test` or `live`.
pub async fn set_mode_for_tenant<C: ConnectionTrait>(conn: &C, tenant_id: &str, mode: &str) -> Result<(), DbErr> {
    tenants::Entity::update_many()
        .col_expr(tenants::Column::Mode, Expr::value(mode))
        .filter(tenants::Column::Id.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Opens a test-mode shop to everyone, or back to preview-link holders only.
pub async fn set_test_public_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    public: bool,
) -> Result<(), DbErr> {
    tenants::Entity::update_many()
        .col_expr(tenants::Column::TestPublic, Expr::value(public))
        .filter(tenants::Column::Id.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Revokes every preview link given out so far.
pub async fn revoke_preview_links_for_tenant<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<(), DbErr> {
    use sea_orm::ExprTrait;
    tenants::Entity::update_many()
        .col_expr(tenants::Column::PreviewEpoch, Expr::col(tenants::Column::PreviewEpoch).add(1))
        .filter(tenants::Column::Id.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn set_velocity_rule_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    r: &RiskSettings,
) -> Result<(), DbErr> {
    tenants::Entity::update_many()
        .col_expr(tenants::Column::VelocityIpMax, Expr::value(r.velocity_ip_max))
        .col_expr(tenants::Column::VelocityEmailMax, Expr::value(r.velocity_email_max))
        .col_expr(tenants::Column::VelocityWindowMinutes, Expr::value(r.velocity_window_minutes))
        .col_expr(tenants::Column::VelocityAction, Expr::value(r.velocity_action.clone()))
        .filter(tenants::Column::Id.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Whether the shop has any product or order (then its currency is fixed).
pub async fn shop_has_products_or_orders_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<bool, DbErr> {
    let p = products::Entity::find().filter(products::Column::TenantId.eq(tenant_id)).count(conn).await?;
    if p > 0 {
        return Ok(true);
    }
    Ok(orders::Entity::find().filter(orders::Column::TenantId.eq(tenant_id)).count(conn).await? > 0)
}

/// Paid manual orders waiting for the merchant.
pub async fn count_orders_to_fulfil_for_tenant<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<u64, DbErr> {
    orders::Entity::find()
        .filter(orders::Column::TenantId.eq(tenant_id))
        .filter(orders::Column::Status.eq(status::PAID))
        .count(conn)
        .await
}
