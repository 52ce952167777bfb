use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use kapu_billing::Notification;

use crate::error::StoreError;
use crate::http::host::TenantCtx;
use crate::payments::confirm::apply_notification;
use crate::state::RuntimeState;

/// A provider's payment notification for one attempt of this shop. Form or
/// JSON body; answers the provider's expected acknowledgement once applied
/// (repeats included), or 400 `notification_rejected` and changes nothing.
#[utoipa::path(post, path = "/api/v1/payments/{payment_id}/notify", tag = "payments",
    responses((status = 200, description = "acknowledged, e.g. `success`"),
        (status = 400, description = "notification_rejected"), (status = 404, description = "payment_not_found")))]
pub async fn notify_payment(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    Path(payment_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<&'static str, StoreError> {
    let notification = parse_body(&headers, &body)?;
    let (_, ack) = apply_notification(&state, &shop, &payment_id, &notification).await?;
    Ok(ack)
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Notification, StoreError> {
    let ct = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let fields: BTreeMap<String, String> = if ct.starts_with("application/json") {
        let v: BTreeMap<String, serde_json::Value> =
            serde_json::from_slice(body).map_err(|e| StoreError::InvalidJson(e.to_string()))?;
        v.into_iter()
            .map(|(k, v)| {
                let s = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, s)
            })
            .collect()
    } else {
        form_urlencoded_pairs(body)
    };
    Ok(Notification { fields })
}

fn form_urlencoded_pairs(body: &[u8]) -> BTreeMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default().into_iter().collect()
}
