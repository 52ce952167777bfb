use sea_orm::entity::prelude::*;

/// A supplier's product opened for resale by other shops on the platform.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "supply_listings")]
pub struct Model {
    /// The supplier's shop.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub product_id: String,
    /// What a reseller owes the supplier per key sold, in the product's currency.
    pub wholesale_minor: i64,
    /// The lowest price a reseller may sell at, if the supplier sets one.
    pub min_resale_minor: Option<i64>,
    /// `any` (every active shop) or `listed` (only the shops in `allowed_shops`).
    pub audience: String,
    /// Shop slugs, comma-separated, for `listed`.
    pub allowed_shops: Option<String>,
    /// Most keys one resale order may take.
    pub per_order_cap: Option<i32>,
    /// Most keys one reseller may take per UTC day.
    pub daily_cap: Option<i32>,
    /// Whether resellers see the exact stock, or only a band.
    pub exact_stock: bool,
    /// Closed listings take no new resale orders.
    pub open: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
