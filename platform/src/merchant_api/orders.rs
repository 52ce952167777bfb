//! `GET /orders` (filters, cursor pages) and `GET /orders/{order_no}`.
//! Card keys are never part of an API answer.

use crate::merchant_api::error::ApiQuery;
use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use kapu_core::entities::orders;
use kapu_core::money::format_minor;
use kapu_core::store::order_search::{OrderFilter, orders_page_for_tenant};
use kapu_core::store::orders::{find_order_by_no_for_tenant, status};
use serde_json::{Value, json};

use super::auth::ApiCaller;
use super::cursor::{self, PageQuery};
use super::error::{ApiError, ApiResult};
use crate::state::PlatformState;

#[derive(serde::Deserialize)]
pub struct OrdersQuery {
    limit: Option<String>,
    cursor: Option<String>,
    status: Option<String>,
    product_id: Option<String>,
    /// An order number (or its start) or part of an email address.
    q: Option<String>,
    /// RFC 3339 times; `created_before` is exclusive.
    created_from: Option<String>,
    created_before: Option<String>,
}

fn time(field: &str, raw: Option<&str>, errors: &mut Vec<String>) -> Option<DateTime<Utc>> {
    // Absent: no bound. Present, even empty, it must be a time.
    let raw = raw.map(str::trim)?;
    match DateTime::parse_from_rfc3339(raw) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            errors.push(format!(
                "{field} 需为 RFC 3339 时间，例如 2026-11-30T00:00:00Z。{field} must be an RFC 3339 time such as 2026-11-30T00:00:00Z."
            ));
            None
        }
    }
}

fn order_json(o: &orders::Model) -> Value {
    json!({
        "id": o.id, "order_no": o.order_no, "status": o.status,
        "product_id": o.product_id, "product_name": o.product_name, "quantity": o.quantity,
        "unit_price": format_minor(o.unit_price_minor, &o.currency),
        "discount": format_minor(o.discount_minor, &o.currency), "coupon_code": o.coupon_code,
        "amount": format_minor(o.amount_minor, &o.currency), "amount_minor": o.amount_minor, "currency": o.currency,
        "email": o.email, "channel": o.channel, "attention_reason": o.attention_reason,
        "created_at": o.created_at.to_rfc3339(), "paid_at": o.paid_at.map(|t| t.to_rfc3339()),
        "delivered_at": o.delivered_at.map(|t| t.to_rfc3339()),
    })
}

pub async fn list_orders(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    ApiQuery(q): ApiQuery<OrdersQuery>,
) -> ApiResult<Json<Value>> {
    let (limit, before) = PageQuery { limit: q.limit, cursor: q.cursor }.parse()?;
    let mut errors = Vec::new();
    let status = q.status.map(|s| s.trim().to_string());
    if let Some(s) = &status
        && !status::ALL.contains(&s.as_str())
    {
        errors.push(format!(
            "status 只能是 {}。status must be one of {}.",
            status::ALL.join(", "),
            status::ALL.join(", ")
        ));
    }
    let filter = OrderFilter {
        query: q.q,
        status,
        product_id: q.product_id,
        created_from: time("created_from", q.created_from.as_deref(), &mut errors),
        created_before: time("created_before", q.created_before.as_deref(), &mut errors),
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let rows =
        orders_page_for_tenant(state.db.reader(), caller.tenant_id(), &filter, before.as_deref(), limit + 1).await?;
    Ok(Json(cursor::page(rows, limit, |o| &o.id, order_json)))
}

pub async fn get_order(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    Path(order_no): Path<String>,
) -> ApiResult<Json<Value>> {
    let o = find_order_by_no_for_tenant(state.db.reader(), caller.tenant_id(), &order_no)
        .await?
        .ok_or_else(|| ApiError::not_found("订单 order"))?;
    Ok(Json(order_json(&o)))
}
