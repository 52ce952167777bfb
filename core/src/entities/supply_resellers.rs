use sea_orm::entity::prelude::*;

/// A supplier's terms for one reseller: its wholesale discount.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "supply_resellers")]
pub struct Model {
    /// The supplier's shop.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub reseller_tenant_id: String,
    /// Taken off every wholesale price for this reseller, in basis points (0–9000).
    pub discount_bps: i32,
    /// The supplier offers the reseller its payment channels (the reseller chooses to use them).
    pub collects_payments: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
