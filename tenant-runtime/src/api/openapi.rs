use axum::Json;
use utoipa::OpenApi;

use super::{create_order, get_order, list_products, notify_payment, stripe_webhook};

/// The storefront API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kapu storefront API",
        version = "1",
        description = "Per-shop JSON API on the shop's own host. Errors are {\"error\":{\"code\",\"message\"}} with messages in the language of Accept-Language (zh-CN or en)."
    ),
    paths(
        list_products::list_products,
        create_order::create_order,
        get_order::get_order,
        notify_payment::notify_payment,
        notify_payment::notify_payment_get,
        stripe_webhook::stripe_webhook
    ),
    components(schemas(
        list_products::ProductList,
        list_products::ProductOut,
        create_order::CreateOrder,
        create_order::OrderCreated,
        get_order::OrderOut
    ))
)]
pub struct StorefrontApi;

/// `GET /api/v1/openapi.json`
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(StorefrontApi::openapi())
}
