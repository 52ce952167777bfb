//! `GET/POST /coupons`.

use crate::merchant_api::error::ApiQuery;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kapu_core::db::is_unique_violation;
use kapu_core::entities::coupons;
use kapu_core::money::format_minor;
use kapu_core::store::api_keys::Scope;
use kapu_core::store::coupons::{coupons_page_for_tenant, create_coupon_for_tenant};
use serde_json::{Value, json};

use super::auth::ApiCaller;
use super::cursor::{self, PageQuery};
use super::error::{ApiError, ApiResult};
use super::idempotency::idempotent;
use super::products::price_text;
use crate::catalog::coupons::{CouponForm, check_coupon_form};
use crate::state::PlatformState;

fn coupon_json(c: &coupons::Model, currency: &str) -> Value {
    let value = if c.kind == "percent" { c.value.to_string() } else { format_minor(c.value, currency) };
    json!({
        "id": c.id, "code": c.code, "kind": c.kind, "value": value, "product_id": c.product_id,
        "usage_limit": c.usage_limit, "used_count": c.used_count, "active": c.active,
        "expires_at": c.expires_at.map(|t| t.to_rfc3339()), "created_at": c.created_at.to_rfc3339(),
    })
}

pub async fn list_coupons(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Value>> {
    let (limit, before) = q.parse()?;
    let rows = coupons_page_for_tenant(state.db.reader(), caller.tenant_id(), before.as_deref(), limit + 1).await?;
    let currency = caller.shop.currency.clone();
    Ok(Json(cursor::page(rows, limit, |c| &c.id, |c| coupon_json(c, &currency))))
}

/// A coupon as a client sends it: `kind` `percent` (value 1–99) or `fixed`
/// (value a decimal amount); optional product, usage limit, last valid day.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCouponBody {
    code: String,
    kind: String,
    value: Value,
    #[serde(default)]
    product_id: Option<String>,
    #[serde(default)]
    usage_limit: Option<i64>,
    /// `YYYY-MM-DD`, valid through that day.
    #[serde(default)]
    expires_on: Option<String>,
}

pub async fn create_coupon(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let work = async {
        caller.require(Scope::Write)?;
        let b: NewCouponBody = serde_json::from_slice(&body).map_err(ApiError::bad_json)?;
        let form = CouponForm {
            code: b.code,
            kind: b.kind,
            value: price_text(b.value),
            product_id: b.product_id.unwrap_or_default(),
            usage_limit: b.usage_limit.map(|n| n.to_string()).unwrap_or_default(),
            expires_on: b.expires_on.unwrap_or_default(),
        };
        let new = check_coupon_form(&state, caller.tenant_id(), &caller.shop.currency, &form)
            .await?
            .map_err(ApiError::invalid)?;
        let id = match create_coupon_for_tenant(state.db.writer(), caller.tenant_id(), &new).await {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "coupon_exists",
                    "这个优惠码已存在。This coupon code already exists.",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let rows = coupons_page_for_tenant(state.db.writer(), caller.tenant_id(), None, 50).await?;
        let c = rows.iter().find(|c| c.id == id).ok_or_else(|| ApiError::internal("coupon vanished after insert"))?;
        Ok((StatusCode::CREATED, coupon_json(c, &caller.shop.currency)))
    };
    idempotent(&state, &caller, &headers, "POST /coupons", &body, work).await
}
