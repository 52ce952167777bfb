use sea_orm::entity::prelude::*;

/// One payment notification a shop received, whatever its verdict (the
/// merchant's notification inspector). `body` is kept with secrets and
/// signatures masked, and blanked after 7 days.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// UUIDv7: time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The attempt the notification's URL (or Stripe event) names.
    pub payment_id: String,
    /// Empty when no attempt of this shop has that id.
    pub order_no: String,
    pub channel: String,
    pub source_ip: String,
    /// See `kapu_core::store::payment_notifications::Verdict`.
    pub verdict: String,
    pub reason: String,
    pub body: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
