//! `GET/POST /shops/{slug}/api-keys` (owner only): the shop's merchant API
//! keys. A new key is shown once, right after it is made; the list shows
//! each key's start, scope, creation and last use. Making and revoking a
//! key are audited (`apikey.create`, `apikey.revoke`). A `supply` key is an
//! outside reseller's (a shop on another Kapu platform): it buys this
//! shop's offered products from a prepaid balance the owner tops up here
//! when the reseller pays (`supply.topup`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kapu_core::money::{format_minor, parse_major};
use kapu_core::store::api_keys::{
    MAX_KEYS_PER_SHOP, Scope, count_live_api_keys_for_tenant, create_api_key_for_tenant, list_api_keys_for_tenant,
    revoke_api_key_for_tenant,
};
use kapu_core::store::supply_prepaid::{balance_of, record_topup};
use minijinja::context;

use crate::audit::shop_action;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::{OwnerAccess, ShopAccess};
use crate::error::{PageError, PageResult};
use crate::page::{Flash, Layout, flash_for, render, ser, with_status};
use crate::state::PlatformState;

async fn page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    errors: &[String],
    new_key: Option<(&str, &str)>,
    flash: Option<Flash>,
) -> PageResult<Response> {
    let currency = access.shop.currency.clone();
    let mut keys = Vec::new();
    for k in list_api_keys_for_tenant(state.db.reader(), access.tenant_id()).await? {
        let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
        let balance = if k.scope == "supply" {
            let b = balance_of(state.db.reader(), access.tenant_id(), &k.id).await?;
            Some(format!("{} {currency}", format_minor(b, &currency)))
        } else {
            None
        };
        keys.push(context! {
            id => k.id, name => k.name, prefix => k.prefix, scope => k.scope,
            created_at => fmt(k.created_at), last_used_at => k.last_used_at.map(fmt),
            revoked_at => k.revoked_at.map(fmt), balance,
        });
    }
    let port = url::Url::parse(&access.shop_url).ok().and_then(|u| u.port());
    let api_base = format!("{}/api/merchant/v1", state.platform_origin(port));
    let layout = Layout { account: None, csrf, shop: Some(access), nav: "api_keys", flash, title: "API" };
    render(
        "api_keys.html",
        layout,
        context! {
            keys, errors => ser(errors), api_base,
            new_key => new_key.map(|(name, secret)| context! { name, secret }),
        },
    )
}

pub async fn api_keys_page(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    axum::extract::Query(q): axum::extract::Query<crate::shops::list::FlashQuery>,
) -> PageResult<Response> {
    page(&state, &access, &csrf, &[], None, flash_for(q.m.as_deref())).await
}

#[derive(serde::Deserialize)]
pub struct NewKeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
}

pub async fn create_key(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    VerifiedForm(f): VerifiedForm<NewKeyForm>,
) -> PageResult<Response> {
    let mut errors = Vec::new();
    let name = f.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push("请给密钥起个名字（1–100 个字符），例如「进货脚本」。Name the key (1–100 characters), e.g. \"restock script\".".into());
    }
    let scope = Scope::parse(&f.scope);
    if scope.is_none() {
        errors.push("请选择权限：只读、读写或供货。Choose a scope: read, read-write or supply.".into());
    }
    if count_live_api_keys_for_tenant(state.db.reader(), access.tenant_id()).await? >= MAX_KEYS_PER_SHOP {
        errors.push(format!(
            "每个店铺最多 {MAX_KEYS_PER_SHOP} 个有效密钥，请先吊销不用的。A shop may hold {MAX_KEYS_PER_SHOP} live keys; revoke unused ones first."
        ));
    }
    let Some(scope) = scope.filter(|_| errors.is_empty()) else {
        return Ok(with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&state, &access, &csrf, &errors, None, None).await?,
        ));
    };
    let made = create_api_key_for_tenant(state.db.writer(), access.tenant_id(), &name, scope, Some(&access.account.id))
        .await?;
    shop_action(&state, &access, ip, "apikey.create", &made.key.prefix, &format!("{name} ({})", scope.as_str()))
        .await?;
    page(
        &state,
        &access,
        &csrf,
        &[],
        Some((&name, &made.secret)),
        Flash::ok("已创建。请立即复制密钥，它只显示这一次。Created. Copy the key now: it is shown only once."),
    )
    .await
}

pub async fn revoke_key(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    ip: RequestIp,
    Path((_, id)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm<serde_json::Value>,
) -> PageResult<Response> {
    let key =
        revoke_api_key_for_tenant(state.db.writer(), access.tenant_id(), &id).await?.ok_or(PageError::NotFound)?;
    shop_action(&state, &access, ip, "apikey.revoke", &key.prefix, &key.name).await?;
    Ok(Redirect::to(&format!("/shops/{}/api-keys?m=saved", access.shop.slug)).into_response())
}

#[derive(serde::Deserialize)]
pub struct TopupForm {
    #[serde(default)]
    amount: String,
}

/// `POST /shops/{slug}/api-keys/{id}/topup`: the owner records money an
/// outside reseller paid; its supply key can buy that much more.
pub async fn topup_key(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    Path((_, id)): Path<(String, String)>,
    VerifiedForm(f): VerifiedForm<TopupForm>,
) -> PageResult<Response> {
    let key = list_api_keys_for_tenant(state.db.reader(), access.tenant_id())
        .await?
        .into_iter()
        .find(|k| k.id == id && k.scope == "supply" && k.revoked_at.is_none())
        .ok_or(PageError::NotFound)?;
    let currency = access.shop.currency.clone();
    let Some(amount) = parse_major(f.amount.trim(), &currency).filter(|a| *a > 0 && *a <= 100_000_000) else {
        let msg = format!(
            "充值金额须为大于 0 的金额，例如 100.00（{currency}）。The top-up must be an amount above 0, like 100.00 ({currency})."
        );
        return Ok(with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&state, &access, &csrf, &[msg], None, None).await?,
        ));
    };
    record_topup(state.db.writer(), access.tenant_id(), &key.id, amount, &currency, chrono::Utc::now()).await?;
    let detail = format!("{} {currency} for {}", format_minor(amount, &currency), key.name);
    shop_action(&state, &access, ip, "supply.topup", &key.prefix, &detail).await?;
    Ok(Redirect::to(&format!("/shops/{}/api-keys?m=saved", access.shop.slug)).into_response())
}
