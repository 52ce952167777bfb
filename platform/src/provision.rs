//! Provisioning shops: the steps that open a shop, used by the demo shop and
//! (later) by the merchant's "create shop". Each step takes a connection, so
//! the caller decides the transaction.

use chrono::Utc;
use kapu_core::entities::{categories, channel_configs, products, tenants};
use kapu_core::ids::new_id;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

/// A new shop. Shops always start in test mode with the sandbox channel.
#[derive(Debug, Clone)]
pub struct NewShop<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub announcement: &'a str,
    pub default_locale: &'a str,
    pub currency: &'a str,
}

/// Inserts the tenant row (status active, mode test) and returns its id.
/// A taken slug is a unique-constraint violation (see `kapu_core::db::is_unique_violation`).
pub async fn create_tenant<C: ConnectionTrait>(conn: &C, shop: &NewShop<'_>) -> Result<String, DbErr> {
    let id = new_id();
    let plan_id = kapu_core::store::plans::default_plan_id(conn).await?;
    tenants::Entity::insert(tenants::ActiveModel {
        id: Set(id.clone()),
        slug: Set(shop.slug.into()),
        name: Set(shop.name.into()),
        status: Set("active".into()),
        mode: Set("test".into()),
        announcement: Set(shop.announcement.into()),
        default_locale: Set(shop.default_locale.into()),
        currency: Set(shop.currency.into()),
        support_contact: Set(String::new()),
        order_ttl_minutes: Set(None),
        velocity_ip_max: Set(50),
        velocity_email_max: Set(20),
        velocity_window_minutes: Set(10),
        velocity_action: Set("challenge".into()),
        logo: Set(None),
        logo_content_type: Set(None),
        logo_hash: Set(None),
        created_at: Set(Utc::now()),
        plan_id: Set(plan_id),
        status_reason: Set(String::new()),
        closed_at: Set(None),
        test_public: Set(false),
        preview_epoch: Set(0),
        payment_tenant_id: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(id)
}

/// Enables a payment channel (no credentials) at `priority`.
pub async fn enable_channel<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    channel: &str,
    priority: i32,
) -> Result<(), DbErr> {
    channel_configs::Entity::insert(channel_configs::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        id: Set(new_id()),
        channel: Set(channel.into()),
        enabled: Set(true),
        priority: Set(priority),
        credentials_ciphertext: Set(None),
        credentials_nonce: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Adds a category.
pub async fn add_category<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    id: &str,
    name: &str,
    sort_order: i32,
) -> Result<(), DbErr> {
    categories::Entity::insert(categories::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        id: Set(id.into()),
        name: Set(name.into()),
        sort_order: Set(sort_order),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// A new auto-delivery product.
#[derive(Debug, Clone)]
pub struct NewProduct<'a> {
    pub id: &'a str,
    pub category_id: Option<&'a str>,
    pub name: &'a str,
    pub description: &'a str,
    pub price_minor: i64,
    pub currency: &'a str,
    pub wholesale_tiers: Option<&'a str>,
    pub min_qty: i32,
    pub max_qty: i32,
    pub sort_order: i32,
}

/// Adds a visible auto-delivery product.
pub async fn add_product<C: ConnectionTrait>(conn: &C, tenant_id: &str, p: &NewProduct<'_>) -> Result<(), DbErr> {
    products::Entity::insert(products::ActiveModel {
        tenant_id: Set(tenant_id.into()),
        id: Set(p.id.into()),
        category_id: Set(p.category_id.map(Into::into)),
        name: Set(p.name.into()),
        description: Set(p.description.into()),
        kind: Set("auto_key".into()),
        price_minor: Set(p.price_minor),
        currency: Set(p.currency.into()),
        wholesale_tiers: Set(p.wholesale_tiers.map(Into::into)),
        min_qty: Set(p.min_qty),
        max_qty: Set(p.max_qty),
        visible: Set(true),
        sort_order: Set(p.sort_order),
        low_stock_threshold: Set(5),
        input_fields: Set(None),
        slug: Set(None),
        supply_tenant_id: Set(None),
        supply_product_id: Set(None),
        supply_paused: Set(None),
        external_connection_id: Set(None),
        external_sku: Set(None),
        external_stock: Set(None),
        external_stock_at: Set(None),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}
