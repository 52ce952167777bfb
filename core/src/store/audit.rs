//! The append-only audit log: who did what to which shop, when, from where.
//! Rows are only ever inserted (the database refuses UPDATE and DELETE).

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::audit_log;
use crate::ids::new_id;

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `operator`, `merchant`, `system` or `stripe`.
    pub kind: &'static str,
    pub id: String,
    pub email: String,
    pub ip: String,
}

impl Actor {
    pub fn operator(id: &str, email: &str, ip: &str) -> Self {
        Self { kind: "operator", id: id.into(), email: email.into(), ip: ip.into() }
    }
    pub fn merchant(id: &str, email: &str, ip: &str) -> Self {
        Self { kind: "merchant", id: id.into(), email: email.into(), ip: ip.into() }
    }
    /// Kapu itself (a sweep, a job).
    pub fn system() -> Self {
        Self { kind: "system", id: "kapu".into(), email: String::new(), ip: String::new() }
    }
    /// A verified Stripe webhook.
    pub fn stripe(event_id: &str) -> Self {
        Self { kind: "stripe", id: event_id.into(), email: String::new(), ip: String::new() }
    }
}

/// Appends one entry. Pass the transaction of the change it records, so the
/// change and its entry commit together.
pub async fn record_audit<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    tenant_id: Option<&str>,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<(), DbErr> {
    audit_log::Entity::insert(audit_log::ActiveModel {
        id: Set(new_id()),
        actor_kind: Set(actor.kind.to_string()),
        actor_id: Set(actor.id.chars().take(64).collect()),
        actor_email: Set(actor.email.chars().take(254).collect()),
        tenant_id: Set(tenant_id.map(str::to_string)),
        action: Set(action.chars().take(64).collect()),
        target: Set(target.chars().take(255).collect()),
        detail: Set(detail.chars().take(2000).collect()),
        ip: Set(actor.ip.chars().take(64).collect()),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// One shop's entries only (always set for merchants).
    pub tenant_id: Option<String>,
    /// Entries whose action starts with this (e.g. `tenant.`).
    pub action_prefix: Option<String>,
    /// Entries older than this id (the cursor of the previous page).
    pub before_id: Option<String>,
    pub limit: u64,
}

/// Newest first.
pub async fn list_audit<C: ConnectionTrait>(conn: &C, q: &AuditQuery) -> Result<Vec<audit_log::Model>, DbErr> {
    let mut find = audit_log::Entity::find();
    if let Some(t) = &q.tenant_id {
        find = find.filter(audit_log::Column::TenantId.eq(t.as_str()));
    }
    if let Some(p) = q.action_prefix.as_ref().filter(|p| !p.is_empty()) {
        find = find.filter(audit_log::Column::Action.starts_with(p.as_str()));
    }
    if let Some(b) = &q.before_id {
        find = find.filter(audit_log::Column::Id.lt(b.as_str()));
    }
    find.order_by_desc(audit_log::Column::Id).limit(q.limit.clamp(1, 500)).all(conn).await
}
