//! The middleware in front of every storefront route: resolves the shop from
//! the host, the client IP and the buyer's language, refuses unknown and
//! closed shops, and runs the rest of the request in that language.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::HOST;
use axum::middleware::Next;
use axum::response::Response;
use kapu_core::config::normalize_host;
use kapu_core::tenant::{Tenant, TenantStatus};

use crate::error::StoreError;
use crate::http::client_ip::{ClientIp, client_ip, peer_ip};
use crate::http::host::TenantCtx;
use crate::http::request_class::{RequestClass, is_money_path, is_order_api_path};
use crate::http::shop_limit::Refusal;
use crate::i18n::Lang;
use crate::pages;
use crate::state::RuntimeState;

/// The raw `Host` of a request (with port), if it is a plausible host.
pub fn request_host(headers: &HeaderMap, uri: &axum::http::Uri) -> Option<String> {
    let raw = headers.get(HOST).and_then(|h| h.to_str().ok()).or_else(|| uri.authority().map(|a| a.as_str()))?;
    let ok = !raw.is_empty()
        && raw.len() <= 260
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    ok.then(|| raw.to_string())
}

/// True for paths whose errors are JSON rather than pages.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/")
}

/// What a suspended or closed shop still serves: confirmations of payments
/// for orders already placed (a paid order is never lost to a suspension),
/// and buyers' own order pages with the keys they bought.
fn served_while_closed(method: &axum::http::Method, path: &str) -> bool {
    let reading = method == axum::http::Method::GET
        && (path.starts_with("/orders/")
            || is_order_api_path(path)
            || path.starts_with("/assets/")
            || path.starts_with("/logo/"));
    is_money_path(path) || reading
}

/// What this gate can answer to `method` on `path` (a route's path, with
/// `{param}` placeholders) before the route's handler runs: the refusals the
/// storefront API documents on each operation (`api::openapi`), from the
/// same rules the gate applies.
pub fn refusals_before_handler(method: &axum::http::Method, path: &str) -> Vec<(&'static str, &'static str)> {
    let mut refusals = Vec::new();
    if !served_while_closed(method, path) {
        refusals.push(("403", "shop_not_open_yet: a shop in test mode, without its preview link"));
        refusals.push(("503", "shop_closed: the shop is suspended or closed"));
    }
    if !is_money_path(path) {
        refusals.push(("429", "rate_limited: the client's or the shop's request limit"));
    }
    refusals
}

/// What search engines are told about a shop in test mode.
const NOINDEX: &str = "noindex, nofollow";

/// The cookie that holds a test-mode shop's preview token on its host.
const PREVIEW_COOKIE: &str = "kapu_preview";

/// How a request stands with a test-mode shop that needs a preview link.
enum Preview {
    /// It carries the current preview cookie.
    Held,
    /// It presents a valid `?preview=` token: set the cookie.
    Presented(String),
    None,
}

fn preview_access(state: &RuntimeState, tenant: &Tenant, parts: &axum::http::request::Parts) -> Preview {
    let keys = state.master.tenant(&tenant.id);
    let valid = |t: &str| t.len() <= 64 && keys.verify_preview_token(tenant.preview_epoch, t);
    if kapu_web::cookie(&parts.headers, PREVIEW_COOKIE).is_some_and(valid) {
        return Preview::Held;
    }
    let presented = query_pairs(parts).into_iter().find(|(k, _)| k == "preview").map(|(_, v)| v);
    match presented {
        Some(t) if valid(&t) => Preview::Presented(t),
        _ => Preview::None,
    }
}

fn query_pairs(parts: &axum::http::request::Parts) -> Vec<(String, String)> {
    parts.uri.query().and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default()
}

/// Keeps a valid preview token in a cookie for this shop's host and sends
/// the browser on to the same address without it (so it is not shared on).
fn enter_preview(state: &RuntimeState, parts: &axum::http::request::Parts, token: &str) -> Response {
    use axum::response::IntoResponse;
    let rest: Vec<(String, String)> = query_pairs(parts).into_iter().filter(|(k, _)| k != "preview").collect();
    let mut to = parts.uri.path().to_string();
    if !rest.is_empty() {
        to.push('?');
        to.push_str(&serde_urlencoded::to_string(rest).unwrap_or_default());
    }
    let secure = if state.cfg.public_scheme == "https" { "; Secure" } else { "" };
    let cookie = format!("{PREVIEW_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000{secure}");
    let mut resp = axum::response::Redirect::to(&to).into_response();
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().insert(axum::http::header::SET_COOKIE, v);
    }
    resp.headers_mut().insert("x-robots-tag", axum::http::HeaderValue::from_static(NOINDEX));
    resp
}

/// See the module docs.
pub async fn storefront_context(State(state): State<RuntimeState>, mut req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let api = is_api_path(parts.uri.path());
    let ip = client_ip(peer_ip(&parts), &parts.headers, &state.trusted_proxies);
    let raw_host = request_host(&parts.headers, &parts.uri);
    let tenant = match &raw_host {
        Some(h) => state.tenants.resolve(&state.db, &normalize_host(h), &state.platform_host, &state.shop_host).await,
        None => Ok(None),
    };
    let default_lang = match &tenant {
        Ok(Some(t)) => Lang::from_tag(&t.default_locale),
        _ => Lang::Zh,
    };
    let lang = Lang::negotiate(&parts.headers, default_lang);
    let refuse = |err: StoreError, tenant: Option<&Arc<Tenant>>| {
        if api { err.to_json_response(lang) } else { pages::error::render(&err, lang, tenant.map(|t| t.as_ref())) }
    };
    let tenant = match tenant {
        Ok(Some(t)) => t,
        Ok(None) => return refuse(StoreError::ShopNotFound, None),
        Err(e) => return refuse(e, None),
    };
    if tenant.status != TenantStatus::Active && !served_while_closed(&parts.method, parts.uri.path()) {
        return refuse(StoreError::ShopClosed, Some(&tenant));
    }
    if tenant.needs_preview_link() && !served_while_closed(&parts.method, parts.uri.path()) {
        match preview_access(&state, &tenant, &parts) {
            Preview::Held => {}
            Preview::Presented(token) => return enter_preview(&state, &parts, &token),
            Preview::None => {
                let mut resp = refuse(StoreError::ShopNotOpenYet, Some(&tenant));
                resp.headers_mut().insert("x-robots-tag", axum::http::HeaderValue::from_static(NOINDEX));
                return resp;
            }
        }
    }
    state.traffic.record_request(&tenant.id);
    let cap = if state.cfg.shop_rate_limits { tenant.storefront_rps } else { None };
    let class = RequestClass::of(&parts.method, &parts.uri);
    match state.shop_limits.check(&tenant.id, ip, cap, class).await {
        Ok(()) => {}
        Err(Refusal::Client { retry_after_secs }) => {
            state.traffic.record_rate_limited(&tenant.id);
            return refuse(StoreError::RateLimited { retry_after_secs }, Some(&tenant));
        }
        Err(Refusal::Shop { retry_after_secs }) => {
            state.traffic.record_rate_limited(&tenant.id);
            state.refusal_hold.wait().await;
            return refuse(StoreError::RateLimited { retry_after_secs }, Some(&tenant));
        }
    }
    // The shop's share of the process: browsing and checkout wait their
    // turn behind the shop's own requests, never behind other shops'.
    let _turn = if class.under_shop_cap() {
        match state.shop_share.turn(&tenant.id).await {
            Ok(turn) => Some(turn),
            Err(()) => {
                state.traffic.record_rate_limited(&tenant.id);
                return refuse(StoreError::RateLimited { retry_after_secs: 1 }, Some(&tenant));
            }
        }
    } else {
        None
    };
    tracing::Span::current().record("tenant", tenant.slug.as_str());
    let tenant_for_errors = tenant.clone();
    // The request chose the host (which named this shop); the scheme and
    // port come from configuration, so a forged `Host` port cannot reach
    // a buyer's email.
    let base_url = state.cfg.public_origin(&normalize_host(raw_host.as_deref().unwrap_or_default()));
    parts.extensions.insert(TenantCtx { tenant, base_url });
    parts.extensions.insert(ClientIp(ip));
    parts.extensions.insert(lang);
    req = Request::from_parts(parts, body);
    let tenant_id = tenant_for_errors.id.clone();
    let test_mode = tenant_for_errors.is_test_mode();
    let tenant_for_notice = tenant_for_errors.clone();
    let ctx = RequestKind { api, tenant: Some(tenant_for_errors) };
    let mut resp = REQUEST.scope(ctx, lang.scope(next.run(req))).await;
    if !state.database.is_up() && !api {
        resp = crate::http::database_watch::with_paused_notice(resp, lang).await;
    } else if !api
        && let Some(notice) = crate::http::status_notice::status_notice(&state, &tenant_for_notice, lang).await
    {
        use crate::http::status_notice::NOTICE_ID;
        resp = crate::http::database_watch::with_notice(resp, NOTICE_ID, &notice, false).await;
    }
    if test_mode {
        // A shop being tested stays out of search engines, open or not.
        resp.headers_mut().insert("x-robots-tag", axum::http::HeaderValue::from_static(NOINDEX));
    }
    if resp.status() == axum::http::StatusCode::TOO_MANY_REQUESTS {
        state.traffic.record_rate_limited(&tenant_id);
    }
    resp
}

/// What errors raised outside a handler (e.g. by the rate limiter) need to
/// know to answer in the right form.
#[derive(Clone)]
pub struct RequestKind {
    pub api: bool,
    pub tenant: Option<Arc<Tenant>>,
}

tokio::task_local! {
    /// The kind of storefront request being served.
    pub static REQUEST: RequestKind;
}

/// Renders `err` as JSON for API paths and as the shop's error page otherwise.
pub fn error_response(err: &StoreError) -> Response {
    let lang = Lang::current_or(Lang::Zh);
    match REQUEST.try_with(Clone::clone) {
        Ok(RequestKind { api: false, tenant }) => pages::error::render(err, lang, tenant.as_deref()),
        _ => err.to_json_response(lang),
    }
}
