//! Order actions: `POST /shops/{slug}/orders/{no}/resend` (delivery email
//! again) and `POST …/refunded` (record a refund made at the provider).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
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
    Path((_, order_no)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    let o = order_of(&state, &access, &order_no).await?;
    if !mark_order_refunded_for_tenant(state.db.writer(), access.tenant_id(), &o.id).await? {
        return Err(PageError::BadRequest(
            "只有已付款的订单（已发货或需处理）可以标记退款。Only paid orders (delivered or needing attention) can be marked refunded.".into(),
        ));
    }
    tracing::info!(target: "audit", tenant = %access.tenant_id(), order = %o.order_no, account = %access.account.id, "order marked refunded");
    Ok(Redirect::to(&format!("/shops/{}/orders/{}?m=refunded", access.shop.slug, o.order_no)).into_response())
}
