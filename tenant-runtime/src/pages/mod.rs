//! Storefront HTML pages, rendered by the shop's theme. They call the same
//! domain code as the JSON API (checkout, order view, payment confirmation).

pub mod affiliate;
pub mod assets;
pub mod error;
pub mod home;
pub mod lang;
pub mod look;
pub mod lookup;
pub mod order_page;
pub mod pay_qr;
pub mod product;
pub mod sandbox_pay;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, REFERRER_POLICY};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kapu_core::tenant::Tenant;
use kapu_themes::texts;
use minijinja::{Value, context};

use crate::error::StoreError;
use crate::i18n::Lang;

/// Context every page template gets: the shop, the language and its texts,
/// and the path to come back to after switching language.
pub fn base_ctx(shop: &Tenant, lang: Lang, back: &str) -> Value {
    context! {
        shop => context! { name => shop.name.clone(), announcement => shop.announcement.clone(), test_mode => shop.is_test_mode(), support_contact => shop.support_contact.clone(), logo_hash => shop.logo_hash.clone(), affiliates => shop.affiliates, symbol => kapu_core::money::currency_symbol(&shop.currency).to_string() },
        lang => lang.tag(),
        t => texts(lang.tag()),
        back => back,
        theme => look::theme_ctx(shop),
        shop_css => look::shop_css_path(shop).map(Value::from_safe_string),
    }
}

/// Renders a template of the shop's look to a string. An override that
/// fails falls back to the theme's template and is reported to the merchant.
pub fn render_string(shop: Option<&Tenant>, name: &str, ctx: Value) -> Result<String, StoreError> {
    let templates = look::templates_of(shop);
    let failed_before = shop.is_some_and(|s| look::failed_before(s, name));
    let rendered = if failed_before {
        templates.theme().render(name, ctx).map(|h| (h, None))
    } else if templates.has_overrides() {
        off_the_async_threads(|| templates.render(name, ctx))
    } else {
        templates.render(name, ctx)
    };
    let (html, failed) = rendered.map_err(|e| StoreError::Internal(format!("rendering {name}: {e}")))?;
    if let (Some(e), Some(shop)) = (failed, shop)
        && let Some(l) = &shop.look
    {
        look::report(shop, l.version, &e);
    }
    Ok(html)
}

/// Runs merchant-written code (a template override, up to its fuel budget)
/// with the async runtime told this thread is busy, so other requests move
/// to other threads meanwhile. On a single-threaded runtime (tests) it
/// simply runs.
fn off_the_async_threads<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(work),
        _ => work(),
    }
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
pub fn render(shop: Option<&Tenant>, status: StatusCode, name: &str, ctx: Value) -> Response {
    match render_string(shop, name, ctx) {
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
