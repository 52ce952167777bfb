//! Kapu control plane, served on the platform host (`KAPU_PLATFORM_DOMAIN`):
//! merchant accounts and sessions, shop provisioning, and the merchant
//! dashboard (catalog, card keys, orders, settings). Pages come from
//! `kapu-admin-ui`; queries from `kapu_core::store`.

pub mod accounts;
pub mod affiliates;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod canary_shop;
pub mod catalog;
pub mod demo;
pub mod domains;
pub mod error;
pub mod jobs;
pub mod language;
pub mod merchant_api;
pub mod ops;
pub mod orders;
pub mod page;
pub mod provision;
pub mod shops;
pub mod state;
pub mod status;
pub mod subscriptions;
pub mod supply;
pub mod webhooks;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kapu_admin_ui::AdminUi;
use kapu_web::RouteBook;

pub use state::PlatformState;

use crate::auth::csrf::{CsrfToken, ensure_csrf_cookie};
use crate::auth::session::CurrentAccount;
use crate::error::{PageError, PageResult};
use crate::page::{Layout, render};

/// Routes served on the platform host.
pub fn platform_router(state: PlatformState) -> Router {
    let stamp = || axum::middleware::from_fn(kapu_web::stamp_route);
    dashboard_routes()
        .into_router()
        .route_layer(stamp())
        .fallback(|| async { PageError::NotFound })
        .layer(axum::middleware::from_fn_with_state(state.clone(), ensure_csrf_cookie))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn_with_state(state.clone(), status::banner::status_banner))
        .layer(axum::middleware::from_fn(language::request_language))
        .nest("/api/merchant/v1", merchant_api::routes().into_router().route_layer(stamp()))
        .with_state(state)
}

/// Every path the platform host serves, as its router was built (for the
/// isolation sweep, which calls each as users who must not reach shop A).
pub fn platform_paths() -> Vec<String> {
    let api = merchant_api::routes();
    let mut paths = dashboard_routes().paths().to_vec();
    paths.extend(api.paths().iter().map(|p| format!("/api/merchant/v1{p}")));
    paths
}

/// The dashboard's, the console's and the accounts' routes.
fn dashboard_routes() -> RouteBook<PlatformState> {
    use catalog::{categories, coupons, key_import, keys, product_form, products};
    use orders::{actions, detail, export, list};
    let shop = RouteBook::new()
        .route("/", get(shops::dashboard::dashboard))
        .route("/settings", get(shops::settings::settings_page).post(shops::settings::save_settings))
        .route("/export", post(shops::export::export_shop))
        .route("/mode", post(shops::mode::set_mode))
        .route("/visibility", post(shops::mode::set_visibility))
        .route("/preview/revoke", post(shops::mode::revoke_preview))
        .route(
            "/logo",
            post(shops::logo::upload_logo)
                .layer(DefaultBodyLimit::max(kapu_core::store::shop_logo::MAX_LOGO_BYTES + 16 * 1024)),
        )
        .route("/logo/delete", post(shops::logo::delete_logo))
        .route("/team", get(shops::team::team_page).post(shops::team::add_member))
        .route("/risk", get(shops::risk::risk_page).post(shops::risk::add_entry))
        .route("/channels", get(shops::channels::channels_page))
        .route("/channels/{kind}", post(shops::channels::save_channel))
        .route("/plan", get(subscriptions::plan_page::plan_page))
        .route("/plan/subscribe", post(subscriptions::plan_page::subscribe))
        .route("/plan/cancel", post(subscriptions::plan_page::cancel))
        .route("/audit", get(shops::audit::audit_page))
        .route("/domains", get(domains::page::domains_page).post(domains::page::add_domain))
        .route("/domains/verify", post(domains::page::verify_domain))
        .route("/domains/remove", post(domains::page::remove_domain))
        .route("/theme", get(shops::theme::show_theme).post(shops::theme::save_theme))
        .route("/theme/templates/{name}", get(shops::theme::edit_template).post(shops::theme::save_template))
        .route("/api-keys", get(api_keys::api_keys_page).post(api_keys::create_key))
        .route("/api-keys/{id}/revoke", post(api_keys::revoke_key))
        .route("/api-keys/{id}/topup", post(api_keys::topup_key))
        .route("/webhooks", get(webhooks::page::webhooks_page).post(webhooks::page::add_endpoint))
        .route("/webhooks/{id}/toggle", post(webhooks::page::toggle_endpoint))
        .route("/webhooks/{id}/delete", post(webhooks::page::delete_endpoint))
        .route("/webhooks/deliveries/{id}/redeliver", post(webhooks::page::redeliver))
        .route("/risk/velocity", post(shops::risk::save_velocity))
        .route("/risk/{id}/delete", post(shops::risk::delete_entry))
        .route("/team/{account_id}/remove", post(shops::team::remove_member))
        .route("/products", get(products::list_products))
        .route("/products/new", get(product_form::new_product_page).post(product_form::create_product))
        .route("/products/{id}", get(product_form::edit_product_page).post(product_form::update_product))
        .route("/products/{id}/delete", post(product_form::delete_product))
        .route("/products/{id}/resale", post(supply::listing::save_listing))
        .route("/supply", get(supply::catalog::supply_catalog))
        .route("/supply/add", post(supply::catalog::add_resale_product))
        .route("/supply/resellers", get(supply::resellers::resellers_page))
        .route("/supply/resellers/{tenant_id}/pause", post(supply::resellers::pause_reseller))
        .route("/supply/resellers/{tenant_id}/resume", post(supply::resellers::resume_reseller))
        .route("/supply/resellers/{tenant_id}/channels", post(supply::payment_source::offer_channels))
        .route("/channels/source", post(supply::payment_source::choose_source))
        .route("/supply/ledger", get(supply::ledger::ledger_page))
        .route("/supply/ledger/settle", post(supply::ledger::record_payment_received))
        .route("/affiliates", get(affiliates::page::affiliates_page).post(affiliates::page::add_partner))
        .route("/affiliates/terms", post(affiliates::terms::save_terms))
        .route("/affiliates/rates", post(affiliates::terms::save_product_rate))
        .route("/affiliates/{affiliate_id}/block", post(affiliates::page::block_affiliate))
        .route("/affiliates/{affiliate_id}/unblock", post(affiliates::page::unblock_affiliate))
        .route("/affiliates/payouts/{payout_id}/paid", post(affiliates::payouts::mark_payout_paid))
        .route("/affiliates/payouts/{payout_id}/reject", post(affiliates::payouts::reject_payout))
        .route("/supply/external", get(supply::external::external_page).post(supply::external::add_connection))
        .route("/supply/external/{connection_id}/add", post(supply::external::add_external_product))
        .route("/supply/invites", post(supply::invites::create_invite_link))
        .route("/supply/resellers/{tenant_id}/discount", post(supply::invites::set_discount))
        .route(
            "/products/{id}/keys",
            get(keys::keys_page)
                .post(key_import::import_keys)
                .layer(DefaultBodyLimit::max(key_import::MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route("/products/{id}/keys/delete-unsold", post(keys::delete_unsold_keys))
        .route("/products/{id}/keys/export", get(keys::export_unsold_keys))
        .route("/imports/{id}", get(key_import::import_page))
        .route("/coupons", get(coupons::list_coupons).post(coupons::create_coupon))
        .route("/coupons/{id}/toggle", post(coupons::toggle_coupon))
        .route("/categories", post(categories::create_category))
        .route("/categories/{id}/delete", post(categories::delete_category))
        .route("/orders/{order_no}/payments/{payment_id}/refund", post(orders::refund::refund_payment))
        .route("/orders/{order_no}/payments/{payment_id}/check", post(actions::check_payment_now))
        .route("/payments/notifications", get(shops::notifications::notifications_page))
        .route("/channels/{kind}/test", post(shops::channels::test_channel))
        .route("/orders", get(list::list_orders))
        .route("/orders/{no}", get(detail::order_detail))
        .route("/orders/{no}/resend", post(actions::resend_delivery_email))
        .route("/orders/{no}/refunded", post(actions::mark_refunded))
        .route("/orders/{no}/fulfil", post(actions::fulfil_order));
    RouteBook::new()
        .route("/", get(landing))
        .route("/signup", get(accounts::signup::signup_page).post(accounts::signup::signup))
        .route("/login", get(accounts::login::login_page).post(accounts::login::login))
        .route("/logout", post(accounts::logout::logout))
        .route("/language", post(language::switch_language))
        .route("/login/2fa", get(accounts::two_factor::code_page).post(accounts::two_factor::submit_code))
        .route("/account/2fa", get(accounts::two_factor::two_factor_page))
        .route("/account/2fa/enable", post(accounts::two_factor::enable_two_factor))
        .route("/account/2fa/disable", post(accounts::two_factor::disable_two_factor))
        .route("/verify", get(accounts::verify::verify_email))
        .route("/verify/resend", post(accounts::verify::resend_verification))
        .route("/forgot", get(accounts::password_reset::forgot_page).post(accounts::password_reset::forgot))
        .route("/reset", get(accounts::password_reset::reset_page).post(accounts::password_reset::reset))
        .route("/shops", get(shops::list::list_shops).post(shops::create::create_shop))
        .route("/invites/{token}", get(supply::invites::show_invite).post(supply::invites::accept))
        .route("/shops/{slug}/orders.csv", get(export::export_orders))
        .nest("/shops/{slug}", shop)
        .nest("/ops", ops::ops_routes())
        .route("/api/platform/stripe/webhook", post(subscriptions::webhook::stripe_billing_webhook))
        .route("/status", get(status::page::status_page))
        .route("/status.json", get(status::page::status_json))
        .route("/status/feed", get(status::page::status_feed))
        .route("/static/{file}", get(static_asset))
        .route("/assets/{file}", get(theme_asset))
        .route("/assets/previews/{file}", get(theme_asset))
}

/// Dashboard pages must not be framed, sniffed or cached by shared caches.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("same-origin"));
    // A page that set its own (the template preview's sandbox) keeps it.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
            ),
        );
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("private, no-cache"));
    }
    resp
}

async fn landing(
    State(state): State<PlatformState>,
    CurrentAccount(account): CurrentAccount,
    CsrfToken(csrf): CsrfToken,
) -> PageResult<Response> {
    if account.is_some() {
        return Ok(Redirect::to("/shops").into_response());
    }
    let layout = Layout { account: None, csrf: &csrf, shop: None, nav: "", flash: None, title: "Kapu 卡铺 Kapu" };
    render("landing.html", layout, minijinja::context! { demo_url => state.demo_url.clone() })
}

/// A content-hashed asset, cached for a year; 404 when there is none.
fn immutable_asset(asset: Option<&kapu_admin_ui::Asset>) -> Response {
    match asset {
        Some(a) => (
            [(header::CONTENT_TYPE, a.content_type), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")],
            a.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

async fn static_asset(Path(file): Path<String>) -> Response {
    immutable_asset(AdminUi::shared().asset(&format!("/static/{file}")))
}

/// Theme stylesheets and preview images, for the Theme page and template previews.
async fn theme_asset(axum::extract::OriginalUri(uri): axum::extract::OriginalUri) -> Response {
    immutable_asset(kapu_themes::theme_asset(uri.path()))
}

/// What a process's periodic upkeep covers.
#[derive(Debug, Clone, Copy)]
pub struct Upkeep {
    /// Trim this process's in-memory login throttle (where it serves the platform).
    pub memory: bool,
    /// Purge expired sessions, tokens and idempotent answers, delete rows
    /// past their retention (`store::retention`), and re-check pending
    /// custom domains (where it runs the sweeps).
    pub sweeps: bool,
}

/// Periodic upkeep, every five minutes (see [`Upkeep`]).
pub fn spawn_housekeeping(state: PlatformState, upkeep: Upkeep) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            if upkeep.memory {
                state.throttle.housekeeping();
            }
            // The database sweeps: on one worker at a time.
            if !upkeep.sweeps
                || !kapu_core::store::sweep_leases::may_sweep(
                    state.db.writer(),
                    "housekeeping",
                    Duration::from_secs(900),
                )
                .await
            {
                continue;
            }
            if let Err(e) = kapu_core::store::accounts::purge_expired_sessions_and_tokens(state.db.writer()).await {
                tracing::warn!(error = %e, "purging expired sessions failed");
            }
            if let Err(e) = kapu_core::store::operators::purge_expired_operator_sessions(state.db.writer()).await {
                tracing::warn!(error = %e, "purging expired operator sessions failed");
            }
            if let Err(e) =
                kapu_core::store::affiliates::purge_expired_tokens(state.db.writer(), chrono::Utc::now()).await
            {
                tracing::warn!(error = %e, "purging expired affiliate sign-in links and sessions failed");
            }
            if let Err(e) =
                kapu_core::store::api_idempotency::purge_old_idempotency_keys(state.db.writer(), chrono::Utc::now())
                    .await
            {
                tracing::warn!(error = %e, "purging old idempotent API answers failed");
            }
            let keep = kapu_core::store::retention::Retention::days(
                state.cfg.retain_done_jobs_days,
                state.cfg.retain_records_days,
                state.cfg.retain_key_imports_days,
            );
            match kapu_core::store::retention::sweep(state.db.writer(), chrono::Utc::now(), &keep).await {
                Ok(swept) if swept.total() > 0 => tracing::info!(?swept, "retention sweep deleted old rows"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "the retention sweep failed"),
            }
            if let Err(e) = crate::domains::check_pending_domains(&state).await {
                tracing::warn!(error = %e, "checking pending custom domains failed");
            }
        }
    })
}
