use sea_orm::entity::prelude::*;

/// An affiliate's request to be paid its balance, and the merchant's answer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "affiliate_payouts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub affiliate_id: String,
    pub amount_minor: i64,
    pub currency: String,
    /// `requested`, `paid` or `rejected`.
    pub status: String,
    /// Where the affiliate wants the money (as typed).
    pub details: String,
    /// The merchant's note (a transfer reference, or why it was rejected).
    pub note: Option<String>,
    pub requested_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
