//! Theme assets under content-hashed names, cached for a year.

use axum::extract::OriginalUri;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use axum::response::{IntoResponse, Response};

pub async fn get_asset(OriginalUri(uri): OriginalUri) -> Response {
    match kapu_themes::theme_asset(uri.path()) {
        Some(a) => (
            [
                (CONTENT_TYPE, HeaderValue::from_static(a.content_type)),
                (CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
            ],
            a.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// `GET /logo/{hash}`: the shop's logo, cached for good (a new logo has a new hash).
pub async fn get_logo(
    axum::extract::State(state): axum::extract::State<crate::state::RuntimeState>,
    shop: crate::http::host::TenantCtx,
    axum::extract::Path(hash): axum::extract::Path<String>,
) -> Result<Response, crate::error::StoreError> {
    let (bytes, content_type) = kapu_core::store::shop_logo::find_logo_for_tenant(state.db.reader(), shop.id(), &hash)
        .await?
        .ok_or(crate::error::StoreError::NotFound)?;
    let ct = HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (CONTENT_TYPE, ct),
            (CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        bytes,
    )
        .into_response())
}
