use sea_orm::entity::prelude::*;

/// What reconciliation found when it asked a provider about a payment attempt.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_checks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// UUIDv7: time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub payment_id: String,
    pub order_no: String,
    pub channel: String,
    /// `delivered` (the check found a payment and applied it), `pending`,
    /// `closed`, `not_found`, `rejected` or `error`.
    pub outcome: String,
    pub detail: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
