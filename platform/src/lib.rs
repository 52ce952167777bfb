//! Kapu control plane. For now: provisioning of the demo shop and the
//! platform host's landing page; accounts and the dashboard come with the
//! merchant control plane.

pub mod demo;
pub mod provision;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

/// Routes served on the platform host (`KAPU_PLATFORM_DOMAIN`).
pub fn platform_router(demo_shop_url: String) -> Router {
    Router::new()
        .route(
            "/",
            get(move || {
                let url = demo_shop_url.clone();
                async move { Html(landing(&url)) }
            }),
        )
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(serde_json::json!({"error": {"code": "not_found", "message": "No such page on the Kapu platform."}})),
            )
                .into_response()
        })
}

fn landing(demo_url: &str) -> String {
    let demo_url = escape(demo_url);
    format!(
        "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Kapu 卡铺</title><body style=\"font-family:system-ui,sans-serif;max-width:640px;margin:40px auto;padding:0 16px\">\
         <h1>Kapu 卡铺</h1><p>自动发卡店铺平台 · Hosted auto-delivery shops for digital goods.</p>\
         <p>演示店铺 / Demo shop: <a href=\"{demo_url}\">{demo_url}</a></p>\
         <p>商家后台即将上线 / The merchant dashboard is coming with the control plane.</p></body></html>"
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
