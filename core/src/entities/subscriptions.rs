use sea_orm::entity::prelude::*;

/// A shop's Stripe Billing subscription to a paid plan, as the verified
/// webhooks last told us.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The plan this subscription pays for.
    pub plan_id: String,
    /// Stripe's status (`trialing`, `active`, `past_due`, `canceled`, …) or `checkout` before the first event.
    pub status: String,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub current_period_end: Option<DateTimeUtc>,
    /// After a failed payment: when the shop falls back to the default plan unless paid.
    pub grace_until: Option<DateTimeUtc>,
    /// `created` (Unix seconds) of the newest subscription event applied; older ones are ignored.
    pub last_event_at: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
