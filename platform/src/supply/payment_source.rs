//! A reseller taking payments through its supplier's channels (see
//! `kapu_core::store::supply_payments`): the supplier offers or withdraws
//! them per reseller (`POST /shops/{slug}/supply/resellers/{tenant_id}/channels`,
//! on My resellers), and the reseller chooses them or its own on its
//! Payments page (`POST /shops/{slug}/channels/source`). Both owner only,
//! audited; the reseller's checkout follows at once.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::store::supply::{resellers_of_supplier, shop_names};
use kapu_core::store::supply_payments::{
    choose_payment_source, collecting_for, offers_for_reseller, payment_source, set_collects_payments,
};
use minijinja::{Value, context};

use crate::audit::shop_action;
use crate::auth::csrf::VerifiedForm;
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::OwnerAccess;
use crate::error::{PageError, PageResult};
use crate::state::PlatformState;

#[derive(Debug, Default, serde::Deserialize)]
pub struct OfferForm {
    #[serde(default)]
    on: String,
}

pub async fn offer_channels(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    Path((_, reseller)): Path<(String, String)>,
    VerifiedForm(form): VerifiedForm<OfferForm>,
) -> PageResult<Response> {
    let me = access.tenant_id();
    if !resellers_of_supplier(state.db.reader(), me).await?.iter().any(|r| r.tenant_id == reseller) {
        return Err(PageError::NotFound);
    }
    let on = form.on == "1";
    if set_collects_payments(state.db.writer(), me, &reseller, on, Utc::now()).await? {
        state.bus.shop_changed(&reseller);
    }
    let action = if on { "supply.channels_offered" } else { "supply.channels_withdrawn" };
    shop_action(&state, &access, ip, action, &reseller, "").await?;
    Ok(Redirect::to(&format!("/shops/{}/supply/resellers?m=saved", access.shop.slug)).into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct SourceForm {
    /// A supplier's shop id, or empty for the shop's own channels.
    #[serde(default)]
    source: String,
}

pub async fn choose_source(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    VerifiedForm(form): VerifiedForm<SourceForm>,
) -> PageResult<Response> {
    let source = Some(form.source.trim()).filter(|s| !s.is_empty());
    if !choose_payment_source(state.db.writer(), access.tenant_id(), source).await? {
        return Err(PageError::BadRequest(
            "该供应商没有向本店提供收款渠道。That supplier does not offer this shop its payment channels.".into(),
        ));
    }
    state.bus.shop_changed(access.tenant_id());
    shop_action(&state, &access, ip, "channel.source", source.unwrap_or("own"), "").await?;
    Ok(Redirect::to(&format!("/shops/{}/channels?m=saved", access.shop.slug)).into_response())
}

/// The Payments page's part: the suppliers offering their channels, and which are used now.
pub async fn source_context(state: &PlatformState, tenant_id: &str) -> PageResult<Value> {
    let r = state.db.reader();
    let offers = offers_for_reseller(r, tenant_id).await?;
    let current = payment_source(r, tenant_id).await?;
    let names = shop_names(r, offers.iter().cloned().chain(current.clone())).await?;
    let name = |id: &str| names.get(id).map(|(_, n)| n.clone()).unwrap_or_default();
    let offers: Vec<Value> = offers.iter().map(|id| context! { id, name => name(id) }).collect();
    Ok(context! { offers, current => current.clone(), current_name => current.as_deref().map(name) })
}

/// Drops the checkout caches of the resellers paying through `supplier`
/// (after it changed its channels).
pub async fn tell_collecting_resellers(state: &PlatformState, supplier: &str) -> PageResult<()> {
    for r in collecting_for(state.db.reader(), supplier).await? {
        state.bus.shop_changed(&r);
    }
    Ok(())
}
