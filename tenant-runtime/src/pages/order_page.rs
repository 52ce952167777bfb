//! `/orders/{order_no}?token=…`: the buyer's order, with keys once delivered.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kapu_core::store::payments::{list_payments_of_order_for_tenant, status as pay_status};
use minijinja::{Value, context};

use super::{PageError, base_ctx, no_referrer, render};
use crate::api::get_order::TokenQuery;
use crate::delivery::view::OrderView;
use crate::http::host::TenantCtx;
use crate::i18n::Lang;
use crate::orders::find_order_with_token;
use crate::state::RuntimeState;

pub async fn show_order(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    lang: Lang,
    Path(order_no): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let fail = |e| PageError(e, lang, Some(shop.tenant.clone()));
    let order = find_order_with_token(&state, &shop, &order_no, q.token.as_deref()).await.map_err(fail)?;
    let view = OrderView::load(&state, &order, lang).await.map_err(fail)?;
    // The pay button goes back to where the latest unpaid attempt sent the
    // buyer (a provider's page, or Kapu's own with the order's token).
    // When that attempt failed (the payer cancelled, the provider declined),
    // the page says so and offers to pay again, rather than only "waiting".
    let latest = if order.status == kapu_core::store::orders::status::PENDING {
        list_payments_of_order_for_tenant(state.db.reader(), shop.id(), &order.id)
            .await
            .map_err(|e| fail(e.into()))?
            .into_iter()
            .filter(|p| p.status != pay_status::SUCCEEDED)
            .max_by(|a, b| a.created_at.cmp(&b.created_at))
    } else {
        None
    };
    let payment_failed = latest.as_ref().is_some_and(|p| p.status == pay_status::FAILED);
    let pay_url = latest.and_then(|p| p.pay_url);
    let status_label = kapu_themes::text(lang.tag(), &format!("status_{}", order.status));
    let back = format!("/orders/{}?token={}", order.order_no, q.token.unwrap_or_default());
    let ctx = context! {
        order => Value::from(minijinja::value::Serde(&view)), pay_url => pay_url, status_label => status_label, payment_failed,
        ..base_ctx(&shop.tenant, lang, &back)
    };
    Ok(no_referrer(render(Some(&shop.tenant), StatusCode::OK, "order.html", ctx)))
}
