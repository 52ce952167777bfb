use sea_orm::entity::prelude::*;

/// One sensitive action. Append-only: database triggers refuse UPDATE and DELETE.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// UUIDv7: time-ordered.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `operator`, `merchant`, `system` or `stripe`.
    pub actor_kind: String,
    pub actor_id: String,
    pub actor_email: String,
    /// The shop the action concerns, if any.
    pub tenant_id: Option<String>,
    /// e.g. `tenant.suspend`, `merchant.login`, `channel.credentials`.
    pub action: String,
    /// What was acted on (order number, channel kind, plan id…).
    pub target: String,
    /// Free text: the reason given, what changed.
    pub detail: String,
    pub ip: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
