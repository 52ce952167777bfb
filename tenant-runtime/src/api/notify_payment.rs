use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use kapu_billing::Notification;

use kapu_core::store::payment_notifications::Verdict;

use crate::error::StoreError;
use crate::http::client_ip::ClientIp;
use crate::http::host::TenantCtx;
use crate::payments::confirm::receive_notification;
use crate::state::RuntimeState;

/// A provider's payment notification for one attempt of this shop. Form or
/// JSON body; answers the provider's expected acknowledgement once applied
/// (repeats included), or 400 `notification_rejected` and changes nothing.
#[utoipa::path(post, path = "/api/v1/payments/{payment_id}/notify", tag = "payments",
    params(("payment_id" = String, Path, description = "The payment attempt the provider was told about")),
    responses((status = 200, description = "acknowledged, e.g. `success`"),
        (status = 400, description = "notification_rejected"), (status = 404, description = "payment_not_found")))]
pub async fn notify_payment(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    ClientIp(ip): ClientIp,
    Path(payment_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<&'static str, StoreError> {
    let raw = String::from_utf8_lossy(&body).into_owned();
    let notification = parse_body(&headers, &body).map(|mut n| {
        n.headers = header_map(&headers);
        n.body = raw.clone();
        n
    });
    receive_notification(&state, &shop, &payment_id, ip, notification, &raw).await
}

/// The same notification sent as a GET with its fields in the query string,
/// as 易支付 gateways do.
#[utoipa::path(get, path = "/api/v1/payments/{payment_id}/notify", tag = "payments",
    params(("payment_id" = String, Path, description = "The payment attempt the provider was told about")),
    responses((status = 200, description = "acknowledged, e.g. `success`"),
        (status = 400, description = "notification_rejected"), (status = 404, description = "payment_not_found")))]
pub async fn notify_payment_get(
    State(state): State<RuntimeState>,
    shop: TenantCtx,
    ClientIp(ip): ClientIp,
    Path(payment_id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<&'static str, StoreError> {
    let query = query.unwrap_or_default();
    let notification = form_urlencoded_pairs(query.as_bytes()).map(|fields| Notification {
        fields,
        headers: header_map(&headers),
        body: String::new(),
    });
    receive_notification(&state, &shop, &payment_id, ip, notification, &query).await
}

/// Headers with lower-case names, as channels read them.
pub(crate) fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_ascii_lowercase(), v.to_string())))
        .collect()
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Notification, StoreError> {
    let ct = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let fields: BTreeMap<String, String> = if ct.starts_with("application/json") {
        let v: BTreeMap<String, serde_json::Value> = serde_json::from_slice(body)
            .map_err(|e| StoreError::NotificationRejected(Verdict::Malformed, format!("body is not JSON: {e}")))?;
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
        form_urlencoded_pairs(body)?
    };
    Ok(Notification { fields, ..Notification::default() })
}

/// Form or query fields; a field given twice makes the notification malformed
/// (which copy would the signature have covered?).
fn form_urlencoded_pairs(body: &[u8]) -> Result<BTreeMap<String, String>, StoreError> {
    let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map_err(|e| StoreError::NotificationRejected(Verdict::Malformed, format!("unreadable form: {e}")))?;
    let mut fields = BTreeMap::new();
    for (k, v) in pairs {
        if fields.contains_key(&k) {
            return Err(StoreError::NotificationRejected(
                Verdict::Malformed,
                format!("field {k:?} given more than once"),
            ));
        }
        fields.insert(k, v);
    }
    Ok(fields)
}
