//! Kapu tenant runtime: serves every shop's storefront from one process.
//!
//! - `http/`: host → tenant, client IP, language, rate limits
//! - `api/`: the storefront JSON API
//! - `pages/`: the storefront HTML pages (themes)
//! - `checkout/`: placing orders (validation, key reservation)
//! - `payments/`: applying verified payment notifications
//! - `delivery/`: order views and buyer emails
//! - `jobs`: order expiry and email jobs

pub mod affiliate_mail;
pub mod api;
pub mod catalog;
pub mod checkout;
pub mod delivery;
pub mod error;
pub mod http;
pub mod i18n;
pub mod jobs;
pub mod markdown;
pub mod orders;
pub mod pages;
pub mod payments;
pub mod state;
pub mod supplier;

use axum::Router;
use axum::extract::OriginalUri;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kapu_web::RouteBook;
use tower_http::set_header::SetResponseHeaderLayer;

pub use state::RuntimeState;

use crate::error::StoreError;
use crate::http::host::TenantCtx;
use crate::i18n::Lang;

/// Every storefront path, as the router is built from it (for the isolation
/// sweep). Money paths are never rate-limited (see `http::request_class`):
/// providers' notifications reach us however busy the shop is.
pub fn storefront_routes() -> RouteBook<RuntimeState> {
    RouteBook::new()
        .route("/api/v1/channels/stripe/webhook", post(api::stripe_webhook::stripe_webhook))
        .route(
            "/api/v1/payments/{payment_id}/notify",
            post(api::notify_payment::notify_payment).get(api::notify_payment::notify_payment_get),
        )
        .route("/api/v1/products", get(api::list_products::list_products))
        .route("/api/v1/orders", post(api::create_order::create_order))
        .route("/api/v1/orders/{order_no}", get(api::get_order::get_order))
        .route("/api/v1/openapi.json", get(api::openapi::openapi_json))
        .route("/", get(pages::home::show_home))
        .route("/products/{product_id}", get(pages::product::show_product))
        .route("/products/{product_id}/coupon", get(pages::product::check_coupon))
        .route("/checkout", get(pages::product::checkout_reloaded).post(pages::product::submit_checkout))
        .route("/lookup", get(pages::lookup::show_lookup).post(pages::lookup::submit_password_lookup))
        .route("/lookup/email", post(pages::lookup::submit_email_lookup))
        .route("/lang/{tag}", get(pages::lang::switch_lang))
        .route("/affiliate", get(pages::affiliate::show_affiliate))
        .route("/affiliate/signin", post(pages::affiliate::submit_signin))
        .route(
            "/affiliate/signin/{token}",
            get(pages::affiliate::show_signin).post(pages::affiliate::submit_signin_token),
        )
        .route("/affiliate/payout", post(pages::affiliate::submit_payout))
        .route("/affiliate/signout", post(pages::affiliate::submit_signout))
        .route("/orders/{order_no}", get(pages::order_page::show_order))
        .route("/pay/qr/{payment_id}", get(pages::pay_qr::show_qr))
        .route(
            "/pay/sandbox/{payment_id}",
            get(pages::sandbox_pay::show_sandbox).post(pages::sandbox_pay::submit_sandbox),
        )
        .route("/assets/{file}", get(pages::assets::get_asset))
        .route("/assets/previews/{file}", get(pages::assets::get_asset))
        .route("/shop.css", get(pages::look::shop_css))
        .route("/logo/{hash}", get(pages::assets::get_logo))
}

/// Every storefront route, behind host resolution and the rate limits (both in `http::context`).
pub fn storefront_router(state: RuntimeState) -> Router {
    http::rate_limit::spawn_housekeeping(state.clone());
    pages::look::spawn_error_recorder(state.db.clone());
    let mut router = storefront_routes()
        .into_router()
        .route_layer(axum::middleware::from_fn(kapu_web::stamp_route))
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), http::referral::capture_referral))
        .layer(from_fn_with_state(state.clone(), http::context::storefront_context));
    for (name, value) in pages::security_headers() {
        if let Some(name) = name {
            router = router.layer(SetResponseHeaderLayer::if_not_present(name, value));
        }
    }
    router.with_state(state)
}

async fn not_found(OriginalUri(uri): OriginalUri, lang: Lang, req: axum::extract::Request) -> Response {
    let shop = req.extensions().get::<TenantCtx>().cloned();
    if http::context::is_api_path(uri.path()) {
        StoreError::NotFound.into_response()
    } else {
        pages::error::render(&StoreError::NotFound, lang, shop.as_ref().map(|s| s.tenant.as_ref()))
    }
}
