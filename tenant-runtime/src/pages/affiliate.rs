//! `/affiliate`: a shop's affiliates on its storefront, in the buyer's
//! language. Signing in is by a one-time link sent by email (asked for
//! here; the link's page asks for a press before it is spent, so a mail
//! scanner opening it signs nobody in); the session is the `kapu_aff`
//! cookie, on `/affiliate` only. Signed in, an affiliate sees its link,
//! clicks, commissions and payouts, and asks for its balance.

use axum::extract::{Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::entities::{affiliate_commissions, affiliate_payouts, affiliates};
use kapu_core::money::format_minor;
use kapu_core::store::affiliates as store;
use kapu_themes::text;
use minijinja::{Value, context};

use super::{PageError, base_ctx, render};
use crate::checkout::validate::BuyerEmail;
use crate::error::StoreError;
use crate::http::client_ip::ClientIp;
use crate::http::csrf::SameOriginForm;
use crate::http::host::TenantCtx;
use crate::i18n::Lang;
use crate::state::RuntimeState;

pub const SESSION_COOKIE: &str = "kapu_aff";

#[derive(Debug, Default, serde::Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    email: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct PayoutForm {
    #[serde(default)]
    details: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn page(shop: &TenantCtx, lang: Lang, status: StatusCode, extra: Value) -> Response {
    render(
        Some(&shop.tenant),
        status,
        "affiliate.html",
        context! { ..extra, ..base_ctx(&shop.tenant, lang, "/affiliate") },
    )
}

fn message(shop: &TenantCtx, lang: Lang, status: StatusCode, error: Option<&str>, notice: Option<&str>) -> Response {
    page(shop, lang, status, context! { error => error, notice => notice })
}

fn programme_off(shop: &TenantCtx, lang: Lang) -> Response {
    page(shop, lang, StatusCode::NOT_FOUND, context! { off => true })
}

async fn programme_on(state: &RuntimeState, shop: &TenantCtx) -> Result<Option<store::ProgramTerms>, StoreError> {
    Ok(Some(store::terms_for_tenant(state.db.reader(), shop.id()).await?).filter(|t| t.enabled))
}

async fn signed_in(
    state: &RuntimeState,
    shop: &TenantCtx,
    headers: &HeaderMap,
) -> Result<Option<affiliates::Model>, StoreError> {
    let Some(token) = kapu_web::cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    Ok(store::affiliate_of_session(state.db.reader(), shop.id(), token, Utc::now()).await?)
}

pub async fn show_affiliate(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    lang: Lang,
    headers: HeaderMap,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let fail = |e: StoreError| PageError(e, lang, Some(shop.tenant.clone()));
    let Some(terms) = programme_on(&state, &shop).await.map_err(fail)? else { return Ok(programme_off(&shop, lang)) };
    let Some(a) = signed_in(&state, &shop, &headers).await.map_err(fail)? else {
        return Ok(message(&shop, lang, StatusCode::OK, None, None));
    };
    let notice = (q.done.as_deref() == Some("payout")).then(|| text(lang.tag(), "aff_payout_done"));
    dashboard(&state, &shop, lang, &terms, a, StatusCode::OK, None, notice, "").await.map_err(fail)
}

#[allow(clippy::too_many_arguments)]
async fn dashboard(
    state: &RuntimeState,
    shop: &TenantCtx,
    lang: Lang,
    terms: &store::ProgramTerms,
    a: affiliates::Model,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&str>,
    details: &str,
) -> Result<Response, StoreError> {
    let db = state.db.reader();
    let currency = &shop.tenant.currency;
    let commissions = store::commissions_for_tenant(db, shop.id(), Some(&a.id), 100).await?;
    let payouts = store::payouts_for_tenant(db, shop.id(), Some(&a.id), 50).await?;
    let link = format!("{}/?ref={}", shop.base_url, a.code);
    let f = store::figures_of(db, a, Utc::now()).await?;
    let tag = lang.tag();
    let commissions: Vec<Value> = commissions.iter().map(|c| commission_row(c, tag)).collect();
    let payouts: Vec<Value> = payouts.iter().map(|p| payout_row(p, tag)).collect();
    let extra = context! {
        affiliate => context! { email => f.affiliate.email.clone(), code => f.affiliate.code.clone() },
        link, rate => format!("{}%", store::percent(terms.commission_bps)), holding_days => terms.holding_days,
        clicks => f.clicks.0, clicks_refused => f.clicks.1, orders => f.orders,
        pending => format_minor(f.pending_minor, currency), balance => format_minor(f.balance_minor, currency),
        commissions, payouts, error, notice, details,
    };
    Ok(page(shop, lang, status, extra))
}

fn commission_row(c: &affiliate_commissions::Model, tag: &str) -> Value {
    context! {
        order_no => c.order_no.clone(), amount => format_minor(c.amount_minor, &c.currency), status => c.status.clone(),
        status_label => text(tag, &format!("aff_status_{}", c.status)),
        reason_label => c.reason.as_ref().map(|r| text(tag, &format!("aff_reason_{r}"))),
        matures_on => c.matures_at.format("%Y-%m-%d").to_string(),
    }
}

fn payout_row(p: &affiliate_payouts::Model, tag: &str) -> Value {
    context! {
        requested_on => p.requested_at.format("%Y-%m-%d").to_string(), amount => format_minor(p.amount_minor, &p.currency),
        status => p.status.clone(), status_label => text(tag, &format!("aff_payout_{}", p.status)), note => p.note.clone(),
    }
}

/// Asks for a sign-in link. The answer is the same whether or not the
/// address may join (no enumeration); it is throttled like the order lookup.
pub async fn submit_signin(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    ClientIp(ip): ClientIp,
    lang: Lang,
    SameOriginForm(form): SameOriginForm<SigninForm>,
) -> Result<Response, PageError> {
    let fail = |e: StoreError| PageError(e, lang, Some(shop.tenant.clone()));
    let Some(terms) = programme_on(&state, &shop).await.map_err(fail)? else { return Ok(programme_off(&shop, lang)) };
    let email = match BuyerEmail::parse(&form.email) {
        Ok(e) => e,
        Err(e) => return Ok(message(&shop, lang, e.status(), Some(&e.message(lang)), None)),
    };
    if !state.lookup_limits.allow(shop.id(), ip, email.as_str()).await {
        let e = StoreError::RateLimited { retry_after_secs: 600 };
        return Ok(message(&shop, lang, e.status(), Some(&e.message(lang)), None));
    }
    let db = state.db.writer();
    let now = Utc::now();
    let affiliate = match store::find_affiliate_by_email_for_tenant(db, shop.id(), email.as_str())
        .await
        .map_err(|e| fail(e.into()))?
    {
        Some(a) => Some(a),
        None if terms.open_signup => Some(
            store::join_for_tenant(db, shop.id(), email.as_str(), lang.tag(), now).await.map_err(|e| fail(e.into()))?,
        ),
        None => None,
    };
    if let Some(a) = affiliate.filter(|a| a.status == store::ACTIVE) {
        store::queue_signin_link(db, shop.id(), &a.id, &shop.base_url, lang.tag()).await.map_err(|e| fail(e.into()))?;
    }
    Ok(message(&shop, lang, StatusCode::OK, None, Some(text(lang.tag(), "aff_sent"))))
}

/// The sign-in link's page: a button, so that opening the link spends nothing.
pub async fn show_signin(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    lang: Lang,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let fail = |e: StoreError| PageError(e, lang, Some(shop.tenant.clone()));
    if programme_on(&state, &shop).await.map_err(fail)?.is_none() {
        return Ok(programme_off(&shop, lang));
    }
    if !plausible_token(&token) {
        return Ok(message(&shop, lang, StatusCode::BAD_REQUEST, Some(text(lang.tag(), "aff_link_invalid")), None));
    }
    Ok(page(&shop, lang, StatusCode::OK, context! { confirm_token => token }))
}

fn plausible_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 128
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Spends the link and opens a session.
pub async fn submit_signin_token(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    ClientIp(ip): ClientIp,
    lang: Lang,
    Path(token): Path<String>,
    SameOriginForm(_): SameOriginForm<std::collections::HashMap<String, String>>,
) -> Result<Response, PageError> {
    let fail = |e: StoreError| PageError(e, lang, Some(shop.tenant.clone()));
    if programme_on(&state, &shop).await.map_err(fail)?.is_none() {
        return Ok(programme_off(&shop, lang));
    }
    let invalid = || message(&shop, lang, StatusCode::BAD_REQUEST, Some(text(lang.tag(), "aff_link_invalid")), None);
    if !plausible_token(&token) {
        return Ok(invalid());
    }
    let net = kapu_core::fleet::limits::client_key(ip);
    let opened = store::redeem_signin_token(state.db.writer(), shop.id(), &token, &net, Utc::now())
        .await
        .map_err(|e| fail(e.into()))?;
    let Some((_, session)) = opened else { return Ok(invalid()) };
    let secure = if state.cfg.public_scheme == "https" { "; Secure" } else { "" };
    let max_age = store::SESSION_DAYS * 86_400;
    let cookie =
        format!("{SESSION_COOKIE}={session}; Path=/affiliate; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    let mut resp = Redirect::to("/affiliate").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(SET_COOKIE, v);
    }
    Ok(resp)
}

/// Asks for the whole balance to be paid out.
pub async fn submit_payout(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    lang: Lang,
    headers: HeaderMap,
    SameOriginForm(form): SameOriginForm<PayoutForm>,
) -> Result<Response, PageError> {
    let fail = |e: StoreError| PageError(e, lang, Some(shop.tenant.clone()));
    let Some(terms) = programme_on(&state, &shop).await.map_err(fail)? else { return Ok(programme_off(&shop, lang)) };
    let Some(a) = signed_in(&state, &shop, &headers).await.map_err(fail)? else {
        return Ok(Redirect::to("/affiliate").into_response());
    };
    let txn = state.db.begin().await.map_err(|e| fail(e.into()))?;
    let asked = store::request_payout(&txn, shop.id(), &a.id, &shop.tenant.currency, &form.details, Utc::now()).await;
    let refusal = match asked {
        Ok(Ok(_)) => {
            txn.commit().await.map_err(|e| fail(e.into()))?;
            return Ok(Redirect::to("/affiliate?done=payout").into_response());
        }
        Ok(Err(r)) => r,
        Err(e) => {
            let _ = txn.rollback().await;
            return Err(fail(e.into()));
        }
    };
    let _ = txn.rollback().await;
    let tag = lang.tag();
    let error = match refusal {
        store::PayoutRefusal::NothingToPay => text(tag, "aff_err_nothing").to_string(),
        store::PayoutRefusal::NoDetails => text(tag, "aff_err_details").to_string(),
        store::PayoutRefusal::BelowMinimum { minimum_minor } => format!(
            "{} {}{}",
            text(tag, "aff_err_minimum"),
            kapu_core::money::currency_symbol(&shop.tenant.currency),
            format_minor(minimum_minor, &shop.tenant.currency)
        ),
    };
    dashboard(&state, &shop, lang, &terms, a, StatusCode::UNPROCESSABLE_ENTITY, Some(error), None, &form.details)
        .await
        .map_err(fail)
}

pub async fn submit_signout(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    lang: Lang,
    headers: HeaderMap,
    SameOriginForm(_): SameOriginForm<std::collections::HashMap<String, String>>,
) -> Result<Response, PageError> {
    let fail = |e: StoreError| PageError(e, lang, Some(shop.tenant.clone()));
    if let Some(token) = kapu_web::cookie(&headers, SESSION_COOKIE) {
        store::end_session(state.db.writer(), shop.id(), token).await.map_err(|e| fail(e.into()))?;
    }
    let mut resp = Redirect::to("/affiliate").into_response();
    let gone = format!("{SESSION_COOKIE}=; Path=/affiliate; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&gone) {
        resp.headers_mut().insert(SET_COOKIE, v);
    }
    Ok(resp)
}
