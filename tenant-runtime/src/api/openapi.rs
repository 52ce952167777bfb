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
    )),
    modifiers(&AnyShopRefusal)
)]
pub struct StorefrontApi;

/// What any storefront request can meet before its handler runs: the
/// client's or the shop's rate limit, a shop not open yet (test mode,
/// preview link only), or a closed shop. Documented on every operation.
struct AnyShopRefusal;

impl utoipa::Modify for AnyShopRefusal {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::ResponseBuilder;
        for item in api.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                for (code, what) in [
                    ("403", "shop_not_open_yet"),
                    ("429", "rate_limited"),
                    ("503", "shop_closed / service_unavailable"),
                ] {
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
