use sea_orm::entity::prelude::*;

/// A shop's referral programme terms (one row per shop; none means off).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "affiliate_programs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    pub enabled: bool,
    /// Anyone may join on the storefront; otherwise only those the merchant adds.
    pub open_signup: bool,
    /// Commission in basis points of what the buyer paid (1000 = 10 %).
    pub commission_bps: i32,
    /// Days after delivery before a commission is booked (a refund before then cancels it).
    pub holding_days: i32,
    /// Days a click counts for an order.
    pub window_days: i32,
    /// Clicks counted per client address in 24 hours, shop-wide; more are refused.
    pub clicks_per_address: i32,
    pub min_payout_minor: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
