//! External suppliers on the dashboard (owner only: the page holds secrets):
//! `GET /shops/{slug}/supply/external` lists the shop's connections, each
//! with what it offers now and its stock; `POST …/external` docks a new one
//! (checked by asking it for its products first, so a wrong address or
//! secret is said at once and nothing is saved); `POST
//! …/external/{id}/add` sells one of its products in this shop under the
//! merchant's name and price, bought from it after each payment.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kapu_billing::suppliers::{GenericSupplier, SupplierProduct};
use kapu_core::entities::{products, supplier_connections};
use kapu_core::money::{format_minor, parse_major};
use kapu_core::store::catalog_admin::{ProductFields, create_product_for_tenant, settle_slug_for_tenant};
use kapu_core::store::external_supply::{
    self, ConnectionKind, connections_of_tenant, create_connection_for_tenant, find_connection_for_tenant,
    link_external_product_for_tenant, secret_of,
};
use kapu_core::store::plan_limits::{Limit, check_limit};
use minijinja::{Value, context};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::audit::shop_action;
use crate::auth::csrf::{CsrfToken, VerifiedForm};
use crate::auth::request_ip::RequestIp;
use crate::auth::shop_access::{OwnerAccess, ShopAccess};
use crate::error::{PageError, PageResult};
use crate::language::plural;
use crate::page::{Layout, flash_for, render, ser, with_status};
use crate::shops::list::FlashQuery;
use crate::state::PlatformState;

/// The shortest shared secret accepted.
const MIN_SECRET_LEN: usize = 16;

#[derive(serde::Deserialize, serde::Serialize, Default, Clone)]
pub struct ConnectionForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    base_url: String,
    /// `generic` or `kapu`.
    #[serde(default)]
    kind: String,
    /// Never shown back.
    #[serde(default, skip_serializing)]
    secret: String,
}

#[derive(serde::Deserialize, Default)]
pub struct AddForm {
    #[serde(default)]
    sku: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    price: String,
}

/// Every problem with a new connection's fields (nothing is saved).
fn check_connection(f: &ConnectionForm) -> Vec<String> {
    let mut errors = Vec::new();
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push("供应商名称须为 1–100 个字符。The supplier's name must be 1–100 characters.".to_string());
    }
    match url::Url::parse(f.base_url.trim()) {
        Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host().is_some() && u.username().is_empty() => {
            if u.password().is_some() || u.query().is_some() || u.fragment().is_some() {
                errors.push(
                    "接口地址不能带账号、查询参数或片段。The address may not carry a login, a query or a fragment."
                        .into(),
                );
            }
        }
        _ => errors.push("接口地址须为 http(s):// 开头的网址。The address must be an http(s):// URL.".into()),
    }
    if f.secret.trim().chars().count() < MIN_SECRET_LEN {
        errors.push(format!(
            "签名密钥（或 API 密钥）至少 {MIN_SECRET_LEN} 个字符。The signing secret (or API key) must be at least {MIN_SECRET_LEN} characters."
        ));
    }
    errors
}

/// What the page shows of one connection: its state, its offer, and the
/// shop's products bought from it.
async fn connection_view(
    state: &PlatformState,
    access: &ShopAccess,
    c: &supplier_connections::Model,
    sold_here: &[products::Model],
) -> Value {
    let offer: Result<Vec<SupplierProduct>, String> = match secret_of(&state.master.tenant(access.tenant_id()), c) {
        Ok(secret) => GenericSupplier {
            providers: &state.providers,
            base_url: &c.base_url,
            secret: &secret,
            bearer: c.kind == "kapu",
        }
        .products()
        .await
        .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let mine: Vec<Value> = sold_here
        .iter()
        .filter(|p| p.external_connection_id.as_deref() == Some(c.id.as_str()))
        .map(|p| {
            let age = p.external_stock_at.map(|t| (Utc::now() - t).num_seconds().max(0));
            context! {
                id => p.id.clone(), name => p.name.clone(), sku => p.external_sku.clone(),
                stock => p.external_stock, age => age.map(age_words),
                price => format!("{} {}", format_minor(p.price_minor, &p.currency), p.currency),
            }
        })
        .collect();
    let added: Vec<&str> = sold_here.iter().filter_map(|p| p.external_sku.as_deref()).collect();
    let (offer, offer_error) = match offer {
        Ok(list) => (
            list.into_iter()
                .map(|p| {
                    let added = added.contains(&p.sku.as_str());
                    context! { sku => p.sku, name => p.name, stock => p.stock, price => p.price, currency => p.currency, added }
                })
                .collect::<Vec<_>>(),
            None,
        ),
        Err(e) => (Vec::new(), Some(e)),
    };
    context! {
        id => c.id.clone(), name => c.name.clone(), base_url => c.base_url.clone(), kind => c.kind.clone(),
        last_error => c.last_error.clone(), checked_at => c.checked_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        offer, offer_error, mine,
    }
}

/// "42 s ago" / "3 min ago" / "2 h ago", in the page's language.
fn age_words(secs: i64) -> String {
    let (n, zh, one, many) = match secs {
        s if s < 60 => (s, "秒前", "second ago", "seconds ago"),
        s if s < 3600 => (s / 60, "分钟前", "minute ago", "minutes ago"),
        s => (s / 3600, "小时前", "hour ago", "hours ago"),
    };
    crate::language::trs(format!("{n} {zh}"), format!("{n} {}", plural(n as u64, one, many)))
}

async fn page(
    state: &PlatformState,
    access: &ShopAccess,
    csrf: &str,
    form: Option<&ConnectionForm>,
    errors: &[String],
    flash: Option<crate::page::Flash>,
) -> PageResult<Response> {
    let r = state.db.reader();
    let connections = connections_of_tenant(r, access.tenant_id()).await?;
    let sold_here = products::Entity::find()
        .filter(products::Column::TenantId.eq(access.tenant_id()))
        .filter(products::Column::Kind.eq(external_supply::KIND))
        .all(r)
        .await?;
    let mut views = Vec::with_capacity(connections.len());
    for c in &connections {
        views.push(connection_view(state, access, c, &sold_here).await);
    }
    let layout =
        Layout {
            account: None, csrf, shop: Some(access), nav: "supply", flash, title: "外部货源 External suppliers"
        };
    let resp = render(
        "supply_external.html",
        layout,
        context! { connections => views, form => ser(form.cloned().unwrap_or_default()), errors => ser(errors), min_secret => MIN_SECRET_LEN },
    )?;
    Ok(if errors.is_empty() { resp } else { with_status(StatusCode::UNPROCESSABLE_ENTITY, resp) })
}

pub async fn external_page(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    axum::extract::Query(q): axum::extract::Query<FlashQuery>,
) -> PageResult<Response> {
    page(&state, &access, &csrf, None, &[], flash_for(q.m.as_deref())).await
}

/// `POST /shops/{slug}/supply/external`: dock a supplier.
pub async fn add_connection(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    VerifiedForm(f): VerifiedForm<ConnectionForm>,
) -> PageResult<Response> {
    let mut errors = check_connection(&f);
    let kind = match f.kind.as_str() {
        "" | "generic" => ConnectionKind::Generic,
        "kapu" => ConnectionKind::Kapu,
        _ => {
            errors.push("请选择供应商类型。Choose the kind of supplier.".into());
            ConnectionKind::Generic
        }
    };
    let base_url = f.base_url.trim().trim_end_matches('/').to_string();
    let secret = f.secret.trim().to_string();
    if errors.is_empty() {
        // Asked before anything is saved: a wrong address or secret is said now.
        let probe = GenericSupplier {
            providers: &state.providers,
            base_url: &base_url,
            secret: &secret,
            bearer: kind == ConnectionKind::Kapu,
        };
        if let Err(e) = probe.products().await {
            errors.push(format!("无法从该供应商读取商品列表：{e}。Could not read the supplier's product list: {e}."));
        }
    }
    if !errors.is_empty() {
        return page(&state, &access, &csrf, Some(&f), &errors, None).await;
    }
    let id = create_connection_for_tenant(
        state.db.writer(),
        &state.master.tenant(access.tenant_id()),
        access.tenant_id(),
        kind,
        f.name.trim(),
        &base_url,
        &secret,
        Utc::now(),
    )
    .await?;
    shop_action(&state, &access, ip, "supplier.connect", &id, &format!("{} at {base_url}", f.name.trim())).await?;
    Ok(Redirect::to(&format!("/shops/{}/supply/external?m=saved", access.shop.slug)).into_response())
}

/// `POST /shops/{slug}/supply/external/{id}/add`: sell one of its products here.
pub async fn add_external_product(
    State(state): State<PlatformState>,
    OwnerAccess(access): OwnerAccess,
    CsrfToken(csrf): CsrfToken,
    ip: RequestIp,
    Path((_, connection_id)): Path<(String, String)>,
    VerifiedForm(f): VerifiedForm<AddForm>,
) -> PageResult<Response> {
    let r = state.db.reader();
    let c = find_connection_for_tenant(r, access.tenant_id(), &connection_id).await?.ok_or(PageError::NotFound)?;
    let currency = access.shop.currency.clone();
    let secret = secret_of(&state.master.tenant(access.tenant_id()), &c).map_err(PageError::Internal)?;
    let offer = GenericSupplier {
        providers: &state.providers,
        base_url: &c.base_url,
        secret: &secret,
        bearer: c.kind == "kapu",
    }
    .products()
    .await;
    let mut errors = Vec::new();
    let item = match &offer {
        Ok(list) => list.iter().find(|p| p.sku == f.sku).cloned(),
        Err(e) => {
            errors.push(format!("供应商暂时无法连接：{e}。The supplier is not answering: {e}."));
            None
        }
    };
    if item.is_none() && errors.is_empty() {
        errors.push("供应商没有这个商品。The supplier does not offer this product.".into());
    }
    let name = f.name.trim().to_string();
    let name = if name.is_empty() { item.as_ref().map(|i| i.name.clone()).unwrap_or_default() } else { name };
    if name.is_empty() || name.chars().count() > 200 {
        errors.push("商品名称须为 1–200 个字符。The name must be 1–200 characters.".into());
    }
    let price = parse_major(f.price.trim(), &currency).filter(|p| *p > 0);
    if price.is_none() {
        errors.push(format!("售价须为大于 0 的金额，例如 9.90（{currency}）。The price must be an amount above 0, like 9.90 ({currency})."));
    }
    if errors.is_empty()
        && let Err(over) = check_limit(r, access.tenant_id(), Limit::Products, 1).await?
    {
        errors.push(over.to_string());
    }
    let (Some(item), Some(price), true) = (item, price, errors.is_empty()) else {
        return page(&state, &access, &csrf, None, &errors, None).await;
    };
    let mut fields = ProductFields {
        category_id: None,
        slug: None,
        name,
        description: String::new(),
        price_minor: price,
        wholesale_tiers: None,
        min_qty: 1,
        max_qty: 10,
        visible: true,
        sort_order: 0,
        low_stock_threshold: 0,
        kind: external_supply::KIND,
        input_fields: None,
    };
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let _ = settle_slug_for_tenant(&txn, access.tenant_id(), &mut fields, None).await?;
    let id = create_product_for_tenant(&txn, access.tenant_id(), &currency, &fields).await?;
    link_external_product_for_tenant(&txn, access.tenant_id(), &id, &c.id, &item.sku, item.stock, now).await?;
    txn.commit().await?;
    state.bus.shop_changed(access.tenant_id());
    let detail = format!("sells {} of {} at {} {currency}", item.sku, c.name, format_minor(price, &currency));
    shop_action(&state, &access, ip, "supplier.product_added", &id, &detail).await?;
    Ok(Redirect::to(&format!("/shops/{}/products/{id}?m=external_added", access.shop.slug)).into_response())
}
