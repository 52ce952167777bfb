use sea_orm::entity::prelude::*;

/// One line of a shop's block or allow list.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "risk_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `block` or `allow`.
    pub list: String,
    /// `email` (whole address), `domain` (email domain) or `ip` (address or CIDR).
    pub kind: String,
    /// Lowercased.
    pub value: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
