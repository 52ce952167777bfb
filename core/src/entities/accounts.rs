use sea_orm::entity::prelude::*;

/// A merchant's login. Email is stored lowercased.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub email_verified_at: Option<DateTimeUtc>,
    /// TOTP secret sealed with the platform's account key; set when two-factor is on.
    pub totp_secret: Option<Vec<u8>>,
    pub totp_nonce: Option<Vec<u8>>,
    /// The last 30-second step whose code was accepted (a code works once).
    pub totp_last_step: Option<i64>,
    /// The dashboard language the merchant chose (`zh` or `en`); none means the browser's.
    pub lang: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
