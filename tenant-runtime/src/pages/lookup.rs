//! `/lookup`: find an order by number + lookup password, or have its links
//! emailed. An email address alone never shows keys, and the email form
//! answers the same whether or not orders exist (no enumeration). Both are
//! throttled per client IP and per order number / email.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::jobs::{NewJob, enqueue};
use kapu_core::store::orders::find_order_by_no_for_tenant;
use minijinja::context;

use super::{PageError, base_ctx, render};
use crate::checkout::validate::BuyerEmail;
use crate::error::StoreError;
use crate::http::client_ip::ClientIp;
use crate::http::csrf::SameOriginForm;
use crate::http::host::TenantCtx;
use crate::i18n::Lang;
use crate::jobs::SEND_ORDER_LINKS;
use crate::state::RuntimeState;

#[derive(Debug, Default, serde::Deserialize)]
pub struct PasswordLookup {
    #[serde(default)]
    order_no: String,
    #[serde(default)]
    lookup_password: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct EmailLookup {
    #[serde(default)]
    email: String,
}

fn page(
    shop: &TenantCtx,
    lang: Lang,
    status: StatusCode,
    order_no: &str,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let ctx = context! {
        error => error, notice => notice, form => context! { order_no => order_no },
        ..base_ctx(&shop.tenant, lang, "/lookup")
    };
    render(Some(&shop.tenant), status, "lookup.html", ctx)
}

pub async fn show_lookup(shop: TenantCtx, lang: Lang) -> Response {
    page(&shop, lang, StatusCode::OK, "", None, None)
}

pub async fn submit_password_lookup(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    ClientIp(ip): ClientIp,
    lang: Lang,
    SameOriginForm(form): SameOriginForm<PasswordLookup>,
) -> Result<Response, PageError> {
    let fail = |e: StoreError| PageError(e, lang, Some(shop.tenant.clone()));
    let order_no = form.order_no.trim();
    if !state.lookup_limits.allow(shop.id(), ip, order_no).await {
        let e = StoreError::RateLimited { retry_after_secs: 600 };
        return Ok(page(&shop, lang, e.status(), order_no, Some(e.message(lang)), None));
    }
    let order = if order_no.is_empty() || order_no.len() > 32 {
        None
    } else {
        find_order_by_no_for_tenant(state.db.reader(), shop.id(), order_no).await.map_err(|e| fail(e.into()))?
    };
    let hash = order.as_ref().and_then(|o| o.lookup_hash.clone());
    let password = form.lookup_password.clone();
    // On the bounded hashing pool; an order without a password (or no
    // order) is checked against a dummy hash, so timing tells nothing.
    let ok = kapu_core::passwords::verify(password, hash)
        .await
        .map_err(|_| fail(StoreError::RateLimited { retry_after_secs: 1 }))?;
    match order {
        Some(o) if ok => {
            let token = state.master.tenant(shop.id()).order_token(&o.id);
            Ok(Redirect::to(&format!("/orders/{}?token={token}", o.order_no)).into_response())
        }
        _ => {
            let e = StoreError::LookupFailed;
            Ok(page(&shop, lang, e.status(), order_no, Some(e.message(lang)), None))
        }
    }
}

pub async fn submit_email_lookup(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    ClientIp(ip): ClientIp,
    lang: Lang,
    SameOriginForm(form): SameOriginForm<EmailLookup>,
) -> Result<Response, PageError> {
    let fail = |e: StoreError| PageError(e, lang, Some(shop.tenant.clone()));
    let email = match BuyerEmail::parse(&form.email) {
        Ok(e) => e,
        Err(e) => return Ok(page(&shop, lang, e.status(), "", Some(e.message(lang)), None)),
    };
    if !state.lookup_limits.allow(shop.id(), ip, email.as_str()).await {
        let e = StoreError::RateLimited { retry_after_secs: 600 };
        return Ok(page(&shop, lang, e.status(), "", Some(e.message(lang)), None));
    }
    let job = NewJob::now(
        SEND_ORDER_LINKS,
        Some(shop.id().to_string()),
        serde_json::json!({ "email": email.as_str(), "locale": lang.tag(), "base_url": shop.base_url }),
    );
    enqueue(state.db.writer(), job).await.map_err(|e| fail(e.into()))?;
    let notice = lang.pick(
        "如果该邮箱在本店有订单，订单链接已发送到该邮箱，请查收（也请检查垃圾邮件）。",
        "If this email has orders in this shop, their links are on the way. Check your inbox (and spam folder).",
    );
    Ok(page(&shop, lang, StatusCode::OK, "", None, Some(notice)))
}
