use sea_orm::entity::prelude::*;

/// An order attempt a risk rule stopped, for the merchant to review.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "risk_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// UUIDv7: time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `block_email`, `block_domain`, `block_ip`, `velocity_refused` or `velocity_challenge`.
    pub rule: String,
    pub email: String,
    pub client_ip: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
