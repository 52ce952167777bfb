use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::entities::orders;

/// Order states (see DESIGN.md §5).
pub mod status {
    pub const PENDING: &str = "pending";
    pub const DELIVERED: &str = "delivered";
    pub const EXPIRED: &str = "expired";
    pub const NEEDS_ATTENTION: &str = "needs_attention";
    pub const REFUNDED: &str = "refunded";
    /// Manual products: paid, waiting for the merchant to deliver.
    pub const PAID: &str = "paid";
    /// Every state, in the order the dashboard lists them.
    pub const ALL: [&str; 6] = [PENDING, PAID, DELIVERED, NEEDS_ATTENTION, EXPIRED, REFUNDED];
}

/// An order of a tenant by its public number.
pub async fn find_order_by_no_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_no: &str,
) -> Result<Option<orders::Model>, DbErr> {
    orders::Entity::find()
        .filter(orders::Column::TenantId.eq(tenant_id))
        .filter(orders::Column::OrderNo.eq(order_no))
        .one(conn)
        .await
}

/// An order of a tenant by id, row-locked until the transaction ends (PostgreSQL;
/// SQLite's single writer gives the same guarantee).
pub async fn lock_order_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    order_id: &str,
) -> Result<Option<orders::Model>, DbErr> {
    orders::Entity::find_by_id((tenant_id.to_string(), order_id.to_string())).lock_exclusive().one(conn).await
}

/// Whether a tenant already has at least `cap` unpaid, unexpired orders from
/// one client IP. Reads at most `cap` index entries, however many exist.
pub async fn pending_orders_by_ip_reach_cap_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    client_ip: &str,
    now: DateTime<Utc>,
    cap: u64,
) -> Result<bool, DbErr> {
    pending_reach_cap(conn, tenant_id, orders::Column::ClientIp, client_ip, now, cap).await
}

/// Whether a tenant already has at least `cap` unpaid, unexpired orders for one email.
pub async fn pending_orders_by_email_reach_cap_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    email: &str,
    now: DateTime<Utc>,
    cap: u64,
) -> Result<bool, DbErr> {
    pending_reach_cap(conn, tenant_id, orders::Column::Email, email, now, cap).await
}

/// Makes the unpaid-order caps exact under concurrency: until the
/// transaction ends, other checkouts of this shop from the same client IP or
/// for the same email wait here, so each counts the orders the others placed.
/// PostgreSQL: two transaction-scoped advisory locks, taken in key order in
/// one statement (no deadlock between two checkouts sharing either). SQLite
/// runs one write transaction at a time already.
pub async fn lock_unpaid_caps_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    client_ip: &str,
    email: &str,
) -> Result<(), DbErr> {
    use sea_orm::{DbBackend, Statement};
    use sha2::{Digest, Sha256};
    let backend = conn.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(());
    }
    let key = |what: &str, value: &str| {
        let digest = Sha256::digest(format!("kapu unpaid cap\0{tenant_id}\0{what}\0{value}"));
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(first)
    };
    let (a, b) = (key("ip", client_ip), key("email", email));
    let (first, second) = (a.min(b), a.max(b));
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        "SELECT pg_advisory_xact_lock($1), pg_advisory_xact_lock($2)",
        [first.into(), second.into()],
    ))
    .await?;
    Ok(())
}

async fn pending_reach_cap<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    column: orders::Column,
    value: &str,
    now: DateTime<Utc>,
    cap: u64,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::{Alias, Asterisk, Expr, Func, Query};
    // COUNT(*) FROM (SELECT 1 … LIMIT cap): the database stops after `cap` rows and returns one.
    let mut inner = Query::select();
    inner
        .expr(Expr::val(1))
        .from(orders::Entity)
        .and_where(orders::Column::TenantId.eq(tenant_id))
        .and_where(orders::Column::Status.eq(status::PENDING))
        .and_where(column.eq(value))
        .and_where(orders::Column::ExpiresAt.gt(now))
        .limit(cap);
    let mut outer = Query::select();
    outer.expr(Func::count(Expr::col(Asterisk))).from_subquery(inner, Alias::new("capped"));
    let backend = conn.get_database_backend();
    let row = conn.query_one_raw(backend.build(&outer)).await?;
    let n: i64 = match row {
        Some(r) => r.try_get_by_index(0)?,
        None => 0,
    };
    Ok(n.max(0) as u64 >= cap)
}

/// The most recent orders of a tenant for one email address.
pub async fn list_recent_orders_by_email_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    email: &str,
    limit: u64,
) -> Result<Vec<orders::Model>, DbErr> {
    use sea_orm::QueryOrder;
    orders::Entity::find()
        .filter(orders::Column::TenantId.eq(tenant_id))
        .filter(orders::Column::Email.eq(email))
        .order_by_desc(orders::Column::CreatedAt)
        .limit(limit)
        .all(conn)
        .await
}
