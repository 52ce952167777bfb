//! Order actions: `POST /shops/{slug}/orders/{no}/resend` (delivery email
//! again) and `POST …/refunded` (record a refund made at the provider).

use crate::audit::shop_action;
use crate::auth::request_ip::RequestIp;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::fleet::limits::{Limit, burst_then_every};
use kapu_core::jobs::kinds::SEND_DELIVERY_EMAIL;
use kapu_core::jobs::{NewJob, enqueue};
use kapu_core::store::manual_delivery::fulfil_order_for_tenant;
use kapu_core::store::order_admin::{mark_order_refunded_for_tenant, resend_delivery_email_for_tenant};
use kapu_core::store::orders::find_order_by_no_for_tenant;

use crate::auth::csrf::VerifiedForm;
use crate::auth::shop_access::ShopAccess;
use crate::error::{PageError, PageResult};
use crate::state::PlatformState;

/// The order of the shop in the path, or 404.
async fn order_of(
    state: &PlatformState,
    access: &ShopAccess,
    order_no: &str,
) -> PageResult<kapu_core::entities::orders::Model> {
    find_order_by_no_for_tenant(state.db.reader(), access.tenant_id(), order_no).await?.ok_or(PageError::NotFound)
}

pub async fn resend_delivery_email(
    State(state): State<PlatformState>,
    access: ShopAccess,
    Path((_, order_no)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    let o = order_of(&state, &access, &order_no).await?;
    // Each resend is an email to an address a buyer typed, from the
    // platform's sender: a few per order, a steady trickle per shop.
    let limits = [
        Limit::new(format!("rl:resend-order:{}:{}", access.tenant_id(), o.id), burst_then_every(3, 1200)),
        Limit::new(format!("rl:resend-shop:{}", access.tenant_id()), burst_then_every(30, 60)),
    ];
    state.limits.check(&limits).await.map_err(|r| PageError::Throttled(r.retry_after_secs))?;
    if !resend_delivery_email_for_tenant(state.db.writer(), access.tenant_id(), &o).await? {
        return Err(PageError::BadRequest(
            "只有已发货的订单可以重发发货邮件。Only delivered orders have a delivery email to resend.".into(),
        ));
    }
    tracing::info!(tenant = %access.tenant_id(), order = %o.order_no, account = %access.account.id, "delivery email resent");
    Ok(Redirect::to(&format!("/shops/{}/orders/{}?m=email_queued", access.shop.slug, o.order_no)).into_response())
}

pub async fn mark_refunded(
    State(state): State<PlatformState>,
    access: ShopAccess,
    ip: RequestIp,
    Path((_, order_no)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    let o = order_of(&state, &access, &order_no).await?;
    if !mark_order_refunded_for_tenant(state.db.writer(), access.tenant_id(), &o.id).await? {
        return Err(PageError::BadRequest(
            "只有已付款的订单（已发货或需处理）可以标记退款。Only paid orders (delivered or needing attention) can be marked refunded.".into(),
        ));
    }
    shop_action(&state, &access, ip, "order.mark_refunded", &o.order_no, "refunded outside Kapu").await?;
    Ok(Redirect::to(&format!("/shops/{}/orders/{}?m=refunded", access.shop.slug, o.order_no)).into_response())
}

#[derive(serde::Deserialize)]
pub struct FulfilForm {
    #[serde(default)]
    content: String,
}

/// `POST /shops/{slug}/orders/{no}/fulfil`: delivers a paid manual order with
/// what the merchant typed; the buyer's page shows it and an email goes out.
pub async fn fulfil_order(
    State(state): State<PlatformState>,
    access: ShopAccess,
    ip: RequestIp,
    Path((_, order_no)): Path<(String, String)>,
    VerifiedForm(f): VerifiedForm<FulfilForm>,
) -> PageResult<Response> {
    let o = order_of(&state, &access, &order_no).await?;
    let content = f.content.trim();
    if content.is_empty() || content.chars().count() > 10_000 {
        return Err(PageError::BadRequest(
            "请填写发货内容（最多 10000 字）。Type what you deliver (at most 10,000 characters).".into(),
        ));
    }
    let keys = state.master.tenant(access.tenant_id());
    let txn = state.db.begin().await?;
    if !fulfil_order_for_tenant(&txn, &keys, access.tenant_id(), &o.id, content, chrono::Utc::now()).await? {
        return Err(PageError::BadRequest(
            "只有已付款、待发货的订单可以发货。Only paid orders waiting for delivery can be fulfilled.".into(),
        ));
    }
    let payload = serde_json::json!({ "order_id": o.id });
    enqueue(&txn, NewJob::now(SEND_DELIVERY_EMAIL, Some(access.tenant_id().to_string()), payload)).await?;
    txn.commit().await?;
    shop_action(&state, &access, ip, "order.fulfil", &o.order_no, "manual delivery").await?;
    Ok(Redirect::to(&format!("/shops/{}/orders/{}?m=fulfilled", access.shop.slug, o.order_no)).into_response())
}

/// "Ask the provider now": queues one reconciliation check of the attempt
/// (the runtime's `check_payment` job, the same path as the sweep); its
/// answer lands in the order's provider checks.
pub async fn check_payment_now(
    State(state): State<PlatformState>,
    access: ShopAccess,
    Path((_, order_no, payment_id)): Path<(String, String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    let o = order_of(&state, &access, &order_no).await?;
    let payment =
        kapu_core::store::payments::find_payment_for_tenant(state.db.reader(), access.tenant_id(), &payment_id)
            .await?
            .filter(|p| p.order_id == o.id)
            .ok_or(PageError::NotFound)?;
    let limits = [
        Limit::new(format!("rl:check-payment:{}:{}", access.tenant_id(), payment.id), burst_then_every(3, 20)),
        Limit::new(format!("rl:check-shop:{}", access.tenant_id()), burst_then_every(30, 10)),
    ];
    state.limits.check(&limits).await.map_err(|r| PageError::Throttled(r.retry_after_secs))?;
    let job = NewJob::now(
        kapu_core::jobs::kinds::CHECK_PAYMENT,
        Some(access.tenant_id().to_string()),
        serde_json::json!({ "payment_id": payment.id, "order_id": o.id }),
    );
    enqueue(state.db.writer(), job).await?;
    tracing::info!(tenant = %access.tenant_id(), order = %o.order_no, payment = %payment.id, "merchant asked the provider");
    Ok(Redirect::to(&format!("/shops/{}/orders/{}?m=check_queued", access.shop.slug, o.order_no)).into_response())
}
