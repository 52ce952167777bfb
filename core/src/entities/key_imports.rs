use sea_orm::entity::prelude::*;

/// One card-key import and its progress.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "key_imports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub product_id: String,
    /// `running`, `done` or `failed`. A `running` import whose `updated_at`
    /// stopped moving was interrupted (its process ended).
    pub status: String,
    /// Keys after splitting and dropping blank entries.
    pub total: i64,
    pub processed: i64,
    pub imported: i64,
    pub duplicate: i64,
    pub invalid: i64,
    /// Blank lines in the text, skipped.
    pub blank_lines: i64,
    /// JSON array of the first offending entries: `{line, reason}`.
    pub problems: String,
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
