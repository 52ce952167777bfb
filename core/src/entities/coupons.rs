use sea_orm::entity::prelude::*;

/// A discount code of one shop.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "coupons")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Uppercase; unique per shop.
    pub code: String,
    /// `percent` (value 1–99, percent off) or `fixed` (value in minor units off).
    pub kind: String,
    pub value: i64,
    /// Only this product, or any.
    pub product_id: Option<String>,
    /// Orders that may use it (unpaid orders hold a use until they expire), or unlimited.
    pub usage_limit: Option<i32>,
    pub used_count: i32,
    pub expires_at: Option<DateTimeUtc>,
    pub active: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
