use sea_orm::entity::prelude::*;

/// The platform's fee on one paid order, at the plan's rate when it was paid.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "fee_ledger")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_no: String,
    /// `YYYY-MM` (UTC) of the payment.
    pub month: String,
    pub plan_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub fee_bps: i32,
    pub fee_minor: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
