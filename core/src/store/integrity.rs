//! The promises Kapu makes about stock and money, checked against the
//! database as it is: what `kapu check` prints and what the crash drill
//! asserts after killing the server at random.
//!
//! - Every card key is `available` with no order, or `reserved` / `sold`
//!   for an order that exists.
//! - A delivered order of card keys holds exactly its quantity of sold
//!   keys; a pending one its quantity of reserved keys; an expired one none.
//! - A payment that succeeded belongs to an order that was paid (paid,
//!   delivered, needs attention or refunded), never one left pending or
//!   expired.
//! - No job is left `running` after its lock expired, and none has waited
//!   past its time to run by more than `grace`.
//!
//! Reads every tenant's orders and keys: meant for an operator's check or a
//! drill, not for a request path.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QuerySelect,
};

use crate::entities::{card_keys, jobs, orders, payments, products};
use crate::store::orders::status;

/// One broken promise, named and located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which promise (`key_without_order`, `delivered_short`, …).
    pub rule: &'static str,
    /// The tenant, order, key or job concerned, and what was found.
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.rule, self.detail)
    }
}

/// What was looked at, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checked {
    pub keys: u64,
    pub orders: u64,
    pub payments: u64,
    pub jobs: u64,
}

#[derive(FromQueryResult)]
struct KeyRow {
    tenant_id: String,
    id: String,
    status: String,
    order_id: Option<String>,
}

#[derive(FromQueryResult)]
struct OrderRow {
    tenant_id: String,
    id: String,
    order_no: String,
    product_id: String,
    quantity: i32,
    status: String,
    /// A resale holds its supplier's keys: they are in this shop's tenant.
    stock_tenant_id: Option<String>,
    /// Bought from an external supplier: it holds no keys of Kapu's.
    external_connection_id: Option<String>,
}

impl OrderRow {
    /// The shop whose keys this order holds.
    fn stock_tenant(&self) -> &str {
        self.stock_tenant_id.as_deref().unwrap_or(&self.tenant_id)
    }
}

/// Checks every promise above; `now` and `grace` decide which jobs are late.
pub async fn check<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<(Checked, Vec<Violation>), DbErr> {
    let mut found = Vec::new();
    let mut flag = |rule: &'static str, detail: String| found.push(Violation { rule, detail });

    let manual: std::collections::HashSet<(String, String)> = products::Entity::find()
        .select_only()
        .columns([products::Column::TenantId, products::Column::Id])
        .filter(products::Column::Kind.eq("manual"))
        .into_tuple::<(String, String)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let orders: Vec<OrderRow> = orders::Entity::find()
        .select_only()
        .columns([
            orders::Column::TenantId,
            orders::Column::Id,
            orders::Column::OrderNo,
            orders::Column::ProductId,
            orders::Column::Quantity,
            orders::Column::Status,
            orders::Column::StockTenantId,
            orders::Column::ExternalConnectionId,
        ])
        .into_model()
        .all(conn)
        .await?;
    let order_status: HashMap<(&str, &str), &OrderRow> =
        orders.iter().map(|o| ((o.tenant_id.as_str(), o.id.as_str()), o)).collect();
    // Keyed by the shop whose keys the order holds (the supplier's, for a resale).
    let holder_of: HashMap<(&str, &str), &OrderRow> =
        orders.iter().map(|o| ((o.stock_tenant(), o.id.as_str()), o)).collect();

    let keys: Vec<KeyRow> = card_keys::Entity::find()
        .select_only()
        .columns([
            card_keys::Column::TenantId,
            card_keys::Column::Id,
            card_keys::Column::Status,
            card_keys::Column::OrderId,
        ])
        .into_model()
        .all(conn)
        .await?;
    // Keys sold from a prepaid balance name the purchase, not an order.
    let purchases: std::collections::HashSet<(String, String)> =
        crate::store::supply_prepaid::purchase_ids(conn).await?.into_iter().collect();
    // (tenant, order) -> (reserved, sold)
    let mut held: BTreeMap<(&str, &str), (i64, i64)> = BTreeMap::new();
    for k in &keys {
        let at = format!("tenant {} key {}", k.tenant_id, k.id);
        match (k.status.as_str(), k.order_id.as_deref()) {
            ("available", None) => {}
            ("available", Some(o)) => flag("available_key_with_order", format!("{at} names order {o}")),
            ("reserved" | "sold", None) => flag("key_without_order", format!("{at} is {} for no order", k.status)),
            ("sold", Some(o)) if purchases.contains(&(k.tenant_id.clone(), o.to_string())) => {}
            ("reserved" | "sold", Some(o)) => match holder_of.get(&(k.tenant_id.as_str(), o)) {
                None => {
                    flag("key_of_missing_order", format!("{at} is {} for order {o}, which does not exist", k.status))
                }
                Some(order) => {
                    let e = held.entry((order.stock_tenant(), order.id.as_str())).or_default();
                    if k.status == "reserved" { e.0 += 1 } else { e.1 += 1 }
                }
            },
            (other, _) => flag("unknown_key_status", format!("{at} is {other:?}")),
        }
    }
    for o in &orders {
        if manual.contains(&(o.tenant_id.clone(), o.product_id.clone())) || o.external_connection_id.is_some() {
            continue;
        }
        let (reserved, sold) = held.get(&(o.stock_tenant(), o.id.as_str())).copied().unwrap_or_default();
        let q = i64::from(o.quantity);
        let at = format!("tenant {} order {}", o.tenant_id, o.order_no);
        let broken = match o.status.as_str() {
            status::DELIVERED | status::REFUNDED => (reserved, sold) != (0, q),
            status::PENDING => (reserved, sold) != (q, 0),
            status::EXPIRED => (reserved, sold) != (0, 0),
            // Paid but not delivered: what it holds is the reason it needs attention.
            _ => reserved + sold > q,
        };
        if broken {
            flag(
                "order_keys_mismatch",
                format!("{at} is {} for {q} keys and holds {reserved} reserved, {sold} sold", o.status),
            );
        }
    }

    let paid: Vec<(String, String, String)> = payments::Entity::find()
        .select_only()
        .columns([payments::Column::TenantId, payments::Column::Id, payments::Column::OrderId])
        .filter(payments::Column::Status.eq(crate::store::payments::status::SUCCEEDED))
        .into_tuple()
        .all(conn)
        .await?;
    for (tenant, payment, order) in &paid {
        match order_status.get(&(tenant.as_str(), order.as_str())) {
            Some(o) if matches!(o.status.as_str(), status::PENDING | status::EXPIRED) => flag(
                "paid_order_not_delivered",
                format!("tenant {tenant} payment {payment} succeeded; order {} is {}", o.order_no, o.status),
            ),
            Some(_) => {}
            None => flag("payment_of_missing_order", format!("tenant {tenant} payment {payment} names order {order}")),
        }
    }

    let late: Vec<(i64, String, String)> = jobs::Entity::find()
        .select_only()
        .columns([jobs::Column::Id, jobs::Column::Kind, jobs::Column::Status])
        .filter(
            jobs::Column::Status
                .eq("running")
                .and(jobs::Column::LockedUntil.lt(now))
                .or(jobs::Column::Status.eq("queued").and(jobs::Column::RunAt.lt(now - grace))),
        )
        .into_tuple()
        .all(conn)
        .await?;
    for (id, kind, st) in late {
        let what = if st == "running" { "still running after its lock expired" } else { "waiting past its time" };
        flag("job_stuck", format!("job {id} ({kind}) {what}"));
    }
    let jobs_seen = jobs::Entity::find().count(conn).await?;

    let checked =
        Checked { keys: keys.len() as u64, orders: orders.len() as u64, payments: paid.len() as u64, jobs: jobs_seen };
    Ok((checked, found))
}
