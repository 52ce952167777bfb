//! The merchant REST API, on the platform host under `/api/merchant/v1/`:
//! a shop's products, card-key import, stock, orders and coupons, driven
//! with an API key (`Authorization: Bearer kapu_sk_…`, made on the
//! dashboard's API keys page). JSON in and out; errors in one shape
//! (`error.rs`); POSTs honour `Idempotency-Key`; lists page with cursors;
//! each key is rate-limited by its plan. The OpenAPI document is served at
//! `/api/merchant/v1/openapi.json`.

pub mod affiliates;
mod auth;
pub mod coupons;
pub mod cursor;
pub mod error;
pub mod idempotency;
pub mod keys;
pub mod orders;
pub mod products;
pub mod supply;
pub mod supply_orders;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kapu_web::RouteBook;

use crate::state::PlatformState;
use error::ApiError;

/// The OpenAPI 3.1 description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Largest request body (a 10,000-key import of long keys fits).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

pub fn routes() -> RouteBook<PlatformState> {
    RouteBook::new()
        .route("/openapi.json", get(openapi))
        .route("/products", get(products::list_products).post(products::create_product))
        .route("/products/{id}", get(products::get_product).patch(products::update_product))
        .route("/products/{id}/keys", post(keys::import_keys))
        .route("/stock", get(products::stock))
        .route("/orders", get(orders::list_orders))
        .route("/orders/{order_no}", get(orders::get_order))
        .route("/coupons", get(coupons::list_coupons).post(coupons::create_coupon))
        .route("/supply/listings", get(supply::list_listings))
        .route("/supply/listings/{product_id}", axum::routing::put(supply::put_listing))
        .route("/supply/catalog", get(supply::list_catalog))
        .route("/supply/ledger", get(supply::get_ledger))
        .route("/supply/resale-orders", get(supply::list_resale_orders))
        .route("/affiliates", get(affiliates::list_affiliates))
        .route("/affiliates/commissions", get(affiliates::list_commissions))
        .route("/supply/products", get(supply_orders::list_products))
        .route("/supply/orders", post(supply_orders::place_order))
        .route("/supply/orders/{reference}", get(supply_orders::get_order))
        .map(|router| {
            router
                .fallback(|| async {
                    ApiError::new(StatusCode::NOT_FOUND, "not_found", "没有这个 API 路径。No such API path.")
                })
                .method_not_allowed_fallback(|| async {
                    ApiError::new(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method_not_allowed",
                        "该路径不支持此方法。This path does not take that method.",
                    )
                })
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
                .layer(axum::middleware::map_response(api_headers))
        })
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// API answers are never cached or sniffed; a body over the limit gets the
/// API's error shape rather than axum's plain text.
async fn api_headers(resp: Response) -> Response {
    let mut resp = if resp.status() == StatusCode::PAYLOAD_TOO_LARGE
        && resp.headers().get(header::CONTENT_TYPE).is_none_or(|v| !v.as_bytes().starts_with(b"application/json"))
    {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "请求体过大（最多 4 MB）。The request body is too large (4 MB at most).",
        )
        .into_response()
    } else {
        resp
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}
