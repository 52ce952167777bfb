use axum::Json;
use utoipa::OpenApi;

use crate::http::context::refusals_before_handler;

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
    )),
    modifiers(&AnyShopRefusal)
)]
pub struct StorefrontApi;

/// What a storefront request can meet before its handler runs, operation
/// by operation, from the gate's own rules (`refusals_before_handler`):
/// the client's or the shop's rate limit everywhere but on payment
/// notifications, and a shop not open yet (test mode, preview link only)
/// or closed everywhere but on notifications and buyers' order views.
struct AnyShopRefusal;

impl utoipa::Modify for AnyShopRefusal {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use axum::http::Method;
        use utoipa::openapi::ResponseBuilder;
        for (path, item) in api.paths.paths.iter_mut() {
            for (method, op) in [(Method::GET, &mut item.get), (Method::POST, &mut item.post)] {
                let Some(op) = op else { continue };
                for (code, what) in refusals_before_handler(&method, path) {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| ResponseBuilder::new().description(what).into());
                }
            }
        }
    }
}

/// `GET /api/v1/openapi.json`
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(StorefrontApi::openapi())
}
