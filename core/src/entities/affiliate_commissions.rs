use sea_orm::entity::prelude::*;

/// What an affiliate earns (or was refused) for one delivered order.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "affiliate_commissions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: String,
    pub affiliate_id: String,
    pub order_no: String,
    /// What the buyer paid.
    pub base_minor: i64,
    pub rate_bps: i32,
    pub amount_minor: i64,
    pub currency: String,
    /// `pending` (holding), `booked`, `cancelled` (refunded while holding),
    /// `reversed` (refunded after booking) or `refused` (see `reason`).
    pub status: String,
    /// Why it was refused: `self_referral`, `same_address`, `blocked`, `window_passed`, `programme_off`.
    pub reason: Option<String>,
    pub matures_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
