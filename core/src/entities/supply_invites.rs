use sea_orm::entity::prelude::*;

/// A supplier's invitation to resell its products (the link's token is kept only as a hash).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "supply_invites")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// The supplier's shop.
    pub tenant_id: String,
    /// The wholesale discount the invited reseller gets, in basis points.
    pub discount_bps: i32,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// The shop that accepted it (an invitation is used once).
    pub accepted_tenant_id: Option<String>,
    pub accepted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
