use sea_orm::entity::prelude::*;

/// A supplier outside Kapu that a shop buys keys from (the generic contract).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "supplier_connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    /// `generic` (HMAC-signed requests) or `kapu` (another Kapu platform's
    /// merchant API, with a supply API key as the secret).
    pub kind: String,
    /// `https://…` without a trailing slash.
    pub base_url: String,
    /// The HMAC secret, sealed with the shop's key.
    pub secret_ciphertext: Vec<u8>,
    pub secret_nonce: Vec<u8>,
    /// What went wrong the last time it was asked, if it did.
    pub last_error: Option<String>,
    pub checked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
