//! `GET /shops/{slug}/orders.csv`: the filtered orders as CSV (UTF-8 with a
//! BOM, so spreadsheet programs read Chinese correctly). Keys are never exported here.

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::Utc;
use kapu_core::money::format_minor;
use kapu_core::store::order_search::all_orders_for_tenant;

use crate::auth::shop_access::ShopAccess;
use crate::error::{PageError, PageResult};
use crate::orders::list::OrderQuery;
use crate::orders::when;
use crate::state::PlatformState;

/// Most rows in one export.
pub const MAX_ROWS: u64 = 100_000;

/// Quotes a CSV field, and defuses spreadsheet formulas (`=`, `+`, `-`, `@` at the start).
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

/// Orders as CSV rows, with the header (and a BOM for spreadsheet programs).
pub fn orders_csv(rows: &[kapu_core::entities::orders::Model]) -> String {
    let mut out = String::from(
        "\u{feff}order_no,created_at_utc,status,product,quantity,unit_price,discount,coupon,amount,currency,email,channel,paid_at_utc,delivered_at_utc\n",
    );
    for o in rows {
        let cols = [
            o.order_no.clone(),
            when(&o.created_at),
            o.status.clone(),
            o.product_name.clone(),
            o.quantity.to_string(),
            format_minor(o.unit_price_minor, &o.currency),
            format_minor(o.discount_minor, &o.currency),
            o.coupon_code.clone().unwrap_or_default(),
            format_minor(o.amount_minor, &o.currency),
            o.currency.clone(),
            o.email.clone(),
            o.channel.clone(),
            o.paid_at.as_ref().map(when).unwrap_or_default(),
            o.delivered_at.as_ref().map(when).unwrap_or_default(),
        ];
        out.push_str(&csv_row(&cols));
    }
    out
}

/// One CSV line (fields quoted and defused, see [`csv_field`]).
pub fn csv_row<S: AsRef<str>>(cols: &[S]) -> String {
    let mut line = cols.iter().map(|c| csv_field(c.as_ref())).collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}

pub async fn export_orders(
    State(state): State<PlatformState>,
    access: ShopAccess,
    Query(q): Query<OrderQuery>,
) -> PageResult<Response> {
    let filter = q.filter().map_err(|e| PageError::BadRequest(e.into()))?;
    let rows = all_orders_for_tenant(state.db.reader(), access.tenant_id(), &filter, MAX_ROWS).await?;
    let out = orders_csv(&rows);
    let filename = format!("orders-{}-{}.csv", access.shop.slug, Utc::now().format("%Y%m%d%H%M%S"));
    Ok(crate::page::download("text/csv; charset=utf-8", &filename, out))
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }
}
