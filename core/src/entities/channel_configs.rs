use sea_orm::entity::prelude::*;

/// A payment channel enabled for a tenant, with its (encrypted) credentials.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "channel_configs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Channel kind: `sandbox`, later `stripe`, `alipay`, …
    pub channel: String,
    pub enabled: bool,
    /// Lower goes first.
    pub priority: i32,
    pub credentials_ciphertext: Option<Vec<u8>>,
    pub credentials_nonce: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
    pub updated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
