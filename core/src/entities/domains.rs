use sea_orm::entity::prelude::*;

/// A merchant's own hostname for their shop. Routes to the shop only once
/// verified (a TXT record `_kapu-challenge.{hostname}` holding the token).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "domains")]
pub struct Model {
    /// Lowercase, no port, no trailing dot. One domain belongs to one shop.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hostname: String,
    pub tenant_id: String,
    pub verification_token: String,
    pub verified_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub last_checked_at: Option<DateTimeUtc>,
    /// What the last check found wrong (shown to the merchant).
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
