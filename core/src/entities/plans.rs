use sea_orm::entity::prelude::*;

/// A plan merchants subscribe to. A `None` limit means unlimited.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "plans")]
pub struct Model {
    /// Short stable name, e.g. `free`, `pro`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// Monthly price in minor units of `currency`.
    pub price_minor: i64,
    pub currency: String,
    pub trial_days: i32,
    pub max_products: Option<i32>,
    pub max_keys_in_stock: Option<i32>,
    pub max_orders_per_month: Option<i32>,
    pub max_custom_domains: Option<i32>,
    pub max_team_members: Option<i32>,
    pub api_requests_per_minute: Option<i32>,
    /// Storefront requests per second, all clients of the shop together.
    pub storefront_rps: Option<i32>,
    /// Platform fee per paid order, in basis points of the order amount.
    pub fee_bps: i32,
    /// The Stripe Price merchants subscribe to for this plan.
    pub stripe_price_id: Option<String>,
    /// The plan new shops start on and lapsed subscriptions fall back to (exactly one).
    pub is_default: bool,
    /// Archived plans take no new subscribers; shops on them keep them.
    pub archived: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
