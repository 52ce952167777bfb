//! `GET /shops/{slug}/orders`: search by order number or email, filter by
//! status, product and date range, 50 per page.

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use kapu_core::money::format_minor;
use kapu_core::store::catalog_admin::list_all_products_for_tenant;
use kapu_core::store::order_search::{OrderFilter, search_orders_for_tenant};
use kapu_core::store::orders::status;
use minijinja::{Value, context};

use crate::auth::csrf::CsrfToken;
use crate::auth::shop_access::ShopAccess;
use crate::error::PageResult;
use crate::orders::{status_label, when};
use crate::page::{Layout, render};
use crate::state::PlatformState;

pub const PER_PAGE: u64 = 50;

/// The list's query string.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct OrderQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub product: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u64>,
}

impl OrderQuery {
    /// The filter, or a message naming the bad field.
    pub fn filter(&self) -> Result<OrderFilter, &'static str> {
        let day = |s: &str| -> Result<Option<DateTime<Utc>>, &'static str> {
            if s.trim().is_empty() {
                return Ok(None);
            }
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()))
                .map_err(|_| "日期格式应为 YYYY-MM-DD。Dates must look like 2026-11-22.")
        };
        if !self.status.is_empty() && !status::ALL.contains(&self.status.as_str()) {
            return Err("未知的订单状态。Unknown order status.");
        }
        Ok(OrderFilter {
            query: Some(self.q.clone()).filter(|q| !q.trim().is_empty()),
            status: Some(self.status.clone()).filter(|s| !s.is_empty()),
            product_id: Some(self.product.clone()).filter(|s| !s.is_empty()),
            created_from: day(&self.from)?,
            // "to" is inclusive: orders before the next day.
            created_before: day(&self.to)?.map(|d| d + Duration::days(1)),
        })
    }

    fn with_page(&self, page: u64) -> String {
        let mut q = self.clone();
        q.page = Some(page);
        serde_urlencoded::to_string(&q).unwrap_or_default()
    }
}

pub async fn list_orders(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<OrderQuery>,
) -> PageResult<Response> {
    let tenant = access.tenant_id();
    let page = q.page.unwrap_or(1).max(1);
    let (filter, filter_error) = match q.filter() {
        Ok(f) => (f, None),
        Err(e) => (OrderFilter::default(), Some(e)),
    };
    let (rows, total) = search_orders_for_tenant(state.db.reader(), tenant, &filter, page, PER_PAGE).await?;
    let products: Vec<Value> = list_all_products_for_tenant(state.db.reader(), tenant)
        .await?
        .into_iter()
        .map(|p| context! { id => p.id, name => p.name })
        .collect();
    let orders: Vec<Value> = rows
        .iter()
        .map(|o| {
            context! {
                order_no => o.order_no.clone(), created_at => when(&o.created_at), product_name => o.product_name.clone(),
                quantity => o.quantity, amount => format!("{} {}", format_minor(o.amount_minor, &o.currency), o.currency),
                email => o.email.clone(), status => o.status.clone(), status_label => status_label(&o.status),
                test => o.channel == kapu_core::store::dashboard::TEST_CHANNEL,
            }
        })
        .collect();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let statuses: Vec<Value> = status::ALL.iter().map(|s| context! { value => *s, label => status_label(s) }).collect();
    let mut export_q = q.clone();
    export_q.page = None;
    let page_ctx = context! {
        orders, total, page, pages, products, statuses, filter_error,
        filter => crate::page::ser(&q),
        prev_page => (page > 1).then(|| q.with_page(page - 1)),
        next_page => (page < pages).then(|| q.with_page(page + 1)),
        query_string => serde_urlencoded::to_string(&export_q).unwrap_or_default(),
    };
    let layout =
        Layout { account: None, csrf: &csrf, shop: Some(&access), nav: "orders", flash: None, title: "订单 Orders" };
    render("orders.html", layout, page_ctx)
}
