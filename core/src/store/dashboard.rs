//! Figures for the dashboard home: revenue, paid and created orders,
//! conversion, top products and a daily revenue series.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};
use serde::Serialize;

use crate::entities::orders;

/// One period's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeriodFigures {
    pub revenue_minor: i64,
    pub paid_orders: u64,
    pub created_orders: u64,
    /// Paid per 1,000 created (integer per-mille, so no floats).
    pub conversion_permille: u64,
}

/// A product's sales in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopProduct {
    pub product_id: String,
    pub name: String,
    pub revenue_minor: i64,
    pub units: i64,
}

/// Orders paid through the sandbox (simulated payments, test mode) in the
/// last 30 days: shown apart, never counted as revenue or sales.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TestFigures {
    pub paid_orders: u64,
    pub amount_minor: i64,
}

/// The channel of simulated payments: its orders are test orders.
pub const TEST_CHANNEL: &str = "sandbox";

/// Everything the dashboard home shows about sales.
#[derive(Debug, Clone, Serialize)]
pub struct SalesSummary {
    /// Test orders, apart from everything else here.
    pub test_30d: TestFigures,
    pub today: PeriodFigures,
    pub days7: PeriodFigures,
    pub days30: PeriodFigures,
    pub top_products: Vec<TopProduct>,
    /// Revenue per UTC day, oldest first, 30 entries.
    pub daily: Vec<(NaiveDate, i64)>,
}

/// Sales of a tenant in the last 30 days. Paid orders are read row by row
/// (amount, product, time) and summed here, identically on both databases.
pub async fn sales_summary_for_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    currency: &str,
    now: DateTime<Utc>,
) -> Result<SalesSummary, DbErr> {
    let today_start = now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let start7 = today_start - Duration::days(6);
    let start30 = today_start - Duration::days(29);

    let paid: Vec<(DateTime<Utc>, i64, String, String, i32, String)> = orders::Entity::find()
        .select_only()
        .column(orders::Column::PaidAt)
        .column(orders::Column::AmountMinor)
        .column(orders::Column::ProductId)
        .column(orders::Column::ProductName)
        .column(orders::Column::Quantity)
        .column(orders::Column::Channel)
        .filter(orders::Column::TenantId.eq(tenant_id))
        .filter(orders::Column::PaidAt.gte(start30))
        .filter(orders::Column::Currency.eq(currency))
        // Net of refunds: a refunded order is neither revenue nor a sale.
        .filter(orders::Column::Status.ne(crate::store::orders::status::REFUNDED))
        .into_tuple()
        .all(conn)
        .await?;

    // Test orders count for neither created nor paid, so conversion stays honest.
    let created = |from: DateTime<Utc>| {
        orders::Entity::find()
            .filter(orders::Column::TenantId.eq(tenant_id))
            .filter(orders::Column::CreatedAt.gte(from))
            .filter(orders::Column::Channel.ne(TEST_CHANNEL))
            .count(conn)
    };
    let mut periods = [
        (today_start, PeriodFigures::default()),
        (start7, PeriodFigures::default()),
        (start30, PeriodFigures::default()),
    ];
    for (from, f) in periods.iter_mut() {
        f.created_orders = created(*from).await?;
    }
    let mut daily: Vec<(NaiveDate, i64)> = (0..30).map(|i| ((start30 + Duration::days(i)).date_naive(), 0)).collect();
    let mut by_product: HashMap<String, TopProduct> = HashMap::new();
    let mut test_30d = TestFigures::default();
    for (paid_at, amount, product_id, name, qty, channel) in paid {
        if channel == TEST_CHANNEL {
            test_30d.paid_orders += 1;
            test_30d.amount_minor += amount;
            continue;
        }
        for (from, f) in periods.iter_mut() {
            if paid_at >= *from {
                f.revenue_minor += amount;
                f.paid_orders += 1;
            }
        }
        let day = (paid_at - start30).num_days();
        if let Some(slot) = usize::try_from(day).ok().and_then(|d| daily.get_mut(d)) {
            slot.1 += amount;
        }
        let e =
            by_product.entry(product_id.clone()).or_insert(TopProduct { product_id, name, revenue_minor: 0, units: 0 });
        e.revenue_minor += amount;
        e.units += i64::from(qty);
    }
    for (_, f) in periods.iter_mut() {
        f.conversion_permille = (f.paid_orders * 1000).checked_div(f.created_orders).unwrap_or(0);
    }
    let mut top: Vec<TopProduct> = by_product.into_values().collect();
    top.sort_by(|a, b| b.revenue_minor.cmp(&a.revenue_minor).then(a.name.cmp(&b.name)));
    top.truncate(5);
    let [today, days7, days30] = periods.map(|(_, f)| f);
    Ok(SalesSummary { test_30d, today, days7, days30, top_products: top, daily })
}
