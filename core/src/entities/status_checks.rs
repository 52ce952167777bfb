use sea_orm::entity::prelude::*;

/// One check of a status-page component (a canary purchase step, or a
/// minute's figures of a payment channel family).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "status_checks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub component: String,
    pub ok: bool,
    pub took_ms: i32,
    pub detail: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
