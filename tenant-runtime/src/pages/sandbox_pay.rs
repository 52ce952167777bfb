//! The sandbox channel's pay page (`/pay/sandbox/{payment_id}`). It stands in
//! for an external provider, so its form carries no CSRF token: posting
//! `outcome=paid|failed` emits a signed notification into the same
//! verification path real providers use, then redirects (303) to the order
//! page once the payment and the order's new state are committed.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_billing::PaymentOutcome;
use kapu_billing::channels::sandbox::sign_notification;
use kapu_core::entities::orders;
use minijinja::{Value, context};

use super::{PageError, base_ctx, no_referrer, render};
use crate::api::get_order::TokenQuery;
use crate::delivery::view::OrderView;
use crate::error::StoreError;
use crate::http::client_ip::ClientIp;
use crate::http::host::TenantCtx;
use crate::i18n::Lang;
use crate::orders::find_payment_with_token;
use crate::payments::confirm::receive_notification;
use crate::state::RuntimeState;

#[derive(serde::Deserialize)]
pub struct SandboxForm {
    outcome: String,
}

async fn load(
    state: &RuntimeState,
    shop: &TenantCtx,
    payment_id: &str,
    token: Option<&str>,
) -> Result<(kapu_core::entities::payments::Model, orders::Model), StoreError> {
    if !shop.tenant.is_test_mode() {
        return Err(StoreError::SandboxDisabled);
    }
    let (payment, order) = find_payment_with_token(state, shop, payment_id, token).await?;
    if payment.channel != kapu_billing::channels::sandbox::KIND {
        return Err(StoreError::PaymentNotFound);
    }
    Ok((payment, order))
}

fn order_url(state: &RuntimeState, order: &orders::Model) -> String {
    let token = state.master.tenant(&order.tenant_id).order_token(&order.id);
    format!("/orders/{}?token={token}", order.order_no)
}

pub async fn show_sandbox(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    lang: Lang,
    Path(payment_id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let fail = |e| PageError(e, lang, Some(shop.tenant.clone()));
    let (payment, order) = load(&state, &shop, &payment_id, q.token.as_deref()).await.map_err(fail)?;
    let view = OrderView::load(&state, &order, lang).await.map_err(fail)?;
    let ctx = context! {
        order => Value::from(minijinja::value::Serde(&view)), payment_status => payment.status,
        return_url => order_url(&state, &order),
        ..base_ctx(&shop.tenant, lang, &format!("/pay/sandbox/{payment_id}?token={}", q.token.unwrap_or_default()))
    };
    Ok(no_referrer(render(Some(&shop.tenant), StatusCode::OK, "sandbox_pay.html", ctx)))
}

pub async fn submit_sandbox(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    lang: Lang,
    ClientIp(ip): ClientIp,
    Path(payment_id): Path<String>,
    Query(q): Query<TokenQuery>,
    form: Result<Form<SandboxForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, PageError> {
    let fail = |e| PageError(e, lang, Some(shop.tenant.clone()));
    let Form(form) = form.map_err(|e| fail(StoreError::InvalidForm(e.body_text())))?;
    let outcome = match form.outcome.as_str() {
        "paid" => PaymentOutcome::Paid,
        "failed" => PaymentOutcome::Failed,
        _ => return Err(fail(StoreError::InvalidForm("outcome must be paid or failed".into()))),
    };
    let (payment, order) = load(&state, &shop, &payment_id, q.token.as_deref()).await.map_err(fail)?;
    let keys = state.master.tenant(shop.id());
    let n = sign_notification(&keys, &payment.id, outcome, payment.amount_minor, &payment.currency);
    let raw = n.body.clone();
    receive_notification(&state, &shop, &payment.id, ip, Ok(n), &raw).await.map_err(fail)?;
    Ok(no_referrer(Redirect::to(&order_url(&state, &order)).into_response()))
}
