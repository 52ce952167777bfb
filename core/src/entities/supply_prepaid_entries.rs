use sea_orm::entity::prelude::*;

/// One line of an outside reseller's prepaid account with a supplier shop:
/// a top-up (positive) or a purchase (negative, with its reference).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "supply_prepaid_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The supplier's shop.
    pub tenant_id: String,
    /// The reseller's supply API key.
    pub api_key_id: String,
    /// `topup` or `purchase`.
    pub kind: String,
    pub amount_minor: i64,
    pub currency: String,
    /// A purchase: the reseller's reference (its order), unique per key.
    pub reference: Option<String>,
    pub product_id: Option<String>,
    pub quantity: Option<i32>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
