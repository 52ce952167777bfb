//! `Idempotency-Key` on POSTs: a retried request (lost connection, timeout)
//! gets the first answer again instead of doing the work twice. Answers are
//! kept 24 hours per API key; a server error is not kept, so a retry runs.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use kapu_core::store::api_idempotency::{
    Claim, abandon_idempotency_key_for_tenant, claim_idempotency_key_for_tenant, finish_idempotency_key_for_tenant,
};
use sha2::{Digest, Sha256};

use super::auth::ApiCaller;
use super::error::{ApiError, ApiResult};
use crate::state::PlatformState;

/// A successful answer: status and JSON body.
pub type Answer = (StatusCode, serde_json::Value);

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else { return Ok(None) };
    let text = v.to_str().unwrap_or("");
    if text.is_empty() || text.len() > 255 || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            "Idempotency-Key 需为 1–255 个可见 ASCII 字符。Idempotency-Key must be 1–255 visible ASCII characters.",
        ));
    }
    Ok(Some(text.to_string()))
}

fn respond(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

/// Runs `work` once per `Idempotency-Key` (when the request has one).
/// `route` names the operation (`POST /products`); with the content type
/// and body it fingerprints the request.
pub async fn idempotent<F>(
    state: &PlatformState,
    caller: &ApiCaller,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
    work: F,
) -> Response
where
    F: Future<Output = ApiResult<Answer>>,
{
    let key = match idempotency_key(headers) {
        Ok(Some(k)) => k,
        Ok(None) => {
            return match work.await {
                Ok((s, b)) => respond(s, b),
                Err(e) => e.into_response(),
            };
        }
        Err(e) => return e.into_response(),
    };
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    h.update(b"\n");
    h.update(headers.get(axum::http::header::CONTENT_TYPE).map(HeaderValue::as_bytes).unwrap_or_default());
    h.update(b"\n");
    h.update(body);
    let fingerprint = kapu_core::crypto::hex(&h.finalize());
    let (tenant, key_id) = (caller.tenant_id(), caller.key.id.as_str());
    let claim =
        match claim_idempotency_key_for_tenant(state.db.writer(), tenant, key_id, &key, &fingerprint, Utc::now()).await
        {
            Ok(c) => c,
            Err(e) => return ApiError::from(e).into_response(),
        };
    match claim {
        Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let body = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
            let mut resp = respond(status, body);
            resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            resp
        }
        Claim::InProgress => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_in_progress",
            "使用同一 Idempotency-Key 的请求仍在处理中，请稍后重试。A request with this Idempotency-Key is still being processed; retry shortly.",
        )
        .into_response(),
        Claim::Mismatch => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "这个 Idempotency-Key 已用于另一个请求。This Idempotency-Key was already used with a different request.",
        )
        .into_response(),
        Claim::Claimed => {
            let (status, body) = match work.await {
                Ok(answer) => answer,
                Err(e) if e.status.is_server_error() => {
                    if let Err(db) = abandon_idempotency_key_for_tenant(state.db.writer(), tenant, key_id, &key).await {
                        tracing::warn!(error = %db, "could not release an idempotency key");
                    }
                    return e.into_response();
                }
                Err(e) => (e.status, e.body()),
            };
            let stored = finish_idempotency_key_for_tenant(
                state.db.writer(),
                tenant,
                key_id,
                &key,
                status.as_u16(),
                &body.to_string(),
            )
            .await;
            if let Err(e) = stored {
                tracing::error!(error = %e, "could not store an idempotent answer; a retry would run again");
            }
            respond(status, body)
        }
    }
}
