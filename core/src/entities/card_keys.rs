use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "card_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub product_id: String,
    /// AES-256-GCM ciphertext of the key text.
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
    /// Keyed HMAC of the key text, for dedupe.
    pub fingerprint: String,
    /// `available`, `reserved` or `sold`.
    pub status: String,
    pub order_id: Option<String>,
    pub reserved_until: Option<DateTimeUtc>,
    pub sold_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
