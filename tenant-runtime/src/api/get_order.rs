use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::delivery::view::OrderView;
use crate::error::StoreError;
use crate::http::host::TenantCtx;
use crate::i18n::Lang;
use crate::orders::find_order_with_token;
use crate::state::RuntimeState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct TokenQuery {
    /// The order's secret token.
    pub token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderOut {
    pub order_no: String,
    /// pending | delivered | expired | needs_attention
    pub status: String,
    /// What the status means and what happens next.
    pub status_message: String,
    pub product_name: String,
    pub quantity: i32,
    pub amount: String,
    pub amount_minor: i64,
    pub currency: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// Present only once delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    pub test_mode: bool,
}

/// An order, by number and token. A wrong token is the same 404 as a missing order.
#[utoipa::path(get, path = "/api/v1/orders/{order_no}", tag = "storefront",
    params(("order_no" = String, Path, description = "The order's number"), TokenQuery),
    responses((status = 200, body = OrderOut), (status = 404, description = "order_not_found")))]
pub async fn get_order(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    lang: Lang,
    Path(order_no): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Json<OrderOut>, StoreError> {
    let order = find_order_with_token(&state, &shop, &order_no, q.token.as_deref()).await?;
    let v = OrderView::load(&state, &order, lang).await?;
    Ok(Json(OrderOut {
        order_no: v.order_no,
        status: v.status,
        status_message: v.status_message,
        product_name: v.product_name,
        quantity: v.quantity,
        amount: v.amount,
        amount_minor: v.amount_minor,
        currency: v.currency,
        expires_at: v.expires_at,
        keys: v.keys,
        test_mode: shop.tenant.is_test_mode(),
    }))
}
