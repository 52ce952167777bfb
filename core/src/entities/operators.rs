use sea_orm::entity::prelude::*;

/// A platform operator. Not a merchant: operators sign in at `/ops` only,
/// always with a TOTP code.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operators")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// TOTP secret sealed with the platform's operator key.
    pub totp_secret: Vec<u8>,
    pub totp_nonce: Vec<u8>,
    /// The last 30-second step whose code was accepted (a code works once).
    pub totp_last_step: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
