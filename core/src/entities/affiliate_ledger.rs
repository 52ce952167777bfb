use sea_orm::entity::prelude::*;

/// One line of an affiliate's account with a shop (append-only): a booked
/// commission (+), its reversal (−), a payout requested (−) or a payout
/// the merchant rejected (+). The balance is the sum.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "affiliate_ledger")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub affiliate_id: String,
    /// `commission`, `reversal`, `payout` or `payout_returned`.
    pub kind: String,
    /// `{kind}:{order or payout id}`, unique per shop.
    pub entry_key: String,
    pub order_id: Option<String>,
    pub payout_id: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
