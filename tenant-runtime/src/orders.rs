//! Finding a buyer's order by number and secret.

use kapu_core::entities::orders;
use kapu_core::store::orders::find_order_by_no_for_tenant;
use sea_orm::EntityTrait;

use crate::error::StoreError;
use crate::http::host::TenantCtx;
use crate::state::RuntimeState;

/// The order `order_no` of this shop if `token` is its token; otherwise
/// `order_not_found`, whether the order is missing or the token wrong.
pub async fn find_order_with_token(
    state: &RuntimeState,
    shop: &TenantCtx,
    order_no: &str,
    token: Option<&str>,
) -> Result<orders::Model, StoreError> {
    let token = token.filter(|t| !t.is_empty() && t.len() <= 64).ok_or(StoreError::OrderNotFound)?;
    if order_no.len() > 32 {
        return Err(StoreError::OrderNotFound);
    }
    let order =
        find_order_by_no_for_tenant(state.db.reader(), shop.id(), order_no).await?.ok_or(StoreError::OrderNotFound)?;
    if !state.master.tenant(shop.id()).verify_order_token(&order.id, token) {
        return Err(StoreError::OrderNotFound);
    }
    Ok(order)
}

/// A payment attempt and its order, for Kapu's own pay pages, when `token`
/// is the order's token; otherwise [`StoreError::PaymentNotFound`], the same
/// answer as for an unknown payment, so a payment id alone opens nothing.
pub async fn find_payment_with_token(
    state: &RuntimeState,
    shop: &TenantCtx,
    payment_id: &str,
    token: Option<&str>,
) -> Result<(kapu_core::entities::payments::Model, orders::Model), StoreError> {
    let token = token.filter(|t| !t.is_empty() && t.len() <= 64).ok_or(StoreError::PaymentNotFound)?;
    if payment_id.len() > 64 {
        return Err(StoreError::PaymentNotFound);
    }
    let payment = kapu_core::store::payments::find_payment_for_tenant(state.db.reader(), shop.id(), payment_id)
        .await?
        .ok_or(StoreError::PaymentNotFound)?;
    if !state.master.tenant(shop.id()).verify_order_token(&payment.order_id, token) {
        return Err(StoreError::PaymentNotFound);
    }
    let order = orders::Entity::find_by_id((shop.id().to_string(), payment.order_id.clone()))
        .one(state.db.reader())
        .await?
        .ok_or(StoreError::PaymentNotFound)?;
    Ok((payment, order))
}
