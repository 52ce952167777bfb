//! Finding a buyer's order by number and secret.

use kapu_core::entities::orders;
use kapu_core::store::orders::find_order_by_no_for_tenant;

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
