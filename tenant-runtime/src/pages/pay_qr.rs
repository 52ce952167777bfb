//! Scan-to-pay page (`/pay/qr/{payment_id}`): for channels that answer with a
//! QR payload (WeChat Native, Alipay precreate, some epay gateways) the buyer
//! is sent here to scan it; the page links back to the order, which shows the
//! keys once the payment is confirmed.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use kapu_core::store::payments::status as pay_status;
use minijinja::{Value, context};

use super::{PageError, base_ctx, no_referrer, render};
use crate::api::get_order::TokenQuery;
use crate::delivery::view::OrderView;
use crate::error::StoreError;
use crate::http::host::TenantCtx;
use crate::i18n::Lang;
use crate::orders::find_payment_with_token;
use crate::state::RuntimeState;

/// The payload drawn as an SVG `data:` URL.
fn qr_data_url(payload: &str) -> Result<String, StoreError> {
    let code = qrcode::QrCode::new(payload.as_bytes()).map_err(|e| StoreError::Internal(format!("QR code: {e}")))?;
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(240, 240).build();
    Ok(format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg)))
}

pub async fn show_qr(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    lang: Lang,
    Path(payment_id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let fail = |e| PageError(e, lang, Some(shop.tenant.clone()));
    let (payment, order) =
        find_payment_with_token(&state, &shop, &payment_id, q.token.as_deref()).await.map_err(fail)?;
    if payment.qr_payload.is_none() {
        return Err(fail(StoreError::PaymentNotFound));
    }
    let view = OrderView::load(&state, &order, lang).await.map_err(fail)?;
    let token = state.master.tenant(shop.id()).order_token(&order.id);
    let qr = qr_data_url(payment.qr_payload.as_deref().unwrap_or_default()).map_err(fail)?;
    let ctx = context! {
        order => Value::from(minijinja::value::Serde(&view)),
        paid => payment.status == pay_status::SUCCEEDED,
        // Base64 and a fixed prefix only: nothing to escape.
        qr => Value::from_safe_string(qr),
        return_url => format!("/orders/{}?token={token}", order.order_no),
        ..base_ctx(&shop.tenant, lang, &format!("/pay/qr/{payment_id}?token={token}"))
    };
    Ok(no_referrer(render(Some(&shop.tenant), StatusCode::OK, "pay_qr.html", ctx)))
}
