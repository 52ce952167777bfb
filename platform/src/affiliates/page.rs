//! `GET /shops/{slug}/affiliates`, adding a partner by email
//! (`POST …/affiliates`) and blocking or unblocking one
//! (`POST …/affiliates/{id}/block|unblock`).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::money::format_minor;
use kapu_core::store::affiliates as store;
use kapu_core::store::catalog_admin::list_all_products_for_tenant;
use minijinja::{Value, context};

use crate::audit::shop_action;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::{OwnerAccess, ShopAccess};
use crate::error::{PageError, PageResult};
use crate::page::{Flash, Layout, flash_for, render};
use crate::state::PlatformState;

pub async fn affiliates_page(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<crate::shops::list::FlashQuery>,
) -> PageResult<Response> {
    page(&state, &access, &csrf, &[], flash_for(q.m.as_deref())).await
}

/// The page, with errors of a form just sent or a flash.
pub(crate) async fn page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    errors: &[String],
    flash: Option<Flash>,
) -> PageResult<Response> {
    let ctx = context_of(state, access, errors).await?;
    let layout =
        Layout { account: None, csrf, shop: Some(access), nav: "affiliates", flash, title: "推广 Affiliates" };
    let resp = render("affiliates.html", layout, ctx)?;
    Ok(if errors.is_empty() {
        resp
    } else {
        crate::page::with_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, resp)
    })
}

async fn context_of(state: &PlatformState, access: &ShopAccess, errors: &[String]) -> PageResult<Value> {
    let r = state.db.reader();
    let me = access.tenant_id();
    let currency = access.shop.currency.clone();
    let money = |m: i64| format_minor(m, &currency);
    let t = store::terms_for_tenant(r, me).await?;
    let terms = context! {
        enabled => t.enabled, open_signup => t.open_signup, rate => store::percent(t.commission_bps),
        holding_days => t.holding_days, window_days => t.window_days, clicks_per_address => t.clicks_per_address,
        min_payout => money(t.min_payout_minor),
    };
    let products = list_all_products_for_tenant(r, me).await?;
    let rates = store::product_rates_for_tenant(r, me).await?;
    let product_rates: Vec<Value> = rates
        .iter()
        .map(|x| {
            let name = products.iter().find(|p| p.id == x.product_id).map(|p| p.name.clone()).unwrap_or_default();
            context! { product_id => x.product_id.clone(), name, rate => store::percent(x.commission_bps) }
        })
        .collect();
    let product_choices: Vec<Value> =
        products.iter().map(|p| context! { id => p.id.clone(), name => p.name.clone() }).collect();
    let now = Utc::now();
    let all = store::affiliates_for_tenant(r, me, now).await?;
    let code_of = |id: &str| all.iter().find(|f| f.affiliate.id == id).map(|f| f.affiliate.code.clone());
    let email_of = |id: &str| all.iter().find(|f| f.affiliate.id == id).map(|f| f.affiliate.email.clone());
    let base = access.shop_url.trim_end_matches('/').to_string();
    let affiliates: Vec<Value> = all
        .iter()
        .map(|f| {
            let a = &f.affiliate;
            context! {
                id => a.id.clone(), email => a.email.clone(), code => a.code.clone(),
                link => format!("{base}/?ref={}", a.code), blocked => a.status == store::BLOCKED,
                clicks => f.clicks.0, clicks_refused => f.clicks.1, orders => f.orders, refused => f.refused,
                pending => money(f.pending_minor), booked => money(f.booked_minor), balance => money(f.balance_minor),
                joined => a.created_at.format("%Y-%m-%d").to_string(),
            }
        })
        .collect();
    let payouts: Vec<Value> = store::payouts_for_tenant(r, me, None, 50)
        .await?
        .into_iter()
        .map(|p| {
            context! {
                id => p.id.clone(), email => email_of(&p.affiliate_id), amount => format_minor(p.amount_minor, &p.currency),
                currency => p.currency.clone(), details => p.details.clone(), status => p.status.clone(), note => p.note.clone(),
                requested => p.requested_at.format("%Y-%m-%d %H:%M").to_string(),
            }
        })
        .collect();
    let commissions: Vec<Value> = store::commissions_for_tenant(r, me, None, 50)
        .await?
        .into_iter()
        .map(|c| {
            context! {
                order_no => c.order_no.clone(), code => code_of(&c.affiliate_id), email => email_of(&c.affiliate_id),
                base => format_minor(c.base_minor, &c.currency), rate => format!("{}%", store::percent(c.rate_bps)),
                amount => format_minor(c.amount_minor, &c.currency), currency => c.currency.clone(),
                status => c.status.clone(), reason => c.reason.clone(),
                matures => c.matures_at.format("%Y-%m-%d").to_string(),
            }
        })
        .collect();
    Ok(context! {
        terms, product_rates, product_choices, affiliates, payouts, commissions, currency,
        storefront_page => format!("{base}/affiliate"), owner => access.is_owner(),
        errors => crate::page::ser(errors),
    })
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct PartnerForm {
    #[serde(default)]
    email: String,
}

/// Adds a partner by email and sends it a sign-in link.
pub async fn add_partner(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    CsrfToken(csrf): CsrfToken,
    VerifiedForm(form): VerifiedForm<PartnerForm>,
) -> PageResult<Response> {
    let Some(email) = crate::accounts::normalize_email(&form.email) else {
        let e = "邮箱格式不正确 The email address is not valid".to_string();
        return page(&state, &access, &csrf, &[e], None).await;
    };
    if !store::terms_for_tenant(state.db.reader(), access.tenant_id()).await?.enabled {
        let e = "请先开启推广计划 Turn the programme on first".to_string();
        return page(&state, &access, &csrf, &[e], None).await;
    }
    let w = state.db.writer();
    let lang = kapu_web::i18n::Lang::current().tag();
    let a = store::join_for_tenant(w, access.tenant_id(), &email, lang, Utc::now()).await?;
    store::queue_signin_link(w, access.tenant_id(), &a.id, access.shop_url.trim_end_matches('/'), lang).await?;
    shop_action(&state, &access, ip, "affiliate.added", &a.id, &email).await?;
    Ok(Redirect::to(&format!("/shops/{}/affiliates?m=affiliate_added", access.shop.slug)).into_response())
}

async fn set_active(
    state: &PlatformState,
    access: &ShopAccess,
    ip: RequestIp,
    affiliate_id: &str,
    active: bool,
) -> PageResult<Response> {
    if !store::set_affiliate_active_for_tenant(state.db.writer(), access.tenant_id(), affiliate_id, active).await? {
        return Err(PageError::NotFound);
    }
    let action = if active { "affiliate.unblocked" } else { "affiliate.blocked" };
    shop_action(state, access, ip, action, affiliate_id, "").await?;
    Ok(Redirect::to(&format!("/shops/{}/affiliates?m=saved", access.shop.slug)).into_response())
}

pub async fn block_affiliate(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    Path((_, id)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    set_active(&state, &access, ip, &id, false).await
}

pub async fn unblock_affiliate(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    Path((_, id)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    set_active(&state, &access, ip, &id, true).await
}
