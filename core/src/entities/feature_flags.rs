use sea_orm::entity::prelude::*;

/// A feature flag for grey releases (`kapu_core::flags`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "feature_flags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub description: String,
    /// `off`, `listed`, `percent` or `all`.
    pub mode: String,
    /// JSON array of shop slugs (mode `listed`).
    pub shops: String,
    /// 0–100 (mode `percent`).
    pub percent: i32,
    /// The kill switch: off for every shop, whatever the mode.
    pub killed: bool,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
