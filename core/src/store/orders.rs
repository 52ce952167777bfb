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

/// Makes the unpaid-order caps exact under concurrency: until the
/// transaction ends, other checkouts of this shop from the same client network or
/// for the same email wait here, so each counts the orders the others placed.
/// PostgreSQL: two transaction-scoped advisory locks, taken in key order in
/// one statement (no deadlock between two checkouts sharing either). SQLite
/// runs one write transaction at a time already.
pub async fn lock_unpaid_caps_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    client_net: &str,
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
    let (a, b) = (key("ip", client_net), key("email", email));
    let (first, second) = (a.min(b), a.max(b));
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        "SELECT pg_advisory_xact_lock($1), pg_advisory_xact_lock($2)",
        [first.into(), second.into()],
    ))
    .await?;
    Ok(())
}

/// What a checkout needs to know about the buyer's earlier orders at this
/// shop, each count stopping at its cap (reading at most that many index
/// entries, however many exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuyerOrders {
    /// Unpaid, unexpired orders from the client IP (at most `unpaid_cap`).
    pub unpaid_by_ip: u64,
    /// Unpaid, unexpired orders for the email (at most `unpaid_cap`).
    pub unpaid_by_email: u64,
    /// Orders from the client IP since the velocity window began (at most `recent_cap`).
    pub recent_by_ip: u64,
    /// Orders for the email since the velocity window began (at most `recent_cap`).
    pub recent_by_email: u64,
}

/// The caps and window [`count_buyer_orders_for_tenant`] counts against.
#[derive(Debug, Clone, Copy)]
pub struct BuyerOrderWindow {
    pub now: DateTime<Utc>,
    pub unpaid_cap: u64,
    pub recent_since: DateTime<Utc>,
    pub recent_cap: u64,
}

/// Counts the buyer's orders for the unpaid-order cap and the velocity rule
/// in one statement (four capped counts). Inside the checkout's transaction,
/// after [`lock_unpaid_caps_for_tenant`], the counts include every order that
/// other checkouts of the same buyer committed.
pub async fn count_buyer_orders_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    client_net: &str,
    email: &str,
    w: BuyerOrderWindow,
) -> Result<BuyerOrders, DbErr> {
    use sea_orm::sea_query::{Expr, Query};
    // Each a `capped_count`: the database stops after `cap` rows.
    let capped = |column: orders::Column, value: &str, unpaid: bool| {
        let mut inner = Query::select();
        inner
            .expr(Expr::val(1))
            .from(orders::Entity)
            .and_where(orders::Column::TenantId.eq(tenant_id))
            .and_where(column.eq(value));
        if unpaid {
            inner
                .and_where(orders::Column::Status.eq(status::PENDING))
                .and_where(orders::Column::ExpiresAt.gt(w.now))
                .limit(w.unpaid_cap.max(1));
        } else {
            inner.and_where(orders::Column::CreatedAt.gte(w.recent_since)).limit(w.recent_cap.max(1));
        }
        Expr::SubQuery(None, Box::new(super::capped_count(inner).into()))
    };
    let mut q = Query::select();
    q.expr(capped(orders::Column::ClientNet, client_net, true))
        .expr(capped(orders::Column::Email, email, true))
        .expr(capped(orders::Column::ClientNet, client_net, false))
        .expr(capped(orders::Column::Email, email, false));
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(backend.build(&q))
        .await?
        .ok_or_else(|| DbErr::Custom("counting a buyer's orders returned no row".into()))?;
    let n = |i: usize| row.try_get_by_index::<i64>(i).map(|v| v.max(0) as u64);
    Ok(BuyerOrders { unpaid_by_ip: n(0)?, unpaid_by_email: n(1)?, recent_by_ip: n(2)?, recent_by_email: n(3)? })
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
