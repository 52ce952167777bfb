//! `POST /shops/{slug}/mode`: go live (only with a real payment channel) or
//! back to test mode. `POST /shops/{slug}/visibility` and
//! `/shops/{slug}/preview/revoke`: who sees the shop while it is in test
//! mode (preview-link holders, or everyone after a warning), and revoking
//! the links given out.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::store::shop_settings::{
    revoke_preview_links_for_tenant, set_mode_for_tenant, set_test_public_for_tenant,
};

use crate::auth::csrf::VerifiedForm;
use crate::auth::shop_access::OwnerAccess;
use crate::error::{PageError, PageResult};
use crate::shops::settings::go_live_blocker;
use crate::state::PlatformState;

#[derive(serde::Deserialize)]
pub struct ModeForm {
    #[serde(default)]
    mode: String,
}

pub async fn set_mode(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: crate::auth::request_ip::RequestIp,
    VerifiedForm(f): VerifiedForm<ModeForm>,
) -> PageResult<Response> {
    let mode = match f.mode.as_str() {
        "live" => {
            if let Some(why) = go_live_blocker(&state, access.tenant_id(), &access.shop.currency).await? {
                return Err(PageError::BadRequest(why.into()));
            }
            "live"
        }
        "test" => "test",
        _ => return Err(PageError::BadRequest("未知模式。Unknown mode.".into())),
    };
    set_mode_for_tenant(state.db.writer(), access.tenant_id(), mode).await?;
    state.bus.shop_changed(access.tenant_id());
    crate::audit::shop_action(&state, &access, ip, "shop.mode", mode, "").await?;
    Ok(Redirect::to(&format!("/shops/{}/settings?m=mode_{mode}", access.shop.slug)).into_response())
}

#[derive(serde::Deserialize)]
pub struct VisibilityForm {
    #[serde(default)]
    public: String,
}

pub async fn set_visibility(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: crate::auth::request_ip::RequestIp,
    VerifiedForm(f): VerifiedForm<VisibilityForm>,
) -> PageResult<Response> {
    let public = match f.public.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(PageError::BadRequest("未知选项。Unknown choice.".into())),
    };
    set_test_public_for_tenant(state.db.writer(), access.tenant_id(), public).await?;
    state.bus.shop_changed(access.tenant_id());
    let what = if public { "everyone" } else { "preview link holders" };
    crate::audit::shop_action(&state, &access, ip, "shop.test_visibility", what, "").await?;
    let m = if public { "test_public" } else { "test_private" };
    Ok(Redirect::to(&format!("/shops/{}/settings?m={m}", access.shop.slug)).into_response())
}

pub async fn revoke_preview(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: crate::auth::request_ip::RequestIp,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    revoke_preview_links_for_tenant(state.db.writer(), access.tenant_id()).await?;
    state.bus.shop_changed(access.tenant_id());
    crate::audit::shop_action(&state, &access, ip, "shop.preview_revoke", "", "").await?;
    Ok(Redirect::to(&format!("/shops/{}/settings?m=preview_revoked", access.shop.slug)).into_response())
}
