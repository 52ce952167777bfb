//! What a buyer may see of an order, shared by the JSON API and the pages.

use chrono::{DateTime, Utc};
use kapu_core::entities::orders;
use kapu_core::money::format_minor;
use kapu_core::store::manual_delivery::delivered_contents_of_order_for_tenant;
use kapu_core::store::orders::status;

use crate::error::StoreError;
use crate::i18n::Lang;
use crate::state::RuntimeState;

/// An order as its buyer sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OrderView {
    pub order_no: String,
    pub status: String,
    pub product_name: String,
    pub quantity: i32,
    pub amount: String,
    pub amount_minor: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// What the status means and what happens next, in the buyer's language.
    pub status_message: String,
    /// The keys, once delivered.
    pub keys: Option<Vec<String>>,
}

impl OrderView {
    /// Builds the view; keys are decrypted only for delivered orders.
    pub async fn load(state: &RuntimeState, order: &orders::Model, lang: Lang) -> Result<Self, StoreError> {
        let keys = if order.status == status::DELIVERED {
            let tk = state.master.tenant(&order.tenant_id);
            Some(
                delivered_contents_of_order_for_tenant(state.db.reader(), &tk, order)
                    .await
                    .map_err(|e| StoreError::Internal(format!("reading keys of order {}: {e}", order.order_no)))?,
            )
        } else {
            None
        };
        Ok(Self {
            order_no: order.order_no.clone(),
            status: order.status.clone(),
            product_name: order.product_name.clone(),
            quantity: order.quantity,
            amount: format_minor(order.amount_minor, &order.currency),
            amount_minor: order.amount_minor,
            currency: order.currency.clone(),
            created_at: order.created_at,
            expires_at: order.expires_at,
            delivered_at: order.delivered_at,
            status_message: status_message(&order.status, lang),
            keys,
        })
    }
}

/// Plain words for each status.
pub fn status_message(status: &str, lang: Lang) -> String {
    let (zh, en) = match status {
        status::PENDING => (
            "等待付款。卡密已为您保留，请在订单过期前完成支付；付款后立即自动发货。",
            "Waiting for payment. Your keys are held for you until the order expires; they are delivered the moment you pay.",
        ),
        status::DELIVERED => (
            "已发货。卡密显示在下方，并已发送到您的邮箱。",
            "Delivered. Your keys are below and have also been emailed to you.",
        ),
        status::EXPIRED => (
            "订单已过期，保留的卡密已释放。如果您已付款，系统收到付款后会在有库存时自动发货。",
            "This order expired unpaid and its keys were released. If you did pay, the payment will still be honoured while stock remains.",
        ),
        status::NEEDS_ATTENTION => (
            "我们已收到您的付款，但商品在订单过期后已售罄。店主已收到通知，会为您补发或退款；如有疑问请凭订单号联系店主。",
            "We received your payment, but the product sold out after your order expired. The shop has been notified and will deliver or refund you; contact the shop with your order number if you have questions.",
        ),
        status::PAID => (
            "已付款，店主将尽快为您发货；发货后本页会显示内容，并发送到您的邮箱。",
            "Paid. The shop will deliver shortly; what they deliver will appear here and be emailed to you.",
        ),
        status::REFUNDED => (
            "本订单已由店主退款。如有疑问请凭订单号联系店主。",
            "The shop refunded this order. Contact the shop with your order number if you have questions.",
        ),
        _ => ("订单状态未知，请联系店主。", "Unknown order status; please contact the shop."),
    };
    lang.pick(zh, en).to_string()
}
