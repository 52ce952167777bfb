//! `POST /shops/{slug}/orders/{no}/payments/{payment_id}/refund` (owner
//! only): refunds one paid attempt through its provider (Alipay, WeChat Pay)
//! in one click — for a late payment that found the product sold out, or a
//! second payment of an already-paid order. When no other paid attempt is
//! left, the order becomes `refunded`.

use crate::audit::shop_action;
use crate::auth::request_ip::RequestIp;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use kapu_billing::KnownPayment;
use kapu_billing::channels::channel_by_kind;
use kapu_core::store::channels::channel_credentials_for_tenant;
use kapu_core::store::order_admin::mark_order_refunded_for_tenant;
use kapu_core::store::orders::find_order_by_no_for_tenant;
use kapu_core::store::payments::{
    find_payment_for_tenant, list_payments_of_order_for_tenant, mark_payment_refunded_for_tenant, status as pay_status,
};

use crate::auth::csrf::VerifiedForm;
use crate::auth::shop_access::OwnerAccess;
use crate::error::{PageError, PageResult};
use crate::state::PlatformState;

pub async fn refund_payment(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    Path((_, order_no, payment_id)): Path<(String, String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    let tenant_id = access.tenant_id();
    let r = state.db.reader();
    let order = find_order_by_no_for_tenant(r, tenant_id, &order_no).await?.ok_or(PageError::NotFound)?;
    let payment = find_payment_for_tenant(r, tenant_id, &payment_id)
        .await?
        .filter(|p| p.order_id == order.id)
        .ok_or(PageError::NotFound)?;
    if payment.status != pay_status::SUCCEEDED {
        return Err(PageError::BadRequest("只有已付款的支付记录可以退款。Only a paid attempt can be refunded.".into()));
    }
    // Taken through a supplier's channels: the money is the supplier's to refund.
    if let Some(collector) = kapu_core::store::supply_payments::collector_of_order(r, tenant_id, &order.id).await? {
        let name =
            kapu_core::store::supply::shop_names(r, [collector.clone()]).await?.remove(&collector).map(|(_, n)| n);
        let name = name.unwrap_or_default();
        return Err(PageError::BadRequest(format!(
            "这笔款项由供应商「{name}」的收款渠道收取，请联系其在渠道后台退款，然后点击“标记已退款”。This payment was taken through {name}'s channels: ask {name} to refund it there, then use “Mark refunded”."
        )));
    }
    let channel = channel_by_kind(&payment.channel)
        .filter(|c| c.supports_refund())
        .ok_or_else(|| {
            PageError::BadRequest(
                "该渠道不支持在线退款，请在渠道后台退款后点击“标记已退款”。This channel has no refund API: refund in its own console, then use “Mark refunded”.".into(),
            )
        })?;
    let keys = state.master.tenant(tenant_id);
    let credentials = channel_credentials_for_tenant(r, &keys, tenant_id, &payment.channel).await?;
    let ctx = state.providers.context(tenant_id, &keys, access.shop.mode != "live", &credentials);
    let known = KnownPayment {
        payment_id: payment.id.clone(),
        amount_minor: payment.amount_minor,
        currency: payment.currency.clone(),
        provider_ref: payment.provider_ref.clone(),
    };
    if let Err(e) = channel.refund(ctx, &known).await {
        tracing::warn!(tenant = %tenant_id, order = %order.order_no, payment = %payment.id, error = %e, "refund refused");
        return Err(PageError::BadRequest(format!(
            "退款未成功，款项未退回：{e}。The refund did not go through; nothing was refunded: {e}."
        )));
    }
    let txn = state.db.begin().await?;
    mark_payment_refunded_for_tenant(&txn, tenant_id, &payment.id).await?;
    let still_paid = list_payments_of_order_for_tenant(&txn, tenant_id, &order.id)
        .await?
        .iter()
        .any(|p| p.status == pay_status::SUCCEEDED);
    if !still_paid {
        mark_order_refunded_for_tenant(&txn, tenant_id, &order.id).await?;
    }
    txn.commit().await?;
    let amount = kapu_core::money::format_minor(payment.amount_minor, &payment.currency);
    let detail = format!("{amount} {} through {} (payment {})", payment.currency, payment.channel, payment.id);
    shop_action(&state, &access, ip, "order.refund", &order.order_no, &detail).await?;
    Ok(Redirect::to(&format!("/shops/{}/orders/{}?m=refunded_provider", access.shop.slug, order.order_no))
        .into_response())
}
