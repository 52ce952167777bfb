//! The shop's logo (owner only): `POST /shops/{slug}/logo` (multipart upload)
//! and `POST …/logo/delete`. PNG, JPEG, WebP or GIF up to 256 KB, recognised by
//! their bytes; SVG is refused because it can carry script.

use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::store::shop_logo::{MAX_LOGO_BYTES, set_logo_for_tenant, sniff_image};

use crate::auth::csrf::{VerifiedForm, verify_token};
use crate::auth::shop_access::OwnerAccess;
use crate::error::{PageError, PageResult};
use crate::state::PlatformState;

pub async fn upload_logo(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> PageResult<Response> {
    let (mut token, mut file) = (String::new(), Vec::new());
    let too_big = || PageError::BadRequest("图片最大 256 KB。The image may be at most 256 KB.".into());
    while let Some(field) = multipart.next_field().await.map_err(|_| too_big())? {
        let name = field.name().unwrap_or("").to_string();
        let bytes = field.bytes().await.map_err(|_| too_big())?;
        match name.as_str() {
            "csrf" => token = String::from_utf8_lossy(&bytes).into_owned(),
            "logo" => file = bytes.to_vec(),
            _ => {}
        }
    }
    verify_token(&state, &headers, &token)?;
    if file.is_empty() {
        return Err(PageError::BadRequest("请选择一张图片。Choose an image file.".into()));
    }
    if file.len() > MAX_LOGO_BYTES {
        return Err(too_big());
    }
    let Some(content_type) = sniff_image(&file) else {
        return Err(PageError::BadRequest(
            "只支持 PNG、JPEG、WebP 或 GIF 图片。Only PNG, JPEG, WebP or GIF images are accepted.".into(),
        ));
    };
    set_logo_for_tenant(state.db.writer(), access.tenant_id(), Some((&file, content_type))).await?;
    state.bus.shop_changed(access.tenant_id());
    Ok(Redirect::to(&format!("/shops/{}/settings?m=saved", access.shop.slug)).into_response())
}

pub async fn delete_logo(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    set_logo_for_tenant(state.db.writer(), access.tenant_id(), None).await?;
    state.bus.shop_changed(access.tenant_id());
    Ok((StatusCode::SEE_OTHER, Redirect::to(&format!("/shops/{}/settings?m=saved", access.shop.slug))).into_response())
}
