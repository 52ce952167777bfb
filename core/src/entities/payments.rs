use sea_orm::entity::prelude::*;

/// One payment attempt of an order on one channel.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub order_id: String,
    pub channel: String,
    /// `created`, `succeeded` or `failed` (`failed` also for a channel that could not start the payment).
    pub status: String,
    pub amount_minor: i64,
    pub currency: String,
    pub provider_ref: Option<String>,
    pub error: Option<String>,
    pub paid_at: Option<DateTimeUtc>,
    /// Where the buyer was sent to pay, and the QR payload for scan-to-pay channels.
    pub pay_url: Option<String>,
    pub qr_payload: Option<String>,
    /// Provider calls made to create the attempt, and how long they took in all.
    pub calls: i32,
    pub latency_ms: Option<i32>,
    /// When reconciliation last asked the provider, and how often it has.
    pub checked_at: Option<DateTimeUtc>,
    pub checks: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
