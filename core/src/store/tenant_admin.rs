//! What operators do to shops: find them, suspend, resume, close, purge.
//! Every function here is for the operator console (platform-wide by design);
//! merchant code never calls it.

use chrono::{DateTime, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};

use crate::entities::{accounts, domains, jobs, memberships, tenants};

/// A row of the operator's shop list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub status: String,
    pub status_reason: String,
    pub mode: String,
    pub plan_id: String,
    pub owner_email: String,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Filters of the shop list.
#[derive(Debug, Clone, Default)]
pub struct TenantFilter {
    /// Part of the slug, name, an owner's email or a domain.
    pub q: String,
    pub plan_id: Option<String>,
    pub status: Option<String>,
    pub limit: u64,
}

fn like(q: &str) -> String {
    let escaped: String = q.chars().filter(|c| *c != '%' && *c != '_' && *c != '\\').collect();
    format!("%{}%", escaped.to_lowercase())
}

/// Shops matching the filter, newest first, with their owner's email.
pub async fn search_tenants<C: ConnectionTrait>(conn: &C, f: &TenantFilter) -> Result<Vec<TenantRow>, DbErr> {
    let mut find = tenants::Entity::find();
    if let Some(p) = f.plan_id.as_ref().filter(|p| !p.is_empty()) {
        find = find.filter(tenants::Column::PlanId.eq(p.as_str()));
    }
    if let Some(s) = f.status.as_ref().filter(|s| !s.is_empty()) {
        find = find.filter(tenants::Column::Status.eq(s.as_str()));
    }
    let q = f.q.trim();
    if !q.is_empty() {
        let pattern = like(q);
        let account_ids: Vec<String> = accounts::Entity::find()
            .filter(accounts::Column::Email.like(pattern.clone()))
            .limit(500)
            .all(conn)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect();
        let by_owner: Vec<String> = memberships::Entity::find()
            .filter(memberships::Column::AccountId.is_in(account_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|m| m.tenant_id)
            .collect();
        let by_domain: Vec<String> = domains::Entity::find()
            .filter(domains::Column::Hostname.like(pattern.clone()))
            .all(conn)
            .await?
            .into_iter()
            .map(|d| d.tenant_id)
            .collect();
        find = find.filter(
            Condition::any()
                .add(tenants::Column::Slug.like(pattern.clone()))
                .add(Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(tenants::Column::Name))).like(pattern))
                .add(tenants::Column::Id.is_in(by_owner))
                .add(tenants::Column::Id.is_in(by_domain)),
        );
    }
    let rows = find.order_by_desc(tenants::Column::CreatedAt).limit(f.limit.clamp(1, 500)).all(conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for t in rows {
        let owner_email = owner_email_of(conn, &t.id).await?.unwrap_or_default();
        out.push(TenantRow {
            id: t.id,
            slug: t.slug,
            name: t.name,
            status: t.status,
            status_reason: t.status_reason,
            mode: t.mode,
            plan_id: t.plan_id,
            owner_email,
            created_at: t.created_at,
            closed_at: t.closed_at,
        });
    }
    Ok(out)
}

/// The email of a shop's owner, if it has one (the demo shop has none).
pub async fn owner_email_of<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<Option<String>, DbErr> {
    Ok(owner_of(conn, tenant_id).await?.map(|a| a.email))
}

/// The shop owner's email and the dashboard language they chose, if any
/// (what emails to them are written in).
pub async fn owner_contact_of<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
) -> Result<Option<(String, Option<String>)>, DbErr> {
    Ok(owner_of(conn, tenant_id).await?.map(|a| (a.email, a.lang)))
}

async fn owner_of<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<Option<accounts::Model>, DbErr> {
    let Some(m) = memberships::Entity::find()
        .filter(memberships::Column::TenantId.eq(tenant_id))
        .filter(memberships::Column::Role.eq("owner"))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    accounts::Entity::find_by_id(m.account_id).one(conn).await
}

/// Sets a shop's status (`active`, `suspended`, `closed`) with the reason
/// given. Closing stamps `closed_at`; anything else clears it.
pub async fn set_status_of_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    status: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let closed_at = (status == "closed").then_some(now);
    let r = tenants::Entity::update_many()
        .col_expr(tenants::Column::Status, Expr::value(status))
        .col_expr(tenants::Column::StatusReason, Expr::value(reason))
        .col_expr(tenants::Column::ClosedAt, Expr::value(closed_at))
        .filter(tenants::Column::Id.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(r.rows_affected > 0)
}

/// Shops closed before `cutoff` whose data is still there.
pub async fn closed_tenants_due_for_purge<C: ConnectionTrait>(
    conn: &C,
    cutoff: DateTime<Utc>,
) -> Result<Vec<String>, DbErr> {
    Ok(tenants::Entity::find()
        .filter(tenants::Column::Status.eq("closed"))
        .filter(tenants::Column::ClosedAt.lte(cutoff))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect())
}

/// Tenant tables whose rows a purge deletes. The platform keeps the tenant
/// row itself (status `purged`, so its slug is never reused for someone
/// else's shop), its audit entries, its fee ledger and its supply ledger
/// (resellers' delivered orders keep their own copy of the keys).
const TENANT_TABLES: &[&str] = &[
    "card_keys",
    "payment_checks",
    "payments",
    "orders",
    "products",
    "categories",
    "coupons",
    "channel_configs",
    "risk_entries",
    "risk_events",
    "key_imports",
    "memberships",
    "domains",
    "subscriptions",
    "webhook_deliveries",
    "webhook_endpoints",
    "api_idempotency",
    "api_keys",
    "shop_themes",
    "supply_listings",
    "supply_invites",
];

/// Deletes a closed shop's data (call in a transaction). Returns rows deleted.
pub async fn purge_tenant_data<C: ConnectionTrait>(conn: &C, tenant_id: &str) -> Result<u64, DbErr> {
    let backend = conn.get_database_backend();
    let mut deleted = 0;
    for table in TENANT_TABLES {
        let placeholder = if backend == sea_orm::DatabaseBackend::Postgres { "$1" } else { "?" };
        let sql = format!("DELETE FROM {table} WHERE tenant_id = {placeholder}");
        deleted +=
            conn.execute_raw(Statement::from_sql_and_values(backend, sql, [tenant_id.into()])).await?.rows_affected();
    }
    jobs::Entity::delete_many().filter(jobs::Column::TenantId.eq(tenant_id)).exec(conn).await?;
    tenants::Entity::update_many()
        .col_expr(tenants::Column::Status, Expr::value("purged"))
        .col_expr(tenants::Column::Logo, Expr::value(Option::<Vec<u8>>::None))
        .col_expr(tenants::Column::LogoHash, Expr::value(Option::<String>::None))
        .filter(tenants::Column::Id.eq(tenant_id))
        .exec(conn)
        .await?;
    Ok(deleted)
}
