use sea_orm::entity::prelude::*;

/// One booking between a supplier and a reseller (append-only).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "supply_ledger")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub supplier_tenant_id: String,
    pub reseller_tenant_id: String,
    /// The reseller's order.
    pub order_id: String,
    pub order_no: String,
    /// `resale` (a delivered resale order) or `refund` (its reversal).
    pub kind: String,
    pub product_name: String,
    pub quantity: i32,
    /// What the reseller owes the supplier by this entry (negative for a refund).
    pub amount_minor: i64,
    pub currency: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
