//! Inviting resellers: a supplier makes an invitation link with a wholesale
//! discount (`POST /shops/{slug}/supply/invites`, the link shown once); a
//! merchant opens it (`GET /invites/{token}`), picks one of the shops they
//! own or opens a new one, and accepts (`POST /invites/{token}`): the shop
//! gets every product the supplier offers, at the supplier's own price,
//! sold from the supplier's stock. A supplier sets each reseller's discount
//! later on its resellers page (`POST …/supply/resellers/{id}/discount`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_core::db::is_unique_violation;
use kapu_core::store::accounts::{Role, list_shops_of_account};
use kapu_core::store::catalog_admin::{ProductFields, create_product_for_tenant};
use kapu_core::store::plan_limits::{Limit, check_limit};
use kapu_core::store::supply::{
    MAX_DISCOUNT_BPS, accept_invite, create_invite, link_resale_product_for_tenant, lowest_resale_price, open_invite,
    set_reseller_discount,
};
use minijinja::context;

use crate::audit::shop_action;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::request_ip::RequestIp;
use crate::auth::session::Merchant;
use crate::auth::shop_access::ShopAccess;
use crate::error::{PageError, PageResult};
use crate::page::{Layout, render, with_status};
use crate::state::PlatformState;

/// A discount as typed: a percentage with at most two decimals, 0–90.
fn parse_discount(text: &str) -> Option<i32> {
    let t = text.trim().trim_end_matches('%');
    if t.is_empty() {
        return Some(0);
    }
    let bps = kapu_core::money::parse_major(t, "CNY")?;
    (0..=i64::from(MAX_DISCOUNT_BPS)).contains(&bps).then_some(bps as i32)
}

const BAD_DISCOUNT: &str = "折扣须为 0 到 90 之间的百分比，例如 10 或 12.5。The discount must be a percentage from 0 to 90, such as 10 or 12.5.";

#[derive(serde::Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    discount: String,
}

pub async fn create_invite_link(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    VerifiedForm(f): VerifiedForm<InviteForm>,
) -> PageResult<Response> {
    let Some(bps) = parse_discount(&f.discount) else {
        let page =
            crate::supply::resellers::page(&state, &access, &csrf, None, &[BAD_DISCOUNT.to_string()], None).await?;
        return Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, page));
    };
    let token = create_invite(state.db.writer(), access.tenant_id(), bps, Utc::now()).await?;
    shop_action(&state, &access, ip, "supply.invite_created", "", &format!("discount {bps} bps")).await?;
    let link = format!("{}/invites/{token}", state.platform_origin(None));
    crate::supply::resellers::page(&state, &access, &csrf, Some(&link), &[], None).await
}

#[derive(serde::Deserialize)]
pub struct DiscountForm {
    #[serde(default)]
    discount: String,
}

pub async fn set_discount(
    State(state): State<PlatformState>,
    access: ShopAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    Path((_, reseller)): Path<(String, String)>,
    VerifiedForm(f): VerifiedForm<DiscountForm>,
) -> PageResult<Response> {
    let resellers = kapu_core::store::supply::resellers_of_supplier(state.db.reader(), access.tenant_id()).await?;
    if !resellers.iter().any(|r| r.tenant_id == reseller) {
        return Err(PageError::NotFound);
    }
    let Some(bps) = parse_discount(&f.discount) else {
        let page =
            crate::supply::resellers::page(&state, &access, &csrf, None, &[BAD_DISCOUNT.to_string()], None).await?;
        return Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, page));
    };
    set_reseller_discount(state.db.writer(), access.tenant_id(), &reseller, bps, Utc::now()).await?;
    shop_action(&state, &access, ip, "supply.discount_set", &reseller, &format!("{bps} bps")).await?;
    Ok(Redirect::to(&format!("/shops/{}/supply/resellers?m=saved", access.shop.slug)).into_response())
}

/// The invitation page, for a signed-in merchant.
async fn invite_page(
    state: &PlatformState,
    account: &crate::auth::session::Account,
    csrf: &str,
    token: &str,
    errors: &[String],
) -> PageResult<Response> {
    let r = state.db.reader();
    let invite = open_invite(r, token, Utc::now()).await?;
    let layout = Layout {
        account: Some(account),
        csrf,
        shop: None,
        nav: "",
        flash: None,
        title: "分销邀请 Reseller invitation",
    };
    let Some(invite) = invite else {
        let page = render("supply_invite.html", layout, context! { gone => true })?;
        return Ok(with_status(StatusCode::NOT_FOUND, page));
    };
    let supplier = kapu_core::tenant::find_tenant_by_id(r, &invite.tenant_id).await?.ok_or(PageError::NotFound)?;
    let offers: Vec<minijinja::Value> = kapu_core::store::supply::open_listings_of_supplier(r, &invite.tenant_id)
        .await?
        .into_iter()
        .map(|(l, p)| {
            context! {
                name => p.name, currency => p.currency.clone(),
                wholesale => kapu_core::money::format_minor(kapu_core::store::supply::discounted(l.wholesale_minor, invite.discount_bps), &p.currency),
                price => kapu_core::money::format_minor(p.price_minor.max(lowest_resale_price(&l)), &p.currency),
            }
        })
        .collect();
    let shops: Vec<minijinja::Value> = list_shops_of_account(r, &account.id)
        .await?
        .into_iter()
        .filter(|(t, role)| *role == Role::Owner && t.id != invite.tenant_id)
        .map(|(t, _)| context! { slug => t.slug, name => t.name, currency => t.currency })
        .collect();
    let page = context! {
        gone => false, supplier => supplier.name, offers, shops, token,
        discount => format!("{}", kapu_core::money::format_minor(i64::from(invite.discount_bps), "CNY")),
        currency => supplier.currency, errors => crate::page::ser(errors), shop_domain => state.shop_host.clone(),
    };
    let resp = render("supply_invite.html", layout, page)?;
    Ok(if errors.is_empty() { resp } else { with_status(StatusCode::UNPROCESSABLE_ENTITY, resp) })
}

pub async fn show_invite(
    State(state): State<PlatformState>,
    Merchant(account): Merchant,
    CsrfToken(csrf): CsrfToken,
    Path(token): Path<String>,
) -> PageResult<Response> {
    invite_page(&state, &account, &csrf, &token, &[]).await
}

#[derive(serde::Deserialize)]
pub struct AcceptForm {
    /// An existing shop of the merchant (its address), or empty for a new one.
    #[serde(default)]
    shop: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
}

pub async fn accept(
    State(state): State<PlatformState>,
    Merchant(account): Merchant,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    Path(token): Path<String>,
    VerifiedForm(f): VerifiedForm<AcceptForm>,
) -> PageResult<Response> {
    if !account.verified {
        return Err(PageError::EmailNotVerified);
    }
    let refuse = |msg: String| {
        let (state, account, csrf, token) = (&state, &account, &csrf, &token);
        async move { invite_page(state, account, csrf, token, &[msg]).await }
    };
    let now = Utc::now();
    let Some(invite) = open_invite(state.db.reader(), &token, now).await? else {
        return invite_page(&state, &account, &csrf, &token, &[]).await;
    };
    let supplier =
        kapu_core::tenant::find_tenant_by_id(state.db.reader(), &invite.tenant_id).await?.ok_or(PageError::NotFound)?;
    let txn = state.db.begin().await?;
    // The shop that resells: one the merchant owns, or a new one in the supplier's currency.
    let (tenant_id, slug, currency) = if f.shop.trim().is_empty() {
        let name = f.name.trim();
        let slug = f.slug.trim().to_lowercase();
        if name.is_empty() || name.chars().count() > 100 {
            txn.rollback().await?;
            return refuse("店铺名称需 1–100 个字符。The shop name must be 1–100 characters.".into()).await;
        }
        if let Some(why) = crate::shops::slug::check_slug(&slug) {
            txn.rollback().await?;
            return refuse(why.to_string()).await;
        }
        match crate::shops::create::open_shop_for_owner(&txn, &account.id, &slug, name, &supplier.currency).await {
            Ok(id) => (id, slug, supplier.currency.clone()),
            Err(e) if is_unique_violation(&e) => {
                txn.rollback().await?;
                return refuse("这个地址已被使用，请换一个。This address is taken; choose another.".into()).await;
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        let owned = list_shops_of_account(&txn, &account.id)
            .await?
            .into_iter()
            .find(|(t, role)| *role == Role::Owner && t.slug == f.shop.trim());
        let Some((t, _)) = owned else {
            txn.rollback().await?;
            return refuse("请选择您作为店主的店铺。Choose a shop you own.".into()).await;
        };
        (t.id, t.slug, t.currency)
    };
    let Some(offers) = accept_invite(&txn, &invite, &tenant_id, now).await? else {
        txn.rollback().await?;
        return refuse("这个邀请已被使用，或不能用于供应商自己的店铺。This invitation was used already, or names the supplier's own shop.".into()).await;
    };
    let (mut added, mut skipped) = (0, Vec::new());
    for (listing, p) in offers {
        if p.currency != currency {
            skipped.push(format!("{} ({})", p.name, p.currency));
            continue;
        }
        if check_limit(&txn, &tenant_id, Limit::Products, 1).await?.is_err() {
            skipped.push(p.name.clone());
            continue;
        }
        if kapu_core::store::supply::resale_product_of(&txn, &tenant_id, &p.tenant_id, &p.id).await?.is_some() {
            continue;
        }
        let mut fields = ProductFields {
            category_id: None,
            slug: None,
            name: p.name.clone(),
            description: p.description.clone(),
            price_minor: p.price_minor.max(lowest_resale_price(&listing)),
            wholesale_tiers: None,
            min_qty: 1,
            max_qty: listing.per_order_cap.unwrap_or(p.max_qty).min(p.max_qty).max(1),
            visible: true,
            sort_order: p.sort_order,
            low_stock_threshold: 0,
            kind: "auto_key",
            input_fields: None,
        };
        let _ = kapu_core::store::catalog_admin::settle_slug_for_tenant(&txn, &tenant_id, &mut fields, None).await?;
        let id = create_product_for_tenant(&txn, &tenant_id, &currency, &fields).await?;
        link_resale_product_for_tenant(&txn, &tenant_id, &id, &p.tenant_id, &p.id).await?;
        added += 1;
    }
    kapu_core::store::audit::record_audit(
        &txn,
        &crate::audit::merchant(&account, ip),
        Some(&tenant_id),
        "supply.invite_accepted",
        &invite.tenant_id,
        &format!("{added} product(s) added, {} skipped: {}", skipped.len(), skipped.join("; ")),
    )
    .await?;
    txn.commit().await?;
    state.bus.shop_changed(&tenant_id);
    state.bus.host_changed(&format!("{slug}.{}", state.shop_host));
    Ok(Redirect::to(&format!("/shops/{slug}/products?m=invite_accepted")).into_response())
}
