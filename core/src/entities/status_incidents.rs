use sea_orm::entity::prelude::*;

/// An incident or a scheduled maintenance on the public status page.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "status_incidents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `incident` or `maintenance`.
    pub kind: String,
    pub title_zh: String,
    pub title_en: String,
    /// JSON array of component ids.
    pub components: String,
    /// `degraded`, `outage` or `maintenance`.
    pub impact: String,
    /// Incident: `investigating`, `identified`, `monitoring`, `resolved`;
    /// maintenance: `scheduled`, `in_progress`, `completed`.
    pub state: String,
    pub starts_at: DateTimeUtc,
    pub ends_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
