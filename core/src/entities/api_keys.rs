use sea_orm::entity::prelude::*;

/// A shop's key for the merchant REST API. Only the SHA-256 of the secret is kept.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// The key's first characters (`kapu_sk_ab12…`), to tell keys apart.
    pub prefix: String,
    /// Lowercase hex SHA-256 of the whole key.
    pub key_hash: String,
    /// `read` or `write` (write includes read).
    pub scope: String,
    pub created_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
