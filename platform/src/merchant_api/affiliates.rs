//! Affiliates on the merchant API (read keys): `GET /affiliates` (each
//! affiliate with its clicks, orders and money) and `GET
//! /affiliates/commissions?limit=` (the latest commissions, newest first,
//! with their state). The webhooks `affiliate.commission_booked`,
//! `affiliate.commission_reversed` and `affiliate.payout_requested` carry
//! the same shapes.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use kapu_core::money::format_minor;
use kapu_core::store::affiliates as store;
use serde_json::{Value, json};

use super::auth::ApiCaller;
use super::error::{ApiQuery, ApiResult};
use crate::state::PlatformState;

pub async fn list_affiliates(State(state): State<PlatformState>, caller: ApiCaller) -> ApiResult<Json<Value>> {
    let r = state.db.reader();
    let currency = caller.shop.currency.clone();
    let data: Vec<Value> = store::affiliates_for_tenant(r, caller.tenant_id(), Utc::now())
        .await?
        .into_iter()
        .map(|f| {
            let a = &f.affiliate;
            json!({
                "id": a.id, "email": a.email, "code": a.code, "status": a.status,
                "clicks_30d": f.clicks.0, "clicks_not_counted_30d": f.clicks.1,
                "orders": f.orders, "orders_not_eligible": f.refused,
                "pending": format_minor(f.pending_minor, &currency), "booked": format_minor(f.booked_minor, &currency),
                "balance": format_minor(f.balance_minor, &currency), "balance_minor": f.balance_minor,
                "currency": currency, "created_at": a.created_at.to_rfc3339(),
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

#[derive(serde::Deserialize)]
pub struct CommissionsQuery {
    limit: Option<String>,
}

pub async fn list_commissions(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    ApiQuery(q): ApiQuery<CommissionsQuery>,
) -> ApiResult<Json<Value>> {
    let limit = super::cursor::limit(q.limit.as_deref())?;
    let r = state.db.reader();
    let me = caller.tenant_id();
    let codes = store::codes_for_tenant(r, me).await?;
    let data: Vec<Value> = store::commissions_for_tenant(r, me, None, limit)
        .await?
        .iter()
        .map(|c| store::commission_data(c, codes.get(&c.affiliate_id).map(String::as_str)))
        .collect();
    Ok(Json(json!({ "data": data })))
}
