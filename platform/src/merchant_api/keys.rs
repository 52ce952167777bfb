//! `POST /products/{id}/keys`: adds card keys to a product, in one request.
//! The body is a JSON array of strings, `{"keys": [...]}`, or plain text
//! with one key per line (`Content-Type: text/plain`). Keys the product
//! already has are skipped, so sending the same batch twice adds nothing.
//! Bigger batches than `MAX_KEYS_PER_CALL` belong in several calls (or the
//! dashboard's file import).

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use kapu_core::store::api_keys::Scope;
use kapu_core::store::catalog_admin::find_product_for_tenant;
use kapu_core::store::key_imports::{
    Delimiter, Entry, import_chunk_for_tenant, refresh_card_key_statistics, split_entries,
};
use kapu_core::store::plan_limits::check_key_room_exactly;
use serde_json::json;

use super::auth::ApiCaller;
use super::error::{ApiError, ApiResult};
use super::idempotency::idempotent;
use crate::state::PlatformState;

/// Most keys in one call.
pub const MAX_KEYS_PER_CALL: usize = 10_000;

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum KeysBody {
    List(Vec<String>),
    Object { keys: Vec<String> },
}

fn entries_of(headers: &HeaderMap, body: &[u8]) -> ApiResult<Vec<Entry>> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let text = std::str::from_utf8(body).map_err(|_| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_encoding", "请求体不是 UTF-8 文本。The body is not UTF-8 text.")
    })?;
    if content_type.starts_with("text/plain") {
        return Ok(split_entries(text, Delimiter::Newline));
    }
    if !content_type.starts_with("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "请以 application/json（字符串数组）或 text/plain（每行一个卡密）发送。Send application/json (an array of strings) or text/plain (one key per line).",
        ));
    }
    let keys = match serde_json::from_str::<KeysBody>(text).map_err(ApiError::bad_json)? {
        KeysBody::List(k) | KeysBody::Object { keys: k } => k,
    };
    // Each array element is one key, numbered from 1; blank ones are dropped.
    Ok(keys
        .into_iter()
        .enumerate()
        .map(|(i, k)| Entry { line: u32::try_from(i + 1).unwrap_or(u32::MAX), text: k.trim().to_string() })
        .filter(|e| !e.text.is_empty())
        .collect())
}

pub async fn import_keys(
    State(state): State<PlatformState>,
    caller: ApiCaller,
    headers: HeaderMap,
    Path(product_id): Path<String>,
    body: Bytes,
) -> Response {
    let route = format!("POST /products/{product_id}/keys");
    let work = async {
        caller.require(Scope::Write)?;
        let product = find_product_for_tenant(state.db.reader(), caller.tenant_id(), &product_id)
            .await?
            .ok_or_else(|| ApiError::not_found("商品 product"))?;
        if product.kind != "auto_key" {
            return Err(ApiError::invalid(vec![
                "该商品为人工发货，不使用卡密。This product is delivered by hand and takes no keys.".into(),
            ]));
        }
        let entries = entries_of(&headers, &body)?;
        if entries.is_empty() {
            return Err(ApiError::invalid(vec!["没有找到卡密。No keys in the body.".into()]));
        }
        if entries.len() > MAX_KEYS_PER_CALL {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_keys",
                format!(
                    "一次最多 {MAX_KEYS_PER_CALL} 个卡密（本次 {}），请分批发送。At most {MAX_KEYS_PER_CALL} keys per call ({} sent); split the batch.",
                    entries.len(),
                    entries.len()
                ),
            ));
        }
        let keys = state.master.tenant(caller.tenant_id());
        // The check and the insert share a transaction with the shop locked.
        let txn = state.db.begin().await?;
        if let Err(over) = check_key_room_exactly(&txn, caller.tenant_id(), entries.len() as u64).await? {
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "plan_limit", over.to_string()));
        }
        let out = import_chunk_for_tenant(&txn, &keys, caller.tenant_id(), &product.id, &entries, &mut HashSet::new())
            .await?;
        txn.commit().await?;
        if out.imported >= 1_000 {
            // Current statistics for the key picks of a sale that may start now (PostgreSQL).
            refresh_card_key_statistics(state.db.writer()).await?;
        }
        state.bus.stock_changed(caller.tenant_id());
        let problems: Vec<_> = out.problems.iter().map(|p| json!({ "line": p.line, "reason": p.reason })).collect();
        Ok((
            StatusCode::OK,
            json!({
                "product_id": product.id, "received": entries.len(), "imported": out.imported,
                "duplicate": out.duplicate, "invalid": out.invalid, "problems": problems,
            }),
        ))
    };
    idempotent(&state, &caller, &headers, &route, &body, work).await
}
