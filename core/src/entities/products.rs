use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub category_id: Option<String>,
    pub name: String,
    /// The product's readable address in its shop (`/products/{slug}`), if it has one.
    pub slug: Option<String>,
    pub description: String,
    /// `auto_key` (instant delivery of card keys) or `manual` (the merchant delivers after payment).
    pub kind: String,
    pub price_minor: i64,
    pub currency: String,
    /// JSON array of `{"min_qty": n, "unit_price_minor": m}`, or null.
    pub wholesale_tiers: Option<String>,
    pub min_qty: i32,
    pub max_qty: i32,
    pub visible: bool,
    pub sort_order: i32,
    /// The dashboard warns when available keys fall to this many or fewer.
    pub low_stock_threshold: i32,
    /// Manual products: JSON array of `{"label", "required", "pattern"}` the buyer fills in.
    pub input_fields: Option<String>,
    /// Resale: the supplier's shop and product whose keys this product sells.
    pub supply_tenant_id: Option<String>,
    pub supply_product_id: Option<String>,
    /// Resale: why the supplier's stock is not on sale here now (`supplier`:
    /// the supplier paused this shop; `price`: the wholesale price rose above this price).
    pub supply_paused: Option<String>,
    /// Kind `external`: the supplier connection that delivers it, and the supplier's SKU.
    pub external_connection_id: Option<String>,
    pub external_sku: Option<String>,
    /// The supplier's stock when last polled, and when.
    pub external_stock: Option<i64>,
    pub external_stock_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
