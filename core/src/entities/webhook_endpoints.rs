use sea_orm::entity::prelude::*;

/// A URL of a shop's that receives signed event notifications.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub url: String,
    /// Comma-separated event types (`order.paid,order.delivered`).
    pub events: String,
    /// The signing secret, sealed with the tenant key (shown to the merchant once).
    pub secret_ciphertext: Vec<u8>,
    pub secret_nonce: Vec<u8>,
    pub enabled: bool,
    /// Why Kapu turned it off (persistent failure), if it did.
    pub disabled_reason: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
