use sea_orm::entity::prelude::*;

/// An affiliate of one shop: an email address and the code of its link.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "affiliates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Lower-cased.
    pub email: String,
    /// What `?ref=` carries.
    pub code: String,
    /// `active` or `blocked`.
    pub status: String,
    /// Client addresses (as `client_net`) the affiliate signed in from,
    /// comma-separated, newest last, at most ten: an order from one of them
    /// is a self-referral.
    pub known_nets: String,
    /// Language of the affiliate's emails (`zh-CN` or `en`).
    pub locale: String,
    pub created_at: DateTimeUtc,
    pub last_signin_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
