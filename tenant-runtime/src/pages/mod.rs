//! Storefront HTML pages, rendered by the shop's theme. They call the same
//! domain code as the JSON API (checkout, order view, payment confirmation).

pub mod assets;
pub mod error;
pub mod home;
pub mod lang;
pub mod lookup;
pub mod order_page;
pub mod pay_qr;
pub mod product;
pub mod sandbox_pay;

use std::sync::LazyLock;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, REFERRER_POLICY};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kapu_core::tenant::Tenant;
use kapu_themes::{Theme, texts};
use minijinja::{Value, context};

use crate::error::StoreError;
use crate::i18n::Lang;

/// The built-in theme every shop uses for now.
pub static THEME: LazyLock<Theme> = LazyLock::new(Theme::classic);

/// Context every page template gets: the shop, the language and its texts,
/// and the path to come back to after switching language.
pub fn base_ctx(shop: &Tenant, lang: Lang, back: &str) -> Value {
    context! {
        shop => context! { name => shop.name.clone(), announcement => shop.announcement.clone(), test_mode => shop.is_test_mode(), support_contact => shop.support_contact.clone(), logo_hash => shop.logo_hash.clone() },
        lang => lang.tag(),
        t => texts(lang.tag()),
        back => back,
    }
}

/// Renders a template to a string.
pub fn render_string(name: &str, ctx: Value) -> Result<String, StoreError> {
    THEME.render(name, ctx).map_err(|e| StoreError::Internal(format!("rendering {name}: {e}")))
}

/// An HTML response that is never stored by browsers or proxies.
pub fn html(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    let mut resp = (status, body.into()).into_response();
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Renders a template into an HTML response; a template failure becomes a
/// plain server-error page (the themed one might fail the same way).
pub fn render(status: StatusCode, name: &str, ctx: Value) -> Response {
    match render_string(name, ctx) {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "page rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "500 服务器出错 / Internal error").into_response()
        }
    }
}

/// Marks a response whose URL carries a secret so browsers never leak it.
pub fn no_referrer(mut resp: Response) -> Response {
    resp.headers_mut().insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    resp
}

/// Headers set on every storefront response unless a handler set them.
pub fn security_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h
}

/// A page error: rendered as the themed error page.
pub struct PageError(pub StoreError, pub Lang, pub Option<std::sync::Arc<Tenant>>);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error::render(&self.0, self.1, self.2.as_deref())
    }
}
