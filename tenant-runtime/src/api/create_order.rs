use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kapu_core::money::format_minor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiJson;
use crate::checkout::{OrderInput, place_order};
use crate::error::StoreError;
use crate::http::client_ip::ClientIp;
use crate::http::host::TenantCtx;
use crate::http::referral::Referral;
use crate::i18n::Lang;
use crate::state::RuntimeState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    pub product_id: String,
    /// A whole number (`3` or `3.0`); the product's bounds apply.
    #[serde(deserialize_with = "whole_number")]
    pub quantity: i64,
    /// Where the keys are sent.
    pub email: String,
    /// Optional password to look the order up later with its number.
    pub lookup_password: Option<String>,
    /// Payment channel kind (e.g. "sandbox"); the shop's first by default.
    pub channel: Option<String>,
    /// A coupon code of the shop (case does not matter).
    pub coupon: Option<String>,
    /// `"{challenge}:{counter}"` when a previous attempt answered 428 `challenge_required`:
    /// a counter such that SHA-256 of that text starts with `difficulty` zero bits.
    pub pow: Option<String>,
    /// Manual-delivery products: the buyer's answers, keyed by field label.
    pub fields: Option<std::collections::HashMap<String, String>>,
}

/// A JSON number with no fractional part: clients in languages with one
/// number type send `3.0` for 3, and JSON Schema's `integer` allows it.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(serde::de::Error::custom(format!("{n} is not a whole number"))),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderCreated {
    pub order_no: String,
    /// Secret that shows the order: keep it.
    pub token: String,
    /// Always "pending".
    pub status: String,
    /// What the buyer pays, after any coupon.
    pub amount: String,
    pub amount_minor: i64,
    /// What the coupon took off ("0.00" without one).
    pub discount: String,
    pub discount_minor: i64,
    pub currency: String,
    /// Absolute URL where the buyer pays.
    pub pay_url: String,
    pub expires_at: DateTime<Utc>,
    pub test_mode: bool,
}

/// Places an order and reserves its keys until it expires.
#[utoipa::path(post, path = "/api/v1/orders", tag = "storefront", request_body = CreateOrder,
    responses((status = 201, body = OrderCreated),
        (status = 400, description = "invalid_json"), (status = 404, description = "product_not_found"),
        (status = 409, description = "out_of_stock / daily_allowance_used"), (status = 422, description = "invalid_email / invalid_quantity / quantity_over_order_cap / coupon_not_found / coupon_expired / coupon_used_up / coupon_not_for_product"),
        (status = 429, description = "rate_limited / too_many_unpaid_orders"),
        (status = 503, description = "temporarily_unavailable (a product sold from another shop's stock is paused) / payment_channels_unavailable / service_unavailable")))]
pub async fn create_order(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    ClientIp(ip): ClientIp,
    lang: Lang,
    Referral(affiliate_click): Referral,
    ApiJson(body): ApiJson<CreateOrder>,
) -> Result<(StatusCode, Json<OrderCreated>), StoreError> {
    let input = OrderInput {
        product_id: body.product_id,
        quantity: body.quantity,
        email: body.email,
        lookup_password: body.lookup_password,
        channel: body.channel,
        coupon: body.coupon,
        pow: body.pow,
        fields: body.fields.unwrap_or_default(),
        affiliate_click,
    };
    let placed = place_order(&state, &shop, ip, lang, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(OrderCreated {
            amount: format_minor(placed.amount_minor, &placed.currency),
            discount: format_minor(placed.discount_minor, &placed.currency),
            discount_minor: placed.discount_minor,
            order_no: placed.order_no,
            token: placed.token,
            status: "pending".into(),
            amount_minor: placed.amount_minor,
            currency: placed.currency,
            pay_url: placed.pay_url,
            expires_at: placed.expires_at,
            test_mode: shop.tenant.is_test_mode(),
        }),
    ))
}
