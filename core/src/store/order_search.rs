//! The merchant's order list: search, filters and pages.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use crate::entities::orders;

/// What the merchant filters by; empty fields filter nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// An order number (or its start), or an email address (or part of it).
    pub query: Option<String>,
    pub status: Option<String>,
    pub product_id: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub created_before: Option<DateTime<Utc>>,
}

fn filtered(tenant_id: &str, f: &OrderFilter) -> Select<orders::Entity> {
    let mut q = orders::Entity::find().filter(orders::Column::TenantId.eq(tenant_id));
    if let Some(text) = f.query.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let text = text.to_lowercase();
        q = if text.bytes().all(|b| b.is_ascii_digit()) {
            q.filter(orders::Column::OrderNo.starts_with(&text))
        } else {
            // Case-insensitive on both databases (PostgreSQL's LIKE is not); LIKE wildcards typed by the merchant are literal.
            let pattern = format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            let email =
                Expr::expr(Func::lower(Expr::col(orders::Column::Email))).like(LikeExpr::new(pattern).escape('\\'));
            q.filter(Condition::any().add(email).add(orders::Column::OrderNo.eq(&text)))
        };
    }
    if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(orders::Column::Status.eq(s));
    }
    if let Some(p) = f.product_id.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(orders::Column::ProductId.eq(p));
    }
    if let Some(t) = f.created_from {
        q = q.filter(orders::Column::CreatedAt.gte(t));
    }
    if let Some(t) = f.created_before {
        q = q.filter(orders::Column::CreatedAt.lt(t));
    }
    q
}

/// One page of matching orders, newest first, and the number of matches.
pub async fn search_orders_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    f: &OrderFilter,
    page: u64,
    per_page: u64,
) -> Result<(Vec<orders::Model>, u64), DbErr> {
    let total = filtered(tenant_id, f).count(conn).await?;
    let rows = filtered(tenant_id, f)
        .order_by_desc(orders::Column::CreatedAt)
        .order_by_desc(orders::Column::Id)
        .offset(page.saturating_sub(1) * per_page)
        .limit(per_page)
        .all(conn)
        .await?;
    Ok((rows, total))
}

/// Every matching order, newest first, up to `cap` (CSV export).
pub async fn all_orders_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    f: &OrderFilter,
    cap: u64,
) -> Result<Vec<orders::Model>, DbErr> {
    filtered(tenant_id, f)
        .order_by_desc(orders::Column::CreatedAt)
        .order_by_desc(orders::Column::Id)
        .limit(cap)
        .all(conn)
        .await
}

/// Up to `limit` matching orders with ids before `before`, newest first
/// (API pages; ids are time-ordered).
pub async fn orders_page_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    f: &OrderFilter,
    before: Option<&str>,
    limit: u64,
) -> Result<Vec<orders::Model>, DbErr> {
    let mut q = filtered(tenant_id, f);
    if let Some(before) = before {
        q = q.filter(orders::Column::Id.lt(before));
    }
    q.order_by_desc(orders::Column::Id).limit(limit).all(conn).await
}
