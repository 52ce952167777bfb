//! Stripe's webhook endpoint for one shop (`POST /api/v1/channels/stripe/webhook`
//! on the shop's host; the merchant registers it in Stripe). Stripe sends
//! every subscribed event of the account here: the attempt an event names
//! (`client_reference_id` or `metadata.kapu_payment_id`) is read to choose
//! which attempt to check, and then the event goes through the same
//! verification (signature, session, amount, currency) and idempotent
//! delivery as every other channel's notification. Events that name no
//! Kapu payment are acknowledged and change nothing.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use kapu_billing::Notification;
use kapu_billing::channels::stripe::PAYMENT_ID_KEY;

use super::notify_payment::header_map;
use kapu_core::store::payment_notifications::Verdict;

use crate::error::StoreError;
use crate::http::client_ip::ClientIp;
use crate::http::host::TenantCtx;
use crate::payments::confirm::receive_notification;
use crate::state::RuntimeState;

#[utoipa::path(post, path = "/api/v1/channels/stripe/webhook", tag = "payments",
    responses((status = 200, description = "event applied or ignored"),
        (status = 400, description = "notification_rejected"), (status = 404, description = "payment_not_found")))]
pub async fn stripe_webhook(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<&'static str, StoreError> {
    let malformed = |detail: String| StoreError::NotificationRejected(Verdict::Malformed, detail);
    let text = String::from_utf8(body.to_vec()).map_err(|_| malformed("body is not UTF-8".into()))?;
    let event: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| malformed(format!("body is not JSON: {e}")))?;
    let object = &event["data"]["object"];
    let payment_id = object["client_reference_id"]
        .as_str()
        .or_else(|| object["metadata"][PAYMENT_ID_KEY].as_str())
        .filter(|id| !id.is_empty())
        .map(str::to_string);
    let Some(payment_id) = payment_id else {
        tracing::debug!(
            event_type = event["type"].as_str().unwrap_or(""),
            "Stripe event names no Kapu payment; ignored"
        );
        return Ok("");
    };
    let notification = Notification { fields: BTreeMap::new(), headers: header_map(&headers), body: text.clone() };
    receive_notification(&state, &shop, &payment_id, ip, Ok(notification), &text).await
}
