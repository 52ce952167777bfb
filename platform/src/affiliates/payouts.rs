//! A payout request's answer, owner only: `POST /shops/{slug}/affiliates/
//! payouts/{id}/paid` (the merchant paid it, with an optional reference)
//! or `…/reject` (with a reason; the amount goes back on the affiliate's
//! account). A request already answered is a 404 (nothing changes twice).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::store::affiliates as store;

use crate::audit::shop_action;
use crate::auth::csrf::VerifiedForm;
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::OwnerAccess;
use crate::error::{PageError, PageResult};
use crate::state::PlatformState;

#[derive(Debug, Default, serde::Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    note: String,
}

async fn decide(
    state: &PlatformState,
    access: &crate::auth::shop_access::ShopAccess,
    ip: RequestIp,
    payout_id: &str,
    paid: bool,
    note: &str,
) -> PageResult<Response> {
    let txn = state.db.begin().await?;
    let decided = store::decide_payout_for_tenant(&txn, access.tenant_id(), payout_id, paid, note, Utc::now()).await;
    let p = match decided {
        Ok(Some(p)) => {
            txn.commit().await?;
            p
        }
        Ok(None) => {
            let _ = txn.rollback().await;
            return Err(PageError::NotFound);
        }
        Err(e) => {
            let _ = txn.rollback().await;
            return Err(e.into());
        }
    };
    let action = if paid { "affiliate.payout_paid" } else { "affiliate.payout_rejected" };
    let detail =
        format!("{} {} {}", kapu_core::money::format_minor(p.amount_minor, &p.currency), p.currency, note.trim());
    shop_action(state, access, ip, action, payout_id, detail.trim()).await?;
    let m = if paid { "payout_paid" } else { "payout_rejected" };
    Ok(Redirect::to(&format!("/shops/{}/affiliates?m={m}", access.shop.slug)).into_response())
}

pub async fn mark_payout_paid(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    Path((_, id)): Path<(String, String)>,
    VerifiedForm(form): VerifiedForm<DecisionForm>,
) -> PageResult<Response> {
    decide(&state, &access, ip, &id, true, &form.note).await
}

pub async fn reject_payout(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    Path((_, id)): Path<(String, String)>,
    VerifiedForm(form): VerifiedForm<DecisionForm>,
) -> PageResult<Response> {
    decide(&state, &access, ip, &id, false, &form.note).await
}
